// The run guard (see confine_guard_start in confine_spawn.h). It runs in a fork of a
// multithreaded process without exec, so only async-signal-safe calls: open/read/write/kill/
// rmdir/nanosleep, fixed buffers, no malloc. Paths are copied into the guard's stack before use.
#define _GNU_SOURCE
#include "confine_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#define GUARD_MAX_GROUPS 64
#define GUARD_PATH_MAX 512

static int path_join(char *out, const char *dir, const char *file) {
    size_t a = strlen(dir), b = strlen(file);
    if (a + 1 + b + 1 > GUARD_PATH_MAX) return -1;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, file, b + 1);
    return 0;
}

/* SIGKILLs what cgroup.procs lists; returns how many pids it saw (0: the group is empty or gone). */
static int kill_listed(const char *dir) {
    char path[GUARD_PATH_MAX];
    if (path_join(path, dir, "cgroup.procs") != 0) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buffer[4096];
    long pid = 0;
    int digits = 0, seen = 0;
    ssize_t got;
    while ((got = read(fd, buffer, sizeof buffer)) > 0) {
        for (ssize_t i = 0; i < got; i++) {
            char c = buffer[i];
            if (c >= '0' && c <= '9') {
                pid = pid * 10 + (c - '0');
                digits++;
            } else {
                if (digits > 0 && pid > 1) {
                    kill((pid_t)pid, SIGKILL);
                    seen++;
                }
                pid = 0;
                digits = 0;
            }
        }
    }
    if (digits > 0 && pid > 1) {
        kill((pid_t)pid, SIGKILL);
        seen++;
    }
    close(fd);
    return seen;
}

/* cgroup v2 (5.14+): one write kills the group and every process forked into it meanwhile. */
static void kill_group(const char *dir) {
    char path[GUARD_PATH_MAX];
    if (path_join(path, dir, "cgroup.kill") != 0) return;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t ignored = write(fd, "1", 1);
    (void)ignored;
    close(fd);
}

static void guard(char dirs[][GUARD_PATH_MAX], int count, int release) {
    char byte;
    ssize_t got;
    do {
        got = read(release, &byte, 1);
    } while (got < 0 && errno == EINTR);
    if (got == 1) _exit(0); /* confine cleaned up itself */

    /* confine is gone: ten seconds, in 20 ms rounds, to empty and remove its groups. */
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int round = 0; round < 500; round++) {
        int left = 0;
        for (int i = 0; i < count; i++) {
            if (dirs[i][0] == 0) continue;
            kill_group(dirs[i]);
            kill_listed(dirs[i]);
            if (rmdir(dirs[i]) == 0 || errno == ENOENT) {
                dirs[i][0] = 0;
            } else {
                left++;
            }
        }
        if (left == 0) _exit(0);
        nanosleep(&pause, NULL);
    }
    _exit(1); /* what is left, `confine gc` (or the next run) removes */
}

pid_t confine_guard_start(const char *const *group_dirs, int group_count, int *release_fd) {
    if (group_count > GUARD_MAX_GROUPS) {
        errno = E2BIG;
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        char dirs[GUARD_MAX_GROUPS][GUARD_PATH_MAX];
        for (int i = 0; i < group_count; i++) {
            size_t length = strlen(group_dirs[i]);
            if (length >= GUARD_PATH_MAX) length = 0; /* never truncate a path into another one */
            memcpy(dirs[i], group_dirs[i], length);
            dirs[i][length] = 0;
        }
        /* Its own session: a signal to confine's process group (Ctrl-C, a CI runner's kill of
         * the job's group) does not take the guard with it. */
        setsid();
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
            signal(signal_number, SIG_IGN);
        }
        /* Hold nothing of confine's: not its stdout (a reader waiting for EOF), not its files.
         * The pipe moves out of the way first (with stdin closed, it may have been given fd 0). */
        int release = fcntl(fds[0], F_DUPFD_CLOEXEC, 10);
        if (release < 0) _exit(2);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        if (dup3(release, 3, O_CLOEXEC) < 0) _exit(2);
        syscall(SYS_close_range, 4, ~0U, 0);
        release = 3;
        guard(dirs, group_count, release);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(fds[0]);
    if (pid < 0) {
        close(fds[1]);
        errno = saved;
        return -1;
    }
    *release_fd = fds[1];
    return pid;
}
