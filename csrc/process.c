/*
** process.c: the child object core.spawn returns, and core.poll.
**
** Nothing here blocks, except close(), which the caller asks for.
**   child.pid, child:pidfd(), child:getfd("stdin"|"stdout"|"stderr"|"pid")
**   child:read("stdout"|"stderr" [, max]) -> data | nil, "again" |
**     nil, "closed"
**   child:write(data) -> bytes written | nil, "again" | nil, "closed"
**   child:close_stdin()
**   child:kill([sig]) -> true | nil, msg, errno  (through the pidfd, so a
**     reaped child's recycled pid is never signalled)
**   child:status() -> {running=true} | {exited=, code=, signaled=,
**     signal=, signame=, core=, rusage=} | {unknown=true, reason=...}
**   child:reports() -> optional-step failures and trace records
**   child:close() == __close: SIGKILL if running, reap, close every fd.
**   __gc: the same without blocking; a child not reaped yet goes to the
**     state's reaper, swept by every spawn and by core.reap().
** Blocking conveniences (wait, read_all, communicate, ...) are Lua
** (lua/lunajail/child.lua), built on core.poll.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define REAPER "lunajail.reaper"

static const char *const streams[] = { "stdin", "stdout", "stderr", "pid",
                                       NULL };

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}


/* {====== Reaping ======} */

/* waitid on the pidfd; 1 if reaped now or before, 0 if running */
static int tryreap (ljChild *c, int block) {
  siginfo_t si;
  struct rusage ru;
  long r;
  if (c->reaped) return 1;
  if (c->pidfd < 0) return 0;
  memset(&si, 0, sizeof si);
  do r = syscall(SYS_waitid, P_PIDFD, c->pidfd, &si,
                 WEXITED | (block ? 0 : WNOHANG), &ru);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno != ECHILD) return 0;
    c->reaped = c->hostreaped = 1;       /* the host reaped it itself */
    return 1;
  }
  if (si.si_pid == 0) return 0;          /* still running */
  c->reaped = 1;
  c->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
            : (si.si_status & 0x7f) | (si.si_code == CLD_DUMPED ? 0x80 : 0);
  c->utime = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  c->stime = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  c->maxrss = ru.ru_maxrss;
  return 1;
}

/* the reaper: pidfd -> true, in the registry */
static void reaper_add (lua_State *L, int pidfd) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, REAPER) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REAPER);
  }
  lua_pushboolean(L, 1);
  lua_rawseti(L, -2, pidfd);
  lua_pop(L, 1);
}

/* reaps what it can; returns how many children are still waiting */
int lj_reaper_sweep (lua_State *L) {
  int left = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, REAPER) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      ljChild c;
      lua_pop(L, 1);
      memset(&c, 0, sizeof c);
      c.pidfd = (int)lua_tointeger(L, -1);
      if (tryreap(&c, 0)) {
        close(c.pidfd);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, -4);               /* clearing during next is allowed */
      }
      else left++;
    }
  }
  lua_pop(L, 1);
  return left;
}

static int l_reap (lua_State *L) {
  lua_pushinteger(L, lj_reaper_sweep(L));
  return 1;
}

/* }====== */


/* {====== The object ======} */

ljChild *lj_newchild (lua_State *L) {
  ljChild *c = (ljChild *)lua_newuserdatauv(L, sizeof *c, 1);
  memset(c, 0, sizeof *c);
  c->pidfd = c->fd[0] = c->fd[1] = c->fd[2] = -1;   /* closed first */
  luaL_setmetatable(L, LJ_CHILD);
  return c;
}

static ljChild *tochild (lua_State *L) {
  return (ljChild *)luaL_checkudata(L, 1, LJ_CHILD);
}

static int streamarg (lua_State *L, int arg, int def) {
  return luaL_checkoption(L, arg, def < 0 ? NULL : streams[def], streams);
}

static int child_pidfd (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->pidfd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, c->pidfd);
  return 1;
}

static int child_getfd (lua_State *L) {
  ljChild *c = tochild(L);
  int s = streamarg(L, 2, -1);
  int fd = s == 3 ? c->pidfd : c->fd[s];
  if (fd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, fd);
  return 1;
}

static int child_read (lua_State *L) {
  ljChild *c = tochild(L);
  int s = streamarg(L, 2, 1);
  lua_Integer max = luaL_optinteger(L, 3, 65536);
  luaL_Buffer b;
  char *p;
  ssize_t n;
  luaL_argcheck(L, s == 1 || s == 2, 2, "\"stdout\" or \"stderr\" expected");
  luaL_argcheck(L, max > 0 && max <= (1 << 26), 3, "out of range");
  if (c->fd[s] < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  p = luaL_buffinitsize(L, &b, (size_t)max);
  do n = read(c->fd[s], p, (size_t)max); while (n < 0 && errno == EINTR);
  if (n > 0) {
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
  }
  luaL_pushfail(L);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    lua_pushliteral(L, "again");
    return 2;
  }
  if (n < 0) {
    int err = errno;
    closefd(&c->fd[s]);
    lj_pushfail(L, streams[s], err);
    return 3;
  }
  closefd(&c->fd[s]);                    /* EOF */
  lua_pushliteral(L, "closed");
  return 2;
}

/* write without SIGPIPE: blocked for the call, a pending one discarded */
static ssize_t nosigpipe_write (int fd, const char *p, size_t len,
                                int *err) {
  sigset_t pipe, old, pending;
  ssize_t n;
  int had;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigpending(&pending);
  had = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  do n = write(fd, p, len); while (n < 0 && errno == EINTR);
  *err = errno;
  if (n < 0 && *err == EPIPE && !had) {
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {}
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return n;
}

static int child_write (lua_State *L) {
  ljChild *c = tochild(L);
  size_t len;
  const char *p = luaL_checklstring(L, 2, &len);
  ssize_t n;
  int err;
  if (c->fd[0] < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "closed");
    return 2;
  }
  if (len == 0) { lua_pushinteger(L, 0); return 1; }
  n = nosigpipe_write(c->fd[0], p, len, &err);
  if (n >= 0) { lua_pushinteger(L, n); return 1; }
  if (err != EAGAIN && err != EWOULDBLOCK && err != EPIPE)
    return lj_pushfail(L, "write stdin", err);
  luaL_pushfail(L);
  if (err == EPIPE) { closefd(&c->fd[0]); lua_pushliteral(L, "closed"); }
  else lua_pushliteral(L, "again");
  return 2;
}

static int child_close_stdin (lua_State *L) {
  closefd(&tochild(L)->fd[0]);
  return 0;
}

static int child_kill (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  int sig;
  lj_args(&A, L, "kill", "self,signal");
  sig = lj_isnone(&A, 2) ? SIGTERM
        : lj_isstring(&A, 2) ? lj_argsignal(&A, 2)
        : (int)lj_argint(&A, 2, 0, NSIG - 1);
  if (c->reaped || c->pidfd < 0) {
    luaL_pushfail(L);
    lua_pushliteral(L, "exited");
    return 2;
  }
  if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) != 0)
    return lj_pushfail(L, "pidfd_send_signal", errno);
  lua_pushboolean(L, 1);
  return 1;
}

static void pushstatus (lua_State *L, ljChild *c) {
  struct rusage ru;
  if (!c->reaped) {
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "running");
    return;
  }
  if (c->hostreaped) {
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "unknown");
    lua_pushliteral(L, "reaped by host");
    lua_setfield(L, -2, "reason");
    return;
  }
  memset(&ru, 0, sizeof ru);
  ru.ru_utime.tv_sec = (time_t)c->utime;
  ru.ru_utime.tv_usec = (suseconds_t)((c->utime - floor(c->utime)) * 1e6);
  ru.ru_stime.tv_sec = (time_t)c->stime;
  ru.ru_stime.tv_usec = (suseconds_t)((c->stime - floor(c->stime)) * 1e6);
  ru.ru_maxrss = c->maxrss;
  lj_pushstatus(L, c->status, &ru);
}

static int child_status (lua_State *L) {
  ljChild *c = tochild(L);
  tryreap(c, 0);
  pushstatus(L, c);
  return 1;
}

static int child_reports (lua_State *L) {
  tochild(L);
  lua_getiuservalue(L, 1, 1);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); lua_newtable(L); }
  return 1;
}

/* the one close of close(), __close and __gc */
static void shutdown (lua_State *L, ljChild *c, int block) {
  int k;
  for (k = 0; k < 3; k++) closefd(&c->fd[k]);
  if (c->pidfd < 0) return;
  if (!c->reaped) {
    syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
    if (!tryreap(c, block)) {
      reaper_add(L, c->pidfd);           /* it owns the pidfd now */
      c->pidfd = -1;
      return;
    }
  }
  closefd(&c->pidfd);
}

static int child_close (lua_State *L) {
  shutdown(L, tochild(L), 1);
  return 0;
}

static int child_gc (lua_State *L) {
  shutdown(L, tochild(L), 0);
  return 0;
}

static int child_tostring (lua_State *L) {
  ljChild *c = tochild(L);
  if (c->pidfd < 0 && !c->reaped) lua_pushliteral(L, "lunajail.Child (closed)");
  else if (!c->reaped) lua_pushfstring(L, "lunajail.Child (pid %d, running)",
                                       c->pid);
  else if (c->hostreaped)
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
** (error), "n" (not an fd).  timeout: seconds (float), nil or < 0 waits
** forever.  An interrupted wait returns 0: the caller loops.
*/

static int l_poll (lua_State *L) {
  struct pollfd fds[256];
  lua_Integer n, i;
  double t;
  int ms, r, idx;
  ljArgs A;
  lj_args(&A, L, "poll", "items,timeout");
  idx = lj_argtable(&A, 1);
  t = lj_isnone(&A, 2) ? -1 : luaL_checknumber(L, 2);
  n = (lua_Integer)lua_rawlen(L, idx);
  if (n > 256) lj_argerror(&A, 1, "at most 256 items");
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
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec / 1e9);
  return 1;
}

/* }====== */


void lj_open_process (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "pidfd", child_pidfd }, { "getfd", child_getfd },
    { "read", child_read }, { "write", child_write },
    { "close_stdin", child_close_stdin }, { "kill", child_kill },
    { "status", child_status }, { "reports", child_reports },
    { "close", child_close }, { NULL, NULL }
  };
  static const luaL_Reg fns[] = {
    { "poll", l_poll }, { "monotonic", l_monotonic }, { "reap", l_reap },
    { NULL, NULL }
  };
  luaL_newlib(L, meth);                  /* core.Child: the methods */
  if (luaL_newmetatable(L, LJ_CHILD)) {
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, child_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, child_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, child_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, child_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lua_setfield(L, -2, "Child");
  luaL_setfuncs(L, fns, 0);
}
