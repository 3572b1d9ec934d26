/*
** cgroup.c: control groups by fd, the primitives lunajail.cgroup builds a
** sandbox's cgroup with (the policy -- where, v1 or v2, which limits in
** which files -- is Lua: lua/lunajail/cgroup.lua).
**
**   core.cgroup_open(path)   -> cg | nil, msg, errno
**     an existing cgroup directory (of a cgroup or cgroup2 file system),
**     opened without following a symlink
**   cg:open(name)            -> the child cgroup name | nil, msg, errno
**   cg:mkdir(name [, exist]) -> the new child, created (true; false when
**                               exist and it was there) | nil, msg, errno
**   cg:lock()                -> true (ours: removed when cg is closed),
**                               false (another holds it) | nil, msg, errno
**   cg:read(file)            -> the file's text | nil, msg, errno
**   cg:keyed(file)           -> {key = integer, ...} of "key value" lines
**                               (memory.events, cpu.stat, pids.events)
**   cg:write(file, text)     -> true | nil, msg, errno
**   cg:pids()                -> {pid, ...} of cgroup.procs
**   cg:children()            -> {name, ...} of the cgroups under it
**   cg:fd(), cg:procsfd()    -> the directory's fd (for clone3's
**                               CLONE_INTO_CGROUP), cgroup.procs open for
**                               writing (a pid written there moves it)
**   cg:kill([wait])          -> true, empty | nil, msg, errno: SIGKILL to
**                               every process in it and under it, then up
**                               to wait seconds (0) until none is left
**   cg:remove()              -> true | nil, msg, errno: rmdir, the
**                               cgroups under it first (EBUSY while a
**                               process runs in any)
**   cg:version()             -> 1 or 2
**   cg:setkill(on)           -> a locked cgroup is killed when closed
**   cg:close() == __close == __gc: a locked cgroup is killed (with
**     setkill(true)) and removed, then every fd closed
**   cg.path                  -> its path, for messages
**   core.cgroup_error(what, errno) -> a step error of step 0, op "cgroup"
**
** The kill: cgroup.kill (v2, Linux 5.14) where there is one; else the
** freezer (cgroup.freeze on v2 >= 5.2, freezer.state on a v1 freezer
** hierarchy), so that nothing forks or exits while we read the pids, a
** SIGKILL to each, and a thaw; else the same without the freeze, until
** none is left.  Waits are bounded (half a second for a freeze, wait
** seconds for the last process to go): C never blocks for long.
** The lock is flock(2) on the directory: a cgroup nobody holds a lock on
** and nothing runs in is stale (its maker is gone), whatever pid
** namespace that maker was in.
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "lj.h"

#define LJ_CGROUP  "lunajail.Cgroup"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC  0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define MAXDEPTH   32              /* cgroups under a sandbox's, walked */
#define FREEZEWAIT 0.5             /* seconds a freeze may take */
#define GCWAIT     1.0             /* ... the last process, at close */

typedef struct Cgroup {
  int fd;                          /* the directory, O_RDONLY, or -1 */
  int parent;                      /* its parent (O_PATH), for rmdir */
  int procs;                       /* cgroup.procs for writing, or -1 */
  int version;                     /* 1 or 2 */
  int owned;                       /* locked: we remove it */
  int kill;                        /* ... and kill what is left first */
  const char *name;                /* in parent: path's last component */
  char path[];                     /* for messages, as long as it is */
} Cgroup;

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause1ms (void) {
  struct timespec ts = { 0, 1000000 };
  nanosleep(&ts, NULL);
}


/* {====== Files of a cgroup, by its fd ======} */

static int writeat (int dir, const char *file, const char *text) {
  size_t len = strlen(text);
  ssize_t w;
  int fd = openat(dir, file, O_WRONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;
  if (fd < 0) return errno;
  do w = write(fd, text, len); while (w < 0 && errno == EINTR);
  if (w < 0) err = errno;
  else if ((size_t)w != len) err = EIO;
  close(fd);
  return err;
}

/* the start of a small file (a state, an events list) into buf */
static int readsmall (int dir, const char *file, char *buf, size_t size) {
  ssize_t r;
  int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;
  if (fd < 0) return errno;
  do r = read(fd, buf, size - 1); while (r < 0 && errno == EINTR);
  if (r < 0) err = errno;
  buf[r < 0 ? 0 : r] = '\0';
  close(fd);
  return err;
}

/* calls f(pid, ud) for each pid of dir's cgroup.procs, in chunks, with no
** allocation (the kill runs in __gc too); f returns nonzero to stop.
** Returns an errno, or 0 */
static int eachpid (int dir, int (*f) (long, void *), void *ud) {
  char buf[4096];
  long pid = -1;
  int fd = openat(dir, "cgroup.procs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf), i;
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    for (i = 0; i < r; i++) {
      if (buf[i] >= '0' && buf[i] <= '9')
        pid = (pid < 0 ? 0 : pid * 10) + (buf[i] - '0');
      else if (pid >= 0) {
        if (f(pid, ud)) { close(fd); return 0; }
        pid = -1;
      }
    }
  }
  if (pid >= 0) f(pid, ud);
  close(fd);
  return 0;
}

/* calls f on dir and on every cgroup under it, deepest first */
static void eachcgroup (int dir, int depth, void (*f) (int, void *),
                        void *ud) {
  int dup = depth < MAXDEPTH ? openat(dir, ".", O_RDONLY | O_DIRECTORY
                                      | O_CLOEXEC) : -1;
  DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
  struct dirent *e;
  if (dup >= 0 && d == NULL) close(dup);
  while (d && (e = readdir(d)) != NULL) {
    int sub;
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    sub = openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                 | O_CLOEXEC);
    if (sub < 0) continue;
    eachcgroup(sub, depth + 1, f, ud);
    close(sub);
  }
  if (d) closedir(d);
  f(dir, ud);
}

/* }====== */


/* {====== The kill ======} */

static int killone (long pid, void *ud) {
  (void)ud;
  if (pid > 0 && pid <= INT_MAX) kill((pid_t)pid, SIGKILL);
  return 0;
}

static void killhere (int dir, void *ud) {
  (void)ud;
  eachpid(dir, killone, NULL);
}

static int anypid (long pid, void *ud) {
  (void)pid;
  *(int *)ud = 1;
  return 1;
}

static void busyhere (int dir, void *ud) {
  if (!*(int *)ud) eachpid(dir, anypid, ud);
}

static int busy (int dir) {
  int any = 0;
  eachcgroup(dir, 0, busyhere, &any);
  return any;
}

/* freezes (on) or thaws dir: 0, or ENOENT where there is no freezer */
static int freeze (int dir, int version, int on) {
  char buf[256];
  double until = now() + FREEZEWAIT;
  int err = version == 2 ? writeat(dir, "cgroup.freeze", on ? "1" : "0")
            : writeat(dir, "freezer.state", on ? "FROZEN" : "THAWED");
  if (err || !on) return err;
  while (now() < until) {          /* frozen: no fork, no exit */
    if (version == 2 ? readsmall(dir, "cgroup.events", buf, sizeof buf)
                       == 0 && strstr(buf, "frozen 1")
        : readsmall(dir, "freezer.state", buf, sizeof buf) == 0
          && strncmp(buf, "FROZEN", 6) == 0)
      return 0;
    pause1ms();
  }
  return 0;                        /* a task in D state: kill anyway */
}

static int killall (Cgroup *g, double wait) {
  double until = now() + wait;
  int err = g->version == 2 ? writeat(g->fd, "cgroup.kill", "1") : ENOENT;
  if (err == ENOENT) {             /* before 5.14, or v1 */
    int round, frozen;
    for (round = 0; round < 16 && busy(g->fd); round++) {
      frozen = freeze(g->fd, g->version, 1) == 0;
      eachcgroup(g->fd, 0, killhere, NULL);
      if (frozen) freeze(g->fd, g->version, 0);
      pause1ms();
    }
    err = 0;
  }
  if (err) return err;
  while (busy(g->fd) && now() < until) pause1ms();
  return 0;
}

/* }====== */


/* {====== Removal ======} */

/* rmdir of name in parent, the cgroups under it first; none while a
** process runs anywhere in it (EBUSY) */
static int removetree (int parent, const char *name, int depth) {
  int dir = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                   | O_CLOEXEC);
  DIR *d;
  struct dirent *e;
  if (dir < 0) return errno == ENOENT ? 0 : errno;
  if (depth == 0 && busy(dir)) {
    close(dir);
    return EBUSY;
  }
  if (depth < MAXDEPTH) {
    int dup = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    d = dup >= 0 ? fdopendir(dup) : NULL;
    if (dup >= 0 && d == NULL) close(dup);
    while (d && (e = readdir(d)) != NULL)
      if (e->d_type == DT_DIR && e->d_name[0] != '.')
        removetree(dir, e->d_name, depth + 1);
    if (d) closedir(d);
  }
  close(dir);
  return unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT
         ? 0 : errno;
}

/* }====== */


/* {====== The object ======} */

/* a new object for the path dir[/name] (name NULL: dir alone), its
** name the path's last component; a few bytes more than the path */
static Cgroup *newcgroup (lua_State *L, const char *dir, const char *name) {
  size_t ld = strlen(dir), ln = name ? strlen(name) : 0;
  Cgroup *g = (Cgroup *)lua_newuserdatauv(L, sizeof *g + ld + ln + 2, 0);
  memset(g, 0, sizeof *g);
  g->fd = g->parent = g->procs = -1;     /* closed first */
  memcpy(g->path, dir, ld);
  if (name) {
    g->path[ld] = '/';
    memcpy(g->path + ld + 1, name, ln);
    g->path[ld + 1 + ln] = '\0';
    g->name = g->path + ld + 1;
  } else {
    const char *slash;
    g->path[ld] = '\0';
    slash = strrchr(g->path, '/');
    g->name = slash ? slash + 1 : g->path;
  }
  luaL_setmetatable(L, LJ_CGROUP);
  return g;
}

static Cgroup *tocg (lua_State *L) {
  Cgroup *g = (Cgroup *)luaL_checkudata(L, 1, LJ_CGROUP);
  if (g->fd < 0) luaL_error(L, "cgroup: %s is closed", g->path);
  return g;
}

/* g->fd (and parent) set: which file system, or ENOTDIR for another */
static int settype (Cgroup *g) {
  struct statfs fs;
  if (fstatfs(g->fd, &fs) != 0) return errno;
  if (fs.f_type == CGROUP2_SUPER_MAGIC) g->version = 2;
  else if (fs.f_type == CGROUP_SUPER_MAGIC) g->version = 1;
  else return ENOTDIR;
  return 0;
}

static int failcg (lua_State *L, const char *verb, const char *path,
                   const char *file, int err) {
  return lj_pushfail(L, lua_pushfstring(L, "cgroup %s \"%s%s%s\"", verb,
                                        path, file ? "/" : "",
                                        file ? file : ""), err);
}

/* a name of one component, for a file or a child */
static const char *argname (lua_State *L, int n, const char *what) {
  ljArgs A;
  const char *s;
  lj_args(&A, L, "cgroup", what);
  s = lj_argstr(&A, n, NULL);
  if (s[0] == '\0' || s[0] == '.' || strchr(s, '/') || strlen(s) > NAME_MAX)
    lj_argerror(&A, n, "a name without '/' expected, got \"%s\"", s);
  return s;
}

static int l_cgroup_open (lua_State *L) {
  ljArgs A;
  const char *path;
  Cgroup *g;
  int pfd, err;
  lj_args(&A, L, "cgroup_open", "path");
  path = lj_argabs(&A, 1);
  if (strlen(path) >= PATH_MAX) lj_argerror(&A, 1, "path too long");
  g = newcgroup(L, path, NULL);
  if ((pfd = lj_opennolinks(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return failcg(L, "open", path, NULL, errno);
  g->fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  err = errno;
  close(pfd);
  if (g->fd < 0) return failcg(L, "open", path, NULL, err);
  if ((err = settype(g)) != 0) {
    closefd(&g->fd);
    return failcg(L, "open (not a cgroup file system)", path, NULL, err);
  }
  return 1;
}

/* the child name of g, opened, as a new object */
static int opensub (lua_State *L, Cgroup *g, const char *name,
                    const char *verb) {
  Cgroup *s = newcgroup(L, g->path, name);
  s->version = g->version;
  if ((s->fd = openat(g->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                      | O_CLOEXEC)) < 0
      || (s->parent = fcntl(g->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    int err = errno;
    closefd(&s->fd);
    return failcg(L, verb, s->path, NULL, err);
  }
  return 1;
}

static int cg_open (lua_State *L) {
  Cgroup *g = tocg(L);
  return opensub(L, g, argname(L, 2, "self,name"), "open");
}

static int cg_mkdir (lua_State *L) {
  Cgroup *g = tocg(L);
  const char *name = argname(L, 2, "self,name,exist");
  ljArgs A;
  int exist, made = 1;
  lj_args(&A, L, "cgroup mkdir", "self,name,exist");
  exist = lj_optbool(&A, 3, 0);
  if (mkdirat(g->fd, name, 0755) != 0) {
    if (errno != EEXIST || !exist) {
      int err = errno;
      lua_pushfstring(L, "%s/%s", g->path, name);
      return failcg(L, "mkdir", lua_tostring(L, -1), NULL, err);
    }
    made = 0;
  }
  if (opensub(L, g, name, "open") != 1) return 3;
  lua_pushboolean(L, made);
  return 2;
}

static int cg_lock (lua_State *L) {
  Cgroup *g = tocg(L);
  if (flock(g->fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) { lua_pushboolean(L, 0); return 1; }
    return failcg(L, "flock", g->path, NULL, errno);
  }
  g->owned = g->parent >= 0;
  lua_pushboolean(L, 1);
  return 1;
}

static int cg_read (lua_State *L) {
  Cgroup *g = tocg(L);
  const char *file = argname(L, 2, "self,file");
  luaL_Buffer b;
  int fd = openat(g->fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return failcg(L, "read", g->path, file, errno);
  luaL_buffinit(L, &b);
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    ssize_t r = read(fd, p, LUAL_BUFFERSIZE);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      close(fd);
      return failcg(L, "read", g->path, file, err);
    }
    if (r == 0) break;
    luaL_addsize(&b, (size_t)r);
    if (luaL_bufflen(&b) > (1 << 24)) break;     /* enough of anything */
  }
  close(fd);
  luaL_pushresult(&b);
  return 1;
}

/* "key value" lines -> {key = value}; other lines are skipped */
static int cg_keyed (lua_State *L) {
  const char *s, *e;
  if (cg_read(L) != 1) return 3;
  s = lua_tostring(L, -1);
  lua_newtable(L);
  for (; *s; s = *e ? e + 1 : e) {
    char key[64];
    long long v;
    int n = 0;
    e = strchr(s, '\n');
    if (e == NULL) e = s + strlen(s);
    if (sscanf(s, "%63s %lld%n", key, &v, &n) == 2 && s + n <= e) {
      lua_pushinteger(L, (lua_Integer)v);
      lua_setfield(L, -2, key);
    }
  }
  return 1;
}

static int cg_write (lua_State *L) {
  Cgroup *g = tocg(L);
  const char *file = argname(L, 2, "self,file,text");
  ljArgs A;
  const char *text;
  int err;
  lj_args(&A, L, "cgroup write", "self,file,text");
  text = lj_argstr(&A, 3, NULL);
  if ((err = writeat(g->fd, file, text)) != 0) {
    lua_pushfstring(L, "%s/%s\" \"%s", g->path, file, text);
    return failcg(L, "write", lua_tostring(L, -1), NULL, err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int addpid (long pid, void *ud) {
  lua_State *L = (lua_State *)ud;
  lua_pushinteger(L, pid);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static int cg_pids (lua_State *L) {
  Cgroup *g = tocg(L);
  int err;
  lua_newtable(L);
  if ((err = eachpid(g->fd, addpid, L)) != 0)
    return failcg(L, "read", g->path, "cgroup.procs", err);
  return 1;
}

static int cg_children (lua_State *L) {
  Cgroup *g = tocg(L);
  int dup = openat(g->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
  DIR *d = dup >= 0 ? fdopendir(dup) : NULL;
  struct dirent *e;
  if (d == NULL) {
    int err = errno;
    if (dup >= 0) close(dup);
    return failcg(L, "list", g->path, NULL, err);
  }
  lua_newtable(L);
  while ((e = readdir(d)) != NULL)
    if (e->d_type == DT_DIR && e->d_name[0] != '.') {
      lua_pushstring(L, e->d_name);
      lua_rawseti(L, -2, ++n);
    }
  closedir(d);
  return 1;
}

static int cg_fd (lua_State *L) {
  lua_pushinteger(L, tocg(L)->fd);
  return 1;
}

static int cg_procsfd (lua_State *L) {
  Cgroup *g = tocg(L);
  if (g->procs < 0
      && (g->procs = openat(g->fd, "cgroup.procs", O_WRONLY | O_NOFOLLOW
                            | O_CLOEXEC)) < 0)
    return failcg(L, "open", g->path, "cgroup.procs", errno);
  lua_pushinteger(L, g->procs);
  return 1;
}

static int cg_kill (lua_State *L) {
  Cgroup *g = tocg(L);
  ljArgs A;
  double wait;
  int err;
  lj_args(&A, L, "cgroup kill", "self,wait");
  wait = lj_isnone(&A, 2) ? 0 : lj_argtime(&A, 2, 0, 60);
  if ((err = killall(g, wait)) != 0)
    return failcg(L, "kill", g->path, NULL, err);
  lua_pushboolean(L, 1);
  lua_pushboolean(L, !busy(g->fd));
  return 2;
}

static int cg_remove (lua_State *L) {
  Cgroup *g = tocg(L);
  int err;
  if (g->parent < 0) return failcg(L, "rmdir (opened by path)", g->path,
                                   NULL, EINVAL);
  if ((err = removetree(g->parent, g->name, 0)) != 0)
    return failcg(L, "rmdir", g->path, NULL, err);
  g->owned = 0;
  lua_pushboolean(L, 1);
  return 1;
}

static int cg_version (lua_State *L) {
  lua_pushinteger(L, tocg(L)->version);
  return 1;
}

static int cg_setkill (lua_State *L) {
  Cgroup *g = tocg(L);
  ljArgs A;
  lj_args(&A, L, "cgroup setkill", "self,on");
  g->kill = lj_argbool(&A, 2);
  return 0;
}

/* the one close: never raises; a locked cgroup is removed (killed first
** with setkill(true)); what cannot be removed yet is stale once our lock
** is gone, and the next sandbox made beside it removes it */
static int cg_close (lua_State *L) {
  Cgroup *g = (Cgroup *)luaL_checkudata(L, 1, LJ_CGROUP);
  if (g->fd >= 0 && g->owned) {
    if (g->kill) killall(g, GCWAIT);
    if (!busy(g->fd)) removetree(g->parent, g->name, 0);
  }
  g->owned = 0;
  closefd(&g->procs);
  closefd(&g->fd);
  closefd(&g->parent);
  return 0;
}

static int cg_index (lua_State *L) {
  Cgroup *g = (Cgroup *)luaL_checkudata(L, 1, LJ_CGROUP);
  const char *k = lua_tostring(L, 2);
  if (k && strcmp(k, "path") == 0) {
    lua_pushstring(L, g->path);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

static int cg_tostring (lua_State *L) {
  Cgroup *g = (Cgroup *)luaL_checkudata(L, 1, LJ_CGROUP);
  lua_pushfstring(L, "lunajail.Cgroup (%s%s)", g->path,
                  g->fd < 0 ? ", closed" : g->owned ? ", ours" : "");
  return 1;
}

/* core.cgroup_error(what, errno): what a failed spawn returns when its
** cgroup could not be made -- step 0, as the spawner's own failures */
static int l_cgroup_error (lua_State *L) {
  ljArgs A;
  ljOp op;
  ljStep s;
  lj_args(&A, L, "cgroup_error", "what,errno");
  memset(&op, 0, sizeof op);
  memset(&s, 0, sizeof s);
  op.name = "cgroup";
  s.op = &op;
  s.s[0] = lj_argstr(&A, 1, NULL);
  return lj_pushsteperr(L, &s, 0, (int)lj_argint(&A, 2, 1, 4095));
}

/* }====== */


void lj_open_cgroup (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "open", cg_open }, { "mkdir", cg_mkdir }, { "lock", cg_lock },
    { "read", cg_read }, { "keyed", cg_keyed }, { "write", cg_write },
    { "pids", cg_pids }, { "children", cg_children }, { "fd", cg_fd },
    { "procsfd", cg_procsfd }, { "kill", cg_kill }, { "remove", cg_remove },
    { "version", cg_version }, { "setkill", cg_setkill },
    { "close", cg_close }, { NULL, NULL }
  };
  luaL_newlib(L, meth);
  if (luaL_newmetatable(L, LJ_CGROUP)) {
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, cg_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, cg_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, cg_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, cg_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 2);
  lua_pushcfunction(L, l_cgroup_open);
  lua_setfield(L, -2, "cgroup_open");
  lua_pushcfunction(L, l_cgroup_error);
  lua_setfield(L, -2, "cgroup_error");
}
