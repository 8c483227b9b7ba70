#ifndef CONFINE_LINUX_KERNEL_H
#define CONFINE_LINUX_KERNEL_H
// Kernel interfaces Glibc's Swift module does not export: signalfd, netlink, the process connector,
// taskstats (generic netlink).
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/connector.h>
#include <linux/cn_proc.h>
#include <linux/genetlink.h>
#include <linux/taskstats.h>
#include <sys/prctl.h>
#include <sys/random.h>

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/// pidfd_open + pidfd_getfd (Linux 5.6+): a copy of another process's file descriptor.
static inline int confine_pidfd_getfd(int pid, int fd) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) return -1;
    int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    close(pidfd);
    return copy;
}

/// process_vm_readv(2), through syscall(2): its glibc declaration needs _GNU_SOURCE, which must
/// not be defined here (it changes fd_set and clashes with Glibc's Swift module).
static inline long confine_read_process_memory(int pid, void *local, unsigned long address, unsigned long count) {
    struct iovec local_vector = {local, count};
    struct iovec remote_vector = {(void *)address, count};
    return syscall(SYS_process_vm_readv, pid, &local_vector, 1UL, &remote_vector, 1UL, 0UL);
}

/// The CPUs in pid's affinity mask (sched_getaffinity through syscall(2): glibc declares it
/// only under _GNU_SOURCE); -1 with errno on failure. Up to 8192 CPUs.
static inline int confine_affinity_cpu_count(int pid) {
    unsigned long mask[8192 / (8 * sizeof(unsigned long))] = {0};
    long bytes = syscall(SYS_sched_getaffinity, pid, sizeof(mask), mask);
    if (bytes < 0) return -1;
    int count = 0;
    for (long i = 0; i < bytes / (long)sizeof(unsigned long); i++) count += __builtin_popcountl(mask[i]);
    return count;
}

/// prctl(2) is variadic, which Swift cannot call.
static inline int confine_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
/// prlimit(2) on another process (glibc declares prlimit only under _GNU_SOURCE).
#include <sys/resource.h>
static inline int confine_prlimit(int pid, int resource, const struct rlimit *new_limit, struct rlimit *old_limit) {
    return (int)syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
}

/// setns(2) into a network namespace for the calling thread only (glibc declares setns only
/// under _GNU_SOURCE). 0x40000000 is CLONE_NEWNET.
static inline int confine_join_network_namespace(int fd) { return (int)syscall(SYS_setns, fd, 0x40000000); }

#endif
