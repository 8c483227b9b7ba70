#ifndef CONFINE_SPAWN_H
#define CONFINE_SPAWN_H

#include <sys/types.h>

/// The setup steps the child performs between fork and exec, in order. A failure is
/// reported back to the parent as (step, errno) over a close-on-exec pipe.
typedef enum {
    CONFINE_STEP_NONE = 0,
    CONFINE_STEP_FORK = 1,
    CONFINE_STEP_PGROUP = 2,
    CONFINE_STEP_PDEATHSIG = 3,
    CONFINE_STEP_JOIN_CGROUP = 4,
    CONFINE_STEP_RLIMIT = 5,
    CONFINE_STEP_SIGNALS = 6,
    CONFINE_STEP_CHDIR = 7,
    CONFINE_STEP_EXEC = 8,
    CONFINE_STEP_PIPE = 9,
    CONFINE_STEP_NO_NEW_PRIVS = 10,
    CONFINE_STEP_SECCOMP = 11,
    CONFINE_STEP_LISTENER = 12,   /* not a failure from the child: "here is my listener fd" */
    CONFINE_STEP_NETNS = 13,
    CONFINE_STEP_LOOPBACK = 14,
    CONFINE_STEP_STDIO = 15,
    CONFINE_STEP_MOUNTNS = 16,    /* unshare(CLONE_NEWNS) or making / a slave */
    CONFINE_STEP_READONLY = 17,   /* remounting a cgroup filesystem read-only (index: which) */
    CONFINE_STEP_CAPABILITIES = 18,
    CONFINE_STEP_MOUNT = 19,      /* mounting a tmpfs or binding a volume (index: which) */
    CONFINE_STEP_HOSTNAME = 20,   /* unshare(CLONE_NEWUTS) (index 0) or sethostname (1) */
    CONFINE_STEP_IDENTITY = 21,   /* setgroups (0), setgid (1), setuid (2) */
    CONFINE_STEP_DEV = 22,        /* the private /dev: its tmpfs (0), a node or directory bound in (1…), a link (20…) */
} confine_step;

/* One mount in the target's private mount namespace: a tmpfs (source NULL, data its options
 * such as "size=67108864,mode=1777") or a bind of a host directory (source set). */
typedef struct {
    const char *target;
    const char *source;
    const char *data;
    unsigned long flags;        /* MS_NOSUID, MS_NODEV, MS_NOEXEC */
} confine_mount;

typedef struct {
    int resource;               /* RLIMIT_NOFILE, ... */
    unsigned long long soft;
    unsigned long long hard;
} confine_rlimit;

typedef struct {
    const char *path;           /* absolute path of the program (resolved by the parent) */
    char *const *argv;
    char *const *envp;
    const int *cgroup_fds;      /* open O_WRONLY cgroup.procs files; the child writes its pid to each */
    int cgroup_fd_count;
    int clone_cgroup_fd;        /* cgroup v2 directory for clone3(CLONE_INTO_CGROUP), or -1 */
    const confine_rlimit *rlimits;
    int rlimit_count;
    int die_with_parent;        /* PR_SET_PDEATHSIG(SIGKILL): the target dies with confine */
    const void *seccomp_program; /* struct sock_filter[] compiled by the parent, or NULL */
    unsigned short seccomp_length; /* instructions */
    int seccomp_listener;       /* 1: SECCOMP_FILTER_FLAG_NEW_LISTENER, the fd is handed to the parent */
    unsigned int seccomp_flags; /* the profile's flags (SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW) */
    int new_network_namespace;  /* 1: unshare(CLONE_NEWNET) and bring lo up (--network none) */
    int stdout_fd;              /* dup2'd onto 1 (a pipe confine reads runner output from), or -1 to inherit */
    int stderr_fd;              /* dup2'd onto 2, or -1 */
    /* Containment (root only): a private mount namespace in which these mounts (the cgroup
     * filesystems, /proc/sys, …) are read-only, as in a container; each remounted with its own
     * flags. MS_REC in a path's flags: not a mount point, bind it onto itself first. */
    const char *const *readonly_mounts;
    const unsigned long *readonly_mount_flags;
    int readonly_mount_count;
    /* Capabilities kept (bit n = capability n); all others leave the bounding and inheritable
     * sets, ambient ones are cleared. Applied when drop_capabilities is 1. */
    unsigned long long capabilities_kept;
    int capability_last;        /* /proc/sys/kernel/cap_last_cap */
    int drop_capabilities;
    /* The container's filesystem, in the same private mount namespace, after the read-only
     * remounts (a read-only root is every mount listed there): tmpfs and bind mounts in order. */
    const confine_mount *mounts;
    int mount_count;
    /* A private /dev (the parent decides what is in it): a tmpfs with `dev_options` at /dev, the
     * host's `dev_nodes` (names under /dev: device nodes or directories) bound in, and the
     * `dev_links` (target, link path pairs) made; before `mounts`. */
    int private_dev;
    const char *dev_options;
    const char *const *dev_nodes;
    int dev_node_count;
    const char *const *dev_links;   /* 2 × dev_link_count strings */
    int dev_link_count;
    const char *hostname;       /* non-NULL: a UTS namespace of its own with this name */
    /* The identity the target runs as (root only), set after capabilities are cut: setgroups,
     * setgid, setuid. PR_SET_PDEATHSIG, which a credential change clears, is set again. */
    int set_identity;
    unsigned int uid;
    unsigned int gid;
    const unsigned int *groups;
    int group_count;
    const char *working_directory; /* non-NULL: chdir as the target's identity, before exec */
} confine_spawn_request;

typedef struct {
    pid_t pid;                  /* > 0 when the child exists (even if a step then failed) */
    int failed_step;            /* confine_step, CONFINE_STEP_NONE on success */
    int failed_errno;
    int failed_index;           /* which cgroup fd or rlimit failed */
    int cloned_into_cgroup;     /* 1 if the child was born in its cgroup (no migration needed) */
    int listener_fd;            /* the seccomp user-notification listener, in the parent, or -1 */
} confine_spawn_result;

/// Forks, runs the setup steps in the child and execs. Returns once the exec succeeded or a
/// step failed (then the child has exited with 127 and has been reaped).
confine_spawn_result confine_spawn(const confine_spawn_request *request);

/// The run guard: a small child that outlives a SIGKILLed confine and takes its target down.
/// It ignores job-control signals, sits in its own session, holds only the read end of a pipe,
/// and waits. A byte on the pipe means confine cleaned up itself: the guard exits. EOF without
/// it means confine died: the guard kills every process in `group_dirs` (cgroup.kill where the
/// kernel has it, else SIGKILL to each pid in cgroup.procs, again until none is left) and removes
/// the directories, for up to ten seconds. Returns the guard's pid (or -1 with errno) and the
/// pipe's write end in *release_fd.
pid_t confine_guard_start(const char *const *group_dirs, int group_count, int *release_fd);

#endif
