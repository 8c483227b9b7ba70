#ifndef CONFINE_CSECCOMP_H
#define CONFINE_CSECCOMP_H
// libseccomp (Debian: libseccomp-dev), used by the parent only: the child installs the
// compiled BPF program with a raw seccomp(2) call, no library code between fork and exec.
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <linux/filter.h>

// The SCMP_ARCH_* macros are expressions Swift cannot import.
static const uint32_t confine_arch_x86_64 = SCMP_ARCH_X86_64;
static const uint32_t confine_arch_x86 = SCMP_ARCH_X86;
static const uint32_t confine_arch_x32 = SCMP_ARCH_X32;
static const uint32_t confine_arch_aarch64 = SCMP_ARCH_AARCH64;
static const uint32_t confine_arch_arm = SCMP_ARCH_ARM;

/// memfd_create(2) through syscall(2): its declaration needs _GNU_SOURCE, which would clash with
/// Glibc's Swift module. 1 is MFD_CLOEXEC.
static inline int confine_memfd(const char *name) { return (int)syscall(SYS_memfd_create, name, 1U); }
#endif
