/* The peer for bench/probe-throughput: the least a probe receiver can do. Binds a datagram
 * socket, names it in CONFINE_PROBE_SOCKET, runs the command, and only counts the records each
 * datagram's header announces (no validation, no histograms).
 *   probe-sink <command...> */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <poll.h>
#include <errno.h>
int main(int argc, char **argv) {
    char path[] = "/tmp/sinkXXXXXX"; mkdtemp(path); char sock[128]; snprintf(sock, sizeof sock, "%s/s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = {AF_UNIX}; strcpy(a.sun_path, sock); bind(fd, (void*)&a, sizeof a);
    setenv("CONFINE_PROBE_SOCKET", sock, 1);
    pid_t child = fork(); if (child == 0) { execvp(argv[1], argv + 1); _exit(127); }
    static char buf[262144]; long records = 0; int status;
    for (;;) {
        struct pollfd p = {fd, POLLIN}; poll(&p, 1, 10);
        ssize_t n; while ((n = recv(fd, buf, sizeof buf, 0)) > 0) { unsigned r; memcpy(&r, buf + 12, 4); records += r; }
        if (waitpid(child, &status, WNOHANG) == child) { while ((n = recv(fd, buf, sizeof buf, 0)) > 0) { unsigned r; memcpy(&r, buf + 12, 4); records += r; } break; }
    }
    long hwm = 0; char line[256]; FILE *statusFile = fopen("/proc/self/status", "r");
    while (statusFile && fgets(line, sizeof line, statusFile)) if (sscanf(line, "VmHWM: %ld", &hwm) == 1) break;
    if (statusFile) fclose(statusFile);
    fprintf(stderr, "sink: %ld records %ld kB\n", records, hwm); unlink(sock); rmdir(path); return 0;
}
