"""A small HTTP service for confine load's end-to-end tests (Tests/EndToEndTests/LoadScenarioTests).

    python3 load_service.py PORT [--slow-start SECONDS] [--never-listen]

GET /health answers 200; /work burns about 5 ms of CPU (measured by confine's probe as
"work"); /grow keeps 2 MiB more per request (a leak, for the OOM case). Standard library only,
so the tests need nothing installed beyond python3 and hey.
"""
import http.server
import sys
import time

try:
    from confine_probe import measure
except ImportError:  # outside confine
    import contextlib

    def measure(_name):
        return contextlib.nullcontext()

held = []


def burn(seconds):
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        x += 1
    return x


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK (40 ms a request on keep-alive connections).
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/work":
            with measure("work"):
                burn(0.005)
        elif self.path == "/grow":
            with measure("grow"):
                held.append(bytearray(2 << 20))
        elif self.path != "/health":
            self.send_error(404)
            return
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    port = int(sys.argv[1])
    if "--never-listen" in sys.argv:
        time.sleep(3600)
    if "--slow-start" in sys.argv:
        time.sleep(float(sys.argv[sys.argv.index("--slow-start") + 1]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
