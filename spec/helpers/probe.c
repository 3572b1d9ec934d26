/*
** spec/helpers/probe.c: one attempt per sub-command, for the escape
** catalogue (spec/escape_spec.lua, docs/security.md).
**
**   probe <command> [args]
**
** Each command makes its system call once and prints one line:
**   ok <value>       the call succeeded (its return value)
**   err <ERRNAME>    it failed, with the kernel's (or the filter's) errno
** and exits 0.  Results are printed, not encoded in the exit status, and
** no signal is caught: a seccomp kill shows as a signal in the status.
**
** Most attempts pass a bad fd or pointer, so that an unfiltered call fails
** harmlessly with the kernel's own error (EBADF, EFAULT, EINVAL) while a
** filtered one gets the filter's errno.  Nothing here writes to a host
** file, and the few calls that change something change only this process,
** but the set-id attempts (spec/owner_spec.lua): they make and chmod the
** files they are given, in a directory the spec made.
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef TIOCLINUX
#define TIOCLINUX 0x541C
#endif
#define X32_BIT 0x40000000L
#define BPF_PROG_LOAD 5
/* the calls newer than this libc's headers (asm-generic and x86_64) */
#define NR_statmount 457
#define NR_listmount 458
#define NR_open_tree_attr 467
#define NR_listns 470


/* {====== Reporting ======} */

static const char *errname (int e)
{
  static char buf[16];
  const char *n = strerrorname_np(e);
  if (n) return n;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

/* r < 0: the call failed with errno */
static int report (long r)
{
  if (r < 0) printf("err %s\n", errname(errno));
  else printf("ok %ld\n", r);
  return 0;
}

static int usage (const char *cmd, const char *args)
{
  fprintf(stderr, "probe %s %s\n", cmd, args);
  return 2;
}

/* }====== */


/* {====== Terminals (rows 1-3) ======} */

static int try_ioctl_tiocsti (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(ioctl(-1, TIOCSTI, (char *)1));
}

/* the kernel takes cmd as an unsigned int: the high bits are ignored */
static int try_ioctl_tiocsti_hi (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_ioctl, -1, (0x123UL << 32) | TIOCSTI, 1));
}

static int try_ioctl_tioclinux (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(ioctl(-1, TIOCLINUX, (char *)1));
}

static int try_ioctl_tioclinux_hi (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_ioctl, -1, (0x123UL << 32) | TIOCLINUX, 1));
}

/* a real injection into the terminal on fd 0 */
static int try_tiocsti_real (int argc, char **argv)
{
  char c = 'x';
  (void)argc; (void)argv;
  return report(ioctl(0, TIOCSTI, &c));
}

/* tty-ioctl <name> [fd]: one terminal ioctl on fd (default 0), with
   arguments that change nothing: the terminal's own modes, size and line
   discipline set back, exclusive mode set and cleared.  The whole
   termios2 and termios structs of the kernel are larger than glibc's
   struct termios: a buffer of their size holds either */
static const struct { const char *name; unsigned long cmd, get; } ttycmds[] = {
  { "TCGETS", TCGETS, 0 }, { "TCSETS", TCSETS, TCGETS },
  { "TCSETSW", TCSETSW, TCGETS }, { "TCSETSF", TCSETSF, TCGETS },
  { "TCSETS2", 0x402C542BUL, 0x802C542AUL }, { "TCSETA", TCSETA, TCGETA },
  { "TIOCGETD", TIOCGETD, 0 }, { "TIOCSETD", TIOCSETD, TIOCGETD },
  { "TIOCGWINSZ", TIOCGWINSZ, 0 }, { "TIOCSWINSZ", TIOCSWINSZ, TIOCGWINSZ },
  { "TIOCEXCL", TIOCEXCL, 0 }, { "TIOCGPGRP", TIOCGPGRP, 0 },
  { "FIONREAD", FIONREAD, 0 }, { "FIONBIO", FIONBIO, 0 },
  { "FIOCLEX", FIOCLEX, 0 }, { "TCXONC", TCXONC, 0 },
};

static int try_tty_ioctl (int argc, char **argv)
{
  unsigned char buf[256];
  int fd = argc > 3 ? atoi(argv[3]) : 0;
  size_t i;
  long r;
  if (argc < 3) return usage(argv[1], "<name> [fd]");
  for (i = 0; i < sizeof ttycmds / sizeof ttycmds[0]; i++)
    if (strcmp(argv[2], ttycmds[i].name) == 0) break;
  if (i == sizeof ttycmds / sizeof ttycmds[0]) return usage(argv[1], "<name>?");
  memset(buf, 0, sizeof buf);
  if (ttycmds[i].get && ioctl(fd, ttycmds[i].get, buf) < 0)
    return report(-1);                           /* not a terminal */
  if (ttycmds[i].cmd == TCXONC) buf[0] = TCOON;  /* output on: as it was */
  r = syscall(SYS_ioctl, fd, ttycmds[i].cmd,
              ttycmds[i].cmd == TCXONC ? (void *)(long)TCOON :
              ttycmds[i].cmd == FIONBIO ? (void *)&(int){ 0 } : (void *)buf);
  if (r == 0 && ttycmds[i].cmd == TIOCEXCL) ioctl(fd, TIOCNXCL);
  return report(r);
}

/* }====== */


/* {====== Keyring, namespaces, mounts (rows 10, 11, 26, 29, 30) ======} */

static int try_keyctl (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_keyctl, 9999, 0, 0, 0, 0));
}

static int try_add_key (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_add_key, NULL, NULL, NULL, 0, 0));
}

static int try_request_key (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_request_key, NULL, NULL, NULL, 0));
}

/* a real new user namespace, for this process only */
static int try_unshare_user (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(unshare(CLONE_NEWUSER));
}

/* the kernel refuses CLONE_NEWUSER with CLONE_FS (EINVAL) */
static int try_clone_newuser (int argc, char **argv)
{
  long r;
  (void)argc; (void)argv;
  r = syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);                     /* never expected: the child */
  if (r > 0) waitpid((pid_t)r, NULL, 0);
  return report(r);
}

/* seccomp cannot read clone3's struct: ENOSYS; unfiltered EFAULT */
static int try_clone3 (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_clone3, (void *)1, 88));
}

/* the source is copied first: EFAULT before any permission check */
static int try_mount (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_mount, (char *)1, "/nonexistent-lunajail", NULL, 0, NULL));
}

/* mount-tmpfs <dir>: a real mount, for the propagation check (row 12);
   only ever run in a mount namespace of its own */
static int try_mount_tmpfs (int argc, char **argv)
{
  if (argc < 3) return usage(argv[1], "<dir>");
  return report(mount("none", argv[2], "tmpfs", 0, "size=16k"));
}

/* umount [path]: without a path, a bad pointer (EFAULT unfiltered) */
static int try_umount (int argc, char **argv)
{
  const char *p = argc > 2 ? argv[2] : (const char *)1;
  return report(syscall(SYS_umount2, p, 0));
}

static int try_pivot_root (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_pivot_root, (char *)1, (char *)1));
}

/* chroot [path]: a real chroot of this process (default "/") */
static int try_chroot (int argc, char **argv)
{
  return report(chroot(argc > 2 ? argv[2] : "/"));
}

/* the path is looked up first: EFAULT before the capability check */
static int try_chroot_badptr (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_chroot, (char *)1));
}

static int try_setns (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(setns(-1, 0));
}

static int try_fsopen (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_fsopen, NULL, 0));
}

static int try_open_tree (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_open_tree, -1, NULL, 0));
}

static int try_move_mount (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_move_mount, -1, NULL, -1, NULL, 0));
}

static int try_mount_setattr (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_mount_setattr, -1, NULL, 0, NULL, 0));
}

/* the calls libseccomp 2.5.4 cannot name: EFAULT (EINVAL) unfiltered */
static int try_open_tree_attr (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(NR_open_tree_attr, -1, NULL, 0, NULL, 0));
}

static int try_statmount (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(NR_statmount, NULL, NULL, 0, 0));
}

static int try_listmount (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(NR_listmount, NULL, NULL, 0, 0));
}

/* Linux 6.19: ENOSYS unfiltered before */
static int try_listns (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(NR_listns, NULL, NULL, 0, 0));
}

/* }====== */


/* {====== Kernel attack surface (rows 16, 19-23) ======} */

static int try_open_by_handle_at (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
}

static int try_bpf (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_bpf, BPF_PROG_LOAD, NULL, 0));
}

static int try_perf_event_open (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
}

/* every flag, UFFD_USER_MODE_ONLY too: EINVAL unfiltered */
static int try_userfaultfd (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_userfaultfd, ~0));
}

static int try_io_uring_setup (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_io_uring_setup, 0, NULL));
}

static int try_io_uring_enter (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
}

static int try_io_uring_register (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(SYS_io_uring_register, -1, 0, NULL, 0));
}

/* personality <hex>: the previous persona, in hex */
static int try_personality (int argc, char **argv)
{
  long r;
  if (argc < 3) return usage(argv[1], "<hex value>");
  r = syscall(SYS_personality, strtoul(argv[2], NULL, 16));
  if (r < 0) return report(r);
  printf("ok 0x%lx\n", r);
  return 0;
}

/* PTRACE_SEIZE: the attach check without stopping the target; our exit
   detaches */
static int try_ptrace_attach (int argc, char **argv)
{
  if (argc < 3) return usage(argv[1], "<pid>");
  return report(syscall(SYS_ptrace, PTRACE_SEIZE, atol(argv[2]), 0, 0));
}

/* init-race <tries>: PTRACE_SEIZE of pid 1 from the payload's first
   instruction on, until it works or the tries run out; "ok <its exe>" when
   it works: /usr/bin/lua5.4 means the spawner's child that becomes pid 1,
   which shares the caller's memory until it execs the init */
static int try_init_race (int argc, char **argv)
{
  long tries = argc > 2 ? atol(argv[2]) : 100000;
  char exe[256];
  ssize_t n;
  for (long i = 0; i < tries; i++) {
    if (syscall(SYS_ptrace, PTRACE_SEIZE, 1, 0, 0) == 0) {
      n = readlink("/proc/1/exe", exe, sizeof exe - 1);
      exe[n < 0 ? 0 : n] = '\0';
      printf("ok %s\n", exe);
      return 0;
    }
  }
  return report(-1);
}

/* raw <nr> [args...]: any native system call, numbers in any base */
static int try_raw (int argc, char **argv)
{
  unsigned long a[6] = { 0, 0, 0, 0, 0, 0 };
  if (argc < 3) return usage(argv[1], "<nr> [args...]");
  for (int i = 3; i < argc && i < 9; i++) a[i - 3] = strtoul(argv[i], NULL, 0);
  return report(syscall(strtol(argv[2], NULL, 0), a[0], a[1], a[2], a[3], a[4],
                        a[5]));
}

/* }====== */


/* {====== Other ABIs (rows 17, 18) ======} */

#if defined(__x86_64__)
/* an i386 system call through int $0x80 (the kernel clears r8-r11) */
static long int80 (long nr, long a, long b)
{
  long r;
  __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b)
                    : "r8", "r9", "r10", "r11", "memory");
  if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
  return r;
}

static int try_i386_getpid (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(int80(20, 0, 0));
}

/* i386 unshare (310) with CLONE_PARENT, which unshare rejects: EINVAL */
static int try_i386_unshare (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(int80(310, CLONE_NEWUSER | CLONE_PARENT, 0));
}

/* x32 getpid: ENOSYS unfiltered on a kernel without the x32 ABI */
static int try_x32_getpid (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(syscall(X32_BIT | SYS_getpid));
}
#else
static int not_x86_64 (int argc, char **argv)
{
  (void)argc; (void)argv;
  printf("skip not x86_64\n");
  return 0;
}
#define try_i386_getpid not_x86_64
#define try_i386_unshare not_x86_64
#define try_x32_getpid not_x86_64
#endif

/* }====== */


/* {====== Network (row 27, socket families) ======} */

static socklen_t abstract (struct sockaddr_un *a, const char *name)
{
  size_t n = strlen(name);
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (n > sizeof a->sun_path - 1) n = sizeof a->sun_path - 1;
  memcpy(a->sun_path + 1, name, n);         /* sun_path[0] = 0: abstract */
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void loopback (struct sockaddr_in *a, int port)
{
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((unsigned short)port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int try_connect_abstract (int argc, char **argv)
{
  struct sockaddr_un a;
  socklen_t len;
  int fd;
  if (argc < 3) return usage(argv[1], "<name>");
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(fd);
  len = abstract(&a, argv[2]);
  return report(connect(fd, (struct sockaddr *)&a, len));
}

static int try_connect_tcp (int argc, char **argv)
{
  struct sockaddr_in a;
  int fd;
  if (argc < 3) return usage(argv[1], "<port>");
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(fd);
  loopback(&a, atoi(argv[2]));
  return report(connect(fd, (struct sockaddr *)&a, sizeof a));
}

/* a canary: "ok <what> <pid>", then it stays for the given seconds
   (connections complete in the backlog, none is accepted) */
static int linger (const char *what, const char *seconds)
{
  printf("ok %s %ld\n", what, (long)getpid());
  fflush(stdout);
  sleep((unsigned)atoi(seconds));
  return 0;
}

static int try_listen_abstract (int argc, char **argv)
{
  struct sockaddr_un a;
  socklen_t len;
  int fd;
  if (argc < 4) return usage(argv[1], "<name> <seconds>");
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(fd);
  len = abstract(&a, argv[2]);
  if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 16) < 0)
    return report(-1);
  return linger(argv[2], argv[3]);
}

/* listen-tcp 0 <seconds>: a free port, printed */
static int try_listen_tcp (int argc, char **argv)
{
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  char port[16];
  int fd;
  if (argc < 4) return usage(argv[1], "<port> <seconds>");
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report(fd);
  loopback(&a, atoi(argv[2]));
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) < 0)
    return report(-1);
  snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
  return linger(port, argv[3]);
}

static int try_raw_socket (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
}

static int try_packet_socket (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));
}

/* socket <family> <type> <protocol> [pair]: socket(2), or socketpair(2)
   with "pair"; numbers in any base, the family 64 bits wide, passed raw
   (the kernel reads an int: high bits are ignored) */
static int try_socket (int argc, char **argv)
{
  unsigned long long af;
  long type, proto, r;
  int sv[2];
  if (argc < 5) return usage(argv[1], "<family> <type> <protocol> [pair]");
  af = strtoull(argv[2], NULL, 0);
  type = strtol(argv[3], NULL, 0) | SOCK_CLOEXEC;
  proto = strtol(argv[4], NULL, 0);
  if (argc > 5 && strcmp(argv[5], "pair") == 0)
    r = syscall(SYS_socketpair, af, type, proto, sv);
  else
    r = syscall(SYS_socket, af, type, proto);
  return report(r);
}

/* netlink <protocol> [groups]: a netlink socket bound to the multicast
   groups (15 with group 1: the host's kobject uevents) */
static int try_netlink (int argc, char **argv)
{
  struct sockaddr_nl a;
  int fd;
  if (argc < 3) return usage(argv[1], "<protocol> [groups]");
  fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, atoi(argv[2]));
  if (fd < 0) return report(fd);
  memset(&a, 0, sizeof a);
  a.nl_family = AF_NETLINK;
  a.nl_groups = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 0;
  return report(bind(fd, (struct sockaddr *)&a, sizeof a));
}

static int vsockbind (int port, struct sockaddr_vm *a)
{
  socklen_t len = sizeof *a;
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  memset(a, 0, sizeof *a);
  a->svm_family = AF_VSOCK;
  a->svm_cid = VMADDR_CID_ANY;
  a->svm_port = port ? (unsigned)port : VMADDR_PORT_ANY;
  if (bind(fd, (struct sockaddr *)a, sizeof *a) < 0 ||
      getsockname(fd, (struct sockaddr *)a, &len) < 0)
    return -1;
  return fd;
}

/* bind-vsock <port>: "ok <port>" (0: any port), EADDRINUSE when another
   holds it, in whatever network namespace */
static int try_bind_vsock (int argc, char **argv)
{
  struct sockaddr_vm a;
  if (argc < 3) return usage(argv[1], "<port>");
  if (vsockbind(atoi(argv[2]), &a) < 0) return report(-1);
  printf("ok %u\n", a.svm_port);
  return 0;
}

/* listen-vsock 0 <seconds>: a canary holding a free vsock port */
static int try_listen_vsock (int argc, char **argv)
{
  struct sockaddr_vm a;
  char port[16];
  int fd;
  if (argc < 4) return usage(argv[1], "<port> <seconds>");
  if ((fd = vsockbind(atoi(argv[2]), &a)) < 0 || listen(fd, 4) < 0)
    return report(-1);
  snprintf(port, sizeof port, "%u", a.svm_port);
  return linger(port, argv[3]);
}

/* }====== */


/* {====== IPC, files, fds, processes (rows 5, 6, 8, 13, 14, 24, 28, 31) ======} */

static int try_shmget (int argc, char **argv)
{
  if (argc < 3) return usage(argv[1], "<key>");
  return report(shmget((key_t)strtol(argv[2], NULL, 0), 0, 0));
}

/* a segment with a fresh key, left for the caller to remove (ipcrm -M) */
static int try_shmcreate (int argc, char **argv)
{
  key_t key = (key_t)(0x4c4a0000 | (getpid() & 0xffff));
  (void)argc; (void)argv;
  for (int i = 0; i < 64; i++, key++) {
    if (shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) >= 0) {
      printf("ok %ld\n", (long)key);
      return 0;
    }
    if (errno != EEXIST) break;
  }
  return report(-1);
}

/* open <path> [w]: opened (for writing with w), then closed: nothing is
   written */
static int try_open (int argc, char **argv)
{
  int w = argc > 3 && strcmp(argv[3], "w") == 0;
  int fd;
  if (argc < 3) return usage(argv[1], "<path> [w]");
  fd = open(argv[2], (w ? O_WRONLY : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) close(fd);
  return report(fd);
}

/* read <path>: how many bytes it holds (up to 1 MB) */
static int try_read (int argc, char **argv)
{
  char buf[4096];
  long total = 0;
  ssize_t n;
  int fd;
  if (argc < 3) return usage(argv[1], "<path>");
  fd = open(argv[2], O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return report(fd);
  while (total < (1L << 20) && (n = read(fd, buf, sizeof buf)) > 0) total += n;
  if (n < 0) { int e = errno; close(fd); errno = e; return report(-1); }
  close(fd);
  return report(total);
}

/* mknod <path>: a block device (sda); removed at once if it was made */
static int try_mknod (int argc, char **argv)
{
  int r;
  if (argc < 3) return usage(argv[1], "<path>");
  r = mknod(argv[2], S_IFBLK | 0600, makedev(8, 0));
  if (r == 0) unlink(argv[2]);
  return report(r);
}

/* fds other than 0, 1, 2, each as n=target; "ok none" if there are none */
static int try_fds (int argc, char **argv)
{
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  (void)argc; (void)argv;
  if (!d) return report(-1);
  printf("ok");
  while ((e = readdir(d)) != NULL) {
    char path[64], target[256];
    ssize_t len;
    int fd = atoi(e->d_name);
    if (e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d)) continue;
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    len = readlink(path, target, sizeof target - 1);
    target[len < 0 ? 0 : len] = '\0';
    printf(" %d=%s", fd, target);
    n++;
  }
  closedir(d);
  printf("%s\n", n ? "" : " none");
  return 0;
}

static int try_cwd (int argc, char **argv)
{
  char buf[4096];
  (void)argc; (void)argv;
  if (!getcwd(buf, sizeof buf)) return report(-1);
  printf("ok %s\n", buf);
  return 0;
}

static int try_setgroups (int argc, char **argv)
{
  (void)argc; (void)argv;
  return report(setgroups(0, NULL));
}

/* kill <pid> <signal number> */
static int try_kill (int argc, char **argv)
{
  if (argc < 4) return usage(argv[1], "<pid> <signal>");
  return report(kill((pid_t)atol(argv[2]), atoi(argv[3])));
}

/* }====== */


/* {====== Set-id bits (spec/owner_spec.lua) ======} */

/* create <path> <octal mode> <how>: a file made with that mode by one
   call -- open, openat, creat, openat2, mknod, or tmpfile (an O_TMPFILE
   in path's directory, linked at path) */
static int try_create (int argc, char **argv)
{
  mode_t m;
  long r;
  if (argc < 5) return usage(argv[1], "<path> <octal mode> <how>");
  m = (mode_t)strtoul(argv[3], NULL, 8);
  umask(0);
  if (strcmp(argv[4], "open") == 0)
    r = syscall(SYS_open, argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, m);
  else if (strcmp(argv[4], "openat") == 0)
    r = syscall(SYS_openat, AT_FDCWD, argv[2], O_WRONLY | O_CREAT | O_EXCL
                | O_CLOEXEC, m);
  else if (strcmp(argv[4], "creat") == 0) r = syscall(SYS_creat, argv[2], m);
  else if (strcmp(argv[4], "openat2") == 0) {
    struct open_how h;
    memset(&h, 0, sizeof h);
    h.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    h.mode = m;
    r = syscall(SYS_openat2, AT_FDCWD, argv[2], &h, sizeof h);
  }
  else if (strcmp(argv[4], "mknod") == 0) r = mknod(argv[2], S_IFREG | m, 0);
  else if (strcmp(argv[4], "tmpfile") == 0) {
    char dir[4096], fdpath[64], *slash;
    snprintf(dir, sizeof dir, "%s", argv[2]);
    slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) return usage(argv[1], "/dir/name ...");
    *slash = '\0';
    r = syscall(SYS_open, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, m);
    if (r >= 0) {
      snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%ld", r);
      if (linkat(AT_FDCWD, fdpath, AT_FDCWD, argv[2], AT_SYMLINK_FOLLOW) != 0)
        r = -1;
    }
  }
  else return usage(argv[1], "<path> <mode> open|openat|creat|openat2|mknod|tmpfile");
  if (r > 0 && strcmp(argv[4], "mknod") != 0) close((int)r);
  return report(r < 0 ? -1 : 0);
}

/* chmod <path> <octal mode> <how>: chmod, fchmod, fchmodat, fchmodat2 */
static int try_chmod (int argc, char **argv)
{
  mode_t m;
  long r;
  int fd;
  if (argc < 5) return usage(argv[1], "<path> <octal mode> <how>");
  m = (mode_t)strtoul(argv[3], NULL, 8);
  if (strcmp(argv[4], "chmod") == 0) r = syscall(SYS_chmod, argv[2], m);
  else if (strcmp(argv[4], "fchmodat") == 0)
    r = syscall(SYS_fchmodat, AT_FDCWD, argv[2], m);
  else if (strcmp(argv[4], "fchmodat2") == 0)
    r = syscall(452, AT_FDCWD, argv[2], m, 0);          /* Linux 6.6 */
  else if (strcmp(argv[4], "fchmod") == 0) {
    if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0) return report(-1);
    r = syscall(SYS_fchmod, fd, m);
    close(fd);
  }
  else return usage(argv[1], "<path> <mode> chmod|fchmod|fchmodat|fchmodat2");
  return report(r);
}

/* setcap <path>: a file capability (cap_setuid+ep, v2) on path */
static int try_setcap (int argc, char **argv)
{
  uint32_t v[5] = { 0x02000001, 1u << 7, 1u << 7, 0, 0 };   /* effective */
  if (argc < 3) return usage(argv[1], "<path>");
  return report(setxattr(argv[2], "security.capability", v, sizeof v, 0));
}

/* rewrite <path> <how>: its first byte written again, by write(2) or
   through a shared mapping (mmap) */
static int try_rewrite (int argc, char **argv)
{
  char c;
  long r = -1;
  int fd;
  if (argc < 4) return usage(argv[1], "<path> write|mmap");
  if ((fd = open(argv[2], O_RDWR | O_CLOEXEC)) < 0) return report(-1);
  if (pread(fd, &c, 1, 0) != 1) c = 0;
  if (strcmp(argv[3], "write") == 0) r = pwrite(fd, &c, 1, 0);
  else {
    char *p = mmap(NULL, 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
      p[0] = c;
      r = msync(p, 1, MS_SYNC);
      munmap(p, 1);
    }
  }
  close(fd);
  return report(r);
}

/* link <from> <to>: a hard link */
static int try_link (int argc, char **argv)
{
  if (argc < 4) return usage(argv[1], "<from> <to>");
  return report(link(argv[2], argv[3]));
}

/* }====== */


#define CMD(name, fn) { name, try_##fn }

static const struct { const char *name; int (*fn) (int, char **); } cmds[] = {
  CMD("ioctl-tiocsti", ioctl_tiocsti),
  CMD("ioctl-tiocsti-hi", ioctl_tiocsti_hi),
  CMD("ioctl-tioclinux", ioctl_tioclinux),
  CMD("ioctl-tioclinux-hi", ioctl_tioclinux_hi),
  CMD("tiocsti-real", tiocsti_real), CMD("keyctl", keyctl),
  CMD("add_key", add_key), CMD("request_key", request_key),
  CMD("unshare-user", unshare_user), CMD("clone-newuser", clone_newuser),
  CMD("clone3", clone3), CMD("mount", mount), CMD("mount-tmpfs", mount_tmpfs),
  CMD("umount", umount), CMD("pivot_root", pivot_root), CMD("chroot", chroot),
  CMD("chroot-badptr", chroot_badptr), CMD("setns", setns),
  CMD("fsopen", fsopen), CMD("open_tree", open_tree),
  CMD("move_mount", move_mount), CMD("mount_setattr", mount_setattr),
  CMD("open_by_handle_at", open_by_handle_at), CMD("bpf", bpf),
  CMD("perf_event_open", perf_event_open), CMD("userfaultfd", userfaultfd),
  CMD("io_uring_setup", io_uring_setup), CMD("io_uring_enter", io_uring_enter),
  CMD("io_uring_register", io_uring_register), CMD("personality", personality),
  CMD("ptrace-attach", ptrace_attach), CMD("init-race", init_race),
  CMD("i386-getpid", i386_getpid), CMD("i386-unshare", i386_unshare),
  CMD("x32-getpid", x32_getpid),
  CMD("connect-abstract", connect_abstract), CMD("connect-tcp", connect_tcp),
  CMD("listen-abstract", listen_abstract), CMD("listen-tcp", listen_tcp),
  CMD("raw-socket", raw_socket), CMD("packet-socket", packet_socket),
  CMD("socket", socket), CMD("netlink", netlink), CMD("bind-vsock", bind_vsock),
  CMD("listen-vsock", listen_vsock), CMD("tty-ioctl", tty_ioctl),
  CMD("open_tree_attr", open_tree_attr), CMD("statmount", statmount),
  CMD("listmount", listmount), CMD("listns", listns), CMD("raw", raw),
  CMD("shmget", shmget), CMD("shmcreate", shmcreate), CMD("open", open),
  CMD("read", read), CMD("mknod", mknod), CMD("fds", fds), CMD("cwd", cwd),
  CMD("setgroups", setgroups), CMD("kill", kill), CMD("create", create),
  CMD("chmod", chmod), CMD("setcap", setcap), CMD("link", link),
  CMD("rewrite", rewrite),
};

int main (int argc, char **argv)
{
  if (argc >= 2) {
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
      if (strcmp(argv[1], cmds[i].name) == 0) return cmds[i].fn(argc, argv);
  }
  fprintf(stderr, "usage: probe <command> [args]; commands:");
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    fprintf(stderr, " %s", cmds[i].name);
  fprintf(stderr, "\n");
  return 2;
}
