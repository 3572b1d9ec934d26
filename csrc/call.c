/*
** call.c: core.call(plan, fn, ...), a Lua function in a sandbox; and the
** relay, the parent of a payload in a pid namespace it is not in.
**
**   local child, info = core.call({
**     namespaces = {"user", "mount", "pid", ...}, uidmap =, gidmap =,
**     setgroups = "deny", steps = {...}, cwd = "/", env = {PATH = "/bin"},
**     fork = false, die_with_parent = true, new_session = true,
**     lease = core.idlease{...}, cgroup = {fd =} or {procs = {...}},
**   }, fn, ...)                      -> child, info | nil, err
**   core.call_result(info, bytes)    -> "ok", reports, values... |
**                                       "error", err | "incomplete"
**
** The sandbox is a fork(2) of the calling process, its Lua state with it:
** the copy unshares the plan's namespaces (we write its id maps, as the
** spawner does), applies the steps with the apply functions core.X uses,
** and then, instead of an exec, calls fn(...) and writes what it returned
** (or the error it raised, with its traceback) to a pipe, and _exits:
** nothing of the copied state is closed or collected there.  The child
** object is the spawner's (process.c): its "stdout" is that pipe (the
** result stream), its status the sandbox's; fn's own stdout and stderr
** are ours, its stdin /dev/null.
**
**   a new pid namespace   the fork unshares, then forks again: the second
**                         process is PID 1 of the namespace and applies the
**                         steps (a proc mount shows the pid namespace of
**                         the process that mounts it); the first relays
**   fork = true           the steps run in the first process (a setns step
**                         joins a pid namespace: child:enter(fn)), fn in a
**                         child forked after them; the first relays
** The first process runs no Lua: it keeps only its pipes (and the fds its
** steps use, until they are applied), resets every signal disposition,
** arms the parent-death signal.  Only the process that calls fn goes back
** to Lua, after a full garbage collection (finalizers of what is garbage
** already run then, on fds already closed), not dumpable (it holds a copy
** of our memory: nothing in the sandbox may ptrace it or read it).
**
** Forking copies the calling thread only: a lock another thread holds
** (malloc's, stdio's, a library's) stays held in the copy forever.  A
** process with more than one thread (/proc/self/status) is refused.
**
** The result stream is untrusted (fn may write to its pipe): records of a
** tag byte and fields, in our byte order --
**   'O' pos errno    step pos (1-based in the decoded steps) failed, but
**                    it is optional: reported, not fatal
**   'S' pos errno    step pos failed: the end
**   'U' 0 errno      unshare failed; 'F' 0 errno fork failed: the end
**   'R' n values     fn returned n values: the end
**   'E' msg tb v     fn raised: its message and traceback (strings) and
**                    the error value (nil if it cannot cross): the end
** with values as values.c writes them, at most LJ_VALMAX bytes.
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define LJ_CALLERR    "lunajail.CallError"
#define LJ_CALLINFO   "lunajail.CallInfo"
#define ACK_TIMEOUT   10000        /* ms for the fork to unshare */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define FORKNS (CLONE_NEWPID | CLONE_NEWTIME)     /* for children only */


/* {====== The relay ======} */

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
                                 SIGUSR2 };

void lj_relay (long pid, int statusfd) {
  sigset_t all;
  int status, sig;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  /* a first pass before any wait: the payload may be gone already */
  for (sig = SIGCHLD;; sig = sigtimedwait(&all, NULL, NULL)) {
    if (sig == SIGCHLD) {
      long r;
      while ((r = waitpid((pid_t)pid, &status, WNOHANG)) < 0
             && errno == EINTR) {}
      if (r == pid) {
        if (statusfd >= 0)
          while (write(statusfd, &status, sizeof status) < 0
                 && errno == EINTR) {}
        _exit(WIFEXITED(status) ? WEXITSTATUS(status)
              : 128 + WTERMSIG(status));
      }
      if (r < 0) _exit(127);       /* nothing to wait for */
    }
    else if (sig > 0) {
      size_t k;
      for (k = 0; k < lj_countof(forwarded); k++)
        if (forwarded[k] == sig) kill((pid_t)pid, sig);
    }
  }
}

/* }====== */


/* {====== The plan ======} */

typedef struct Call {
  ljStep *steps;                   /* setsid, the plan's, chdir */
  int nsteps;
  int cloneflags;                  /* namespaces to unshare */
  const char *uid, *gid;           /* map texts, or NULL */
  int setgroups;                   /* 1 deny, 2 allow, 0 as needed */
  const char **envp;
  int fork;                        /* fn in a child forked after the steps */
  int pdeathsig;
  ljLease *lease;
  int cgfd, cgprocs[LJ_MAXCGPROCS], ncg;   /* its cgroup (plan.cgroup) */
  int ppid;                        /* ours, for the fork's check */
  int res[2], ack[2], syn[2], status[2];
  int alive;                       /* the relay's pipe, in its child */
} Call;

static const char *const callfields[] = {
  "namespaces", "uidmap", "gidmap", "setgroups", "steps", "cwd", "env",
  "fork", "die_with_parent", "new_session", "lease", "cgroup", NULL
};

typedef struct Field {
  ljArgs A;
  char where[48];
} Field;

/* plan.NAME as argument #1 of an ljArgs named "call: plan.NAME" */
static ljArgs *field (lua_State *L, Field *f, ljArena *a, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->where, sizeof f->where, "call: plan.%s", name);
  lua_getfield(L, 1, name);
  f->A.L = L;
  f->A.base = lua_gettop(L);
  f->A.n = 1;
  f->A.where = f->where;
  f->A.arena = a;
  f->A.copy = 1;
  return &f->A;
}

static void checkfields (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *const *f;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    for (f = callfields; *f; f++)
      if (strcmp(*f, k) == 0) break;
    if (*f == NULL)
      luaL_error(L, "call: unknown plan field '%s' (valid: cgroup, cwd, "
                 "die_with_parent, env, fork, gidmap, lease, namespaces, "
                 "new_session, setgroups, steps, uidmap)",
                 luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
}

static const char *idmap (lua_State *L, ljArena *a, const char *name) {
  Field f;
  ljArgs *A = field(L, &f, a, name);
  const char *text = NULL;
  if (!lj_isnone(A, 1)) {
    luaL_Buffer b;
    size_t len;
    luaL_buffinit(L, &b);
    lj_argidmap(A, 1, &b);
    luaL_pushresult(&b);
    text = lua_tolstring(L, -1, &len);
    text = lj_strdup(L, a, text, len);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return text;
}

static void decodesteps (lua_State *L, ljArena *a, Call *C, int session) {
  Field f;
  ljArgs *A = field(L, &f, a, "steps");
  int n = 0, k;
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    n = (int)lua_rawlen(L, A->base);
    if (n > 100000) lj_argerror(A, 1, "more than 100000 steps");
  }
  C->steps = (ljStep *)lj_alloc(L, a, sizeof(ljStep) * (size_t)(n + 2));
  if (session) C->steps[C->nsteps++].op = lj_findop("setsid");
  for (k = 1; k <= n; k++) {
    lua_rawgeti(L, A->base, k);
    lj_decodestep(L, a, -1, "call: plan.steps[%d] %s", k,
                  &C->steps[C->nsteps++]);
    lua_pop(L, 1);
    if (C->steps[C->nsteps - 1].op == lj_findop("seccomp")
        && C->steps[C->nsteps - 1].i[1])
      luaL_error(L, "call: plan.steps[%d] seccomp: a filter with notify "
                 "rules needs a child object to answer its calls (spawn "
                 "the sandbox, or leave notify out of lj.call)", k);
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "cwd");
  if (!lj_isnone(A, 1)) {
    ljStep *s = &C->steps[C->nsteps++];
    s->op = lj_findop("chdir");
    s->s[0] = lj_argpath(A, 1);
    s->index = n + 1;
  }
  lua_pop(L, 1);
}

static void decodeplan (lua_State *L, ljArena *a, Call *C) {
  Field f;
  ljArgs *A;
  int session;
  checkfields(L);
  A = field(L, &f, a, "namespaces");
  C->cloneflags = (int)lj_argflags(A, 1, &lj_nsflags);
  lua_pop(L, 1);
  C->uid = idmap(L, a, "uidmap");
  C->gid = idmap(L, a, "gidmap");
  A = field(L, &f, a, "setgroups");
  if (!lj_isnone(A, 1)) {
    const char *s = lj_argstr(A, 1, NULL);
    if (strcmp(s, "deny") == 0) C->setgroups = 1;
    else if (strcmp(s, "allow") == 0) C->setgroups = 2;
    else lj_argerror(A, 1, "\"deny\" or \"allow\" expected");
  }
  lua_pop(L, 1);
  if ((C->uid || C->gid || C->setgroups) && !(C->cloneflags & CLONE_NEWUSER))
    luaL_error(L, "call: plan.uidmap/gidmap need the \"user\" namespace");
  A = field(L, &f, a, "env");
  C->envp = lj_isnone(A, 1) ? (const char **)lj_alloc(L, a, sizeof(char *))
            : lj_argenv(A, 1);
  lua_pop(L, 1);
  A = field(L, &f, a, "fork");
  C->fork = lj_optbool(A, 1, 0);
  if (C->fork && (C->cloneflags & FORKNS))
    lj_argerror(A, 1, "a new pid or time namespace forks already");
  lua_pop(L, 1);
  A = field(L, &f, a, "die_with_parent");
  C->pdeathsig = lj_optbool(A, 1, 1) ? SIGKILL : 0;
  lua_pop(L, 1);
  A = field(L, &f, a, "new_session");
  session = lj_optbool(A, 1, 1);
  lua_pop(L, 1);
  A = field(L, &f, a, "lease");
  if (!lj_isnone(A, 1)) {
    if ((C->lease = (ljLease *)luaL_testudata(L, A->base, LJ_LEASE)) == NULL)
      lj_argerror(A, 1, "a lease (core.idlease) expected");
    if (C->lease->fd < 0)
      lj_argerror(A, 1, "the lease is released or already given to a child");
  }
  lua_pop(L, 1);
  lj_argcgroup(field(L, &f, a, "cgroup"), &C->cgfd, C->cgprocs, &C->ncg);
  lua_pop(L, 1);
  decodesteps(L, a, C, session);
}

/* }====== */


/* {====== In the sandbox, before fn ======} */

static void record (Call *C, int tag, int pos, int err) {
  char rec[9];
  int32_t v[2];
  v[0] = pos;
  v[1] = err;
  rec[0] = (char)tag;
  memcpy(rec + 1, v, sizeof v);
  while (write(C->res[1], rec, sizeof rec) < 0 && errno == EINTR) {}
}

static __attribute__((noreturn)) void die (Call *C, int tag, int pos,
                                           int err) {
  record(C, tag, pos, err);
  _exit(127);
}

static int cmpint (const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

/* closes every fd but those of keep[0..n) (-1 entries ignored) */
static void keeponly (int *keep, int n) {
  unsigned next = 0;
  int k;
  DIR *d;
  struct dirent *e;
  qsort(keep, (size_t)n, sizeof *keep, cmpint);
  for (k = 0; k <= n; k++) {
    unsigned upto = k < n ? (unsigned)keep[k] : ~0U;
    if (k < n && keep[k] < 0) continue;
    if (upto > next && syscall(SYS_close_range, next, upto - 1, 0) != 0)
      break;                       /* no close_range (< 5.9): by hand */
    next = upto + 1;
    if (k == n) return;
  }
  if ((d = opendir("/proc/self/fd")) == NULL) return;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name), j, kept = fd == dirfd(d);
    for (j = 0; j < n; j++) kept |= keep[j] == fd;
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && !kept) close(fd);
  }
  closedir(d);
}

/* the fork's first moves: no handler of ours, no fd of ours (but stdout,
** stderr, the pipes and the steps' fds), stdin /dev/null */
static void first (Call *C) {
  long dfl[8];                     /* the kernel's sigaction, SIG_DFL */
  int keep[8 + 64], n = 0, k, null;
  memset(dfl, 0, sizeof dfl);
  for (k = 1; k < _NSIG; k++)
    if (k != SIGKILL && k != SIGSTOP)
      syscall(SYS_rt_sigaction, k, dfl, NULL, _NSIG / 8);
  keep[n++] = 1;
  keep[n++] = 2;
  keep[n++] = C->res[1];
  keep[n++] = C->ack[1];
  keep[n++] = C->syn[0];
  keep[n++] = C->status[1];
  for (k = 0; k < C->nsteps && n < (int)lj_countof(keep); k++)
    if (C->steps[k].usefd > 0) keep[n++] = C->steps[k].usefd;
  keeponly(keep, n);
  if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == 0)
    fcntl(0, F_SETFD, 0);          /* fd 0 was free: stdin */
  else if (null > 0) {
    dup3(null, 0, 0);
    close(null);
  }
  if (C->pdeathsig && prctl(PR_SET_PDEATHSIG, C->pdeathsig, 0, 0, 0) != 0)
    _exit(127);
  if (getppid() != C->ppid) _exit(127);    /* we are gone already */
}

static int parentgone (Call *C) {
  struct pollfd p;
  if (C->alive < 0) return getppid() != C->ppid;
  p.fd = C->alive;
  p.events = POLLIN;
  return poll(&p, 1, 0) != 0;      /* POLLHUP: the relay has exited */
}

/* into the cgroup (we put it there: "c"), the namespaces, and the maps
** we write meanwhile ("g") */
static void unshareall (Call *C) {
  char c = 'u';
  if ((C->cgfd >= 0 || C->ncg > 0)
      && (read(C->syn[0], &c, 1) != 1 || c != 'c'))
    _exit(127);                    /* we gave up */
  if (C->cloneflags && unshare(C->cloneflags) != 0) die(C, 'U', 0, errno);
  if (C->ack[1] < 0) return;
  if (write(C->ack[1], &c, 1) != 1 || read(C->syn[0], &c, 1) != 1
      || c != 'g')
    _exit(127);                    /* we gave up */
  close(C->ack[1]);
  close(C->syn[0]);
  C->ack[1] = C->syn[0] = -1;
}

/* after the maps (a process that is not dumpable has /proc files of
** root's, which an unprivileged parent cannot write): nothing may ptrace
** a process that holds a copy of our memory */
static void nodump (void) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* fork; the child (which returns) runs on, the parent relays */
static void forkrelay (Call *C) {
  int alive[2];
  pid_t pid;
  if (pipe2(alive, O_CLOEXEC) != 0) die(C, 'F', 0, errno);
  if ((pid = fork()) < 0) die(C, 'F', 0, errno);
  if (pid == 0) {
    close(alive[1]);
    if (C->status[1] >= 0) close(C->status[1]);
    C->status[1] = -1;
    C->alive = alive[0];
    C->pdeathsig = SIGKILL;        /* dies with its relay, always */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || parentgone(C))
      _exit(127);
    return;
  }
  close(alive[0]);
  close(C->res[1]);                /* EOF when the child is done */
  lj_relay(pid, C->status[1]);
}

static void runsteps (Call *C) {
  ljCtx c;
  int k, err;
  memset(&c, 0, sizeof c);
  c.pdeathsig = C->pdeathsig;
  for (k = 0; k < C->nsteps; k++) {
    const ljStep *s = &C->steps[k];
    err = s->op->apply(s, &c);
    if ((s->op->flags & LJ_OPF_CREDS) && c.pdeathsig) {
      prctl(PR_SET_PDEATHSIG, c.pdeathsig, 0, 0, 0);  /* cleared by ids */
      if (parentgone(C)) _exit(127);
    }
    if (err && !s->optional) die(C, 'S', k + 1, err);
    if (err) record(C, 'O', k + 1, err);
  }
}

/* }====== */


/* values first..last: 'R' n values */
static int encodereturns (ljEnc *E, int first, int last) {
  int k;
  if (!lj_enctag(E, 'R') || !lj_encu32(E, (uint32_t)(last - first + 1))) return 0;
  for (k = first; k <= last; k++) {
    snprintf(E->path, sizeof E->path, "result #%d", k - first + 1);
    E->plen = strlen(E->path);
    if (!lj_encvalue(E, k)) return 0;
  }
  return 1;
}

/* the handler's table at idx: 'E' message traceback value */
static void encodeerror (ljEnc *E, int idx, const char *fallback) {
  lua_State *L = E->L;
  const char *msg = fallback, *tb = "";
  size_t at;
  if (idx && lua_istable(L, idx)) {
    lua_getfield(L, idx, "message");
    lua_getfield(L, idx, "traceback");
    if (lua_isstring(L, -2)) msg = lua_tostring(L, -2);
    if (lua_isstring(L, -1)) tb = lua_tostring(L, -1);
  }
  E->n = 0;
  E->err[0] = '\0';
  if (!lj_enctag(E, 'E') || !lj_encstring(E, msg, strlen(msg))
      || !lj_encstring(E, tb, strlen(tb)))
    return;
  at = E->n;
  if (idx && lua_istable(L, idx)) {
    lua_getfield(L, idx, "value");
    strcpy(E->path, "the error value");
    E->plen = strlen(E->path);
    if (lj_encvalue(E, -1)) return;
  }
  E->n = at;                       /* the value cannot cross: nil */
  E->err[0] = '\0';
  lj_enctag(E, 'n');
}

/* }====== */


/* {====== Calling fn (in the sandbox) ======} */

/* the traceback of levels 1..last (fn's frames, not the ones of ours
** below core.call that the copy also has), as luaL_traceback writes it */
static void traceback (lua_State *L, int last) {
  luaL_Buffer b;
  lua_Debug ar;
  int level;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "stack traceback:");
  for (level = 1; level <= last && lua_getstack(L, level, &ar); level++) {
    if (level > 40 && level < last - 10) {     /* a deep recursion */
      lua_pushfstring(L, "\n\t...\t(skipping %d levels)", last - 10 - level);
      luaL_addvalue(&b);
      level = last - 10;
      continue;
    }
    lua_getinfo(L, "Slnt", &ar);
    if (ar.currentline <= 0) lua_pushfstring(L, "\n\t%s: in ", ar.short_src);
    else lua_pushfstring(L, "\n\t%s:%d: in ", ar.short_src, ar.currentline);
    luaL_addvalue(&b);
    if (*ar.namewhat != '\0') lua_pushfstring(L, "%s '%s'", ar.namewhat, ar.name);
    else if (*ar.what == 'm') lua_pushliteral(L, "main chunk");
    else if (*ar.what != 'C')
      lua_pushfstring(L, "function <%s:%d>", ar.short_src, ar.linedefined);
    else lua_pushliteral(L, "?");
    luaL_addvalue(&b);
    if (ar.istailcall) luaL_addstring(&b, "\n\t(...tail calls...)");
  }
  luaL_pushresult(&b);
}

/* the message handler: {message =, traceback =, value =}; upvalue 1 the
** levels below fn */
static int handler (lua_State *L) {
  lua_Debug ar;
  int levels = 0;
  while (lua_getstack(L, levels, &ar)) levels++;
  lua_settop(L, 1);
  if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER)
    lua_pushstring(L, lua_tostring(L, 1));
  else if (!luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1)) {
    lua_settop(L, 1);
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  lua_createtable(L, 0, 3);
  lua_insert(L, 2);
  lua_setfield(L, 2, "message");
  lua_settop(L, 2);
  traceback(L, levels - (int)lua_tointeger(L, lua_upvalueindex(1)) - 1);
  lua_setfield(L, 2, "traceback");
  lua_pushvalue(L, 1);
  lua_setfield(L, 2, "value");
  return 1;
}

static void writeall (int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/* fn(args) with the stack as core.call had it (1 plan, 2 fn, 3..nargs+2
** the arguments); writes the result, exits */
static __attribute__((noreturn)) void callfn (lua_State *L, Call *C,
                                              int nargs) {
  int res = C->res[1], keep[4], top, st, k, levels = 0;
  sigset_t none;
  lua_Debug ar;
  ljEnc E;
  keep[0] = 0;
  keep[1] = 1;
  keep[2] = 2;
  keep[3] = res;
  keeponly(keep, 4);               /* the steps' fds, the relay's pipe */
  nodump();                        /* whatever the steps did */
  environ = (char **)C->envp;
  /* lunajail's own state in the copy: ours, not the sandbox's (the
  ** reaper forgotten, not closed: what the collection finalizes below
  ** must not make a new one, whose fd a later finalizer would close;
  ** the network namespace pool too: the parent's next spawns use them) */
  lj_reaper_forget(L);
  lj_netpool_forget(L);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.runnerfd");
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_pushnil(L);                  /* fn's own children: a reaper anew */
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.reaper");
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  while (lua_getstack(L, levels, &ar)) levels++;
  lua_pushinteger(L, levels);
  lua_pushcclosure(L, handler, 1);
  top = lua_gettop(L);
  lua_pushvalue(L, 2);
  for (k = 0; k < nargs; k++) lua_pushvalue(L, 3 + k);
  st = lua_pcall(L, nargs, LUA_MULTRET, top);
  lj_encinit(&E, L);
  if (st == LUA_OK) {
    if (!encodereturns(&E, top + 1, E.seen - 1)) {
      char msg[512];
      memcpy(msg, E.err, sizeof msg);
      encodeerror(&E, 0, msg);
    }
  }
  else encodeerror(&E, top + 1, lua_isstring(L, top + 1)
                   ? lua_tostring(L, top + 1) : "error in error handling");
  if (E.err[0] == '\0') writeall(res, E.p, E.n);
  fflush(NULL);                    /* what fn printed */
  _exit(st == LUA_OK ? 0 : 1);
}

/* }====== */


/* {====== core.call ======} */

typedef struct Info {
  Call *C;                         /* in the arena, the uservalue */
} Info;

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void closepipes (Call *C) {
  closefd(&C->res[0]);
  closefd(&C->res[1]);
  closefd(&C->ack[0]);
  closefd(&C->ack[1]);
  closefd(&C->syn[0]);
  closefd(&C->syn[1]);
  closefd(&C->status[0]);
  closefd(&C->status[1]);
}

/* the threads of this process, 0 if /proc does not say */
static int threads (void) {
  char buf[4096], *p;
  ssize_t n;
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  p = strstr(buf, "\nThreads:");
  return p ? atoi(p + 9) : 0;
}

/* an error before the first step: step 0, op what */
static int early (lua_State *L, const char *what, int err) {
  ljOp op;
  ljStep s;
  memset(&op, 0, sizeof op);
  memset(&s, 0, sizeof s);
  op.name = what;
  s.op = &op;
  luaL_pushfail(L);
  lj_pushsteperr(L, &s, 0, err);
  return 2;
}

/* the pipes; a sync pipe for the cgroup and the maps, an ack pipe for
** the maps */
static int makepipes (Call *C) {
  int maps = C->uid || C->gid || C->setgroups;
  if (pipe2(C->res, O_CLOEXEC) != 0) return errno;
  if ((maps || C->cgfd >= 0 || C->ncg > 0) && pipe2(C->syn, O_CLOEXEC) != 0)
    return errno;
  if (maps && pipe2(C->ack, O_CLOEXEC) != 0) return errno;
  if (((C->cloneflags & FORKNS) || C->fork)
      && pipe2(C->status, O_CLOEXEC | O_NONBLOCK) != 0)
    return errno;
  return 0;
}

/* the fork into its cgroup before it unshares (a cgroup namespace then
** has its root there), then "c" */
static int placed (Call *C, int pid, const char **what) {
  char c = 'c';
  int err;
  if (C->cgfd < 0 && C->ncg == 0) return 0;
  *what = "cgroup.procs";
  if ((err = lj_cgplace(pid, C->cgfd, C->cgprocs, C->ncg)) != 0) return err;
  return write(C->syn[1], &c, 1) == 1 ? 0 : errno;
}

/* the fork has unshared: its maps, then "go" */
static int maps (Call *C, int pid, const char **what) {
  struct pollfd p = { C->ack[0], POLLIN, 0 };
  char c = 0;
  int err = 0;
  *what = "unshare";
  if (poll(&p, 1, ACK_TIMEOUT) != 1) return ETIMEDOUT;
  if (read(C->ack[0], &c, 1) != 1) return 0;   /* it failed: it says why */
  if ((err = lj_writemaps(pid, C->uid, C->gid, C->setgroups, what)) != 0)
    return err;
  c = 'g';
  if (write(C->syn[1], &c, 1) != 1) return errno;
  return 0;
}

/* fork(2), glibc's (its atfork handlers, the child's thread id); the
** pidfd is opened after it, with every signal blocked: no handler of ours
** can reap the child meanwhile.  Valgrind 3.19 knows no pidfd_open: under
** it, a clone that makes the pidfd itself */
static int forkpidfd (int *pidfd) {
  *pidfd = -1;
  if (RUNNING_ON_VALGRIND)
    return (int)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, pidfd, 0, 0);
  return fork();
}

static int l_call (lua_State *L) {
  ljArena *a;
  Call *C;
  Info *info;
  ljChild *ch;
  sigset_t all, old;
  int nargs, err, pid, pidfd = -1, n;
  const char *what = "pipe2";
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  nargs = lua_gettop(L) - 2;
  a = lj_newarena_kept(L);
  C = (Call *)lj_alloc(L, a, sizeof *C);
  C->res[0] = C->res[1] = C->ack[0] = C->ack[1] = -1;
  C->syn[0] = C->syn[1] = C->status[0] = C->status[1] = C->alive = -1;
  decodeplan(L, a, C);
  if ((n = threads()) > 1) {
    lua_pushfstring(L, "lunajail: call: this process has %d threads: a fork "
                    "copies only the calling one, and a lock another holds "
                    "(malloc's, stdio's, a library's) would stay locked in "
                    "the copy forever; call from a process of one thread "
                    "(or spawn a program)", n);
    return lua_error(L);
  }
  info = (Info *)lua_newuserdatauv(L, sizeof *info, 1);
  info->C = C;
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, 1);           /* it keeps the arena */
  luaL_setmetatable(L, LJ_CALLINFO);
  ch = lj_newchild(L);
  if ((err = makepipes(C)) != 0) {
    closepipes(C);
    return early(L, what, err);
  }
  C->ppid = (int)getpid();
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  fflush(NULL);                    /* no output of ours twice */
  pid = forkpidfd(&pidfd);
  if (pid == 0) {                  /* the sandbox's first process */
    first(C);
    unshareall(C);
    nodump();
    if (C->cloneflags & FORKNS) forkrelay(C);
    runsteps(C);
    if (C->fork) forkrelay(C);
    callfn(L, C, nargs);
  }
  err = errno;
  if (pid > 0 && pidfd < 0
      && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
    err = errno;
    kill(pid, SIGKILL);            /* unreaped: the pid is still its */
    waitpid(pid, NULL, 0);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  closefd(&C->res[1]);
  closefd(&C->ack[1]);
  closefd(&C->syn[0]);
  closefd(&C->status[1]);
  if (pid < 0 || pidfd < 0) {
    closepipes(C);
    return early(L, pid < 0 ? "fork" : "pidfd_open", err);
  }
  ch->pid = pid;
  ch->pidfd = pidfd;
  err = placed(C, pid, &what);
  if (!err && C->ack[0] >= 0) err = maps(C, pid, &what);
  closefd(&C->ack[0]);
  closefd(&C->syn[1]);             /* EOF: the fork gives up */
  ch->fd[1] = C->res[0];
  ch->statusfd = C->status[0];
  C->res[0] = C->status[0] = -1;
  fcntl(ch->fd[1], F_SETFL, O_NONBLOCK);
  if (err) {
    lj_child_close(L, ch, 0);            /* SIGKILL, reaped */
    return early(L, what, err);
  }
  if (C->lease) {                  /* the child object holds it now */
    ch->leasefd = C->lease->fd;
    C->lease->fd = -1;
  }
  lua_pushvalue(L, -2);                  /* child, info */
  return 2;
}

/* }====== */


/* {====== core.call_result ======} */

static void errmeta (lua_State *L);

/* the CallError of an 'E' record */
static void pusherror (ljDec *D) {
  lua_State *L = D->L;
  lua_createtable(L, 0, 3);
  lj_decvalue(D);
  if (lua_type(L, -1) != LUA_TSTRING) lj_decfail(D, "a message not a string");
  lua_setfield(L, -2, "message");
  lj_decvalue(D);
  if (lua_type(L, -1) != LUA_TSTRING) lj_decfail(D, "a traceback not a string");
  lua_setfield(L, -2, "traceback");
  lj_decvalue(D);
  lua_setfield(L, -2, "value");
  errmeta(L);
  lua_setmetatable(L, -2);
}

static int l_call_result (lua_State *L) {
  Info *info = (Info *)luaL_checkudata(L, 1, LJ_CALLINFO);
  Call *C = info->C;
  ljDec D;
  int nrep = 0;
  D.L = L;
  D.p = luaL_checklstring(L, 2, &D.n);
  D.off = 0;
  lua_settop(L, 2);
  lua_pushliteral(L, "ok");              /* 3 */
  lua_newtable(L);                       /* 4: the reports */
  while (D.off < D.n) {
    char tag;
    int32_t v[2];
    lj_dectake(&D, &tag, 1);
    if (tag == 'R') {
      uint32_t n = lj_decu32(&D), k;
      if (n > D.n - D.off) lj_decfail(&D, "too many results");
      luaL_checkstack(L, (int)n + 4, "too many results");
      for (k = 0; k < n; k++) lj_decvalue(&D);
      if (D.off != D.n) lj_decfail(&D, "bytes after the results");
      return 2 + (int)n;
    }
    if (tag == 'E') {
      lua_pushliteral(L, "error");
      pusherror(&D);
      if (D.off != D.n) lj_decfail(&D, "bytes after the error");
      lua_pushvalue(L, 4);
      lua_setfield(L, -2, "reports");
      return 2;
    }
    if (tag != 'O' && tag != 'S' && tag != 'U' && tag != 'F')
      lj_decfail(&D, "an unknown record");
    lj_dectake(&D, v, sizeof v);
    if (tag == 'U' || tag == 'F') {
      ljStep s;
      memset(&s, 0, sizeof s);
      s.op = lj_findop("unshare");
      s.i[0] = C->cloneflags;
      lua_pushliteral(L, "error");
      if (tag == 'U') lj_pushsteperr(L, &s, 0, v[1]);
      else { early(L, "fork", v[1]); lua_remove(L, -2); }
    }
    else {
      const ljStep *s;
      if (v[0] < 1 || v[0] > C->nsteps || v[1] <= 0)
        lj_decfail(&D, "a step record out of range");
      s = &C->steps[v[0] - 1];
      if (tag == 'O') {
        lj_pushsteperr(L, s, s->index, v[1]);
        lua_rawseti(L, 4, ++nrep);
        continue;
      }
      lua_pushliteral(L, "error");
      lj_pushsteperr(L, s, s->index, v[1]);
    }
    if (D.off != D.n) lj_decfail(&D, "bytes after a step error");
    lua_pushvalue(L, 4);
    lua_setfield(L, -2, "reports");
    return 2;
  }
  lua_pushliteral(L, "incomplete");
  return 1;
}

/* }====== */


static int callerr_tostring (lua_State *L) {
  lua_getfield(L, 1, "message");
  lua_getfield(L, 1, "traceback");
  if (!lua_isstring(L, -2)) {
    lua_pushliteral(L, "lunajail.CallError");
    return 1;
  }
  if (lua_isstring(L, -1) && lua_rawlen(L, -1) > 0) {
    lua_pushliteral(L, "\n(in the sandbox) ");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
  else lua_pop(L, 1);
  return 1;
}

static void errmeta (lua_State *L) {
  if (luaL_newmetatable(L, LJ_CALLERR)) {
    lua_pushcfunction(L, callerr_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}

void lj_open_call (lua_State *L) {
  luaL_newmetatable(L, LJ_CALLINFO);
  lua_pop(L, 1);
  errmeta(L);
  lua_pop(L, 1);
  lua_pushcfunction(L, l_call);
  lua_setfield(L, -2, "call");
  lua_pushcfunction(L, l_call_result);
  lua_setfield(L, -2, "call_result");
  lua_pushinteger(L, LJ_VALMAX);
  lua_setfield(L, -2, "CALL_MAX");
}
