# The locustfile behind Tests/Fixtures/load/locust_*.csv (locust 2.12.1, Debian's python3-locust):
#   mkdir www && echo hello > www/ok.txt && (cd www && python3 -m http.server 18081 --bind 127.0.0.1) &
#   locust -f locustfile.py --headless -u 5 -r 5 -t 15s --host http://127.0.0.1:18081 --csv run --only-summary
#     → run_stats.csv, run_stats_history.csv = locust_stats.csv, locust_stats_history.csv
#   locust -f locustfile.py --headless -u 5 -r 5 -t 12s --host http://127.0.0.1:18081 --csv full \
#          --csv-full-history --only-summary
#     → full_stats.csv, full_stats_history.csv = locust_full_stats.csv, locust_full_stats_history.csv
# Two endpoints: one answered (200), one that is not there (404, which locust counts as a failure),
# the second named with a comma so that locust quotes it in the CSV. (A run shorter than 10 s leaves
# only the first history row: locust flushes the history every 10 s and not when it exits.)
from locust import HttpUser, between, task


class Visitor(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(3)
    def ok(self):
        self.client.get("/ok.txt", name="ok")

    @task(1)
    def missing(self):
        self.client.get("/missing", name="missing, 404")
