// The code that runs between fork and exec. Only async-signal-safe calls here: the child of a
// multithreaded parent may not allocate, lock, or touch Swift. The parent prepares every buffer.
#define _GNU_SOURCE
#include "confine_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/stat.h>

#define CONFINE_MAX_MOUNTS 64
#define PATH_MAX_DEV 64

/* "/proc/self/fd/N": what a descriptor opened before a mount hid its path is mounted from. */
static void fd_path(char out[32], int fd) {
    char digits[12];
    int n = 0, at = 14;
    memcpy(out, "/proc/self/fd/", 14);
    do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
    while (n > 0) out[at++] = digits[--n];
    out[at] = 0;
}

/* "/dev/NAME" into `out`; -1 when it does not fit. */
static int dev_path(char out[PATH_MAX_DEV], const char *name) {
    size_t length = strlen(name);
    if (5 + length + 1 > PATH_MAX_DEV) return -1;
    memcpy(out, "/dev/", 5);
    memcpy(out + 5, name, length + 1);
    return 0;
}

typedef struct {
    int step;
    int err;
    int index;
} failure_message;

static void report_and_exit(int fd, int step, int err, int index) {
    failure_message message = {step, err, index};
    ssize_t ignored = write(fd, &message, sizeof message);
    (void)ignored;
    _exit(127);
}

/* clone3(CLONE_INTO_CGROUP) (Linux 5.7+, cgroup v2): the child is born in its cgroup, which
 * skips the migration that writing cgroup.procs costs (an RCU grace period, ~15 ms on some
 * machines). Returns -2 when the kernel cannot do it, so the caller falls back to fork. */
static pid_t fork_into_cgroup(int cgroup_fd) {
#if defined(CLONE_INTO_CGROUP) && defined(SYS_clone3)
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (unsigned long long)cgroup_fd;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL || errno == EOPNOTSUPP)) return -2;
    return (pid_t)pid;
#else
    (void)cgroup_fd;
    return -2;
#endif
}

static void child(const confine_spawn_request *request, int error_fd, int ack_fd, pid_t parent, int joined) {
    /* 1. Own process group, so signals to the group reach the whole tree. */
    if (setpgid(0, 0) != 0) report_and_exit(error_fd, CONFINE_STEP_PGROUP, errno, 0);

    /* 2. Die with confine (a SIGKILLed confine must not leave its target running). */
    if (request->die_with_parent) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) report_and_exit(error_fd, CONFINE_STEP_PDEATHSIG, errno, 0);
        if (getppid() != parent) _exit(127); /* confine died before the prctl took effect */
    }

    /* 3. Join the run's cgroup(s) before running a single instruction of the target. "0" means
     *    the writer itself; on a v1 `tasks` file that moves one thread (this child has only one)
     *    without the global threadgroup lock whose RCU grace period costs ~10 ms. */
    for (int i = 0; i < request->cgroup_fd_count && !joined; i++) {
        ssize_t written;
        do {
            written = write(request->cgroup_fds[i], "0\n", 2);
        } while (written < 0 && errno == EINTR);
        if (written < 0) report_and_exit(error_fd, CONFINE_STEP_JOIN_CGROUP, errno, i);
        close(request->cgroup_fds[i]);
    }

    /* 3b. Its own network namespace with only lo, up (docker run --network none). It has no
     *     name and dies with the last process in it: nothing to clean up, even after a SIGKILL. */
    if (request->new_network_namespace) {
        if (unshare(CLONE_NEWNET) != 0) report_and_exit(error_fd, CONFINE_STEP_NETNS, errno, 0);
        int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock < 0) report_and_exit(error_fd, CONFINE_STEP_LOOPBACK, errno, 0);
        struct ifreq request_lo;
        memset(&request_lo, 0, sizeof request_lo);
        memcpy(request_lo.ifr_name, "lo", 3);
        if (ioctl(sock, SIOCGIFFLAGS, &request_lo) != 0) report_and_exit(error_fd, CONFINE_STEP_LOOPBACK, errno, 0);
        request_lo.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(sock, SIOCSIFFLAGS, &request_lo) != 0) report_and_exit(error_fd, CONFINE_STEP_LOOPBACK, errno, 1);
        close(sock);
    }

    /* 3c. Containment, as a container runtime sets it up: a private mount namespace (changes
     *     stay in it) in which the cgroup filesystems are read-only, so the target cannot move
     *     itself out of its group or rewrite its own limits. */
    if (request->readonly_mount_count > 0 || request->mount_count > 0 || request->private_dev) {
        if (unshare(CLONE_NEWNS) != 0) report_and_exit(error_fd, CONFINE_STEP_MOUNTNS, errno, 0);
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) report_and_exit(error_fd, CONFINE_STEP_MOUNTNS, errno, 1);
        for (int i = 0; i < request->readonly_mount_count; i++) {
            unsigned long flags = request->readonly_mount_flags[i];
            /* MS_REC marks a path that is not a mount point yet (/proc/sys): bound onto itself first. */
            if (flags & MS_REC) {
                if (mount(request->readonly_mounts[i], request->readonly_mounts[i], NULL, MS_BIND | MS_REC, NULL) != 0)
                    report_and_exit(error_fd, CONFINE_STEP_READONLY, errno, i);
                flags &= ~(unsigned long)MS_REC;
            }
            flags |= MS_REMOUNT | MS_BIND | MS_RDONLY;
            if (mount(NULL, request->readonly_mounts[i], NULL, flags, NULL) != 0)
                report_and_exit(error_fd, CONFINE_STEP_READONLY, errno, i);
        }
        /* 3d. The container's writable mounts: a private /dev/shm, memory-backed volumes
         *     (tmpfs: their pages charged to the run's memory, as the pod's are), disk volumes
         *     (a fresh host directory bound in). */
        /* 3d'. A private /dev: the host's device nodes and directories are opened before the
         *      tmpfs hides them, then bound in from /proc/self/fd/N. */
        if (request->private_dev) {
            int node_fds[CONFINE_MAX_MOUNTS];
            char path[PATH_MAX_DEV];
            if (request->dev_node_count > CONFINE_MAX_MOUNTS) report_and_exit(error_fd, CONFINE_STEP_DEV, E2BIG, 0);
            for (int i = 0; i < request->dev_node_count; i++) {
                if (dev_path(path, request->dev_nodes[i]) != 0) report_and_exit(error_fd, CONFINE_STEP_DEV, ENAMETOOLONG, i + 1);
                node_fds[i] = open(path, O_PATH | O_CLOEXEC);
            }
            if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, request->dev_options) != 0)
                report_and_exit(error_fd, CONFINE_STEP_DEV, errno, 0);
            for (int i = 0; i < request->dev_node_count; i++) {
                if (node_fds[i] < 0) continue; /* the host has no such node */
                dev_path(path, request->dev_nodes[i]);
                struct stat info;
                int is_directory = fstat(node_fds[i], &info) == 0 && S_ISDIR(info.st_mode);
                if (is_directory) {
                    if (mkdir(path, 0755) != 0) report_and_exit(error_fd, CONFINE_STEP_DEV, errno, i + 1);
                } else {
                    int made = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
                    if (made < 0) report_and_exit(error_fd, CONFINE_STEP_DEV, errno, i + 1);
                    close(made);
                }
                char via[32];
                fd_path(via, node_fds[i]);
                if (mount(via, path, NULL, MS_BIND | (is_directory ? MS_REC : 0), NULL) != 0)
                    report_and_exit(error_fd, CONFINE_STEP_DEV, errno, i + 1);
                close(node_fds[i]);
            }
            for (int i = 0; i < request->dev_link_count; i++) {
                if (symlink(request->dev_links[2 * i], request->dev_links[2 * i + 1]) != 0 && errno != EEXIST)
                    report_and_exit(error_fd, CONFINE_STEP_DEV, errno, 1000 + i);
            }
        }
        /* Bind sources are opened first: a tmpfs mounted over /tmp would hide the probe's
         * directory in it. Bound from /proc/self/fd/N; a target a tmpfs hid is made in it. */
        int source_fds[CONFINE_MAX_MOUNTS];
        if (request->mount_count > CONFINE_MAX_MOUNTS) report_and_exit(error_fd, CONFINE_STEP_MOUNT, E2BIG, 0);
        for (int i = 0; i < request->mount_count; i++) {
            source_fds[i] = -1;
            if (request->mounts[i].source) {
                source_fds[i] = open(request->mounts[i].source, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (source_fds[i] < 0) report_and_exit(error_fd, CONFINE_STEP_MOUNT, errno, i);
            }
        }
        for (int i = 0; i < request->mount_count; i++) {
            const confine_mount *m = &request->mounts[i];
            int rc;
            /* A target a tmpfs hid (the private /dev, a volume over /tmp) is made in it; on the
             * host the parent made every missing mount point before the spawn. */
            if (access(m->target, F_OK) != 0 && errno == ENOENT) mkdir(m->target, 0711);
            if (m->source) {
                char via[32];
                fd_path(via, source_fds[i]);
                rc = mount(via, m->target, NULL, MS_BIND | MS_REC, NULL);
                close(source_fds[i]);
            } else {
                rc = mount("tmpfs", m->target, "tmpfs", m->flags, m->data);
            }
            /* A bind takes the flags of the mount it comes from, read-only by now under a
             * read-only root: make this one writable again. */
            if (rc == 0 && m->source)
                rc = mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | (m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)), NULL);
            if (rc != 0) report_and_exit(error_fd, CONFINE_STEP_MOUNT, errno, i);
        }
    }

    /* 3e. Its own hostname, in a UTS namespace that dies with it. */
    if (request->hostname) {
        if (unshare(CLONE_NEWUTS) != 0) report_and_exit(error_fd, CONFINE_STEP_HOSTNAME, errno, 0);
        if (sethostname(request->hostname, strlen(request->hostname)) != 0) report_and_exit(error_fd, CONFINE_STEP_HOSTNAME, errno, 1);
    }

    /* 4. Resource limits. */
    /* Runner output goes through confine (which passes it on unchanged) when it parses it. */
    if (request->stdout_fd >= 0 && dup2(request->stdout_fd, 1) < 0) report_and_exit(error_fd, CONFINE_STEP_STDIO, errno, 1);
    if (request->stderr_fd >= 0 && dup2(request->stderr_fd, 2) < 0) report_and_exit(error_fd, CONFINE_STEP_STDIO, errno, 2);

    for (int i = 0; i < request->rlimit_count; i++) {
        struct rlimit limit = {request->rlimits[i].soft, request->rlimits[i].hard};
        if (setrlimit(request->rlimits[i].resource, &limit) != 0)
            report_and_exit(error_fd, CONFINE_STEP_RLIMIT, errno, i);
    }

    /* 5. A clean signal state: default dispositions, nothing blocked (confine blocks signals
     *    it handles through signalfd, and a blocked mask is inherited across exec). */
    for (int signal_number = 1; signal_number < NSIG; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        signal(signal_number, SIG_DFL);
    }
    sigset_t empty;
    sigemptyset(&empty);
    if (sigprocmask(SIG_SETMASK, &empty, NULL) != 0) report_and_exit(error_fd, CONFINE_STEP_SIGNALS, errno, 0);

    /* 5b. Capabilities: the profile's set (Docker's default for container profiles). Dropped
     *     from the bounding set, so that root's execve cannot regain them, and from the
     *     inheritable and ambient sets, which would carry them across it. */
    if (request->drop_capabilities) {
        for (int cap = 0; cap <= request->capability_last && cap < 64; cap++) {
            if (request->capabilities_kept & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
                report_and_exit(error_fd, CONFINE_STEP_CAPABILITIES, errno, cap);
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
            report_and_exit(error_fd, CONFINE_STEP_CAPABILITIES, errno, -1);
        struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct data[2];
        if (syscall(SYS_capget, &header, data) != 0) report_and_exit(error_fd, CONFINE_STEP_CAPABILITIES, errno, -2);
        data[0].inheritable &= (unsigned int)(request->capabilities_kept & 0xffffffffULL);
        data[1].inheritable &= (unsigned int)(request->capabilities_kept >> 32);
        if (syscall(SYS_capset, &header, data) != 0) report_and_exit(error_fd, CONFINE_STEP_CAPABILITIES, errno, -3);
    }

    /* 5c. The identity the profile names: groups, then gid, then uid (after which root's
     *     capabilities are gone, as for a container's non-root user). The credential change
     *     clears PR_SET_PDEATHSIG: set it again. */
    if (request->set_identity) {
        if (setgroups((size_t)request->group_count, (const gid_t *)request->groups) != 0)
            report_and_exit(error_fd, CONFINE_STEP_IDENTITY, errno, 0);
        if (setresgid(request->gid, request->gid, request->gid) != 0) report_and_exit(error_fd, CONFINE_STEP_IDENTITY, errno, 1);
        if (setresuid(request->uid, request->uid, request->uid) != 0) report_and_exit(error_fd, CONFINE_STEP_IDENTITY, errno, 2);
        /* An id of -1 means "unchanged" to these calls: check that the target is who it should be. */
        if (getuid() != request->uid || geteuid() != request->uid || getgid() != request->gid || getegid() != request->gid)
            report_and_exit(error_fd, CONFINE_STEP_IDENTITY, EPERM, 2);
        if (request->die_with_parent) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) report_and_exit(error_fd, CONFINE_STEP_PDEATHSIG, errno, 0);
            if (getppid() != parent) _exit(127);
        }
    }
    if (request->working_directory && chdir(request->working_directory) != 0)
        report_and_exit(error_fd, CONFINE_STEP_CHDIR, errno, 0);

    /* 6. Seccomp, last: no new privileges, then the program the parent compiled. With a
     *    listener, hand its fd to the parent (which takes it with pidfd_getfd) and wait until it
     *    has: the fd is close-on-exec. Only write and read run between here and execve. */
    if (request->seccomp_program) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) report_and_exit(error_fd, CONFINE_STEP_NO_NEW_PRIVS, errno, 0);
        struct sock_fprog program = {request->seccomp_length, (struct sock_filter *)request->seccomp_program};
        unsigned int flags = request->seccomp_flags | (request->seccomp_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
        long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
        if (listener < 0) report_and_exit(error_fd, CONFINE_STEP_SECCOMP, errno, 0);
        if (request->seccomp_listener) {
            failure_message message = {CONFINE_STEP_LISTENER, 0, (int)listener};
            if (write(error_fd, &message, sizeof message) != sizeof message) _exit(127);
            char ack;
            ssize_t got;
            do { got = read(ack_fd, &ack, 1); } while (got < 0 && errno == EINTR);
            if (got != 1) _exit(127);
        }
    }

    /* 7. Exec. The error pipe is close-on-exec: EOF in the parent means success. */
    execve(request->path, request->argv, request->envp);
    report_and_exit(error_fd, CONFINE_STEP_EXEC, errno, 0);
}

confine_spawn_result confine_spawn(const confine_spawn_request *request) {
    confine_spawn_result result = {0, CONFINE_STEP_NONE, 0, 0, 0, -1};
    result.listener_fd = -1;
    int pipe_fds[2], ack_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        result.failed_step = CONFINE_STEP_PIPE;
        result.failed_errno = errno;
        return result;
    }
    if (pipe2(ack_fds, O_CLOEXEC) != 0) {
        result.failed_step = CONFINE_STEP_PIPE;
        result.failed_errno = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return result;
    }
    /* Block every signal across fork so no handler of the parent runs in the child. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t parent = getpid();
    pid_t pid = request->clone_cgroup_fd >= 0 ? fork_into_cgroup(request->clone_cgroup_fd) : -2;
    int joined = pid >= 0;
    if (pid == -2) pid = fork();
    if (pid == 0) {
        close(pipe_fds[0]);
        close(ack_fds[1]);
        child(request, pipe_fds[1], ack_fds[0], parent, joined);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(pipe_fds[1]);
    close(ack_fds[0]);
    if (pid < 0) {
        close(pipe_fds[0]);
        close(ack_fds[1]);
        result.failed_step = CONFINE_STEP_FORK;
        result.failed_errno = fork_errno;
        return result;
    }
    result.pid = pid;
    result.cloned_into_cgroup = joined;
    failure_message message;
    ssize_t got;
    for (;;) {
        do {
            got = read(pipe_fds[0], &message, sizeof message);
        } while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof message || message.step != CONFINE_STEP_LISTENER) break;
        /* The child installed its filter: take a copy of its listener, then let it exec. */
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int listener = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, message.index, 0) : -1;
        int saved = errno;
        if (pidfd >= 0) close(pidfd);
        if (listener < 0) {
            kill(pid, SIGKILL);
            message.step = CONFINE_STEP_LISTENER;
            message.err = saved;
            got = sizeof message;
            break;
        }
        fcntl(listener, F_SETFD, FD_CLOEXEC);
        result.listener_fd = listener;
        if (write(ack_fds[1], "x", 1) != 1) { /* the child is gone; the read below says how */ }
    }
    close(ack_fds[1]);
    close(pipe_fds[0]);
    if (got == (ssize_t)sizeof message) {
        if (result.listener_fd >= 0) {
            close(result.listener_fd);
            result.listener_fd = -1;
        }
        result.failed_step = message.step;
        result.failed_errno = message.err;
        result.failed_index = message.index;
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    }
    return result;
}
