/*
** spawn.c: core.spawn(plan), the parent side.
**
**   core.spawn{
**     argv = {"sh", "-c", "echo hi"},  path = "/bin/sh" (default argv[1],
**       looked up in env's PATH when it has no "/"),
**     env = {"PATH=/usr/bin"} or {PATH = "/usr/bin"} (default: empty),
**     namespaces = {"user", "mount", "pid", "net", "uts", "ipc"},
**     uidmap = {{0, 1000, 1}}, gidmap = {{0, 1000, 1}},
**     steps = { {"mount", "tmpfs", "/tmp", "tmpfs"}, {"chdir", "/"}, ... },
**     cwd = "/", stdio = {"pipe", "pipe", "inherit"}, fds = {[3] = fd},
**     pid1 = true, die_with_parent = true, new_session = true,
**     trace = false, lease = core.idlease{...},
**   }  -> child object | nil, err (err.step, err.op, err.errno, ...)
**
** A lease (idalloc.c) moves into the child object when the spawn succeeds
** (it is spent then: a plan's lease serves one spawn) and stays the
** caller's when it fails.  With lunajail-init, init gets its own copy of
** the lease's fd, so the id stays leased while the sandbox lives, even
** after we are gone (die_with_parent = false).
**
** Decoding raises on misuse and happens before anything is acquired; from
** the first fd on nothing raises until the child has exec'd or been
** reaped, and every failure path closes what it opened.  The child shares
** our memory (CLONE_VM, no copy of a large heap) and runs child.c; we wait
** on the report pipe until it execs (EOF) or reports a failed step.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "spawn.h"

#define STACKSIZE  (256 * 1024)  /* the child's stack */

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_CLONE3 1
long lj_clone3 (void *args, size_t size, int (*fn) (void *), void *arg);
#endif

/* ASan: the child's frames mark its stack's shadow (in our memory, as
** the child shares it) and it never unmarks them: before each clone the
** stack is clean again, or a new child at the same address trips over
** the marks of an old one */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* valgrind runs a CLONE_VM child only as a thread: under it, the child
** gets a copy of our memory instead (see startchild) */
#if defined(__has_include) && __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

extern const char lj_initbin[];
extern const uint64_t lj_initbin_size;


/* {====== The init binary, a sealed memfd per Lua state ======} */

typedef struct InitFd { int fd; } InitFd;

static int initfd_gc (lua_State *L) {
  InitFd *p = (InitFd *)lua_touserdata(L, 1);
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  return 0;
}

static int makeinitfd (void) {
  size_t len = (size_t)lj_initbin_size, off = 0;
  int fd = memfd_create("lunajail-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  while (off < len) {
    ssize_t w = write(fd, lj_initbin + off, len - off);
    if (w <= 0) { close(fd); return -1; }
    off += (size_t)w;
  }
  /* sealed: the payload may reach it through /proc/1/exe (CVE-2019-5736) */
  if (fchmod(fd, 0555) != 0
      || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
               | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int getinitfd (lua_State *L) {
  InitFd *p;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.initfd") == LUA_TUSERDATA) {
    p = (InitFd *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p->fd;
  }
  lua_pop(L, 1);
  p = (InitFd *)lua_newuserdatauv(L, sizeof *p, 0);
  p->fd = -1;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, initfd_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if ((p->fd = makeinitfd()) < 0)
    luaL_error(L, "spawn: cannot create the init memfd: %s", strerror(errno));
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.initfd");
  return p->fd;
}

/* }====== */


/* {====== Decoding the plan (raises on misuse) ======} */

static const char *const planfields[] = {
  "argv", "path", "env", "cwd", "namespaces", "uidmap", "gidmap",
  "setgroups", "steps", "stdio", "fds", "pid1", "die_with_parent",
  "new_session", "trace", "lease", NULL
};

/* a field of the plan as argument #1 of an ljArgs named "plan.FIELD" */
typedef struct Field {
  ljArgs A;
  char where[48];
} Field;

static ljArgs *field (lua_State *L, Field *f, ljArena *a, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->where, sizeof f->where, "spawn: plan.%s", name);
  lua_getfield(L, 1, name);
  f->A.L = L;
  f->A.base = lua_gettop(L);
  f->A.n = 1;
  f->A.where = f->where;
  f->A.names = NULL;
  f->A.arena = a;
  f->A.copy = 1;
  return &f->A;
}

static void checkfields (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *const *f;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    for (f = planfields; *f; f++)
      if (strcmp(*f, k) == 0) break;
    if (*f == NULL) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (f = planfields; *f; f++) {
        if (f != planfields) luaL_addstring(&b, ", ");
        luaL_addstring(&b, *f);
      }
      const char *valid, *name;
      luaL_pushresult(&b);
      valid = lua_tostring(L, -1);
      name = luaL_tolstring(L, -3, NULL);
      luaL_error(L, "spawn: unknown plan field '%s' (valid: %s)", name, valid);
    }
    lua_pop(L, 1);
  }
}

/* the largest positive integer key of table t (nil holes allowed) */
static int maxindex (lua_State *L, int t) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > n
        && lua_tointeger(L, -2) <= 64)
      n = (int)lua_tointeger(L, -2);
    lua_pop(L, 1);
  }
  return n;
}

/* steps[k] = {"name", args..., optional = bool} */
static void decodestep (lua_State *L, ljArena *a, int k, ljStep *s) {
  int t = lua_gettop(L), n, j;
  const char *name;
  ljArgs A;
  if (!lua_istable(L, t))
    luaL_error(L, "spawn: plan.steps[%d]: {\"name\", args...} expected, "
               "got %s", k, luaL_typename(L, t));
  lua_rawgeti(L, t, 1);
  name = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || (s->op = lj_findop(name)) == NULL) {
    const char *valid;
    name = luaL_tolstring(L, -1, NULL);
    lj_pushopnames(L);
    valid = lua_tostring(L, -1);
    luaL_error(L, "spawn: plan.steps[%d]: unknown step '%s' (valid: %s)", k,
               name, valid);
  }
  lua_getfield(L, t, "optional");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "spawn: plan.steps[%d].optional: boolean expected", k);
  s->optional = lua_toboolean(L, -1);
  s->index = k;
  lua_pushfstring(L, "spawn: plan.steps[%d] %s", k, name);
  n = maxindex(L, t) - 1;
  luaL_checkstack(L, n + 4, "too many step arguments");
  for (j = 2; j <= n + 1; j++) lua_rawgeti(L, t, j);
  A.L = L;
  A.base = lua_gettop(L) - n + 1;
  A.n = n;
  A.where = lua_tostring(L, A.base - 1);
  A.names = s->op->args;
  A.arena = a;
  A.copy = 1;
  s->op->decode(&A, s);
  lua_settop(L, t);
}

static int cmppair (const void *x, const void *y) {
  return ((const ljFdPair *)x)->target - ((const ljFdPair *)y)->target;
}

/* the parts of the plan only the parent uses */
typedef struct Side {
  const char *uid, *gid;           /* "inside outside count\n..." or NULL */
  int setgroups;                   /* 1 deny, 2 allow, 0 default */
  const char *stdpath[3];          /* stdio files */
  int stdflags[3];
  ljLease *lease;                  /* moves into the child object */
} Side;

/* stdio and fds, decoded into pairs; what the parent opens later, in
** prepare(), is marked with a negative source */
enum { SRC_PIPE = -1, SRC_NULL = -2, SRC_MERGE = -3, SRC_FILE = -4,
       SRC_PTY = -5 };

/* stdio[k] = "/path" or {path = "/path", append = true} */
static void decodefile (ljArgs *A, Side *M, int k) {
  lua_State *L = A->L;
  const char *path;
  int append = 0;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "append");
    append = lua_toboolean(L, -1);
    lua_getfield(L, -2, "path");
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
  path = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || path[0] != '/'
      || strlen(path) != lua_rawlen(L, -1))
    lj_argerror(A, 1, "stdio[%d]: an absolute path expected", k + 1);
  M->stdpath[k] = lj_strdup(L, A->arena, path, strlen(path));
  M->stdflags[k] = k == 0 ? O_RDONLY
                   : O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
}

static void decodefds (lua_State *L, ljPlan *P, Side *M, ljArena *a) {
  static const char *const stdnames[] = { "stdin", "stdout", "stderr" };
  Field f;
  ljArgs *A = field(L, &f, a, "stdio");
  int k, n = 3, idx = A->base;
  ljFdPair *p = (ljFdPair *)lj_alloc(L, a, sizeof(ljFdPair) * (LJ_MAXFDS + 3));
  if (lj_isstring(A, 1) && strcmp(lua_tostring(L, idx), "pty") == 0) {
    lua_createtable(L, 3, 0);              /* "pty": all three */
    for (k = 1; k <= 3; k++) {
      lua_pushliteral(L, "pty");
      lua_rawseti(L, -2, k);
    }
    lua_replace(L, idx);
  }
  if (!lj_isnone(A, 1)) lj_argtable(A, 1);
  for (k = 0; k < 3; k++) {
    p[k].target = k;
    p[k].source = SRC_PIPE;
    if (lj_isnone(A, 1) || lua_rawgeti(L, idx, k + 1) == LUA_TNIL) {
      if (!lj_isnone(A, 1)) lua_pop(L, 1);
      continue;
    }
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0
        && lua_tointeger(L, -1) < (1 << 30))
      p[k].source = (int)lua_tointeger(L, -1);
    else if (lua_type(L, -1) == LUA_TSTRING) {
      const char *s = lua_tostring(L, -1);
      if (strcmp(s, "pipe") == 0) p[k].source = SRC_PIPE;
      else if (strcmp(s, "null") == 0) p[k].source = SRC_NULL;
      else if (strcmp(s, "inherit") == 0) p[k].source = k;
      else if (strcmp(s, "pty") == 0) p[k].source = SRC_PTY;
      else if (k == 2 && strcmp(s, "stdout") == 0) p[k].source = SRC_MERGE;
      else if (s[0] == '/') { decodefile(A, M, k); p[k].source = SRC_FILE; }
      else lj_argerror(A, 1, "%s: \"pipe\", \"null\", \"inherit\", "
                       "\"pty\"%s, a path or an fd expected, got \"%s\"",
                       stdnames[k], k == 2 ? ", \"stdout\"" : "", s);
    }
    else if (lua_istable(L, -1)) { decodefile(A, M, k); p[k].source = SRC_FILE; }
    else lj_argerror(A, 1, "%s: \"pipe\", \"null\", \"inherit\", \"pty\", "
                     "a path or an fd expected", stdnames[k]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "fds");
  idx = A->base;
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 3
          || lua_tointeger(L, -2) >= (1 << 20))
        lj_argerror(A, 1, "target fds 3 and up expected as keys");
      if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0
          || lua_tointeger(L, -1) >= (1 << 30))
        lj_argerror(A, 1, "fd %I: source fd expected", lua_tointeger(L, -2));
      if (n >= LJ_MAXFDS) lj_argerror(A, 1, "more than %d fds", LJ_MAXFDS);
      p[n].target = (int)lua_tointeger(L, -2);
      p[n].source = (int)lua_tointeger(L, -1);
      n++;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  qsort(p, (size_t)n, sizeof *p, cmppair);
  P->fds = p;
  P->nfds = n;
  P->base = p[n - 1].target + 1;
}

/* init's argv (see init.c), but the path the child's PATH search finds.
** The fds step puts the report fd at base, the init memfd at base+1 and
** init's status fd at base+2: their numbers are known here. */
static void initargv (lua_State *L, ljPlan *P, ljArena *a) {
  size_t n = 0;
  while (P->argv[n]) n++;
  P->initargv = (const char **)lj_alloc(L, a, sizeof(char *) * (n + 7));
  snprintf(P->initrep, sizeof P->initrep, "%d", P->base);
  snprintf(P->initstatus, sizeof P->initstatus, "%d", P->base + 2);
  snprintf(P->initstep, sizeof P->initstep, "%d", P->nsteps);
  snprintf(P->initflags, sizeof P->initflags, "%d",
           (P->ctty ? 1 : 0) | (P->leasefd >= 0 ? 2 : 0));
  snprintf(P->initpath, sizeof P->initpath, "/proc/self/fd/%d", P->base + 1);
  P->initargv[0] = "lunajail-init";
  P->initargv[1] = P->initrep;
  P->initargv[2] = P->initstatus;
  P->initargv[3] = P->initstep;
  P->initargv[4] = P->initflags;
  P->initargv[5] = P->path;
  memcpy(P->initargv + 6, P->argv, sizeof(char *) * (n + 1));
}

static const char *pathof (const char **envp) {
  for (; *envp; envp++)
    if (strncmp(*envp, "PATH=", 5) == 0) return *envp + 5;
  return NULL;
}

static const char *decodemap (lua_State *L, ljArena *a, const char *name) {
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

/* the outside id that map text gives to inside id 0, or -1 */
static long long outsidezero (const char *map) {
  while (map && *map) {
    unsigned long long in, out, count;
    if (sscanf(map, "%llu %llu %llu", &in, &out, &count) == 3 && in == 0)
      return (long long)out;
    map = strchr(map, '\n');
    if (map) map++;
  }
  return -1;
}

/* with a user namespace whose 0 is not us, become 0 inside first: the
** caller's own ids are unmapped there, so nothing could create a file */
static void becomezero (ljPlan *P, const Side *M) {
  long long u = outsidezero(M->uid), g = outsidezero(M->gid);
  if (g >= 0 && g != (long long)getegid()) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("setresgid");
  }
  if (u >= 0 && u != (long long)geteuid()) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("setresuid");
  }
}

static void decodeplan (lua_State *L, ljArena *a, ljPlan *P, Side *M) {
  Field f;
  ljArgs *A;
  int nsteps = 0, k, extra, pid1;
  checkfields(L);
  A = field(L, &f, a, "argv");
  P->argv = lj_argargv(A, 1);
  lua_pop(L, 1);
  A = field(L, &f, a, "path");
  P->path = lj_isnone(A, 1) ? P->argv[0] : lj_argpath(A, 1);
  P->search = strchr(P->path, '/') == NULL;
  lua_pop(L, 1);
  A = field(L, &f, a, "env");
  if (lj_isnone(A, 1)) {
    P->envp = (const char **)lj_alloc(L, a, sizeof(char *));
  }
  else P->envp = lj_argenv(A, 1);
  P->pathenv = pathof(P->envp);
  lua_pop(L, 1);
  A = field(L, &f, a, "namespaces");
  P->cloneflags = (int)lj_argflags(A, 1, &lj_nsflags);
  lua_pop(L, 1);
  M->uid = decodemap(L, a, "uidmap");
  M->gid = decodemap(L, a, "gidmap");
  A = field(L, &f, a, "setgroups");
  if (!lj_isnone(A, 1)) {
    const char *s = lj_argstr(A, 1, NULL);
    if (strcmp(s, "deny") == 0) M->setgroups = 1;
    else if (strcmp(s, "allow") == 0) M->setgroups = 2;
    else lj_argerror(A, 1, "\"deny\" or \"allow\" expected");
  }
  lua_pop(L, 1);
  if ((M->uid || M->gid) && !(P->cloneflags & CLONE_NEWUSER))
    luaL_error(L, "spawn: plan.uidmap/gidmap need the \"user\" namespace");
  A = field(L, &f, a, "pid1");
  pid1 = lj_optbool(A, 1, (P->cloneflags & CLONE_NEWPID) != 0);
  if (pid1 && !(P->cloneflags & CLONE_NEWPID))
    lj_argerror(A, 1, "pid1 needs the \"pid\" namespace");
  lua_pop(L, 1);
  A = field(L, &f, a, "die_with_parent");
  P->pdeathsig = lj_optbool(A, 1, 1) ? SIGKILL : 0;
  lua_pop(L, 1);
  A = field(L, &f, a, "trace");
  P->trace = lj_optbool(A, 1, 0);
  lua_pop(L, 1);
  A = field(L, &f, a, "lease");
  P->leasefd = -1;
  if (!lj_isnone(A, 1)) {
    if ((M->lease = (ljLease *)luaL_testudata(L, A->base, LJ_LEASE)) == NULL)
      lj_argerror(A, 1, "a lease (core.idlease) expected");
    if ((P->leasefd = M->lease->fd) < 0)
      lj_argerror(A, 1, "the lease is released or already given to a child");
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "new_session");
  extra = lj_optbool(A, 1, 1);         /* a setsid step first */
  lua_pop(L, 1);
  A = field(L, &f, a, "steps");
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    nsteps = (int)lua_rawlen(L, A->base);
    if (nsteps > 100000) lj_argerror(A, 1, "more than 100000 steps");
  }
  P->steps = (ljStep *)lj_alloc(L, a, sizeof(ljStep) * (size_t)(nsteps + 6));
  becomezero(P, M);
  if (extra) P->steps[P->nsteps++].op = lj_findop("setsid");
  for (k = 1; k <= nsteps; k++) {
    lua_rawgeti(L, A->base, k);
    decodestep(L, a, k, &P->steps[P->nsteps++]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "cwd");
  if (!lj_isnone(A, 1)) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("chdir");
    s->s[0] = lj_argpath(A, 1);
    s->index = ++nsteps;
  }
  lua_pop(L, 1);
  decodefds(L, P, M, a);
  P->ctty = P->fds[0].source == SRC_PTY;
  if (P->ctty && !pid1 && !extra)
    luaL_error(L, "spawn: a pty on stdin needs new_session (or pid1)");
  P->steps[P->nsteps].op = &lj_op_fds;
  P->steps[P->nsteps].index = ++nsteps;
  P->steps[P->nsteps++].p = P;
  P->steps[P->nsteps].op = &lj_op_exec;
  P->steps[P->nsteps].index = ++nsteps;
  P->steps[P->nsteps++].p = P;
  P->initfd = pid1 ? getinitfd(L) : -1;
  P->statusfd = -1;
  if (pid1) initargv(L, P, a);
}

/* }====== */


/* {====== Starting the child (nothing raises from here on) ======} */

typedef struct Run {
  int rep[2], syn[2];              /* report and sync pipes */
  int ours[3];                     /* our ends of stdio pipes */
  int opened[3];                   /* fds we opened for the child */
  int status[2];                   /* init's status pipe */
  int pty;                         /* a pty's master, or -1 */
  int pidfd, pid;
  void *stack;
  int (*recs)[3];                  /* what the child reported: at most */
  int maxrecs, nrecs, fatal;       /* one per step, plus our own */
  int err;                         /* a failure before the first step */
  const char *what;                /* ... and what failed */
  int waitstatus;
} Run;

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* a pty pair: our master (non-blocking) and the child's slave */
static int openpty (Run *R, int *slave) {
  char name[64];
  R->pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (R->pty < 0 || grantpt(R->pty) != 0 || unlockpt(R->pty) != 0
      || ptsname_r(R->pty, name, sizeof name) != 0)
    return errno;
  if ((*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) return errno;
  return fcntl(R->pty, F_SETFL, O_NONBLOCK) == 0 ? 0 : errno;
}

/* pipes, files, /dev/null and a pty for stdio: the child's ends replace
** the markers */
static int prepare (ljPlan *P, const Side *M, Run *R) {
  int k, mergeout = -1, slave = -1, err;
  for (k = 0; k < 3; k++) {
    ljFdPair *p = &P->fds[k];
    if (p->source == SRC_PIPE) {
      int fds[2];
      R->what = "pipe2";
      if (pipe2(fds, O_CLOEXEC) != 0) return errno;
      R->ours[k] = fds[k == 0 ? 1 : 0];
      R->opened[k] = fds[k == 0 ? 0 : 1];
      if (fcntl(R->ours[k], F_SETFL, O_NONBLOCK) != 0) return errno;
      /* bigger pipes: fewer wake-ups for a chatty child */
      fcntl(R->ours[k], F_SETPIPE_SZ, 256 * 1024);
      p->source = R->opened[k];
    }
    else if (p->source == SRC_NULL || p->source == SRC_FILE) {
      const char *path = p->source == SRC_NULL ? "/dev/null" : M->stdpath[k];
      R->what = path;
      if ((R->opened[k] = open(path, (p->source == SRC_NULL ? O_RDWR
                                      : M->stdflags[k]) | O_CLOEXEC, 0644)) < 0)
        return errno;
      p->source = R->opened[k];
    }
    else if (p->source == SRC_PTY) {
      R->what = "posix_openpt";
      if (slave < 0) {
        if ((err = openpty(R, &slave)) != 0) return err;
        R->opened[k] = slave;            /* closed once, after clone */
      }
      p->source = slave;
      if (k < 2 && (R->ours[k] = fcntl(R->pty, F_DUPFD_CLOEXEC, 0)) < 0)
        return errno;
    }
    else if (p->source == SRC_MERGE) p->source = mergeout;
    if (k == 1) mergeout = p->source;
  }
  if (P->initfd >= 0) {                  /* init's word on the payload */
    R->what = "pipe2";
    if (pipe2(R->status, O_CLOEXEC | O_NONBLOCK) != 0) return errno;
    P->statusfd = R->status[1];
  }
  return 0;
}

static void reap (Run *R) {
  siginfo_t si;
  memset(&si, 0, sizeof si);      /* signals blocked: no EINTR */
  waitid((idtype_t)P_PIDFD, (id_t)R->pidfd, &si, WEXITED);
  R->waitstatus = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8
                                           : (si.si_status & 0x7f);
}

/* writes the user namespace's maps, as root or through newuidmap */
static int runhelper (const char *prog, int pid, const char *map) {
  char *argv[1 + 1 + 3 * 340 + 1], buf[8192], pidstr[16];
  int argc = 0, status;
  pid_t h;
  char *save = NULL, *tok;
  snprintf(pidstr, sizeof pidstr, "%d", pid);
  snprintf(buf, sizeof buf, "%s", map);
  argv[argc++] = (char *)prog;
  argv[argc++] = pidstr;
  for (tok = strtok_r(buf, " \n", &save); tok && argc < 1 + 1 + 3 * 340;
       tok = strtok_r(NULL, " \n", &save))
    argv[argc++] = tok;
  argv[argc] = NULL;
  if ((errno = posix_spawnp(&h, prog, NULL, NULL, argv, environ)) != 0)
    return errno == ENOENT ? EPERM : errno;
  while (waitpid(h, &status, 0) < 0)
    if (errno != EINTR) return errno;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

/* single line mapping our own euid/egid: a user may write it himself */
static int ownmap (const char *map, unsigned id) {
  unsigned in, out, count;
  char tail;
  return sscanf(map, "%u %u %u\n%c", &in, &out, &count, &tail) == 3
         && out == id && count == 1;
}

static int writemaps (int pid, const Side *M, Run *R) {
  int err;
  if (M->setgroups || (M->gid && !lj_hascap(CAP_SETGID)
                       && ownmap(M->gid, getegid()))) {
    R->what = "setgroups";
    if ((err = lj_writeproc(pid, "setgroups",
                            M->setgroups == 2 ? "allow" : "deny")) != 0)
      return err;
  }
  if (M->uid) {
    R->what = "uid_map";
    err = lj_hascap(CAP_SETUID) || ownmap(M->uid, geteuid())
          ? lj_writeproc(pid, "uid_map", M->uid)
          : runhelper("newuidmap", pid, M->uid);
    if (err) return err;
  }
  if (M->gid) {
    R->what = "gid_map";
    err = lj_hascap(CAP_SETGID) || ownmap(M->gid, getegid())
          ? lj_writeproc(pid, "gid_map", M->gid)
          : runhelper("newgidmap", pid, M->gid);
    if (err) return err;
  }
  return 0;
}

/* reads the report pipe until EOF (the child exec'd or died) */
static void collect (Run *R) {
  int rec[3];
  size_t got = 0;
  for (;;) {          /* signals blocked: no EINTR, and errno is shared */
    ssize_t r = read(R->rep[0], (char *)rec + got, sizeof rec - got);
    if (r <= 0) break;
    got += (size_t)r;
    if (got < sizeof rec) continue;
    got = 0;
    if (R->nrecs < R->maxrecs) {
      memcpy(R->recs[R->nrecs], rec, sizeof rec);
      if (rec[0] == LJ_REP_FATAL && R->fatal < 0) R->fatal = R->nrecs;
      R->nrecs++;
    }
  }
}

/*
** clone3(CLONE_VM | CLONE_PIDFD | namespaces) on our stack, or clone(2)
** where clone3 is missing (before Linux 5.3, or another machine): the
** same child, except that a time namespace then needs clone3.  Under
** valgrind, which cannot run such a child, a fork-style clone: the child
** gets a copy of our memory, so its progress is not seen here (a child
** killed before its exec is then reported as a plain exit).
*/
static int startchild (ljPlan *P, Run *R, int *err) {
  int pid;
  if (RUNNING_ON_VALGRIND) {
    pid = clone(lj_child_main, (char *)R->stack + STACKSIZE,
                CLONE_PIDFD | P->cloneflags | SIGCHLD, P, &R->pidfd);
    *err = errno;
    P->progress = P->nsteps;       /* unknown: do not claim a kill */
    return pid;
  }
#ifdef HAVE_CLONE3
  struct {                         /* struct clone_args, version 0 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
             stack_size, tls;
  } args;
  long r;
  memset(&args, 0, sizeof args);
  args.flags = CLONE_VM | CLONE_PIDFD | (unsigned)P->cloneflags;
  args.pidfd = (uint64_t)(uintptr_t)&R->pidfd;
  args.exit_signal = SIGCHLD;
  args.stack = (uint64_t)(uintptr_t)R->stack;
  args.stack_size = STACKSIZE;
  r = lj_clone3(&args, sizeof args, lj_child_main, P);
  if (r >= 0) return (int)r;
  if (r != -ENOSYS) { *err = (int)-r; return -1; }
#endif
  if (P->cloneflags & CLONE_NEWTIME) { *err = ENOSYS; return -1; }
  pid = clone(lj_child_main, (char *)R->stack + STACKSIZE,
              CLONE_VM | CLONE_PIDFD | P->cloneflags | SIGCHLD, P,
              &R->pidfd);
  *err = errno;
  return pid;
}

static int run (ljPlan *P, const Side *M, Run *R);

static int start (ljPlan *P, const Side *M, Run *R) {
  sigset_t all, old;
  int err, dumpable;
  if (pipe2(R->rep, O_CLOEXEC) != 0 || pipe2(R->syn, O_CLOEXEC) != 0) {
    R->what = "pipe2";
    return errno;
  }
  if ((err = prepare(P, M, R)) != 0) return err;
  P->reportfd = R->rep[1];
  P->syncfd = R->syn[0];
  P->parentfds[0] = R->rep[0];
  P->parentfds[1] = R->syn[1];
  R->stack = mmap(NULL, STACKSIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (R->stack == MAP_FAILED) {
    R->stack = NULL;
    R->what = "mmap";
    return errno;
  }
  UNPOISON(R->stack, STACKSIZE);
  /* Signals stay blocked until the child has exec'd or been reaped: no
  ** host handler may run in the child before it resets them, and the
  ** child shares our errno (the same TLS), so nothing of ours may fail
  ** with EINTR and look at errno while it runs.  (The child writes errno
  ** only after "go"; until then our map writes may.) */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  err = run(P, M, R);
  /* a child that changed its ids in our memory made it undumpable (the
  ** kernel's guard while that child ran); it has exec'd or is gone now */
  if (dumpable == 1 && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return err;
}

/* start(), with every signal blocked */
static int run (ljPlan *P, const Side *M, Run *R) {
  int err, k;
  R->pid = startchild(P, R, &err);
  closefd(&R->rep[1]);
  closefd(&R->syn[0]);
  closefd(&R->status[1]);
  for (k = 0; k < 3; k++) closefd(&R->opened[k]);
  if (R->pid < 0) {
    R->pid = 0;
    R->what = "clone";
    return err;
  }
  if ((P->cloneflags & CLONE_NEWUSER) && (err = writemaps(R->pid, M, R))) {
    closefd(&R->syn[1]);           /* the child reads EOF and exits */
    reap(R);
    return err;
  }
  if (write(R->syn[1], "g", 1) != 1) {    /* cannot happen: it reads */
    closefd(&R->syn[1]);
    reap(R);
    R->what = "start";
    return EPIPE;
  }
  closefd(&R->syn[1]);
  collect(R);
  if (R->fatal >= 0) reap(R);
  else if (P->progress < P->nsteps) {    /* died before its exec */
    reap(R);
    if (R->nrecs < R->maxrecs) {
      R->recs[R->nrecs][0] = LJ_REP_FATAL;
      R->recs[R->nrecs][1] = P->progress;
      R->recs[R->nrecs][2] = -(WIFSIGNALED(R->waitstatus)
                               ? WTERMSIG(R->waitstatus) : SIGKILL);
      R->fatal = R->nrecs++;
    }
  }
  return 0;
}

static void cleanup (Run *R) {
  int k;
  closefd(&R->rep[0]);
  closefd(&R->rep[1]);
  closefd(&R->syn[0]);
  closefd(&R->syn[1]);
  closefd(&R->status[1]);
  for (k = 0; k < 3; k++) closefd(&R->opened[k]);
  if (R->stack) munmap(R->stack, STACKSIZE);
  R->stack = NULL;
}

/* }====== */


/* {====== Results ======} */

static const char *userns_hint (int err) {
  if (err == EPERM || err == EACCES)
    return " (user namespaces refused: check sysctl "
           "kernel.unprivileged_userns_clone, "
           "kernel.apparmor_restrict_unprivileged_userns, or run as root)";
  if (err == ENOSPC)
    return " (user namespace limit reached: check sysctl "
           "user.max_user_namespaces)";
  if (err == EINVAL)
    return " (user namespaces unavailable in this kernel or container)";
  return "";
}

/* an error before the first step: step 0, the op that failed */
static int pushearly (lua_State *L, ljPlan *P, Run *R, int err) {
  ljOp op;
  ljStep s;
  memset(&op, 0, sizeof op);
  memset(&s, 0, sizeof s);
  op.name = R->what;
  s.op = &op;
  luaL_pushfail(L);
  lj_pushsteperr(L, &s, 0, err);
  if ((strcmp(R->what, "clone") == 0 && (P->cloneflags & CLONE_NEWUSER))
      || strstr(R->what, "map") || strcmp(R->what, "setgroups") == 0) {
    const char *hint = strcmp(R->what, "clone") == 0 ? userns_hint(err)
      : err == EACCES && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1
      ? " (this process is not dumpable, so its child's /proc files belong "
        "to root: without CAP_SETUID, spawn with dumpable(true))"
      : " (without CAP_SETUID only your own id maps; install newuidmap "
        "and newgidmap (Debian package uidmap) for ranges)";
    lua_getfield(L, -1, "message");
    lua_pushstring(L, hint);
    lua_concat(L, 2);
    lua_setfield(L, -2, "message");
    if (*hint) {                   /* " (...)": the words inside */
      lua_pushlstring(L, hint + 2, strlen(hint) - 3);
      lua_setfield(L, -2, "hint");
    }
  }
  return 2;
}

/* the records other than the fatal one: optional failures and trace */
static void pushrecords (lua_State *L, ljPlan *P, Run *R) {
  int i, n = 0;
  lua_createtable(L, R->nrecs, 0);
  for (i = 0; i < R->nrecs; i++) {
    int idx = R->recs[i][1];
    if (i == R->fatal || idx < 1 || idx > P->nsteps) continue;
    lj_pushsteperr(L, &P->steps[idx - 1], P->steps[idx - 1].index,
                   R->recs[i][2]);
    if (R->recs[i][2] == 0) {
      char buf[1024];
      ljBuf b = { buf, 0, sizeof buf };
      lj_describe(&P->steps[idx - 1], &b);
      lua_pushfstring(L, "step %d %s: ok", P->steps[idx - 1].index, buf);
      lua_setfield(L, -2, "message");
    }
    lua_seti(L, -2, ++n);
  }
}

static int l_spawn (lua_State *L) {
  ljArena *a;
  ljPlan *P;
  ljChild *ch;
  Side M;
  Run *R;
  int err, k;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&M, 0, sizeof M);
  lj_reaper_sweep(L);
  a = lj_newarena(L);                                  /* 2 */
  P = (ljPlan *)lj_alloc(L, a, sizeof *P);
  decodeplan(L, a, P, &M);
  R = (Run *)lj_alloc(L, a, sizeof *R);
  R->maxrecs = P->nsteps + 1;
  R->recs = (int (*)[3])lj_alloc(L, a, sizeof(int[3]) * (size_t)R->maxrecs);
  R->rep[0] = R->rep[1] = R->syn[0] = R->syn[1] = R->pidfd = -1;
  R->status[0] = R->status[1] = R->pty = -1;
  for (k = 0; k < 3; k++) R->ours[k] = R->opened[k] = -1;
  R->fatal = -1;
  ch = lj_newchild(L);                                 /* 3 */
  err = start(P, &M, R);
  cleanup(R);
  if (err || R->fatal >= 0) {
    for (k = 0; k < 3; k++) closefd(&R->ours[k]);
    closefd(&R->pidfd);
    closefd(&R->status[0]);
    closefd(&R->pty);
    if (err) return pushearly(L, P, R, err);
    k = R->recs[R->fatal][1];
    if (k < 1) {                   /* killed before its first step */
      R->what = "start";
      return pushearly(L, P, R, R->recs[R->fatal][2]);
    }
    luaL_pushfail(L);
    lj_pushsteperr(L, &P->steps[k - 1], P->steps[k - 1].index,
                   R->recs[R->fatal][2]);
    pushrecords(L, P, R);
    lua_setfield(L, -2, "reports");
    return 2;
  }
  ch->pid = R->pid;
  ch->pidfd = R->pidfd;
  for (k = 0; k < 3; k++) ch->fd[k] = R->ours[k];
  ch->statusfd = R->status[0];
  ch->ptyfd = R->pty;
  if (M.lease) {                        /* the child holds it now */
    ch->leasefd = M.lease->fd;
    M.lease->fd = -1;
  }
  pushrecords(L, P, R);
  lua_setiuservalue(L, 3, 1);           /* child:reports() */
  lua_settop(L, 3);
  return 1;
}

/* core.check(plan) -> true: decodes the plan as spawn would, raising on
** misuse, and starts nothing */
static int l_check (lua_State *L) {
  ljArena *a;
  ljPlan *P;
  Side M;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&M, 0, sizeof M);
  a = lj_newarena(L);
  P = (ljPlan *)lj_alloc(L, a, sizeof *P);
  decodeplan(L, a, P, &M);
  lua_pushboolean(L, 1);
  return 1;
}

/* }====== */


void lj_open_spawn (lua_State *L) {
  lua_pushcfunction(L, l_spawn);
  lua_setfield(L, -2, "spawn");
  lua_pushcfunction(L, l_check);
  lua_setfield(L, -2, "check");
  lj_open_process(L);
}
