/*
** notify.c: the supervisor of the seccomp notify action
** (SECCOMP_RET_USER_NOTIF).  A filter with notify rules is loaded in the
** sandbox with a listener (seccomp.c), which the child object receives
** (spawn.c) and answers here: each call a notify rule matches waits in
** the kernel until the handler has decided.
**
**   child:on_notify(fn | nil)   the handler step() calls, once per call:
**       fn(n, child) with n = {id=, pid=, nr=, syscall= (the name, or
**       nil), arch= ("x86_64"), args = {a0, ..., a5}, ip=}; it returns
**         "allow"              the call goes on (FLAG_CONTINUE)
**         "deny" [, errno]     it fails with errno (a name or 1..4095;
**                              EPERM by default)
**         an integer v         it returns v without running
**       Anything else, or an error, answers ENOSYS, then step() raises.
**       No handler: every call answers ENOSYS, so none waits for ever.
**   child:notify([fn])  -> answered: serves what is pending now with fn
**       (default the handler), never waits; step() does the same and
**       says notify = answered
**   child:notify_fd()   -> an fd readable while a call waits: the
**       listener (or, while a call read as setup ended is held, an
**       eventfd), nil before the listener came or once the sandbox's
**       last process is gone; the aggregate fd (pollfd) watches it
**   child:notify_string(n, arg [, max]) -> the string at the pointer arg
**       ("a1", or its place 2 in n.args) of the calling process, up to
**       its NUL (max 4096 bytes) | nil, msg, errno; read through
**       /proc/PID/mem, checked with NOTIF_ID_VALID before and after, so
**       it is the caller's memory -- but another thread of the caller
**       may change it before the kernel reads it itself: a decision on a
**       pointer argument is not a security boundary (docs/security.md)
**   child:notify_valid(n) -> is n's call still waiting?
**
** The calls of lunajail's own code are allowed without the handler:
** until setup is over, the runner's (its fds and exec steps, its fork
** of the payload) -- a call read while the runner's report pipe has not
** reached EOF is one the payload's exec has not happened for (a forked
** payload execs only once the runner has closed its copy: runner.c's
** gate) -- and, after it, those of lunajail-init or the relay, the
** child's own pid.  A call read as setup ended is kept (held) for the
** handler: a blocking spawn returns first, so the handler can be set.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "spawn.h"

#define MAXPERCALL  64             /* answered per serve: a payload that
                                      notifies without pause cannot hold
                                      the event loop */
#define MAXSTRING   (1 << 20)

struct ljNotify {
  int sock;                        /* our end of the step's socket, until
                                      the listener has come; -1 */
  int fd;                          /* the listener, or -1 */
  int taken;                       /* it came (it may be closed since) */
  int held;                        /* req: a call read, not answered */
  int wake;                        /* an eventfd, always readable: the
                                      aggregate fd's while a call is
                                      held (-1 until the first) */
  int busy;                        /* a handler runs: no serve inside */
  int dead;                        /* closed while busy: freed after */
  int runner;                      /* c->pid is the runner (init, the
                                      relay): its calls are lunajail's */
  size_t reqsize, respsize;        /* the kernel's sizes */
  uint64_t req[32];                /* struct seccomp_notif */
  uint64_t resp[16];               /* struct seccomp_notif_resp */
};

static void closefd (ljChild *c, int *fd) {
  if (*fd >= 0) {
    lj_unwatch(c, *fd);
    close(*fd);
  }
  *fd = -1;
}


/* {====== The listener ======} */

int lj_notify_new (ljChild *c, int sock, int runnerstays) {
  ljNotify *nt = (ljNotify *)c->alloc(c->ud, NULL, 0, sizeof *nt);
  if (nt == NULL) {
    close(sock);
    return ENOMEM;
  }
  memset(nt, 0, sizeof *nt);
  nt->sock = sock;
  nt->fd = nt->wake = -1;
  nt->runner = runnerstays;
  c->notify = nt;
  return 0;
}

void lj_notify_close (ljChild *c) {
  ljNotify *nt = c->notify;
  if (nt == NULL) return;
  closefd(c, &nt->sock);
  closefd(c, &nt->fd);             /* what waits gets ENOSYS */
  closefd(c, &nt->wake);
  nt->held = 0;
  if (nt->busy) { nt->dead = 1; return; }
  c->alloc(c->ud, nt, sizeof *nt, 0);
  c->notify = NULL;
}

int lj_notify_fd (ljChild *c) {
  ljNotify *nt = c->notify;
  if (nt == NULL) return -1;
  if (nt->held && nt->wake >= 0) return nt->wake;
  return nt->fd >= 0 ? nt->fd : nt->sock;
}

int lj_notify_held (ljChild *c) {
  return c->notify != NULL && c->notify->held;
}

/* the listener, if the step has sent it: 0 (taken now or before), or an
** errno (EAGAIN: not yet) */
int lj_notify_take (ljChild *c) {
  ljNotify *nt = c->notify;
  struct seccomp_notif_sizes sz;
  int fd;
  if (nt == NULL || nt->taken) return 0;
  if (nt->sock < 0) return EBADF;
  if ((fd = lj_recvfd(nt->sock)) < 0) return errno;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) != 0) {
    int err = errno;
    close(fd);
    return err;
  }
  nt->reqsize = sz.seccomp_notif > sizeof(struct seccomp_notif)
                ? sz.seccomp_notif : sizeof(struct seccomp_notif);
  nt->respsize = sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                 ? sz.seccomp_notif_resp : sizeof(struct seccomp_notif_resp);
  if (nt->reqsize > sizeof nt->req || nt->respsize > sizeof nt->resp) {
    close(fd);
    return EOVERFLOW;              /* a kernel far newer than this code */
  }
  closefd(c, &nt->sock);
  nt->fd = fd;
  nt->taken = 1;
  return 0;
}

/* is req's call the runner's?  Init and the relay stay the child's pid
** while it is not reaped (a zombie keeps its pid); the payload is
** another process then */
static int ours (ljChild *c, ljNotify *nt) {
  const struct seccomp_notif *q = (const struct seccomp_notif *)nt->req;
  return nt->runner && !c->reaped && c->pid > 0 && q->pid == (uint32_t)c->pid;
}

/* one call into req: 1, or 0 if none waits; a listener whose sandbox
** is gone (hang-up) is closed */
static int receive (ljChild *c, ljNotify *nt) {
  int tries;
  for (tries = 0; tries < 8; tries++) {
    struct pollfd p = { nt->fd, POLLIN, 0 };
    if (nt->fd < 0 || poll(&p, 1, 0) != 1) return 0;
    if (!(p.revents & POLLIN)) {   /* POLLHUP: no process left to call */
      closefd(c, &nt->fd);
      return 0;
    }
    memset(nt->req, 0, nt->reqsize);
    if (ioctl(nt->fd, SECCOMP_IOCTL_NOTIF_RECV, nt->req) == 0) return 1;
    if (errno != ENOENT && errno != EINTR) return 0;
    /* ENOENT: its caller was killed meanwhile; the next one */
  }
  return 0;
}

/* the answer to req: flags, an errno (positive) or a value; a call that
** no longer waits (ENOENT: its caller was killed) needs none.  One the
** kernel refuses (FLAG_CONTINUE before Linux 5.5: EINVAL) is ENOSYS
** instead: a call never waits for good */
static void answer (ljNotify *nt, unsigned flags, int err, int64_t val) {
  const struct seccomp_notif *q = (const struct seccomp_notif *)nt->req;
  struct seccomp_notif_resp *r = (struct seccomp_notif_resp *)nt->resp;
  int tries, rc;
  for (tries = 0; tries < 2 && nt->fd >= 0; tries++) {
    memset(nt->resp, 0, nt->respsize);
    r->id = q->id;
    r->flags = tries ? 0 : flags;
    r->error = tries ? -ENOSYS : -err;
    r->val = tries || err || flags ? 0 : val;
    do rc = ioctl(nt->fd, SECCOMP_IOCTL_NOTIF_SEND, r);
    while (rc != 0 && errno == EINTR);
    if (rc == 0 || errno == ENOENT) return;
  }
}

/* }====== */


/* {====== Serving ======} */

static void pushnotif (lua_State *L, const struct seccomp_notif *q) {
  int k;
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, (lua_Integer)q->id);
  lua_setfield(L, -2, "id");
  lua_pushinteger(L, (lua_Integer)q->pid);
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, q->data.nr);
  lua_setfield(L, -2, "nr");
  lj_seccomp_pushname(L, q->data.arch, q->data.nr);
  lua_setfield(L, -2, "syscall");
  lua_pushstring(L, lj_seccomp_archname(q->data.arch));
  lua_setfield(L, -2, "arch");
  lua_pushinteger(L, (lua_Integer)q->data.instruction_pointer);
  lua_setfield(L, -2, "ip");
  lua_createtable(L, 6, 0);
  for (k = 0; k < 6; k++) {
    lua_pushinteger(L, (lua_Integer)q->data.args[k]);
    lua_rawseti(L, -2, k + 1);
  }
  lua_setfield(L, -2, "args");
}

/* the handler's answer, from its results at the top (two values): 0, or
** 1 with a message pushed (then ENOSYS is the answer) */
static int decide (lua_State *L, ljNotify *nt) {
  lua_Integer v;
  int isint;
  if (lua_type(L, -2) == LUA_TSTRING) {
    const char *s = lua_tostring(L, -2);
    if (strcmp(s, "allow") == 0) {
      answer(nt, SECCOMP_USER_NOTIF_FLAG_CONTINUE, 0, 0);
      return 0;
    }
    if (strcmp(s, "deny") == 0) {
      v = EPERM;
      if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *e = lua_tolstring(L, -1, &len);
        if (!lj_findname(&lj_errnos, e, len, &v)) v = 0;
      }
      else if (!lua_isnil(L, -1)) {
        v = lua_tointegerx(L, -1, &isint);
        if (!isint || lua_type(L, -1) != LUA_TNUMBER) v = 0;
      }
      if (v >= 1 && v <= 4095) {
        answer(nt, 0, (int)v, 0);
        return 0;
      }
      lua_pushfstring(L, "on_notify: \"deny\" with errno %s: a name "
                      "(\"EACCES\") or 1..4095 expected",
                      luaL_tolstring(L, -1, NULL));
      return 1;
    }
  }
  v = lua_tointegerx(L, -2, &isint);
  if (isint && lua_type(L, -2) == LUA_TNUMBER) {
    answer(nt, 0, 0, (int64_t)v);
    return 0;
  }
  lua_pushfstring(L, "on_notify: the handler returned %s: \"allow\", "
                  "\"deny\" [, errno] or an integer expected",
                  lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                  : luaL_typename(L, -2));
  return 1;
}

/* calls the handler at fn (or answers ENOSYS without one) for the call
** in req; 0, or 1 with the error to raise at the top */
static int dispatch (lua_State *L, int idx, ljChild *c, int fn) {
  ljNotify *nt = c->notify;
  int top = lua_gettop(L), bad;
  if (lua_isnil(L, fn)) {
    answer(nt, 0, ENOSYS, 0);
    return 0;
  }
  lua_pushvalue(L, fn);
  pushnotif(L, (const struct seccomp_notif *)nt->req);
  lua_pushvalue(L, idx);
  nt->busy = 1;
  bad = lua_pcall(L, 2, 2, 0) != LUA_OK;
  nt->busy = 0;
  if (nt->dead) {                  /* the handler closed the child: what
                                      waited got ENOSYS */
    c->alloc(c->ud, nt, sizeof *nt, 0);
    c->notify = NULL;
    if (!bad) lua_settop(L, top);
    return bad;
  }
  if (bad) {                       /* its error, at the top */
    answer(nt, 0, ENOSYS, 0);
    return 1;
  }
  if (decide(L, nt) == 0) {
    lua_settop(L, top);
    return 0;
  }
  answer(nt, 0, ENOSYS, 0);
  lua_replace(L, top + 1);         /* the message, alone */
  lua_settop(L, top + 1);
  return 1;
}

/* serves what waits now; with handle, through the handler (fn: its
** stack index, 0 for the child's own), else only setup's calls (a call
** of the payload's is held).  Returns how many were answered by the
** handler; raises what the handler raised */
int lj_notify_serve (lua_State *L, int idx, ljChild *c, int handle, int fn) {
  int n = 0, k, top = lua_gettop(L);
  idx = lua_absindex(L, idx);
  if (c->notify == NULL || c->notify->busy) return 0;
  if (!handle && c->setup != 1) return 0;
  lj_notify_take(c);
  if (fn == 0) {
    lua_getiuservalue(L, idx, 3);
    fn = lua_gettop(L);
  }
  for (k = 0; k < MAXPERCALL && c->notify; k++) {
    ljNotify *nt = c->notify;
    if (!nt->held) {
      if (!receive(c, nt)) break;
      if ((c->setup == 1 && !lj_setup_step(L, idx, c)) || ours(c, nt)) {
        answer(nt, SECCOMP_USER_NOTIF_FLAG_CONTINUE, 0, 0);
        continue;                  /* the runner's own */
      }
      nt->held = 1;                /* the listener is not readable for it:
                                      the aggregate fd watches wake */
      if (nt->wake < 0 && (nt->wake = eventfd(1, EFD_CLOEXEC)) >= 0)
        lj_unwatch(c, nt->fd);
    }
    if (!handle) break;
    nt->held = 0;
    if (dispatch(L, idx, c, fn)) lua_error(L);
    n++;
  }
  lua_settop(L, top);
  return n;
}

/* }====== */


/* {====== The methods ======} */

static ljChild *tochild (lua_State *L) {
  return (ljChild *)luaL_checkudata(L, 1, LJ_CHILD);
}

static int child_on_notify (lua_State *L) {
  ljArgs A;
  tochild(L);
  lj_args(&A, L, "on_notify", "self,handler");
  if (!lj_isnone(&A, 2) && !lua_isfunction(L, 2))
    lj_argerror(&A, 2, "a function or nil expected, got %s",
                luaL_typename(L, 2));
  lua_settop(L, 2);
  lua_setiuservalue(L, 1, 3);
  return 0;
}

static int child_notify (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  int fn = 0;
  lj_args(&A, L, "notify", "self,handler");
  if (!lj_isnone(&A, 2)) {
    if (!lua_isfunction(L, 2))
      lj_argerror(&A, 2, "a function or nil expected, got %s",
                  luaL_typename(L, 2));
    fn = 2;
  }
  if (c->setup == 1) lj_setup_step(L, 1, c);
  lua_pushinteger(L, lj_notify_serve(L, 1, c, 1, fn));
  return 1;
}

static int child_notify_fd (lua_State *L) {
  ljChild *c = tochild(L);
  lj_notify_take(c);
  if (c->notify == NULL || c->notify->fd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, lj_notify_fd(c));   /* wake, for a held call */
  return 1;
}

/* the id of notification n (argument 2) */
static uint64_t argid (ljArgs *A, int n, int *pid) {
  lua_State *L = A->L;
  lua_Integer id, p;
  int isint, isint2;
  if (!lua_istable(L, lj_argidx(A, n)))
    lj_argerror(A, n, "a notification (the handler's first argument) "
                "expected, got %s", luaL_typename(L, lj_argidx(A, n)));
  lua_getfield(L, lj_argidx(A, n), "id");
  lua_getfield(L, lj_argidx(A, n), "pid");
  id = lua_tointegerx(L, -2, &isint);
  p = lua_tointegerx(L, -1, &isint2);
  if (!isint || !isint2 || p < 0 || p > INT32_MAX)
    lj_argerror(A, n, "a notification with integer id and pid expected");
  lua_pop(L, 2);
  if (pid) *pid = (int)p;
  return (uint64_t)id;
}

static int valid (ljChild *c, uint64_t id) {
  ljNotify *nt = c->notify;
  return nt && nt->fd >= 0
         && ioctl(nt->fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static int child_notify_valid (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  uint64_t id;
  lj_args(&A, L, "notify_valid", "self,notification");
  id = argid(&A, 2, NULL);
  lua_pushboolean(L, valid(c, id));
  return 1;
}

/* reads a NUL-terminated string at addr of mem, page by page (a read
** across into an unmapped page fails); its length, or -1 (errno) */
static ssize_t readstr (int mem, uint64_t addr, char *buf, size_t max) {
  size_t got = 0;
  while (got < max) {
    size_t want = 4096 - (size_t)((addr + got) & 4095);
    ssize_t r;
    char *nul;
    if (want > max - got) want = max - got;
    do r = pread(mem, buf + got, want, (off_t)(addr + got));
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
      if (r == 0) errno = EIO;
      return -1;
    }
    if ((nul = (char *)memchr(buf + got, '\0', (size_t)r)) != NULL)
      return (ssize_t)(got + (size_t)(nul - (buf + got)));
    got += (size_t)r;
  }
  errno = ENAMETOOLONG;
  return -1;
}

static int child_notify_string (lua_State *L) {
  ljChild *c = tochild(L);
  ljArgs A;
  uint64_t id, addr;
  lua_Integer max, a;
  int pid, mem, isint, err;
  char path[64], *buf;
  luaL_Buffer b;
  ssize_t len;
  lj_args(&A, L, "notify_string", "self,notification,arg,max");
  id = argid(&A, 2, &pid);
  if (lua_type(L, 3) == LUA_TSTRING) {
    const char *s = lua_tostring(L, 3);
    if (s[0] != 'a' || s[1] < '0' || s[1] > '5' || s[2])
      lj_argerror(&A, 3, "\"a0\"..\"a5\" or 1..6 expected, got \"%s\"", s);
    a = s[1] - '0' + 1;
  }
  else a = lj_argint(&A, 3, 1, 6);
  max = lj_optint(&A, 4, 1, MAXSTRING, 4096);
  lua_getfield(L, 2, "args");
  if (!lua_istable(L, -1)) lj_argerror(&A, 2, "a notification with args expected");
  lua_rawgeti(L, -1, a);
  addr = (uint64_t)lua_tointegerx(L, -1, &isint);
  if (!isint) lj_argerror(&A, 2, "args[%I]: an integer expected", a);
  lua_pop(L, 2);
  if (c->notify == NULL || c->notify->fd < 0) return lj_pushfail(L, "notify_string", EBADF);
  if (pid == 0) return lj_pushfail(L, "notify_string (the caller is in no pid "
                                   "namespace of ours)", ESRCH);
  snprintf(path, sizeof path, "/proc/%d/mem", pid);
  if ((mem = open(path, O_RDONLY | O_CLOEXEC)) < 0) return lj_pushfail(L, path, errno);
  if (!valid(c, id)) {             /* the pid may be another's now */
    close(mem);
    return lj_pushfail(L, "notify_string (the call no longer waits)", ENOENT);
  }
  buf = luaL_buffinitsize(L, &b, (size_t)max);
  len = readstr(mem, addr, buf, (size_t)max);
  err = errno;
  close(mem);
  if (len >= 0 && !valid(c, id)) { len = -1; err = ENOENT; }
  if (len < 0) {
    snprintf(path, sizeof path, "notify_string(a%d)", (int)a - 1);
    return lj_pushfail(L, path, err);
  }
  luaL_pushresultsize(&b, (size_t)len);
  return 1;
}

/* }====== */


void lj_notify_methods (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "on_notify", child_on_notify }, { "notify", child_notify },
    { "notify_fd", child_notify_fd }, { "notify_valid", child_notify_valid },
    { "notify_string", child_notify_string }, { NULL, NULL }
  };
  luaL_setfuncs(L, meth, 0);
}
