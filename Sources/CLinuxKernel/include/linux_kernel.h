#ifndef CONFINE_LINUX_KERNEL_H
#define CONFINE_LINUX_KERNEL_H
// Kernel interfaces Glibc's Swift module does not export: signalfd, netlink, the process connector.
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/connector.h>
#include <linux/cn_proc.h>
#include <sys/prctl.h>
#include <sys/random.h>

/// prctl(2) is variadic, which Swift cannot call.
static inline int confine_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
#endif
