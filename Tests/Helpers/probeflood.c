/* Sends probe records to confine (docs/probe-protocol.md) from several processes at once,
 * for the tests and bench/probe-throughput.
 *   probeflood <processes> <records-per-process> [valid|malformed] [records-per-second-per-process]
 * "malformed" first sends datagrams confine must refuse (bad magic, short header, a record
 * count the datagram does not hold, an unknown kind, a name index out of range), then the
 * valid records, which must all still be counted. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1024
static struct sockaddr_un address;
static int sock;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int send_bytes(const void *data, size_t size) {
    ssize_t sent;
    do sent = sendto(sock, data, size, 0, (struct sockaddr *)&address, sizeof address);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? -1 : 0;
}

static size_t header(uint8_t *out, uint16_t names, uint32_t records) {
    memcpy(out, "CPRB", 4);
    out[4] = 1; out[5] = 0;
    memcpy(out + 6, &names, 2);
    uint32_t pid = (uint32_t)getpid(), dropped = 0;
    memcpy(out + 8, &pid, 4);
    memcpy(out + 12, &records, 4);
    memcpy(out + 16, &dropped, 4);
    const char *name = "flood";
    uint16_t length = 5;
    memcpy(out + 20, &length, 2);
    memcpy(out + 22, name, 5);
    return 27;
}

static size_t record(uint8_t *out, uint8_t kind, uint16_t name, uint64_t start, uint64_t duration) {
    out[0] = kind; out[1] = 0;
    memcpy(out + 2, &name, 2);
    static __thread uint32_t tid;
    if (!tid) tid = (uint32_t)gettid();
    memcpy(out + 4, &tid, 4);
    memcpy(out + 8, &start, 8);
    memcpy(out + 16, &duration, 8);
    memset(out + 24, 0, 8);
    return 32;
}

static void malformed(void) {
    uint8_t buffer[256];
    send_bytes("not a probe datagram", 20);
    send_bytes("CPRB", 4);
    size_t size = header(buffer, 1, 3);               /* announces 3 records, holds 1 */
    size += record(buffer + size, 1, 0, now_ns(), 1000);
    send_bytes(buffer, size);
    size = header(buffer, 1, 1);                      /* unknown kind */
    size += record(buffer + size, 9, 0, now_ns(), 1000);
    send_bytes(buffer, size);
    size = header(buffer, 1, 1);                      /* name index 7 of 1 */
    size += record(buffer + size, 1, 7, now_ns(), 1000);
    send_bytes(buffer, size);
}

static int flood(long count, double rate) {
    static uint8_t buffer[27 + BATCH * 32];
    long sent = 0;
    uint64_t began = now_ns();
    while (sent < count) {
        if (rate > 0) { /* paced: batch n leaves no earlier than n * BATCH / rate after the start */
            uint64_t due = began + (uint64_t)((double)sent / rate * 1e9);
            uint64_t current = now_ns();
            if (due > current) {
                struct timespec pause = {(time_t)((due - current) / 1000000000u), (long)((due - current) % 1000000000u)};
                nanosleep(&pause, NULL);
            }
        }
        uint32_t batch = (uint32_t)(count - sent < BATCH ? count - sent : BATCH);
        size_t size = header(buffer, 1, batch);
        uint64_t start = now_ns();
        for (uint32_t i = 0; i < batch; i++) size += record(buffer + size, 1, 0, start, 1000 + (sent + i) % 1000);
        if (send_bytes(buffer, size) != 0) { perror("probeflood: sendto"); return 1; }
        sent += batch;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *path = getenv("CONFINE_PROBE_SOCKET");
    if (argc < 3 || !path) { fprintf(stderr, "usage: probeflood <processes> <records> [valid|malformed] (under confine)\n"); return 2; }
    int processes = atoi(argv[1]);
    long records = atol(argv[2]);
    int bad = argc > 3 && strcmp(argv[3], "malformed") == 0;
    double rate = argc > 4 ? atof(argv[4]) : 0;
    address.sun_family = AF_UNIX;
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    for (int p = 0; p < processes; p++) {
        if (fork() == 0) {
            sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            if (bad) malformed();
            _exit(flood(records, rate));
        }
    }
    int status, failed = 0;
    while (wait(&status) > 0) failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return failed;
}
