/*
** sys.h: raw Linux system calls for the freestanding PID 1 init
** (csrc/init.c), which runs in sandboxes that have no libc.  With
** LJ_FREESTANDING, inline assembly for x86_64 and aarch64; otherwise
** glibc's syscall(2) and a static link.
*/

#ifndef lj_sys_h
#define lj_sys_h

#ifdef LJ_FREESTANDING

#if defined(__x86_64__)

static inline long lj_sys6 (long n, long a, long b, long c, long d, long e,
                            long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile ("syscall"
                    : "=a"(ret)
                    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                      "r"(r9)
                    : "rcx", "r11", "memory");
  return ret;
}

/* the kernel starts us with argc at (%rsp) */
#define LJ_START \
  __asm__(".text\n.global _start\n_start:\n" \
          "  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n" \
          "  call lj_main\n  hlt\n")

#define SYS_read 0
#define SYS_write 1
#define SYS_close 3
#define SYS_rt_sigaction 13
#define SYS_rt_sigprocmask 14
#define SYS_getpid 39
#define SYS_clone 56
#define SYS_execve 59
#define SYS_exit_group 231
#define SYS_wait4 61
#define SYS_kill 62
#define SYS_fcntl 72
#define SYS_ioctl 16
#define SYS_setsid 112
#define SYS_prctl 157
#define SYS_rt_sigtimedwait 128
#define SYS_close_range 436

#elif defined(__aarch64__)

static inline long lj_sys6 (long n, long a, long b, long c, long d, long e,
                            long f) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  register long x5 __asm__("x5") = f;
  __asm__ volatile ("svc 0"
                    : "+r"(x0)
                    : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                    : "memory");
  return x0;
}

#define LJ_START \
  __asm__(".text\n.global _start\n_start:\n" \
          "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n" \
          "  and sp, x0, #-16\n  bl lj_main\n  brk #0\n")

#define SYS_read 63
#define SYS_write 64
#define SYS_close 57
#define SYS_rt_sigaction 134
#define SYS_rt_sigprocmask 135
#define SYS_getpid 172
#define SYS_clone 220
#define SYS_execve 221
#define SYS_exit_group 94
#define SYS_wait4 260
#define SYS_kill 129
#define SYS_fcntl 25
#define SYS_ioctl 29
#define SYS_setsid 157
#define SYS_prctl 167
#define SYS_rt_sigtimedwait 137
#define SYS_close_range 436

#else
#error "LJ_FREESTANDING: no raw system calls for this machine"
#endif

/* returns -errno on failure, as the kernel does */
#define lj_sys(n, a, b, c, d) lj_sys6(n, (long)(a), (long)(b), (long)(c), \
                                      (long)(d), 0, 0)

#else /* glibc */

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline long lj_sysg (long n, long a, long b, long c, long d) {
  long r = syscall(n, a, b, c, d);
  return r < 0 ? -errno : r;
}

#define lj_sys(n, a, b, c, d) lj_sysg(n, (long)(a), (long)(b), (long)(c), \
                                      (long)(d))
#define LJ_START

#endif

#endif
