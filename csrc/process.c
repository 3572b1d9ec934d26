/*
** process.c: the child object core.spawn returns, and core.poll.
**
** Nothing here blocks.  The object owns our ends of the child's stdio and
** buffers them: each output stream has a read buffer, stdin a write
** queue, each at most `limit` bytes (1 MiB unless setbuffer() says
** otherwise).  A full buffer stops draining its pipe, so a child that
** writes faster than we read blocks in its write: back-pressure.  A
** buffer is held only while it holds bytes (emptied, it is freed), and a
** read takes what the pipe has (FIONREAD), so a live child that is not
** writing costs no buffer at all (a server holds thousands).
**
**   child.pid, child:pidfd(), child:getfd(name)
**   child:read(stream [, max])  -> data | nil, "again" | nil, "closed"
**   child:read(stream, "l")     -> a line (without "\n") | nil, "again" |
**                                  nil, "closed" | nil, "line too long",
**                                  with what there was as a third value
**   child:write(data)           -> bytes accepted (written or queued) |
**                                  nil, "again" (queue full) | nil, "closed"
**   child:pending()             -> bytes queued for stdin
**   child:close_stdin()         -> EOF once the queue is written
**   child:step()                -> {stdout=, stderr=, stdin=, exit=,
**                                   timeout=, notify=}: one pass that
**                                  answers the seccomp calls waiting
**                                  (notify.c), drains the pipes into the
**                                  buffers, flushes stdin, enforces
**                                  killafter and reaps; safe to call at
**                                  any time, for any reason
**   child:pollfd(), child:events(), child:timeout()
**                               -> one epoll fd that is readable whenever
**                                  step() has something to do, "r", and
**                                  the seconds until the killafter deadline
**                                  (the cqueues protocol)
**   child:kill([sig]), child:killafter(seconds [, sig])
**   child:status(), child:reports(), child:resize(rows, cols) (a pty)
**   child:on_notify(fn), child:notify([fn]), child:notify_fd(),
**   child:notify_string(n, arg [, max]), child:notify_valid(n): a seccomp
**     listener's (csrc/notify.c)
**   child:setbuffer(bytes), child:setkill(sig | false)
**   child:close() == __close == __gc: close every fd, send the kill signal
**     (SIGKILL unless setkill said otherwise) if it still runs, reap if it
**     is dead; one still dying goes to the state's reaper, swept by every
**     spawn, every close and core.reap().  Never blocks.
**   core.reap()      -> how many closed children still wait: reaps those
**                       that exited, each by its pidfd (never waitid(P_ALL))
**   core.reaperfd()  -> fd: an epoll fd (close-on-exec), the same for the
**                       Lua state's lifetime, readable while a closed child
**                       has exited and waits for core.reap(): a loop
**                       watches it and calls core.reap(), no timer needed
** A closed child costs the reaper its pidfd until it exits (and its lease
** fd, without init, which holds a copy of its own), nothing after.
** The child's id lease (spawn's plan.lease) is released once it is
** reaped: by step(), status(), close() or the reaper, which keeps it with
** the pidfd meanwhile.
** status(): the payload's status (lj_pushstatus; init's word with PID 1),
** with killed = true when the SIGKILL we sent (kill, killafter, close)
** ended it and timeout = true once killafter's deadline sent its signal.
** A host that reaps with waitpid(-1) leaves init's word, or, if init died
** of our SIGKILL, that signal: host_reaped = true, no rusage; with
** neither, {unknown = true, reason = "reaped by host"} (sent = the last
** signal we sent it, if any, and timeout).
** With a pty, stdin and stdout are the pty's master: closing stdin does not
** end the child's input there; write "\4" (^D) as a terminal user would.
** Blocking conveniences (wait, read_all, communicate, ...) are Lua
** (lua/lunajail/child.lua); event-loop adapters in lua/lunajail/loop/.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#define REAPER   "lunajail.reaper"
#define DEFLIMIT (1 << 20)

enum { IN, OUT, ERR, PID, REP, NOTE };   /* streams, the pidfd, the
                                      runner's reports (setup), the seccomp
                                      listener (notify.c) in masks */
#define NSLOTS 6

static const char *const streams[] = { "stdin", "stdout", "stderr", "pid",
                                       NULL };

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* CLOCK_MONOTONIC in seconds: core.monotonic, killafter, the spawner's
** setup deadline */
double lj_monotonic (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}


/* {====== Buffers ======} */

static void buffree (ljChild *c, ljBuf2 *b) {
  if (b->p) c->alloc(c->ud, b->p, b->cap, 0);
  b->p = NULL;
  b->off = b->len = b->cap = 0;
}

/* an emptied buffer is given back */
static void bufdone (ljChild *c, ljBuf2 *b) {
  if (b->len == 0) buffree(c, b);
}

/* room for n more bytes at the end; 0 on allocation failure */
static int bufroom (ljChild *c, ljBuf2 *b, size_t n) {
  size_t need = b->len + n, cap;
  char *p;
  if (b->off + need <= b->cap) return 1;
  if (need <= b->cap) {                    /* slide to the front */
    memmove(b->p, b->p + b->off, b->len);
    b->off = 0;
    return 1;
  }
  cap = b->cap ? b->cap : 1024;
  while (cap < need) cap *= 2;
  p = (char *)c->alloc(c->ud, NULL, 0, cap);
  if (p == NULL) return 0;
  if (b->len) memcpy(p, b->p + b->off, b->len);
  if (b->p) c->alloc(c->ud, b->p, b->cap, 0);
  b->p = p;
  b->off = 0;
  b->cap = cap;
  return 1;
}

/* drains fd s into its buffer, up to the limit; 1 if anything changed.
** Each read asks for what the pipe holds (FIONREAD, at most a pipe's
** worth), into a buffer of that size; when it holds nothing, a small
** read on the stack tells EOF from "again" without growing the buffer
** (bytes that came in between are kept; only an allocation failure for
** them, at most 512 bytes, could lose them) */
static int drain (ljChild *c, int s) {
  ljBuf2 *b = &c->buf[s];
  int changed = 0;
  while (c->fd[s] >= 0 && b->len < c->limit) {
    size_t want = c->limit - b->len;
    char small[512];
    char *into = small;
    int avail;
    ssize_t n;
    if (want > 262144) want = 262144;    /* a pipe's worth */
    if (ioctl(c->fd[s], FIONREAD, &avail) != 0) avail = (int)want;
    if (avail > 0) {
      if ((size_t)avail < want) want = (size_t)avail;
      if (!bufroom(c, b, want)) break;
      into = b->p + b->off + b->len;
    }
    else if (want > sizeof small) want = sizeof small;
    do n = read(c->fd[s], into, want);
    while (n < 0 && errno == EINTR);
    if (n > 0 && into == small) {
      if (!bufroom(c, b, (size_t)n)) break;
      memcpy(b->p + b->off + b->len, small, (size_t)n);
    }
    if (n > 0) { b->len += (size_t)n; changed = 1; continue; }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    closefd(&c->fd[s]);            /* EOF, or EIO: a pty whose child left */
    changed = 1;
  }
  bufdone(c, b);
  return changed;
}

/* one write to stdin without SIGPIPE for the host (blocked for the call,
** the one EPIPE raised discarded): bytes written, 0 if it would block, -1
** if the child closed its end (stdin is then closed) */
static ssize_t nbwrite (ljChild *c, const char *p, size_t len) {
  sigset_t pipe, old;
  ssize_t n;
  int err;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  do n = write(c->fd[IN], p, len); while (n < 0 && errno == EINTR);
  err = errno;
  if (n < 0 && err == EPIPE && !sigismember(&old, SIGPIPE)) {
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (n >= 0) return n;
  if (err == EAGAIN || err == EWOULDBLOCK) return 0;
  closefd(&c->fd[IN]);                   /* EPIPE, or worse */
  return -1;
}

/* writes what stdin's queue holds; 1 if it emptied */
static int flush (ljChild *c) {
  ljBuf2 *q = &c->buf[IN];
  if (c->fd[IN] < 0) { buffree(c, q); return 0; }
  while (q->len > 0) {
    ssize_t n = nbwrite(c, q->p + q->off, q->len);
    if (n <= 0) {
      if (n < 0) q->off = q->len = 0;
      break;
    }
    q->off += (size_t)n;
    q->len -= (size_t)n;
  }
  bufdone(c, q);
  if (q->len == 0 && c->closein) closefd(&c->fd[IN]);
  return q->len == 0;
}

/* }====== */


/* {====== Signals and reaping ======} */

/* through the pidfd: a recycled pid is never hit.  Without
** pidfd_send_signal (before Linux 5.1; valgrind), kill(2) does as well
** while the child is unreaped: its pid cannot be reused before that */
int lj_child_signal (ljChild *c, int sig) {
  if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) == 0) return 0;
  if (errno != ENOSYS || c->reaped) return -1;
  return kill(c->pid, sig);
}

/* 1 once the process has exited (its pidfd is readable) */
static int exited (int pidfd) {
  struct pollfd p = { pidfd, POLLIN, 0 };
  return poll(&p, 1, 0) == 1;
}

/* a SIGKILL that reached a process still running is what ended it: the
** status when the host reaps it and init could not say (init dies of it) */
static int sendsig (ljChild *c, int sig) {
  int running = sig == SIGKILL && !c->reaped && !exited(c->pidfd);
  if (sig) c->lastsig = sig;
  if (lj_child_signal(c, sig) != 0) return -1;
  if (running) c->killed = 1;
  return 0;
}

/* the payload's own status, written by lunajail-init before it exits */
static void readinitstatus (ljChild *c) {
  int st;
  if (c->statusfd >= 0 && read(c->statusfd, &st, sizeof st) == sizeof st) {
    c->status = st;
    c->lost = 0;
  }
  closefd(&c->statusfd);
}

/* waitid on the pidfd; 1 if reaped now or before, 0 if running */
static int tryreap (ljChild *c) {
  siginfo_t si;
  struct rusage ru;
  long r;
  if (c->reaped) return 1;
  if (c->pidfd < 0) return 0;
  memset(&si, 0, sizeof si);
  memset(&ru, 0, sizeof ru);
  do r = syscall(SYS_waitid, P_PIDFD, c->pidfd, &si, WEXITED | WNOHANG, &ru);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != ECHILD) return 0;
    /* the host reaped it itself: init's word, if any, or our SIGKILL */
    if (!exited(c->pidfd)) return 0;       /* ... once it has exited */
    c->reaped = c->hostreaped = c->lost = 1;
    closefd(&c->leasefd);
    readinitstatus(c);
    if (c->lost && c->killed) {            /* init died of it, or had none */
      c->status = SIGKILL;
      c->lost = 0;
    }
    return 1;
  }
  if (si.si_pid == 0) return 0;            /* still running */
  c->reaped = 1;
  closefd(&c->leasefd);                    /* its id is free again */
  c->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
            : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
  c->utime = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  c->stime = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  c->maxrss = ru.ru_maxrss;
  readinitstatus(c);
  return 1;
}

/* }====== */


/* {====== The reaper ======}
** Closed children that still run (close() killed them, or setkill(false)
** let them run on), one Reaper per Lua state, in the registry, made for
** the first one: a table pidfd -> lease fd (or -1), its uservalue, and,
** once core.reaperfd() asked for it, one epoll set of the same pidfds,
** readable while any of them has exited, for an event loop to watch.
** core.reap(), every spawn and every close reap what is ready, each by
** its own pidfd (with the set, only those; without, every pidfd is
** tried), and drop it: a closed child costs its pidfd (and its lease fd,
** without init) until it exits, nothing after.
*/

typedef struct Reaper {
  int epfd;                        /* the epoll set, -1 until made */
  int n;                           /* children waiting */
  int scan;                        /* one is not in the set: sweep all */
  int dead;                        /* collected, or a fork's copy: the fds
                                      are not ours to wait for */
} Reaper;

/* reaps pidfd if it can: 1 once it is gone (reaped, by us or by the
** host), 0 while it runs */
static int reapone (int pidfd) {
  siginfo_t si;
  long r;
  memset(&si, 0, sizeof si);
  do r = syscall(SYS_waitid, P_PIDFD, pidfd, &si,
                 WEXITED | WNOHANG | __WALL, NULL);  /* __WALL: a netpool
                                      maker, which sends no SIGCHLD */
  while (r < 0 && errno == EINTR);
  if (r == 0) return si.si_pid != 0;
  if (errno == ECHILD) return exited(pidfd);   /* the host's, or not our
                                                  child (a stepper's fork) */
  return 1;                                /* nothing to wait for */
}

static int reaper_gc (lua_State *L) {
  Reaper *R = (Reaper *)lua_touserdata(L, 1);
  if (!R->dead && lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {              /* the state closes: last try */
      int lease = (int)lua_tointeger(L, -1), fd;
      lua_pop(L, 1);
      fd = (int)lua_tointeger(L, -1);
      reapone(fd);
      close(fd);
      if (lease >= 0) close(lease);
    }
  }
  if (R->epfd >= 0 && !R->dead) close(R->epfd);
  R->epfd = -1;
  R->n = 0;
  R->dead = 1;
  return 0;
}

/* the state's reaper, pushed; NULL (nothing pushed) if there is none and
** create is 0 */
static Reaper *getreaper (lua_State *L, int create) {
  Reaper *R;
  if (lua_getfield(L, LUA_REGISTRYINDEX, REAPER) == LUA_TUSERDATA)
    return (Reaper *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!create) return NULL;
  R = (Reaper *)lua_newuserdatauv(L, sizeof *R, 1);
  R->epfd = -1;                            /* closed state first */
  R->n = R->scan = R->dead = 0;
  lua_newtable(L);
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, "lunajail.Reaper")) {
    lua_pushcfunction(L, reaper_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, REAPER);
  return R;
}

static int watchpid (Reaper *R, int pidfd) {
  struct epoll_event e;
  memset(&e, 0, sizeof e);
  e.events = EPOLLIN;                      /* level-triggered */
  e.data.fd = pidfd;
  return epoll_ctl(R->epfd, EPOLL_CTL_ADD, pidfd, &e);
}

/* the epoll set of the reaper at the top, made once, with what waits
** already; 0 or an errno */
static int reaper_epoll (lua_State *L, Reaper *R) {
  if (R->epfd >= 0) return 0;
  if ((R->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
    R->epfd = -1;
    return errno;
  }
  R->scan = 0;
  lua_getiuservalue(L, -1, 1);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (watchpid(R, (int)lua_tointeger(L, -1)) != 0) R->scan = 1;
  }
  lua_pop(L, 1);
  return 0;
}

/* the reaper owns pidfd and leasefd from now on */
void lj_reaper_add (lua_State *L, int pidfd, int leasefd) {
  Reaper *R = getreaper(L, 1);
  if (R->dead) {                           /* nothing will sweep it */
    close(pidfd);
    if (leasefd >= 0) close(leasefd);
    lua_pop(L, 1);
    return;
  }
  lua_getiuservalue(L, -1, 1);
  lua_pushinteger(L, leasefd);
  lua_rawseti(L, -2, pidfd);
  lua_pop(L, 1);
  R->n++;
  if (R->epfd >= 0 && watchpid(R, pidfd) != 0)
    R->scan = 1;                           /* ENOSPC: max_user_watches */
  lua_pop(L, 1);
}

/* pidfd, from the table at t, gone: closed with its lease */
static void reaper_drop (lua_State *L, Reaper *R, int t, int pidfd) {
  int lease;
  if (lua_rawgeti(L, t, pidfd) != LUA_TNUMBER) {   /* not (or no more) ours */
    lua_pop(L, 1);
    if (R->epfd >= 0) epoll_ctl(R->epfd, EPOLL_CTL_DEL, pidfd, NULL);
    return;                                /* never readable for ever */
  }
  lease = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (R->epfd >= 0) epoll_ctl(R->epfd, EPOLL_CTL_DEL, pidfd, NULL);
  close(pidfd);
  if (lease >= 0) close(lease);
  lua_pushnil(L);
  lua_rawseti(L, t, pidfd);                /* clearing during next is allowed */
  if (--R->n == 0) R->scan = 0;
}

/* reaps what it can; returns how many children are still waiting.  With
** the epoll set, only those that exited are looked at */
int lj_reaper_sweep (lua_State *L) {
  Reaper *R = getreaper(L, 0);
  int t, left;
  if (R == NULL) return 0;
  if (R->dead || R->n == 0) {
    lua_pop(L, 1);
    return 0;
  }
  lua_getiuservalue(L, -1, 1);
  t = lua_gettop(L);
  if (R->epfd >= 0 && !R->scan) {
    struct epoll_event ev[64];
    int n, k, gone;
    do {                                   /* a batch at a time */
      gone = 0;
      n = epoll_wait(R->epfd, ev, 64, 0);
      for (k = 0; k < n; k++)
        if (reapone(ev[k].data.fd)) {
          reaper_drop(L, R, t, ev[k].data.fd);
          gone++;
        }
    } while (n == 64 && gone > 0);
  }
  else {
    lua_pushnil(L);
    while (lua_next(L, t)) {
      int fd;
      lua_pop(L, 1);
      fd = (int)lua_tointeger(L, -1);
      if (reapone(fd)) reaper_drop(L, R, t, fd);
    }
  }
  left = R->n;
  lua_pop(L, 2);
  return left;
}

/* a fork's copy of the state (lj.call's): the reaper's fds are the
** parent's, closed by the fork's fd hygiene: forget them, close nothing */
void lj_reaper_forget (lua_State *L) {
  Reaper *R = getreaper(L, 0);
  if (R == NULL) return;
  R->dead = 1;
  R->epfd = -1;
  R->n = 0;
  lua_pop(L, 1);
}

static int l_reap (lua_State *L) {
  int left = lj_reaper_sweep(L);
  lj_netpool_collect(L);           /* a maker it reaped: what it made */
  lua_pushinteger(L, left);
  return 1;
}

/* core.reaperfd() -> fd: the reaper's epoll set, the same fd for the
** state's lifetime; readable while a closed child has exited and waits
** for core.reap() */
static int l_reaperfd (lua_State *L) {
  Reaper *R = getreaper(L, 1);
  int err;
  if (R->dead)
    return luaL_error(L, "reaperfd: this is a fork's copy of the state");
  if ((err = reaper_epoll(L, R)) != 0)
    return lj_pushfail(L, "epoll_create1", err);
  lua_pushinteger(L, R->epfd);
  return 1;
}

/* }====== */


/* {====== The aggregate fd ======}
** An epoll set holding what step() is waiting for: the pidfd until the
** child is reaped, stdout and stderr while their buffers have room, stdin
** (for writing) while its queue is not empty.  Level-triggered: readable
** exactly while step() would find something to do.
*/

static void watch (ljChild *c, int slot, int fd, unsigned ev) {
  struct epoll_event e;
  if (c->epfd < 0) return;
  if (fd < 0) ev = 0;
  if (c->epmask[slot] == ev && c->epfds[slot] == fd) return;
  memset(&e, 0, sizeof e);
  e.events = ev;
  e.data.u32 = (uint32_t)slot;
  if (c->epmask[slot] && (c->epfds[slot] != fd || ev == 0))
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->epfds[slot], NULL);
  if (ev)
    epoll_ctl(c->epfd, c->epmask[slot] && c->epfds[slot] == fd
              ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e);
  c->epmask[slot] = ev;
  c->epfds[slot] = fd;
}

static void rewatch (ljChild *c) {
  watch(c, PID, c->reaped ? -1 : c->pidfd, EPOLLIN);
  watch(c, OUT, c->fd[OUT], c->buf[OUT].len < c->limit ? EPOLLIN : 0);
  watch(c, ERR, c->fd[ERR], c->buf[ERR].len < c->limit ? EPOLLIN : 0);
  watch(c, IN, c->fd[IN], c->buf[IN].len > 0 ? EPOLLOUT : 0);
  watch(c, REP, c->setup == 1 ? c->reportfd : -1, EPOLLIN);
  watch(c, NOTE, lj_notify_fd(c), EPOLLIN);
}

/* fd is about to be closed: out of the set (closing it would take it
** out too, but a new fd of the same number would then seem watched) */
void lj_unwatch (ljChild *c, int fd) {
  int k;
  for (k = 0; k < NSLOTS; k++)
    if (c->epfds[k] == fd) {
      if (c->epmask[k] && c->epfd >= 0)
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
      c->epmask[k] = 0;
      c->epfds[k] = -1;
    }
}

/* }====== */


/* {====== The object ======} */

ljChild *lj_newchild (lua_State *L) {
  ljChild *c = (ljChild *)lua_newuserdatauv(L, sizeof *c, 3);
  int k;
  memset(c, 0, sizeof *c);
  c->pidfd = c->epfd = c->statusfd = c->ptyfd = c->reportfd = -1;
  c->leasefd = -1;
  for (k = 0; k < 3; k++) c->fd[k] = -1;
  for (k = 0; k < NSLOTS; k++) c->epfds[k] = -1;
  c->limit = DEFLIMIT;
  c->killsig = SIGKILL;
  c->alloc = lua_getallocf(L, &c->ud);
  luaL_setmetatable(L, LJ_CHILD);
  return c;
}

static ljChild *tochild (lua_State *L) {
  return (ljChild *)luaL_checkudata(L, 1, LJ_CHILD);
}

static int outstream (lua_State *L, int arg) {
  int s = luaL_checkoption(L, arg, "stdout", streams);
  luaL_argcheck(L, s == OUT || s == ERR, arg,
                "\"stdout\" or \"stderr\" expected");
  return s;
}

static int closed (lua_State *L, const char *what) {
  luaL_pushfail(L);
  lua_pushstring(L, what);
  return 2;
}

static int child_pidfd (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->pidfd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, c->pidfd);
  return 1;
}

static int child_getfd (lua_State *L) {
  ljChild *c = tochild(L);
  int s = luaL_checkoption(L, 2, NULL, streams);
  int fd = s == PID ? c->pidfd : c->fd[s];
  if (fd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, fd);
  return 1;
}

/* the buffered bytes of s, up to max, as a string; consumed */
static void take (lua_State *L, ljChild *c, int s, size_t max) {
  ljBuf2 *b = &c->buf[s];
  size_t n = b->len < max ? b->len : max;
  lua_pushlstring(L, b->p + b->off, n);
  b->off += n;
  b->len -= n;
  bufdone(c, b);
}

/* a whole line from s's buffer (after draining), without its "\n" */
static int readline (lua_State *L, ljChild *c, int s) {
  ljBuf2 *b = &c->buf[s];
  char *nl;
  drain(c, s);
  nl = b->len ? (char *)memchr(b->p + b->off, '\n', b->len) : NULL;
  if (nl) {
    size_t n = (size_t)(nl - (b->p + b->off));
    lua_pushlstring(L, b->p + b->off, n);
    b->off += n + 1;
    b->len -= n + 1;
    bufdone(c, b);
    rewatch(c);
    return 1;
  }
  rewatch(c);
  if (c->fd[s] >= 0 && b->len < c->limit) return closed(L, "again");
  luaL_pushfail(L);
  lua_pushstring(L, c->fd[s] < 0 ? "closed" : "line too long");
  take(L, c, s, b->len);                 /* the partial line */
  rewatch(c);
  return 3;
}

/* read(stream [, max | "l"]): up to max bytes (65536), or a line */
static int child_read (lua_State *L) {
  ljChild *c = tochild(L);
  int s = outstream(L, 2);
  lua_Integer max;
  ljBuf2 *b = &c->buf[s];
  ljArgs A;
  lj_args(&A, L, "read", "self,stream,max");
  if (lua_type(L, 3) == LUA_TSTRING) {
    if (strcmp(lua_tostring(L, 3), "l") != 0)
      lj_argerror(&A, 3, "a byte count or \"l\" expected");
    return readline(L, c, s);
  }
  max = lj_optint(&A, 3, 1, 1 << 30, 65536);
  /* through the reusable buffer: one copy, into the string */
  if (b->len == 0) drain(c, s);
  if (b->len > 0) {
    take(L, c, s, (size_t)max);
    rewatch(c);
    return 1;
  }
  rewatch(c);
  return closed(L, c->fd[s] < 0 ? "closed" : "again");
}

static int child_write (lua_State *L) {
  ljChild *c = tochild(L);
  size_t len, room, n;
  const char *p = luaL_checklstring(L, 2, &len);
  ljBuf2 *q = &c->buf[IN];
  if (c->fd[IN] < 0 || c->closein) return closed(L, "closed");
  if (q->len == 0 && len > 0) {          /* nothing queued: straight out */
    ssize_t w = nbwrite(c, p, len);
    if (w < 0) return closed(L, "closed");
    p += w;
    len -= (size_t)w;
    if (len == 0) { lua_pushinteger(L, w); return 1; }
    room = c->limit;
    n = len < room ? len : room;
    if (!bufroom(c, q, n)) return luaL_error(L, "not enough memory");
    memcpy(q->p + q->off + q->len, p, n);
    q->len += n;
    rewatch(c);
    lua_pushinteger(L, (lua_Integer)(w + (ssize_t)n));
    return 1;
  }
  room = q->len < c->limit ? c->limit - q->len : 0;
  n = len < room ? len : room;
  if (n == 0 && len > 0) {
    flush(c);                            /* maybe room now */
    rewatch(c);
    if (c->fd[IN] < 0) return closed(L, "closed");
    return closed(L, "again");
  }
  if (!bufroom(c, q, n)) return luaL_error(L, "not enough memory");
  memcpy(q->p + q->off + q->len, p, n);
  q->len += n;
  flush(c);
  rewatch(c);
  if (c->fd[IN] < 0 && q->len == 0 && n > 0) {
    /* EPIPE on the way: the child closed its stdin */
    return closed(L, "closed");
  }
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int child_pending (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tochild(L)->buf[IN].len);
  return 1;
}

static int child_close_stdin (lua_State *L) {
  ljChild *c = tochild(L);
  c->closein = 1;
  flush(c);
  if (c->buf[IN].len == 0) closefd(&c->fd[IN]);
  rewatch(c);
  return 0;
}

static int argsignal (ljArgs *A, int arg, int def) {
  return lj_isnone(A, arg) ? def : lj_argsignal0(A, arg);
}

static int child_kill (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  int sig;
  lj_args(&A, L, "kill", "self,signal");
  sig = argsignal(&A, 2, SIGTERM);
  if (c->reaped || c->pidfd < 0) return closed(L, "exited");
  if (sendsig(c, sig) != 0) {
    if (errno == ESRCH) return closed(L, "exited");
    return lj_pushfail(L, "pidfd_send_signal", errno);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* killafter(seconds [, sig]): step() sends sig (SIGKILL) at the deadline;
** killafter(nil) cancels it */
static int child_killafter (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  double t;
  lj_args(&A, L, "killafter", "self,seconds,signal");
  if (lj_isnone(&A, 2)) { c->deadline = 0; return 0; }
  t = lj_argtime(&A, 2, 0, LJ_MAXTIME);      /* 0: at the next step() */
  c->deadsig = argsignal(&A, 3, SIGKILL);
  c->deadline = lj_monotonic() + t;     /* never 0, which is none */
  return 0;
}

static int child_setbuffer (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  lj_args(&A, L, "setbuffer", "self,bytes");
  c->limit = (size_t)lj_argint(&A, 2, 4096, 1 << 30);
  rewatch(c);
  return 0;
}

static int child_setkill (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  lj_args(&A, L, "setkill", "self,signal");
  if (lua_isboolean(L, 2) && !lua_toboolean(L, 2)) c->killsig = 0;
  else c->killsig = argsignal(&A, 2, SIGKILL);
  return 0;
}

static int child_resize (lua_State *L) {
  ljChild *c = tochild(L);
  struct winsize ws;
  ljArgs A;
  lj_args(&A, L, "resize", "self,rows,cols");
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)lj_argint(&A, 2, 0, 65535);
  ws.ws_col = (unsigned short)lj_argint(&A, 3, 0, 65535);
  if (c->ptyfd < 0) return luaL_error(L, "resize: the child has no pty");
  if (ioctl(c->ptyfd, TIOCSWINSZ, &ws) != 0)
    return lj_pushfail(L, "ioctl(TIOCSWINSZ)", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* which of in, out, err, pid are ready, from the aggregate fd if there
** is one (one system call instead of one per stream); all if not */
static unsigned ready (ljChild *c) {
  struct epoll_event ev[NSLOTS];
  unsigned set = 0;
  int n, i;
  if (c->epfd < 0) return (1u << NSLOTS) - 1;
  n = epoll_wait(c->epfd, ev, NSLOTS, 0);
  if (n < 0) return (1u << NSLOTS) - 1;
  for (i = 0; i < n; i++) set |= 1u << ev[i].data.u32;
  return set;
}

static int child_step (lua_State *L) {
  ljChild *c = tochild(L);
  unsigned set = ready(c);
  int setup = c->setup == 1, n;
  lua_createtable(L, 0, 4);
  if (setup) lj_setup_step(L, 1, c);
  /* the calls a seccomp listener holds first: a handler that raises
  ** leaves the rest of the pass to the next step() */
  if (c->notify && ((set & (1u << NOTE)) || lj_notify_held(c))
      && (n = lj_notify_serve(L, 1, c, 1, 0)) > 0) {
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "notify");
  }
  if (setup && c->setup != 1) {
    if (c->setup == 0) lua_pushboolean(L, 1);
    else lua_getiuservalue(L, 1, 2);
    lua_setfield(L, -2, c->setup == 0 ? "started" : "setup_error");
  }
  if ((set & (1u << OUT)) && drain(c, OUT)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "stdout");
  }
  if ((set & (1u << ERR)) && drain(c, ERR)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "stderr");
  }
  if (c->buf[IN].len > 0 && flush(c)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "stdin");
  }
  if (c->deadline > 0 && !c->reaped && lj_monotonic() >= c->deadline) {
    c->deadline = 0;
    if (sendsig(c, c->deadsig) == 0) c->timedout = 1;
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "timeout");
  }
  if (!c->reaped && (set & (1u << PID)) && tryreap(c)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "exit");
  }
  rewatch(c);
  return 1;
}

static int child_pollfd (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->epfd < 0) {
    int k;
    if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
      return lj_pushfail(L, "epoll_create1", errno);
    for (k = 0; k < NSLOTS; k++) { c->epmask[k] = 0; c->epfds[k] = -1; }
    rewatch(c);
  }
  lua_pushinteger(L, c->epfd);
  return 1;
}

static int child_events (lua_State *L) {
  tochild(L);
  lua_pushliteral(L, "r");
  return 1;
}

static int child_timeout (lua_State *L) {
  ljChild *c = tochild(L);
  double dl = c->reaped ? 0 : c->deadline;
  if (lj_notify_held(c)) {         /* a call waits for step() */
    lua_pushnumber(L, 0);
    return 1;
  }
  if (c->setup == 1 && (dl <= 0 || c->setupdl < dl)) dl = c->setupdl;
  if (dl <= 0) lua_pushnil(L);
  else {
    double left = dl - lj_monotonic();
    lua_pushnumber(L, left > 0 ? left : 0);
  }
  return 1;
}

/* child:started() -> true (the payload runs, or ran), false (setup goes
** on: an asynchronous spawn), or nil, err (setup failed: the step
** error) */
static int child_started (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->setup == 1) lj_notify_serve(L, 1, c, 0, 0);   /* the runner's */
  if (c->setup == 1 && !lj_setup_step(L, 1, c)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (c->setup == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  luaL_pushfail(L);
  lua_getiuservalue(L, 1, 2);
  return 2;
}

static void pushstatus (lua_State *L, ljChild *c) {
  struct rusage ru;
  if (!c->reaped) {
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "running");
    if (c->setup == 1) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "setup");
    }
    return;
  }
  if (c->lost) {
    char buf[32];
    const char *name = lj_cname(&lj_signals, c->lastsig, buf, sizeof buf);
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "unknown");
    lua_pushliteral(L, "reaped by host");
    lua_setfield(L, -2, "reason");
    if (c->lastsig && name) {      /* what we did to it, if anything */
      lua_pushstring(L, name);
      lua_setfield(L, -2, "sent");
    }
    if (c->timedout) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "timeout");
    }
    return;
  }
  memset(&ru, 0, sizeof ru);
  ru.ru_utime.tv_sec = (time_t)c->utime;
  ru.ru_utime.tv_usec = (suseconds_t)((c->utime - floor(c->utime)) * 1e6);
  ru.ru_stime.tv_sec = (time_t)c->stime;
  ru.ru_stime.tv_usec = (suseconds_t)((c->stime - floor(c->stime)) * 1e6);
  ru.ru_maxrss = c->maxrss;
  lj_pushstatus(L, c->status, c->maxrss || c->utime || c->stime ? &ru : NULL);
  if (c->hostreaped) {             /* init's word, or our SIGKILL's */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "host_reaped");
  }
  if (c->killed && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGKILL) {
    lua_pushboolean(L, 1);         /* ours: kill, killafter, a cap */
    lua_setfield(L, -2, "killed");
  }
  if (c->timedout) {               /* the killafter deadline's signal */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "timeout");
  }
}

static int child_status (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->setup == 1) lj_notify_serve(L, 1, c, 0, 0);   /* the runner's */
  if (c->setup == 1) lj_setup_step(L, 1, c);
  tryreap(c);
  rewatch(c);
  pushstatus(L, c);
  if (c->setup < 0) {              /* it never ran: why */
    lua_getiuservalue(L, 1, 2);
    lua_setfield(L, -2, "setup_error");
  }
  return 1;
}

static int child_reports (lua_State *L) {
  tochild(L);
  lua_getiuservalue(L, 1, 1);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_newtable(L); }
  return 1;
}

/* what only setup needs, let go at its end (or at a close during it):
** the program's mapping, the report pipe, the spawn's state and its
** arena (freed now: Lua's GC cannot see its size) */
void lj_child_endsetup (ljChild *c) {
  if (c->prog) munmap(c->prog, c->prog->size);
  c->prog = NULL;
  c->run = NULL;
  if (c->arena) lj_arenafree(c->arena);
  c->arena = NULL;
  closefd(&c->reportfd);
}

/* the one close of close(), __close and __gc: never blocks (but with
** wait, for a child known to be exiting: a failed setup) */
void lj_child_close (lua_State *L, ljChild *c, int wait) {
  int k;
  lj_child_endsetup(c);
  if (wait && c->pidfd >= 0 && !c->reaped) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT)
           < 0 && errno == EINTR) {}
  }
  for (k = 0; k < 3; k++) {
    closefd(&c->fd[k]);
    buffree(c, &c->buf[k]);
  }
  closefd(&c->ptyfd);
  lj_notify_close(c);              /* a call waiting gets ENOSYS */
  closefd(&c->epfd);
  if (c->pidfd >= 0) {
    if (!c->reaped && c->killsig) sendsig(c, c->killsig);
    if (c->initlease) closefd(&c->leasefd);   /* init keeps the id */
    if (!tryreap(c)) {
      lj_reaper_add(L, c->pidfd, c->leasefd);   /* it owns both now */
      c->pidfd = c->leasefd = -1;
    }
    closefd(&c->pidfd);
  }
  closefd(&c->statusfd);
  closefd(&c->leasefd);                  /* a child never started */
  lj_reaper_sweep(L);
}

static int child_close (lua_State *L) {
  lj_child_close(L, tochild(L), 0);
  return 0;
}

static int child_tostring (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->pidfd < 0 && !c->reaped)
    lua_pushfstring(L, "lunajail.Child (pid %d, closed)", c->pid);
  else if (!c->reaped)
    lua_pushfstring(L, "lunajail.Child (pid %d, running)", c->pid);
  else if (c->lost)
    lua_pushfstring(L, "lunajail.Child (pid %d, reaped by host)", c->pid);
  else if (WIFEXITED(c->status))
    lua_pushfstring(L, "lunajail.Child (pid %d, exited %d)", c->pid,
                    WEXITSTATUS(c->status));
  else lua_pushfstring(L, "lunajail.Child (pid %d, killed by signal %d)",
                       c->pid, WTERMSIG(c->status));
  return 1;
}

/* child.pid, then the methods (an upvalue, extended by the Lua layer) */
static int child_index (lua_State *L) {
  ljChild *c = tochild(L);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "pid") == 0) {
    lua_pushinteger(L, c->pid);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

/* }====== */


/* {====== core.poll ======}
** core.poll({ {fd=, events="r"|"w"|"rw"}, ... }, timeout) -> count
** Sets each item's revents to a string of "r", "w", "h" (hang-up), "e"
** (error), "n" (not an fd).  timeout: seconds (a number from 0 to
** LJ_MAXTIME), nil waits forever; a long wait may end early (poll(2)
** takes an int of milliseconds).  An interrupted wait returns 0: the
** caller loops.
*/

static int l_poll (lua_State *L) {
  struct pollfd *fds;
  lua_Integer n, i;
  double t;
  int ms, r, idx;
  ljArgs A;
  lj_args(&A, L, "poll", "items,timeout");
  idx = lj_argtable(&A, 1);
  t = lj_isnone(&A, 2) ? -1 : lj_argtime(&A, 2, 0, LJ_MAXTIME);
  n = (lua_Integer)lua_rawlen(L, idx);
  if (n > 65536) lj_argerror(&A, 1, "at most 65536 items");
  fds = (struct pollfd *)lua_newuserdatauv(L, sizeof *fds * (size_t)(n + 1),
                                           0);
  for (i = 0; i < n; i++) {
    lua_Integer fd;
    const char *ev = "r";
    int isint;
    if (lua_rawgeti(L, idx, i + 1) != LUA_TTABLE)
      lj_argerror(&A, 1, "item %I: {fd=, events=} expected", i + 1);
    lua_getfield(L, -1, "fd");
    fd = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER || fd < -1 || fd > INT32_MAX)
      lj_argerror(&A, 1, "item %I: fd expected", i + 1);
    if (lua_getfield(L, -2, "events") != LUA_TNIL) {
      ev = lua_tostring(L, -1);
      if (lua_type(L, -1) != LUA_TSTRING || ev[strspn(ev, "rw")] != '\0')
        lj_argerror(&A, 1, "item %I: events \"r\", \"w\" or \"rw\" expected",
                    i + 1);
    }
    fds[i].fd = (int)fd;
    fds[i].events = (short)((strchr(ev, 'r') ? POLLIN : 0)
                            | (strchr(ev, 'w') ? POLLOUT : 0));
    fds[i].revents = 0;
    lua_pop(L, 3);
  }
  ms = t < 0 ? -1 : t > 2e6 ? 2000000000 : (int)ceil(t * 1000);
  r = poll(fds, (nfds_t)n, ms);
  if (r < 0 && errno != EINTR) return lj_pushfail(L, "poll", errno);
  if (r < 0) r = 0;
  for (i = 0; i < n; i++) {
    char ev[6];
    int k = 0;
    short re = fds[i].revents;
    if (re & POLLIN) ev[k++] = 'r';
    if (re & POLLOUT) ev[k++] = 'w';
    if (re & POLLHUP) ev[k++] = 'h';
    if (re & POLLERR) ev[k++] = 'e';
    if (re & POLLNVAL) ev[k++] = 'n';
    lua_rawgeti(L, idx, i + 1);
    lua_pushlstring(L, ev, (size_t)k);
    lua_setfield(L, -2, "revents");
    lua_pop(L, 1);
  }
  lua_pushinteger(L, r);
  return 1;
}

/* core.monotonic() -> seconds: deadlines for the Lua layer */
static int l_monotonic (lua_State *L) {
  lua_pushnumber(L, lj_monotonic());
  return 1;
}

/* }====== */


void lj_open_process (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "pidfd", child_pidfd }, { "getfd", child_getfd },
    { "read", child_read },
    { "write", child_write }, { "pending", child_pending },
    { "close_stdin", child_close_stdin }, { "kill", child_kill },
    { "killafter", child_killafter }, { "step", child_step },
    { "pollfd", child_pollfd }, { "events", child_events },
    { "timeout", child_timeout }, { "status", child_status },
    { "started", child_started },
    { "reports", child_reports }, { "setbuffer", child_setbuffer },
    { "setkill", child_setkill }, { "resize", child_resize },
    { "close", child_close }, { NULL, NULL }
  };
  static const luaL_Reg fns[] = {
    { "poll", l_poll }, { "monotonic", l_monotonic }, { "reap", l_reap },
    { "reaperfd", l_reaperfd },
    { NULL, NULL }
  };
  luaL_newlib(L, meth);                  /* core.Child: the methods */
  if (luaL_newmetatable(L, LJ_CHILD)) {
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, child_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, child_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, child_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, child_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lj_notify_methods(L);
  lua_setfield(L, -2, "Child");
  luaL_setfuncs(L, fns, 0);
}
