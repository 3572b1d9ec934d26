/*
** stepper.c: core.stepper(plan), a sandbox in the making, driven one step
** at a time.
**
**   local s = core.stepper{namespaces = {...}, uidmap = ..., stdio = ...,
**                          argv = ..., env = ..., path = ..., cwd = ...}
**     -> stepper | nil, err    (a spawn plan without steps; argv, env,
**                               path and cwd are the defaults of exec)
**   s:step{"mount", "tmpfs", "/tmp", "tmpfs"}
**     -> true, report | nil, err   (report: "step 3 mount(...): ok", with
**                                   usec; an optional step that failed:
**                                   true, err)
**   s:steps{ {...}, {...} }   -> true, reports | nil, err, reports
**   s:rawstate()              -> what the child is now, as text (the Lua
**                                side parses it: s:state())
**   s:exec{argv =, env =, path =, cwd =}
**     -> child | nil, err      (s becomes that child object: its methods
**                               and fields go to the child from then on)
**   s:fork{namespaces =, uidmap =, gidmap =, stdio =}
**     -> stepper | nil, err    (a stepper inside this one)
**   s:count()                 -> the number of its last step
**   s:phase()                 -> "paused", "exec'd", "gone" or "closed"
**   s.pid, s:pidfd(), s:close() == __close == __gc (kills it)
**
** The child is a spawn's (spawn.c, lj_spawnplan) whose runner pauses
** before its fds step (runner.c) and takes requests on a control socket
** (spawn.h): each step is decoded by the plan decoder and packed by the
** plan packer, so it is applied by the same C code as in a plan, and a
** failure is the same step error.  Step numbers go on across calls: the
** steps that took effect, in order, are the plan the stepper ran (a
** failed step's number goes to the next step).  A failed step leaves the
** child as it was.  Every call waits for the runner's answer, at most
** plan.setup_timeout seconds (then the child is killed: the step's error
** is ETIMEDOUT, as a spawn's).  A fork is the runner's own fork: its
** parent is the runner, not us; it dies with it.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif

#define LJ_STEPPER "lunajail.Stepper"

/* uservalues: 1 the child object, 2 the plan (exec's defaults), 3 the
** Lua side's fields, 4 the stepper it was forked from (kept alive) */
enum { UV_CHILD = 1, UV_PLAN, UV_FIELDS, UV_PARENT, UV_N = UV_PARENT };

enum { PAUSED, EXECD, DEAD, CLOSED };

typedef struct Stepper {
  int ctl;                         /* our end of the control socket */
  int count;                       /* the number of its last step */
  int state;
  double timeout;                  /* seconds a request may take */
} Stepper;

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static Stepper *tostepper (lua_State *L) {
  return (Stepper *)luaL_checkudata(L, 1, LJ_STEPPER);
}

static ljChild *childof (lua_State *L, int idx) {
  ljChild *c;
  lua_getiuservalue(L, idx, UV_CHILD);
  c = (ljChild *)luaL_testudata(L, -1, LJ_CHILD);
  lua_pop(L, 1);                   /* uservalue 1 keeps it */
  return c;
}

/* the stepper at 1, paused: what is called on it after its exec, once
** closed or gone raises, naming the call */
static Stepper *checkpaused (lua_State *L, const char *what) {
  Stepper *S = tostepper(L);
  if (S->state == EXECD)
    luaL_error(L, "stepper:%s: the stepper has exec'd its payload (it is "
               "a child object now)", what);
  if (S->state == CLOSED)
    luaL_error(L, "stepper:%s: the stepper is closed", what);
  if (S->state == DEAD)
    luaL_error(L, "stepper:%s: the stepper's child is gone", what);
  return S;
}

/* the one close (close(), __close; __gc leaves an exec'd child, which is
** an object of its own, alone) */
static void shut (lua_State *L, Stepper *S, int child) {
  ljChild *c = childof(L, 1);
  closefd(&S->ctl);
  if (c && (child || S->state != EXECD)) lj_child_close(L, c, 0);
  if (S->state != EXECD) S->state = CLOSED;
}


/* {====== Requests and answers ======} */

/* a request of len bytes, with n fds; 0 or an errno */
static int request (Stepper *S, const void *msg, size_t len, const int *fds,
                    int n) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * 3)]; } u;
  struct iovec iov;
  struct msghdr m;
  iov.iov_base = (void *)msg;
  iov.iov_len = len;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (n > 0) {
    memset(&u, 0, sizeof u);
    m.msg_control = u.b;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    u.h.cmsg_level = SOL_SOCKET;
    u.h.cmsg_type = SCM_RIGHTS;
    u.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(&u.h), fds, sizeof(int) * (size_t)n);
  }
  while (sendmsg(S->ctl, &m, MSG_NOSIGNAL) < 0)
    if (errno != EINTR) return errno;
  return 0;
}

typedef struct Answer {
  int rec[3];                      /* {kind, position, errno} */
  int fds[3], nfds;                /* a fork's */
  char data[LJ_CTL_DATA];          /* state's */
  size_t len;
} Answer;

/* the next answer before the deadline: 1, 0 at EOF (it exec'd or died),
** -1 when it did not come in time */
static int answer (Stepper *S, double deadline, Answer *a) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * 3)]; } u;
  struct iovec iov[2];
  struct msghdr m;
  struct cmsghdr *h;
  ssize_t r;
  for (;;) {
    struct pollfd p = { S->ctl, POLLIN, 0 };
    double left = deadline - lj_monotonic();
    if (left <= 0) return -1;
    if (poll(&p, 1, (int)(left * 1000) + 1) == 1) break;
  }
  iov[0].iov_base = a->rec;
  iov[0].iov_len = sizeof a->rec;
  iov[1].iov_base = a->data;
  iov[1].iov_len = sizeof a->data;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  m.msg_control = u.b;
  m.msg_controllen = sizeof u.b;
  a->nfds = 0;
  do r = recvmsg(S->ctl, &m, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  for (h = r > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      size_t k, n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (k = 0; k < n; k++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + k * sizeof fd, sizeof fd);
        if (a->nfds < 3) a->fds[a->nfds++] = fd;
        else close(fd);
      }
    }
  if (r < (ssize_t)sizeof a->rec) {
    while (a->nfds > 0) close(a->fds[--a->nfds]);
    return 0;                      /* EOF, or the connection reset */
  }
  a->len = (size_t)r - sizeof a->rec;
  return 1;
}

/* the child died at step s (number index), or did not answer in time
** (then it is killed): the step's error, as a spawn's; the stepper is
** gone */
static void died (lua_State *L, Stepper *S, const ljStep *s, int index,
                  int timedout) {
  ljChild *c = childof(L, 1);
  siginfo_t si;
  int err = ECHILD;
  char buf[1024];
  ljBuf b = { buf, 0, sizeof buf };
  memset(&si, 0, sizeof si);
  if (timedout) {
    err = ETIMEDOUT;
    syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
  }
  else if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT)
           == 0 && si.si_code != CLD_EXITED)
    err = -si.si_status;             /* killed: its signal */
  lj_pushsteperr(L, s, index, err);
  lj_describe(s, &b);
  if (timedout) {
    lua_pushfstring(L, "step %d %s: timed out after %s s (ETIMEDOUT)", index,
                    buf, lj_pushnum(L, S->timeout));
    lua_setfield(L, -3, "message");
    lua_pop(L, 1);
    lua_pushnumber(L, S->timeout);
    lua_setfield(L, -2, "timeout");
  }
  else if (err == ECHILD) {          /* exited, or not ours (a fork's) */
    if (si.si_code == CLD_EXITED)
      lua_pushfstring(L, "step %d %s: the stepper's child exited (%d)",
                      index, buf, si.si_status);
    else lua_pushfstring(L, "step %d %s: the stepper's child died", index,
                         buf);
    lua_setfield(L, -2, "message");
  }
  S->state = DEAD;
  closefd(&S->ctl);
  lj_child_close(L, c, !timedout);
}

/* }====== */


/* {====== Steps ======} */

/* steps[0 .. n) as a request's program in a memfd, sent; the program
** stays mapped for the answer (its progress and times) */
static int sendsteps (Stepper *S, int kind, const ljPlan *E, int n,
                      ljProg **g) {
  ljProg h;
  int fd, err;
  int32_t k = kind;
  memset(&h, 0, sizeof h);
  h.reportfd = h.statusfd = h.leasefd = h.ctlfd = -1;
  h.flags = E->search ? LJ_PROG_SEARCH : 0;
  if ((err = lj_pack(E, n, &h, &fd, g)) != 0) return err;
  err = request(S, &k, sizeof k, &fd, 1);
  close(fd);
  if (err) {
    munmap(*g, (*g)->size);
    *g = NULL;
  }
  return err;
}

/* what came back for a request of n steps, copied out of its program
** before anything is pushed (which may raise) */
typedef struct Result {
  int kind, pos, err;              /* the last answer: DONE, FAILED, FATAL;
                                      0 at EOF, -1 out of time */
  int progress;                    /* the step it was at */
  uint32_t *usec;                  /* per step */
  int *opt;                        /* per step: an optional one's errno */
} Result;

static void collect (Stepper *S, ljProg *g, int n, Result *res) {
  const uint32_t *u = (const uint32_t *)((const char *)g + g->usec);
  double deadline = lj_monotonic() + S->timeout;
  Answer a;
  int r;
  res->kind = 0;
  while ((r = answer(S, deadline, &a)) == 1) {
    while (a.nfds > 0) close(a.fds[--a.nfds]);
    if (a.rec[0] == LJ_REP_OPTIONAL && a.rec[1] >= 1 && a.rec[1] <= n)
      res->opt[a.rec[1] - 1] = a.rec[2];
    else if (a.rec[0] == LJ_REP_DONE || a.rec[0] == LJ_REP_FAILED
             || a.rec[0] == LJ_REP_FATAL) {
      res->kind = a.rec[0];
      res->pos = a.rec[1];
      res->err = a.rec[2];
      break;
    }
  }
  if (r < 0) res->kind = -1;
  res->progress = g->progress;
  memcpy(res->usec, u, sizeof(uint32_t) * (size_t)(n + 2));
  munmap(g, g->size);
}

static void setusec (lua_State *L, uint32_t usec) {
  lua_pushinteger(L, usec);
  lua_setfield(L, -2, "usec");
}

/* the report of step k of the request (ok, or an optional failure) */
static void pushreport (lua_State *L, const ljStep *s, const Result *res,
                        int k) {
  if (res->opt[k]) lj_pushsteperr(L, s, s->index, res->opt[k]);
  else lj_pushstepok(L, s);
  setusec(L, res->usec[k]);
}

/* the request's steps at the top of the stack (n of them; one for
** s:step), decoded into steps, applied: pushes true, reports | nil, err,
** reports; the count goes on by the steps that took effect */
static int applysteps (lua_State *L, Stepper *S, ljArena *a, ljStep *steps,
                       int n, int single) {
  ljPlan E;
  ljProg *g;
  Result res;
  int err, k, done;
  memset(&E, 0, sizeof E);
  E.steps = steps;
  res.usec = (uint32_t *)lj_alloc(L, a, sizeof(uint32_t) * (size_t)(n + 2));
  res.opt = (int *)lj_alloc(L, a, sizeof(int) * (size_t)(n + 1));
  if ((err = sendsteps(S, LJ_CTL_STEPS, &E, n, &g)) != 0) {
    luaL_pushfail(L);
    if (err == EPIPE || err == ECONNRESET) died(L, S, &steps[0],
                                                steps[0].index, 0);
    else lj_pushsteperr(L, &steps[0], steps[0].index, err);  /* memfd */
    return 2;
  }
  collect(S, g, n, &res);
  done = res.kind == LJ_REP_DONE ? n : res.kind == LJ_REP_FAILED
         && res.pos >= 1 && res.pos <= n ? res.pos - 1 : -1;
  if (done < 0) {                  /* it died, or out of time: in the
                                      step it was at, or after the last
                                      (a filter that kills its answer) */
    k = res.progress > n ? n - 1 : res.progress >= 1 ? res.progress - 1 : 0;
    luaL_pushfail(L);
    died(L, S, &steps[k], steps[k].index, res.kind < 0);
    setusec(L, res.usec[k]);
    done = k;
  }
  else if (done < n) {             /* a step failed: the child is as it
                                      was before it */
    luaL_pushfail(L);
    lj_pushsteperr(L, &steps[done], steps[done].index, res.err);
    setusec(L, res.usec[done]);
  }
  else lua_pushboolean(L, 1);
  S->count += done;
  if (single) {
    if (done == 1) pushreport(L, &steps[0], &res, 0);
    return 2;
  }
  lua_createtable(L, done, 0);
  for (k = 0; k < done; k++) {
    pushreport(L, &steps[k], &res, k);
    lua_rawseti(L, -2, k + 1);
  }
  return done == n ? 2 : 3;              /* true, reports | nil, err,
                                            reports */
}

/* a seccomp filter with notify rules (seccomp.c) needs a listener the
** spawner hands out, and a child object to answer: raises */
static void nonotify (lua_State *L, const ljStep *s, int n) {
  if (s->op == lj_findop("seccomp") && s->i[1])
    luaL_error(L, "stepper: step %d seccomp: a filter with notify rules "
               "needs core.spawn's child object to answer its calls (not "
               "in a stepper)", n);
}

static int stepper_step (lua_State *L) {
  Stepper *S = checkpaused(L, "step");
  ljArena *a;
  ljStep *s;
  lua_settop(L, 2);
  a = lj_newarena(L);                                  /* 3 */
  s = (ljStep *)lj_alloc(L, a, sizeof *s);
  lj_decodestep(L, a, 2, "stepper: step %d %s", S->count + 1, s);
  nonotify(L, s, S->count + 1);
  return applysteps(L, S, a, s, 1, 1);
}

static int stepper_steps (lua_State *L) {
  Stepper *S = checkpaused(L, "steps");
  ljArgs A;
  ljArena *a;
  ljStep *steps;
  int n, k;
  lua_settop(L, 2);
  lj_args(&A, L, "stepper:steps", "self,steps");
  lj_argtable(&A, 2);
  n = (int)lua_rawlen(L, 2);
  if (n < 1 || n > 100000) lj_argerror(&A, 2, "1 to 100000 steps expected");
  a = lj_newarena(L);                                  /* 3 */
  steps = (ljStep *)lj_alloc(L, a, sizeof *steps * (size_t)n);
  for (k = 0; k < n; k++) {
    lua_rawgeti(L, 2, k + 1);
    lj_decodestep(L, a, -1, "stepper: step %d %s", S->count + k + 1,
                  &steps[k]);
    nonotify(L, &steps[k], S->count + k + 1);
    lua_pop(L, 1);
  }
  return applysteps(L, S, a, steps, n, 0);
}

/* }====== */


/* {====== State ======} */

static int stepper_rawstate (lua_State *L) {
  Stepper *S = checkpaused(L, "state");
  static const ljOp op_state = { "state", "", NULL, NULL, NULL, 0 };
  double deadline = lj_monotonic() + S->timeout;
  int32_t kind = LJ_CTL_STATE;
  Answer *a;
  luaL_Buffer b;
  ljStep s;
  int r = 0;
  lua_settop(L, 1);
  a = (Answer *)lua_newuserdatauv(L, sizeof *a, 0);    /* 2 */
  luaL_buffinit(L, &b);
  if (request(S, &kind, sizeof kind, NULL, 0) == 0)
    while ((r = answer(S, deadline, a)) == 1) {
      while (a->nfds > 0) close(a->fds[--a->nfds]);
      if (a->rec[0] == LJ_REP_DATA)
        luaL_addlstring(&b, a->data, a->len < sizeof a->data ? a->len
                                                            : sizeof a->data);
      else break;
    }
  luaL_pushresult(&b);
  if (r == 1 && a->rec[0] == LJ_REP_DONE) return 1;
  memset(&s, 0, sizeof s);
  s.op = &op_state;
  luaL_pushfail(L);
  died(L, S, &s, S->count, r < 0);
  return 2;
}

/* }====== */


/* {====== Exec ======} */

/* field name of exec's options (at 2), else of the plan: pushed, as
** argument 1 of an ljArgs named "stepper:exec: NAME" */
typedef struct Field {
  ljArgs A;
  char where[40];
} Field;

static ljArgs *field (lua_State *L, Field *f, ljArena *a, const char *name) {
  memset(f, 0, sizeof f->A);
  snprintf(f->where, sizeof f->where, "stepper:exec: %s", name);
  if (lua_getfield(L, 2, name) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, UV_PLAN);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
  }
  f->A.L = L;
  f->A.base = lua_gettop(L);
  f->A.n = 1;
  f->A.where = f->where;
  f->A.arena = a;
  f->A.copy = 1;
  return &f->A;
}

static void checkopts (lua_State *L, const char *what,
                       const char *const *valid) {
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    const char *const *v;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    for (v = valid; *v; v++)
      if (strcmp(*v, k) == 0) break;
    if (*v == NULL) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (v = valid; *v; v++) {
        if (v != valid) luaL_addstring(&b, ", ");
        luaL_addstring(&b, *v);
      }
      const char *list, *name;
      luaL_pushresult(&b);
      list = lua_tostring(L, -1);
      name = luaL_tolstring(L, -3, NULL);
      luaL_error(L, "stepper:%s: unknown option '%s' (valid: %s)", what,
                 name, list);
    }
    lua_pop(L, 1);
  }
}

/* the options at 2: nil, or a table (checked) */
static void opttable (lua_State *L, const char *what,
                      const char *const *valid) {
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_newtable(L);
  }
  else if (!lua_istable(L, 2))
    luaL_error(L, "stepper:%s: options table expected, got %s", what,
               luaL_typename(L, 2));
  lua_settop(L, 2);
  checkopts(L, what, valid);
}

static void decodeexec (lua_State *L, ljArena *a, ljPlan *E, ljStep *steps,
                        int *n, int count) {
  Field f;
  ljArgs *A = field(L, &f, a, "argv");
  const char **e;
  E->argv = lj_argargv(A, 1);
  lua_pop(L, 1);
  A = field(L, &f, a, "path");
  E->path = lj_isnone(A, 1) ? E->argv[0] : lj_argpath(A, 1);
  E->search = strchr(E->path, '/') == NULL;
  lua_pop(L, 1);
  A = field(L, &f, a, "env");
  if (lj_isnone(A, 1))
    E->envp = (const char **)lj_alloc(L, a, sizeof(char *));
  else E->envp = lj_argenv(A, 1);
  for (e = E->envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) E->pathenv = *e + 5;
  lua_pop(L, 1);
  A = field(L, &f, a, "cwd");
  *n = 0;
  if (!lj_isnone(A, 1)) {
    steps[0].op = lj_findop("chdir");
    steps[0].s[0] = lj_argpath(A, 1);
    steps[0].index = count + 1;
    *n = 1;
  }
  lua_pop(L, 1);
  steps[*n].op = &lj_op_fds;
  steps[*n].index = count + *n + 1;
  steps[*n].p = E;
  steps[*n + 1].op = &lj_op_exec;
  steps[*n + 1].index = count + *n + 2;
  steps[*n + 1].p = E;
}

static int stepper_exec (lua_State *L) {
  static const char *const valid[] = { "argv", "path", "env", "cwd", NULL };
  Stepper *S = checkpaused(L, "exec");
  ljArena *a;
  ljPlan *E;
  ljStep *steps;
  ljProg *g;
  Result res;
  int n, err, pos;
  opttable(L, "exec", valid);
  a = lj_newarena(L);                                  /* 3 */
  E = (ljPlan *)lj_alloc(L, a, sizeof *E);
  steps = (ljStep *)lj_alloc(L, a, sizeof *steps * 3);
  decodeexec(L, a, E, steps, &n, S->count);
  E->steps = steps;
  res.usec = (uint32_t *)lj_alloc(L, a, sizeof(uint32_t) * 3);
  res.opt = (int *)lj_alloc(L, a, sizeof(int) * 3);
  if ((err = sendsteps(S, LJ_CTL_EXEC, E, n, &g)) != 0) {
    luaL_pushfail(L);
    lj_pushsteperr(L, &steps[n + 1], steps[n + 1].index, err);
    return 2;
  }
  collect(S, g, n, &res);
  pos = res.pos;
  if (res.kind == 0 && res.progress >= n + 2) {        /* EOF: exec'd */
    S->state = EXECD;
    S->count += n + 2;
    closefd(&S->ctl);
    lua_getiuservalue(L, 1, UV_CHILD);
    return 1;
  }
  luaL_pushfail(L);
  if (res.kind <= 0) {             /* died, or out of time */
    pos = res.progress >= 1 && res.progress <= n + 2 ? res.progress : n + 2;
    died(L, S, &steps[pos - 1], steps[pos - 1].index, res.kind < 0);
    return 2;
  }
  if (pos < 1 || pos > n + 2) pos = n + 2;
  lj_pushsteperr(L, &steps[pos - 1], steps[pos - 1].index, res.err);
  if (pos <= n) setusec(L, res.usec[pos - 1]);
  if (res.kind == LJ_REP_FATAL) {  /* after its fds step: it exits */
    S->state = DEAD;
    closefd(&S->ctl);
    lj_child_close(L, childof(L, 1), 1);
  }
  else if (pos > n) S->count += n; /* the chdir took effect */
  return 2;
}

/* }====== */


/* {====== Fork ======} */

static void fork_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddflags(b, &lj_nsflags, s->i[0]);
}

static const ljOp op_fork = { "fork", "options", NULL, NULL, fork_describe,
                              0 };

/* stdio at field "stdio" of the options: which to pipe (bit k) */
static int decodestdio (lua_State *L, ljArgs *A) {
  static const char *const names[] = { "stdin", "stdout", "stderr" };
  int k, pipes = 0;
  lua_getfield(L, 2, "stdio");
  A->base = lua_gettop(L);
  if (lj_isnone(A, 1)) pipes = 7;
  else if (lj_isstring(A, 1)) {
    const char *s = lua_tostring(L, -1);
    if (strcmp(s, "pipe") == 0) pipes = 7;
    else if (strcmp(s, "inherit") != 0)
      lj_argerror(A, 1, "\"pipe\" or \"inherit\", or a list of them, "
                  "expected, got \"%s\"", s);
  }
  else {
    lj_argtable(A, 1);
    for (k = 0; k < 3; k++) {
      const char *s;
      lua_rawgeti(L, A->base, k + 1);
      s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (s == NULL || strcmp(s, "pipe") == 0) pipes |= 1 << k;
      else if (strcmp(s, "inherit") != 0)
        lj_argerror(A, 1, "%s: \"pipe\" or \"inherit\" expected", names[k]);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return pipes;
}

/* the map text of field name, pushed ("": the default) */
static size_t decodemap (lua_State *L, ljArgs *A, const char *name) {
  luaL_Buffer b;
  size_t len;
  lua_getfield(L, 2, name);
  A->base = lua_gettop(L);
  A->where = name[0] == 'u' ? "stepper:fork: uidmap" : "stepper:fork: gidmap";
  luaL_buffinit(L, &b);
  if (!lj_isnone(A, 1)) lj_argidmap(A, 1, &b);
  luaL_pushresult(&b);
  lua_remove(L, -2);
  lua_tolstring(L, -1, &len);
  return len;
}

/* our ends (non-blocking) and the child's of a pipe for stdio k */
static int makepipe (int k, int *ours, int *theirs) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return errno;
  *ours = p[k == 0 ? 1 : 0];
  *theirs = p[k == 0 ? 0 : 1];
  return fcntl(*ours, F_SETFL, O_NONBLOCK) == 0 ? 0 : errno;
}

/* the pid of a pidfd in the pid namespace of our /proc, or 0 (also in
** the runner: a fork's maps) */
int lj_pidfdpid (int pidfd) {
  char path[64], buf[1024];
  int fd, pid = 0;
  ssize_t r;
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
  if ((r = read(fd, buf, sizeof buf - 1)) > 0) {
    const char *p;
    buf[r] = '\0';
    if ((p = strstr(buf, "\nPid:")) != NULL) pid = atoi(p + 5);
  }
  close(fd);
  return pid > 0 ? pid : 0;
}

static Stepper *newstepper (lua_State *L) {
  Stepper *S = (Stepper *)lua_newuserdatauv(L, sizeof *S, UV_N);
  S->ctl = -1;                     /* closed first */
  S->count = 0;
  S->state = CLOSED;
  S->timeout = 5;
  luaL_setmetatable(L, LJ_STEPPER);
  lua_newtable(L);
  lua_setiuservalue(L, -2, UV_FIELDS);
  return S;
}

/* the new stepper of a fork's answer (a's fds: its control socket, pidfd
** and status pipe), with our ends of its pipes */
static void pushforked (lua_State *L, Stepper *S, Answer *a, int *ours) {
  Stepper *F;
  ljChild *c;
  int k;
  F = newstepper(L);
  c = lj_newchild(L);
  c->pidfd = a->fds[1];
  c->pid = lj_pidfdpid(c->pidfd);
  c->statusfd = a->fds[2];
  for (k = 0; k < 3; k++) {
    c->fd[k] = ours[k];
    ours[k] = -1;
  }
  lua_setiuservalue(L, -2, UV_CHILD);
  F->ctl = a->fds[0];
  F->count = S->count;
  F->timeout = S->timeout;
  F->state = PAUSED;
  lua_getiuservalue(L, 1, UV_PLAN);
  lua_setiuservalue(L, -2, UV_PLAN);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, UV_PARENT);
}

static int stepper_fork (lua_State *L) {
  static const char *const valid[] = { "namespaces", "uidmap", "gidmap",
                                       "stdio", NULL };
  Stepper *S = checkpaused(L, "fork");
  ljArgs A;
  ljArena *a;
  ljCtlFork f;
  ljStep s;
  Answer *ans;
  char *msg;
  size_t len;
  int ours[3] = { -1, -1, -1 }, theirs[3], n = 0, k, err = 0, r;
  opttable(L, "fork", valid);
  a = lj_newarena(L);                                  /* 3 */
  ans = (Answer *)lj_alloc(L, a, sizeof *ans);
  memset(&f, 0, sizeof f);
  f.kind = LJ_CTL_FORK;
  lj_args(&A, L, "stepper:fork: namespaces", NULL);
  lua_getfield(L, 2, "namespaces");
  A.base = lua_gettop(L);
  A.n = 1;
  A.arena = a;
  f.cloneflags = (int32_t)lj_argflags(&A, 1, &lj_nsflags);
  lua_pop(L, 1);
  A.where = "stepper:fork: stdio";
  f.stdio = decodestdio(L, &A);
  f.uidlen = (uint32_t)decodemap(L, &A, "uidmap");     /* 4 */
  f.gidlen = (uint32_t)decodemap(L, &A, "gidmap");     /* 5 */
  if ((f.uidlen || f.gidlen) && !(f.cloneflags & CLONE_NEWUSER))
    luaL_error(L, "stepper:fork: uidmap/gidmap need the \"user\" namespace");
  len = sizeof f + f.uidlen + f.gidlen;
  msg = (char *)lj_alloc(L, a, len);
  memcpy(msg, &f, sizeof f);
  memcpy(msg + sizeof f, lua_tostring(L, 4), f.uidlen);
  memcpy(msg + sizeof f + f.uidlen, lua_tostring(L, 5), f.gidlen);
  memset(&s, 0, sizeof s);
  s.op = &op_fork;
  s.i[0] = f.cloneflags;
  for (k = 0; k < 3 && !err; k++)                      /* nothing raises */
    if (f.stdio & (1 << k) && (err = makepipe(k, &ours[k], &theirs[n])) == 0)
      n++;
  if (!err) err = request(S, msg, len, theirs, n);
  for (k = 0; k < n; k++) close(theirs[k]);
  r = err ? 1 : answer(S, lj_monotonic() + S->timeout, ans);
  if (!err && r == 1 && ans->rec[0] == LJ_REP_DONE && ans->nfds == 3) {
    pushforked(L, S, ans, ours);
    return 1;
  }
  for (k = 0; k < 3; k++) closefd(&ours[k]);
  if (r == 1) while (ans->nfds > 0) close(ans->fds[--ans->nfds]);
  luaL_pushfail(L);
  if (r < 1) died(L, S, &s, S->count + 1, r < 0);
  else lj_pushsteperr(L, &s, S->count + 1, err ? err : ans->rec[0]
                      == LJ_REP_FAILED && ans->rec[2] > 0 ? ans->rec[2]
                      : EPROTO);
  return 2;
}

/* }====== */


/* {====== The object ======} */

static int stepper_count (lua_State *L) {
  lua_pushinteger(L, tostepper(L)->count);
  return 1;
}

static const char *const phases[] = { "paused", "exec'd", "gone",
                                      "closed" };

/* s:phase() -> "paused", "exec'd", "gone" (it died) or "closed" */
static int stepper_phase (lua_State *L) {
  lua_pushstring(L, phases[tostepper(L)->state]);
  return 1;
}

static int stepper_pidfd (lua_State *L) {
  ljChild *c;
  tostepper(L);
  c = childof(L, 1);
  if (c == NULL || c->pidfd < 0) luaL_pushfail(L);
  else lua_pushinteger(L, c->pidfd);
  return 1;
}

static int stepper_close (lua_State *L) {
  shut(L, tostepper(L), 1);
  return 0;
}

static int stepper_gc (lua_State *L) {
  shut(L, tostepper(L), 0);
  return 0;
}

static int stepper_tostring (lua_State *L) {
  Stepper *S = tostepper(L);
  ljChild *c = childof(L, 1);
  lua_pushfstring(L, "lunajail.Stepper (pid %d, %s at step %d)",
                  c ? c->pid : 0, phases[S->state], S->count);
  return 1;
}

/* a method of the child, bound to it: s:wait() after exec */
static int forward (lua_State *L) {
  if (lua_gettop(L) == 0) lua_pushnil(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_replace(L, 1);               /* the child in the stepper's place */
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);                /* the method first */
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* s.pid; the stepper's methods (upvalue 1); once exec'd, the child's
** fields and methods; else the Lua side's fields (uservalue 3) */
static int stepper_index (lua_State *L) {
  Stepper *S = tostepper(L);
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (k && strcmp(k, "pid") == 0) {
    ljChild *c = childof(L, 1);
    lua_pushinteger(L, c ? c->pid : 0);
    return 1;
  }
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  if (S->state == EXECD) {
    lua_getiuservalue(L, 1, UV_CHILD);                 /* 3 */
    lua_pushvalue(L, 2);
    if (lua_gettable(L, 3) == LUA_TFUNCTION) {
      lua_pushvalue(L, 3);
      lua_pushcclosure(L, forward, 2);               /* the child, fn */
    }
    return 1;
  }
  lua_getiuservalue(L, 1, UV_FIELDS);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int stepper_newindex (lua_State *L) {
  tostepper(L);
  lua_getiuservalue(L, 1, UV_FIELDS);
  lua_insert(L, 2);
  lua_rawset(L, 2);
  return 0;
}

/* }====== */


/* {====== core.stepper ======} */

/* in a protected call: plan (1), ctlfd (2), &timeout (3) */
static int startpaused (lua_State *L) {
  int ctl = (int)lua_tointeger(L, 2);
  double *timeout = (double *)lua_touserdata(L, 3);
  return lj_spawnplan(L, ctl, timeout);
}

/* the plan for the spawn: the user's, without exec's fields (argv
** stands in: a paused runner never execs the plan's) */
static void spawnplan (lua_State *L) {
  static const char *const execf[] = { "argv", "path", "env", "cwd", NULL };
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *const *e;
    int skip = 0;
    if (lua_type(L, -2) == LUA_TSTRING)
      for (e = execf; *e; e++) skip |= strcmp(*e, lua_tostring(L, -2)) == 0;
    if (skip) lua_pop(L, 1);
    else {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_rawset(L, -4);
    }
  }
  lua_createtable(L, 1, 0);
  lua_pushliteral(L, "lunajail-stepper");
  lua_rawseti(L, -2, 1);
  lua_setfield(L, -2, "argv");
}

static int l_stepper (lua_State *L) {
  Stepper *S;
  double timeout = 5;
  int sv[2], st;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getfield(L, 1, "steps") != LUA_TNIL)
    luaL_error(L, "stepper: plan.steps: a stepper starts before its first "
               "step (give them to s:step or s:steps)");
  if (lua_getfield(L, 1, "async") != LUA_TNIL)
    luaL_error(L, "stepper: plan.async: a stepper's calls wait for its "
               "answers");
  lua_settop(L, 1);
  spawnplan(L);                                        /* 2 */
  S = newstepper(L);                                   /* 3 */
  lua_pushcfunction(L, startpaused);
  lua_pushvalue(L, 2);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return lj_pushfail(L, "socketpair", errno);
  lua_pushinteger(L, sv[1]);
  lua_pushlightuserdata(L, &timeout);
  st = lua_pcall(L, 3, 2, 0);
  close(sv[1]);
  if (st != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    close(sv[0]);
    if (m && strncmp(m, "spawn: ", 7) == 0) {   /* the plan decoder's */
      lua_pushfstring(L, "stepper: %s", m + 7);
      lua_replace(L, -2);
    }
    return lua_error(L);
  }
  if (lua_isnil(L, -2)) {          /* nil, err: it never paused */
    close(sv[0]);
    return 2;
  }
  lua_pop(L, 1);
  lua_setiuservalue(L, 3, UV_CHILD);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, 3, UV_PLAN);
  S->ctl = sv[0];
  S->timeout = timeout;
  S->state = PAUSED;
  return 1;
}

/* }====== */


void lj_open_stepper (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "step", stepper_step }, { "steps", stepper_steps },
    { "rawstate", stepper_rawstate }, { "exec", stepper_exec },
    { "fork", stepper_fork }, { "count", stepper_count },
    { "phase", stepper_phase },
    { "pidfd", stepper_pidfd }, { "close", stepper_close },
    { NULL, NULL }
  };
  luaL_newlib(L, meth);                  /* core.Stepper: the methods */
  if (luaL_newmetatable(L, LJ_STEPPER)) {
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, stepper_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, stepper_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, stepper_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, stepper_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, stepper_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lua_setfield(L, -2, "Stepper");
  lua_pushcfunction(L, l_stepper);
  lua_setfield(L, -2, "stepper");
}
