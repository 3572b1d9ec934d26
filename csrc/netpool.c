/*
** netpool.c: fresh network namespaces, made ahead of time.
**
**   core.netpool([size]) -> {size =, ready =, making =, made =, used =,
**                            off = "why" | nil}
**     size 0 .. 8 (default 4) sets how many this Lua state keeps ready;
**     0 turns the pool off and closes the ready ones.
**
** Making a network namespace is the dearest step of a default container
** (600-700 us of a 2.5 ms spawn on a 2-core VM, with its loopback's
** start): the kernel registers every protocol's per-namespace state.
** A namespace nobody has used is as fresh when made a millisecond
** earlier, so the work can leave the spawn's path: a *maker* makes a few
** while we do something else, and a spawn that would make one joins one
** of them instead (ns.c: an unshare step's i[1]; it makes its own if the
** join fails).  Each is used once: taken from the pool, handed to one
** runner, closed here at once.
**
** Who may use one (spawn.c decides, at each spawn): a plan whose first
** new network namespace comes from an unshare step with no user
** namespace made or joined before it, or with it.  Such a namespace
** belongs to our own user namespace, as the pool's do; one made in a
** sandbox's new user namespace belongs to that one, and a pool made here
** could not stand in for it (its root could not configure it).  So
** root's containers use the pool; an unprivileged caller's, whose
** sandboxes each have a user namespace, do not.
**
** The maker is a process in our memory (CLONE_VM: no copy of a large
** heap), on its own small stack, that runs beside us: for each namespace
** unshare(CLONE_NEWNET), open /proc/thread-self/ns/net, bring lo up,
** send the fd to us on a socket pair (SCM_RIGHTS), close its own.  So it
** shares nothing with us but memory it only reads, and it touches no
** errno (lj_rawsys: the errno variable is ours, the same TLS).  It runs
** with every signal blocked (no handler of ours may run on its stack),
** first closes its copies of our fds, and exits with exit_signal 0: no
** SIGCHLD, and a host that reaps with waitpid(-1) (without __WALL) never
** sees it.  At most one is in flight; it is started by a spawn that
** finds the pool half empty (never by a state's first such spawn: a
** script that spawns once makes no maker), and is collected by the next
** ones, and by core.reap(): fds received without blocking.  The reaper
** of closed children (process.c) reaps it, so it is no zombie however
** long the next spawn takes: an event loop watching core.reaperfd()
** calls core.reap() when it exits, which also takes in what it made and
** closes its socket.  Its stack is free for the next maker once its
** pidfd says it exited.
** When the state closes, a maker in flight is killed and waited for (its
** stack is ours) and the ready namespaces are closed.
**
** A fork of the state never uses the pool's namespaces: lj.call's fork
** forgets it (lj_netpool_forget: its hygiene closed the fds already),
** a core.fork child closes its copies at its first use of the pool (the
** pool knows its owner's pid), and either starts with an empty one.
**
** The pool is off, saying why, where it cannot work: no clone3 on this
** machine, under valgrind (which runs a CLONE_VM child only as a thread),
** or when the first maker makes no namespace (EPERM: not root).
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define POOLMAX    8
#define POOLSIZE   4               /* the default */
#define MAKERSTACK (16 * 1024)

typedef struct Maker {             /* what the maker reads */
  int sock;                        /* its end of the socket pair */
  int n;                           /* how many to make */
} Maker;

typedef struct Pool {
  int ready[POOLMAX];              /* namespace fds, close-on-exec */
  int n, size;
  int pidfd, sock;                 /* the maker in flight, our end; -1 */
  int reaps;                       /* its pidfd is not the reaper's */
  char *stack;                     /* the maker's, kept for the next one */
  Maker m;
  int wanted;                      /* spawns that asked so far */
  pid_t owner;                     /* whose: a fork (core.fork) has copies */
  const char *off;                 /* why it is off, or NULL */
  lua_Integer made, used;
} Pool;


/* {====== The maker ======} */

#ifdef HAVE_CLONE3

#define NOSAN __attribute__((no_sanitize("address", "undefined")))

#define SYS1(n, a)          lj_rawsys((n), (long)(a), 0, 0, 0, 0, 0)
#define SYS3(n, a, b, c)    lj_rawsys((n), (long)(a), (long)(b), (long)(c), \
                                      0, 0, 0)

NOSAN static void loup (void) {
  struct ifreq ifr;
  long s = SYS3(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;               /* the runner's ifup step then does it */
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  if (SYS3(SYS_ioctl, s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    SYS3(SYS_ioctl, s, SIOCSIFFLAGS, &ifr);
  }
  SYS1(SYS_close, s);
}

/* lj_sendfd (tty.c) for the maker: no errno of ours written, nothing
** instrumented run beside us (NOSAN), so not that function itself */
NOSAN static long sendns (int sock, long fd) {
  char byte = 'n';
  struct iovec io = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m;
  struct cmsghdr *h;
  int f = (int)fd;
  memset(&m, 0, sizeof m);
  memset(&u, 0, sizeof u);
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &f, sizeof f);
  return SYS3(SYS_sendmsg, sock, &m, MSG_NOSIGNAL);
}

/* m->n namespaces, or fewer: at the first failure it stops (one that
** made none says so by its socket's EOF alone: collect) */
NOSAN static int maker (void *arg) {
  const Maker *m = (const Maker *)arg;
  int sock = m->sock, k;
  if (sock > 0) SYS3(SYS_close_range, 0, sock - 1, 0);
  SYS3(SYS_close_range, sock + 1, ~0U, 0);
  for (k = 0; k < m->n; k++) {
    long fd, r;
    if (SYS1(SYS_unshare, CLONE_NEWNET) < 0) break;
    fd = lj_rawsys(SYS_openat, AT_FDCWD, (long)"/proc/thread-self/ns/net",
                   O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0) break;
    loup();
    r = sendns(sock, fd);
    SYS1(SYS_close, fd);
    if (r < 0) break;              /* we are gone */
  }
  return 0;
}

static int startmaker (lua_State *L, Pool *p) {
  struct {                         /* struct clone_args, version 0 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
             stack_size, tls;
  } args;
  sigset_t all, old;
  int sv[2], mine;
  long r;
  if (!p->stack) {
    void *s = mmap(NULL, MAKERSTACK, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) return errno;
    p->stack = (char *)s;
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return errno;
  p->m.sock = sv[1];
  p->m.n = p->size - p->n;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_VM | CLONE_PIDFD;
  args.pidfd = (uint64_t)(uintptr_t)&p->pidfd;
  args.exit_signal = 0;
  args.stack = (uint64_t)(uintptr_t)p->stack;
  args.stack_size = MAKERSTACK;
  UNPOISON(p->stack, MAKERSTACK);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = lj_clone3(&args, sizeof args, maker, &p->m);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(sv[1]);
  if (r < 0) {
    p->pidfd = -1;
    close(sv[0]);
    return (int)-r;
  }
  p->sock = sv[0];
  if ((mine = fcntl(p->pidfd, F_DUPFD_CLOEXEC, 0)) >= 0) {
    lj_reaper_add(L, p->pidfd, -1);  /* reaped when it exits: no zombie */
    p->pidfd = mine;                 /* while our next spawn is far off */
    p->reaps = 0;
  }
  else p->reaps = 1;
  return 0;
}

#endif

/* the maker has exited (its stack is free), or block until it has: it is
** the reaper's to reap (process.c), ours only when it could not be */
static void gone (Pool *p, int block) {
  struct pollfd x = { p->pidfd, POLLIN, 0 };
  if (poll(&x, 1, block ? -1 : 0) != 1) return;   /* running, or EINTR */
  if (p->reaps) {
    siginfo_t si;
    waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG | __WALL);
  }
  close(p->pidfd);
  p->pidfd = -1;
  UNPOISON(p->stack, MAKERSTACK);
}

/* what has arrived, without blocking */
static void collect (Pool *p) {
  while (p->sock >= 0) {
    int fd = lj_recvfd(p->sock);
    if (fd >= 0) {
      p->made++;
      if (p->n < p->size) p->ready[p->n++] = fd;
      else close(fd);
    }
    else if (errno == EAGAIN || errno == EINTR) break;
    else {                          /* EOF: it is done */
      close(p->sock);
      p->sock = -1;
      if (p->made == 0)
        p->off = "the first maker made no network namespace (making one "
                 "needs CAP_SYS_ADMIN)";
    }
  }
  if (p->sock < 0 && p->pidfd >= 0) gone(p, 0);
}

/* }====== */


/* {====== The pool of a Lua state ======} */

/* a forked copy of the state (core.fork) holds copies of our fds: its
** own to close, never to use (its spawns and ours would share the
** namespaces), and the maker is not its child.  It starts empty. */
static Pool *mine (Pool *p) {
  if (p->owner == getpid()) return p;
  while (p->n > 0) close(p->ready[--p->n]);
  if (p->sock >= 0) close(p->sock);
  if (p->pidfd >= 0) close(p->pidfd);
  p->sock = p->pidfd = -1;
  p->owner = getpid();
  return p;
}

static int pool_gc (lua_State *L) {
  Pool *p = mine((Pool *)lua_touserdata(L, 1));   /* a fork's: no kill */
  if (p->pidfd >= 0)               /* it runs on our memory: gone first */
    syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
  while (p->pidfd >= 0) gone(p, 1);
  if (p->sock >= 0) close(p->sock);
  p->sock = -1;
  while (p->n > 0) close(p->ready[--p->n]);
  if (p->stack) munmap(p->stack, MAKERSTACK);
  p->stack = NULL;
  return 0;
}

static Pool *getpool (lua_State *L) {
  Pool *p;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.netpool")
      == LUA_TUSERDATA) {
    p = (Pool *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return mine(p);
  }
  lua_pop(L, 1);
  p = (Pool *)lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  p->pidfd = p->sock = -1;
  p->size = POOLSIZE;
  p->owner = getpid();
#ifdef HAVE_CLONE3
  if (RUNNING_ON_VALGRIND)
    p->off = "valgrind runs a child in our memory only as a thread";
#else
  p->off = "no clone3 on this machine";
#endif
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, pool_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.netpool");
  return p;
}

void lj_netpool_collect (lua_State *L) {
  Pool *p;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.netpool") == LUA_TUSERDATA) {
    p = mine((Pool *)lua_touserdata(L, -1));   /* a fork's: not ours */
    if (p->sock >= 0 || p->pidfd >= 0) collect(p);
  }
  lua_pop(L, 1);
}

/* a fork's copy of the state (lj.call's): the fds are the parent's (the
** fork's hygiene closed them) and the maker its child: forget them, close
** nothing, and let a spawn in the fork make a pool of its own -- never
** the parent's namespaces, which its next spawns will use */
void lj_netpool_forget (lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.netpool") == LUA_TUSERDATA) {
    Pool *p = (Pool *)lua_touserdata(L, -1);
    p->n = 0;
    p->sock = p->pidfd = -1;
    p->stack = NULL;               /* the copy's mapping: left as it is */
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.netpool");
}

int lj_netpool_take (lua_State *L) {
  Pool *p = getpool(L);
  int fd = -1;
  collect(p);
  if (p->n > 0) {
    fd = p->ready[--p->n];
    p->used++;
  }
#ifdef HAVE_CLONE3
  if (!p->off && p->size > 0 && p->pidfd < 0 && p->n <= p->size / 2
      && p->wanted++ > 0)
    startmaker(L, p);              /* a failure: the next spawn tries */
#endif
  return fd;
}

static int l_netpool (lua_State *L) {
  Pool *p = getpool(L);
  if (!lua_isnoneornil(L, 1)) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0 && n <= POOLMAX, 1, "size: 0 to 8");
    p->size = (int)n;
  }
  collect(p);
  while (p->n > p->size) close(p->ready[--p->n]);   /* a smaller size */
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, p->size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, p->n);
  lua_setfield(L, -2, "ready");
  lua_pushboolean(L, p->pidfd >= 0);
  lua_setfield(L, -2, "making");
  lua_pushinteger(L, p->made);
  lua_setfield(L, -2, "made");
  lua_pushinteger(L, p->used);
  lua_setfield(L, -2, "used");
  if (p->off) {
    lua_pushstring(L, p->off);
    lua_setfield(L, -2, "off");
  }
  return 1;
}

/* }====== */


void lj_open_netpool (lua_State *L) {
  lua_pushcfunction(L, l_netpool);
  lua_setfield(L, -2, "netpool");
}
