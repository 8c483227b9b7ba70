#ifndef CONFINE_CSECCOMP_H
#define CONFINE_CSECCOMP_H
// libseccomp (Debian: libseccomp-dev), used by the parent only: the child installs the
// compiled BPF program with a raw seccomp(2) call, no library code between fork and exec.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <sys/mman.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <linux/filter.h>

// The SCMP_ARCH_* macros are expressions Swift cannot import.
static const uint32_t confine_arch_x86_64 = SCMP_ARCH_X86_64;
static const uint32_t confine_arch_x86 = SCMP_ARCH_X86;
static const uint32_t confine_arch_x32 = SCMP_ARCH_X32;
static const uint32_t confine_arch_aarch64 = SCMP_ARCH_AARCH64;
static const uint32_t confine_arch_arm = SCMP_ARCH_ARM;

static inline int confine_memfd(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
#endif
