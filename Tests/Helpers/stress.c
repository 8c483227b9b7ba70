// confine-stress: the misbehaving targets the end-to-end and VM tests run under confine.
// Static C so the same binary runs on this host and in the cgroup v2 test VM (busybox only).
//   alloc MIB            allocate and touch MIB MiB, then exit 0
//   worker-oom MIB       fork+exec a worker `alloc MIB`, wait for it, exit 0 whatever happened
//   oom-stall MIB        fork+exec a worker `alloc MIB`, then wait for a result it never sends (as a
//                        multiprocessing.Pool does when its worker is OOM-killed): idle forever
//   busy SECONDS         spin on the CPU for SECONDS of wall time
//   forkstorm N          try to fork N sleeping children; print how many forks failed; exit 0
//   daemon PIDFILE       double-fork a setsid daemon that sleeps forever, write its pid, sleep
//   syscalls N           try, N times each, calls a container profile denies; print "name errno"
//   getppid N            call getppid N times (the seccomp syscall-cost benchmark)
//   forkbomb SECONDS     every process forks as fast as it can for SECONDS (bounded only by limits)
//   pagecache PATH MIB   write MIB MiB to PATH (page cache, not anonymous memory), fsync, print
//   threads MAX          start sleeping threads until MAX or pthread_create fails; print the count
//   flood MIB            MIB MiB of binary (no newline) to stdout and MIB MiB to stderr
//   ignore-term          ignore SIGTERM and sleep forever
//   guarded N            N kill(self, 0) and N open(/dev/null, O_WRONLY): "ns per kill", "ns per write-open"
//   escape -             try every way out of the run a container forbids; print "attempt result"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int alloc(long mib) {
    size_t size = (size_t)mib << 20;
    char *memory = malloc(size);
    if (!memory) { perror("malloc"); return 1; }
    for (size_t i = 0; i < size; i += 4096) memory[i] = 1;
    usleep(200000);
    printf("allocated %ld MiB\n", mib);
    return 0;
}

static void *sleeper(void *unused) {
    (void)unused;
    for (;;) pause();
    return NULL;
}

static int write_all(int fd, const char *buffer, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, buffer, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buffer += written;
        length -= (size_t)written;
    }
    return 0;
}

static void report(const char *attempt, int failed) {
    printf("%s %s\n", attempt, failed ? strerrorname_np(errno) : "ok");
    fflush(stdout);
}

/* Writes text to path; returns -1 with errno on failure (open or write). */
static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t written = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    return written < 0 ? -1 : 0;
}

/* This process's group in the memory hierarchy (v1) or the unified one (v2), as a directory. */
static int own_group(char *directory, size_t size) {
    FILE *file = fopen("/proc/self/cgroup", "r");
    if (!file) return -1;
    char line[1024];
    int found = -1;
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = 0;
        char *controllers = strchr(line, ':');
        if (!controllers) continue;
        char *path = strchr(controllers + 1, ':');
        if (!path) continue;
        *path++ = 0;
        controllers++;
        if (!strcmp(controllers, "memory")) { snprintf(directory, size, "/sys/fs/cgroup/memory%s", path); found = 0; break; }
        if (!*controllers && found != 0) { snprintf(directory, size, "/sys/fs/cgroup%s", path); found = 1; }
    }
    fclose(file);
    return found < 0 ? -1 : found;
}

static int escape(void) {
    char group[900], path[1024];
    int layout = own_group(group, sizeof group);
    if (layout >= 0) {
        char parent[900];
        snprintf(parent, sizeof parent, "%s", group);
        *strrchr(parent, '/') = 0;
        snprintf(path, sizeof path, "%s/cgroup.procs", parent);
        char pid[32];
        snprintf(pid, sizeof pid, "%d\n", getpid());
        report("move-to-parent-cgroup", write_file(path, pid) != 0);
        snprintf(path, sizeof path, "%s/%s", group, layout == 0 ? "memory.limit_in_bytes" : "memory.max");
        report("raise-memory-limit", write_file(path, layout == 0 ? "-1" : "max") != 0);
    }
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_max += 1000;
    limit.rlim_cur = limit.rlim_max;
    report("raise-rlimit-nofile", setrlimit(RLIMIT_NOFILE, &limit) != 0);
    report("oom-score-adj", write_file("/proc/self/oom_score_adj", "-1000") != 0);
    report("unshare-mount-namespace", unshare(CLONE_NEWNS) != 0);
    int ns = open("/proc/1/ns/net", O_RDONLY);
    if (ns < 0) ns = open("/proc/self/ns/net", O_RDONLY); /* the call itself must still be made */
    report("setns-host-network", ns < 0 || syscall(SYS_setns, ns, 0) != 0);
    report("mount-cgroupfs", mount("cgroup2", "/mnt", "cgroup2", 0, NULL) != 0);
    pid_t confine = getppid();
    report("ptrace-confine", ptrace(PTRACE_ATTACH, confine, NULL, NULL) != 0);
    report("pidfd-open-confine", syscall(SYS_pidfd_open, confine, 0) < 0);
    report("kill-everything", kill(-1, 0) != 0);
    report("kill-confine", kill(confine, SIGKILL) != 0);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s alloc|worker-oom|busy|forkstorm|daemon ARG\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    if (!strcmp(mode, "alloc")) return alloc(atol(argv[2]));
    if (!strcmp(mode, "worker-oom")) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", argv[0], "alloc", argv[2], (char *)NULL);
            _exit(127);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        printf("worker %d ended: %s %d\n", pid, WIFSIGNALED(status) ? "signal" : "status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        return 0;
    }
    if (!strcmp(mode, "oom-stall")) {
        int fds[2];
        if (pipe(fds) != 0) return 1;
        pid_t pid = fork();
        if (pid == 0) {
            execl("/proc/self/exe", argv[0], "alloc", argv[2], (char *)NULL);
            _exit(127);
        }
        // The parent holds the write end too, as a pool's result queue does: the read never ends.
        char byte;
        while (read(fds[0], &byte, 1) < 0 && errno == EINTR) {}
        return 0;
    }
    if (!strcmp(mode, "busy")) {
        double end = now() + atof(argv[2]);
        volatile unsigned long spins = 0;
        while (now() < end) spins++;
        return 0;
    }
    if (!strcmp(mode, "forkstorm")) {
        int wanted = atoi(argv[2]), failed = 0;
        for (int i = 0; i < wanted; i++) {
            pid_t pid = fork();
            if (pid == 0) { sleep(1); _exit(0); }
            if (pid < 0) failed++;
        }
        while (wait(NULL) > 0) {}
        printf("forks failed: %d of %d\n", failed, wanted);
        return 0;
    }
    if (!strcmp(mode, "daemon")) {
        pid_t pid = fork();
        if (pid == 0) {
            setsid();
            if (fork() == 0) {
                FILE *file = fopen(argv[2], "w");
                if (file) { fprintf(file, "%d\n", getpid()); fclose(file); }
                for (;;) pause();
            }
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        for (;;) pause();
    }
    if (!strcmp(mode, "syscalls")) {
        int times = atoi(argv[2]);
        struct { const char *name; long number; long a0, a1, a2; } calls[] = {
            {"unshare", SYS_unshare, 0x40000000 /* CLONE_NEWNET */, 0, 0},
            {"mount", SYS_mount, 0, 0, 0},
            {"keyctl", SYS_keyctl, 0, 0, 0},
            {"add_key", SYS_add_key, 0, 0, 0},
            {"bpf", SYS_bpf, 0, 0, 0},
            {"clone3", SYS_clone3, 0, 0, 0},
            {"socket_vsock", SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0},
        };
        for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
            long result = 0;
            for (int n = 0; n < times; n++) result = syscall(calls[i].number, calls[i].a0, calls[i].a1, calls[i].a2, 0, 0, 0);
            printf("%s %s\n", calls[i].name, result < 0 ? strerrorname_np(errno) : "ok");
        }
        return 0;
    }
    if (!strcmp(mode, "forkbomb")) {
        double until = now() + atof(argv[2]);
        while (now() < until) {
            if (fork() < 0) usleep(1000);
        }
        return 0;
    }
    if (!strcmp(mode, "pagecache")) {
        if (argc < 4) return 2;
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) { perror("open"); return 1; }
        static char block[1 << 20];
        memset(block, 'x', sizeof block);
        long mib = atol(argv[3]);
        for (long i = 0; i < mib; i++) {
            if (write_all(fd, block, sizeof block) != 0) { perror("write"); return 1; }
        }
        fsync(fd);
        close(fd);
        printf("wrote %ld MiB\n", mib);
        return 0;
    }
    if (!strcmp(mode, "threads")) {
        long max = atol(argv[2]), started = 0;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, 64 * 1024);
        for (; started < max; started++) {
            pthread_t thread;
            int error = pthread_create(&thread, &attributes, sleeper, NULL);
            if (error != 0) {
                printf("pthread_create failed after %ld threads: %s\n", started, strerrorname_np(error));
                fflush(stdout);
                _exit(0);
            }
        }
        printf("started %ld threads\n", started);
        fflush(stdout);
        _exit(0);
    }
    if (!strcmp(mode, "flood")) {
        static char block[1 << 16];
        for (size_t i = 0; i < sizeof block; i++) block[i] = (char)(i * 131 + 7) == '\n' ? 0 : (char)(i * 131 + 7);
        long blocks = atol(argv[2]) * 16;
        for (long i = 0; i < blocks; i++) {
            if (write_all(1, block, sizeof block) != 0 || write_all(2, block, sizeof block) != 0) return 1;
        }
        return 0;
    }
    if (!strcmp(mode, "escape")) return escape();
    if (!strcmp(mode, "guarded")) {
        long count = atol(argv[2]);
        pid_t self = getpid();
        double start = now();
        for (long i = 0; i < count; i++) kill(self, 0);
        printf("%.1f ns per kill\n", (now() - start) * 1e9 / (double)count);
        start = now();
        for (long i = 0; i < count; i++) close(open("/dev/null", O_WRONLY));
        printf("%.1f ns per write-open\n", (now() - start) * 1e9 / (double)count);
        return 0;
    }
    if (!strcmp(mode, "ignore-term")) {
        signal(SIGTERM, SIG_IGN);
        for (;;) pause();
    }
    if (!strcmp(mode, "getppid")) {
        long count = atol(argv[2]);
        double start = now();
        for (long i = 0; i < count; i++) syscall(SYS_getppid);
        printf("%.1f ns per getppid\n", (now() - start) * 1e9 / (double)count);
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
