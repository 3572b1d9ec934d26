/*
** path.c: resolving a path without being led astray, and the path
** queries.
**
** Two ways to open a path, both async-signal-safe (the spawned child
** uses them between clone and exec):
**   lj_openin       inside the root of a plan's {"beneath", root} step,
**                   as if it were / (RESOLVE_IN_ROOT): a symlink planted
**                   in a bound directory cannot lead out of the new root
**   lj_opennolinks  an absolute path of which no component is a symlink
**                   (RESOLVE_NO_SYMLINKS): a bind or overlay source on
**                   the host, which a payload may have written
** Each is openat2(2), or the same walk by hand where openat2 is missing
** (before Linux 5.6; valgrind).
**
** core.stat(path [, follow]), core.filetype(path [, follow]),
** core.realpath(path), core.readlink(path) and core.firstlink(path) are
** the parent's view of the host: the recipe
** compiler reads with them, and never through a process or a shell.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "lj.h"


/* {====== The walk by hand ======}
** One component at a time, O_NOFOLLOW, each opened from the fd of the
** one before; ".." goes back one fd and never above the start.  A
** symlink is, with NOLINKS, ELOOP, *stop then the length of the path up
** to and with it (RESOLVE_NO_SYMLINKS); else its target is spliced in
** front of what is left, from the start when absolute (RESOLVE_IN_ROOT).
** flags: O_PATH, maybe O_DIRECTORY.  The start fd stays open.
*/

#define MAXDEPTH 256                /* directories deep */
#define NOLINKS  1
#define LINKMAX  4096               /* a link's text is shorter (a text
                                       that fills it may be cut) */

static int walk (int start, const char *path, int flags, int how,
                 size_t *stop) {
  char buf[2][8192];
  int stack[MAXDEPTH], depth = 0, links = 0, k = 0, err = 0, fd = -1;
  const char *rest;
  size_t n = strlen(path);
  if (n >= sizeof buf[0]) return errno = ENAMETOOLONG, -1;
  memcpy(buf[0], path, n + 1);
  rest = buf[0];
  stack[0] = start;
  for (;;) {
    char comp[256], link[4096];
    struct stat st;
    size_t len;
    ssize_t ln;
    int cur = stack[depth];
    while (*rest == '/') rest++;
    if (*rest == '\0') {          /* the path ends on a directory */
      fd = openat(cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) err = errno;
      break;
    }
    len = strcspn(rest, "/");
    if (len >= sizeof comp) { err = ENAMETOOLONG; break; }
    memcpy(comp, rest, len);
    comp[len] = '\0';
    rest += len;
    if (strcmp(comp, ".") == 0) continue;
    if (strcmp(comp, "..") == 0) {
      if (depth > 0) close(stack[depth--]);
      continue;
    }
    if ((fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0
        || fstat(fd, &st) != 0) { err = errno; break; }
    if (S_ISLNK(st.st_mode) && how == NOLINKS) {
      if (stop) *stop = (size_t)(rest - buf[0]);   /* never spliced */
      err = ELOOP;
      break;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) { err = ELOOP; break; }
      if ((ln = readlinkat(fd, "", link, sizeof link - 1)) < 0) {
        err = errno;
        break;
      }
      close(fd);
      fd = -1;
      link[ln] = '\0';
      if (link[0] == '/')
        while (depth > 0) close(stack[depth--]);
      if ((size_t)ln + 1 + strlen(rest) >= sizeof buf[0]) {
        err = ENAMETOOLONG;
        break;
      }
      k = 1 - k;                   /* the link's target, then the rest */
      memcpy(buf[k], link, (size_t)ln);
      strcpy(buf[k] + ln, rest);
      rest = buf[k];
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {    /* only the last may be no directory */
      while (*rest == '/') rest++;
      if (*rest != '\0') err = ENOTDIR;
      else if (flags & O_DIRECTORY) err = ENOTDIR;
      break;
    }
    if (depth + 1 >= MAXDEPTH) { err = ENAMETOOLONG; break; }
    stack[++depth] = fd;
    fd = -1;
  }
  while (depth > 0) close(stack[depth--]);
  if (err) {
    if (fd >= 0) close(fd);
    return errno = err, -1;
  }
  return fd;
}

/* an absolute path walked from "/" */
static int walkroot (const char *path, int flags, size_t *stop) {
  int root, fd, err;
  if (path[0] != '/') return errno = EINVAL, -1;
  if ((root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return -1;
  fd = walk(root, path, flags, NOLINKS, stop);
  err = errno;
  close(root);
  errno = err;
  return fd;
}

static int open2 (int dirfd, const char *path, int flags, uint64_t res) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = res;
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int lj_opennolinks (const char *path, int flags) {
  int fd = open2(AT_FDCWD, path, flags,
                   RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  return fd < 0 && errno == ENOSYS ? walkroot(path, flags, NULL) : fd;
}

int lj_openin (ljCtx *c, const char *rel, int flags) {
  int fd = open2(c->beneathfd, rel, flags,
                   RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  return fd < 0 && errno == ENOSYS ? walk(c->beneathfd, rel, flags, 0, NULL)
                                   : fd;
}

/* }====== */


/* {====== Beneath a root ======}
** A plan's {"beneath", root} step: from then on, every path under root
** that mount, bind and overlay (their target), mkdir_p, touch,
** write_file and symlink (the link) act on resolves inside root as if
** root were / (lj_openin): a symlink planted by whoever can write a
** directory bound into the sandbox -- the payload of an earlier run,
** say -- cannot lead a setup write or mount out of it.  A plan's step
** only: it changes how the steps after it resolve.
*/

const char *lj_inroot (ljCtx *c, const char *path) {
  size_t n;
  if (c->beneath == NULL) return NULL;
  n = strlen(c->beneath);
  if (strncmp(path, c->beneath, n) != 0 || (path[n] != '/' && path[n] != '\0'))
    return NULL;
  return path[n] ? path + n : "/";
}

static void beneath_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
}

static int beneath_apply (const ljStep *s, ljCtx *c) {
  int fd = open(s->s[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  if (c->beneath) close(c->beneathfd);
  c->beneath = s->s[0];
  c->beneathfd = fd;
  return 0;
}

static const ljOp op_beneath = {
  "beneath", "root", LJ_PARENT(beneath_decode), beneath_apply, NULL, LJ_OPF_PLAN
};

/* }====== */


/* {====== Path queries ======}
** core.stat(path [, follow]) -> {type=, mode="0755", uid=, gid=, size=,
** dev=, ino=, mtime=} where type is "file", "dir", "link", "char", "block",
** "fifo" or "socket" (a symlink is itself unless follow) | nil, msg, errno
** core.realpath(path) -> the canonical path, every symlink resolved
** core.readlink(path) -> what the symlink path holds
** core.firstlink(path) -> the first component of the absolute path that
** is a symlink ("/srv/w/out" of "/srv/w/out/x") and what it holds, or
** false when none is; nil, msg, errno when the walk cannot go on (a
** component missing, no directory, no search permission)
*/

static const char *typename (mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "link";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFIFO: return "fifo";
    default: return "socket";
  }
}

/* lstat, or stat with follow: 0, or the failure pushed (2 values) */
static int dostat (lua_State *L, const char *name, struct stat *st,
                   const char **type) {
  ljArgs A;
  const char *path;
  lj_args(&A, L, name, "path,follow");
  path = lj_argpath(&A, 1);
  if ((lj_optbool(&A, 2, 0) ? stat(path, st) : lstat(path, st)) != 0)
    return lj_pushfail(L, lua_pushfstring(L, "stat(\"%s\")", path), errno);
  *type = typename(st->st_mode);
  return 0;
}

/* core.filetype(path [, follow]): stat's type alone, no table */
static int l_filetype (lua_State *L) {
  struct stat st;
  const char *type;
  int n = dostat(L, "filetype", &st, &type);
  if (n) return n;
  lua_pushstring(L, type);
  return 1;
}

static int l_stat (lua_State *L) {
  struct stat st;
  const char *type;
  char mode[8];
  int n = dostat(L, "stat", &st, &type);
  if (n) return n;
  mode[0] = '0';
  mode[1] = (char)('0' + ((st.st_mode >> 9) & 7));
  mode[2] = (char)('0' + ((st.st_mode >> 6) & 7));
  mode[3] = (char)('0' + ((st.st_mode >> 3) & 7));
  mode[4] = (char)('0' + (st.st_mode & 7));
  mode[5] = '\0';
  lua_createtable(L, 0, 8);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "type");
  lua_pushstring(L, mode);
  lua_setfield(L, -2, "mode");
  lua_pushinteger(L, st.st_uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, st.st_gid);
  lua_setfield(L, -2, "gid");
  lua_pushinteger(L, st.st_size);
  lua_setfield(L, -2, "size");
  lua_pushinteger(L, (lua_Integer)st.st_dev);
  lua_setfield(L, -2, "dev");
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  lua_setfield(L, -2, "ino");
  lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
  lua_setfield(L, -2, "mtime");
  return 1;
}

static int l_realpath (lua_State *L) {
  ljArgs A;
  char buf[4096];
  const char *path;
  lj_args(&A, L, "realpath", "path");
  path = lj_argpath(&A, 1);
  if (realpath(path, buf) == NULL)
    return lj_pushfail(L, lua_pushfstring(L, "realpath(\"%s\")", path), errno);
  lua_pushstring(L, buf);
  return 1;
}

/* readlink's whole text into buf (NUL-ended): its length, or -1 with
** errno (ENAMETOOLONG: it would not fit) */
static ssize_t linktext (const char *path, char *buf, size_t size) {
  ssize_t n = readlink(path, buf, size - 1);
  if (n >= 0 && (size_t)n == size - 1) {
    errno = ENAMETOOLONG;
    return -1;
  }
  if (n >= 0) buf[n] = '\0';
  return n;
}

/* the link's text onto the stack, or a failure's three values */
static int pushlink (lua_State *L, const char *path) {
  char buf[LINKMAX + 1];
  ssize_t n = linktext(path, buf, sizeof buf);
  if (n < 0)
    return lj_pushfail(L, lua_pushfstring(L, "readlink(\"%s\")", path), errno);
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int l_readlink (lua_State *L) {
  ljArgs A;
  lj_args(&A, L, "readlink", "path");
  return pushlink(L, lj_argpath(&A, 1));
}

/* the first symlink on an absolute path's walk from "/" (l->buf: its
** path, NUL-ended, l->stop bytes; then its text, l->n bytes, at
** l->to): 0 none, 1 found, -1 the walk failed, -2 the link could not be
** read (errno) */
typedef struct Link {
  char buf[2 * (LINKMAX + 1)];
  size_t stop;
  char *to;
  ssize_t n;
} Link;

static int firstlinkof (const char *path, Link *l) {
  int fd;
  l->stop = 0;
  if ((fd = walkroot(path, O_PATH, &l->stop)) >= 0) {
    close(fd);
    return 0;
  }
  if (errno != ELOOP || l->stop == 0) return -1;
  if (l->stop > LINKMAX) return errno = ENAMETOOLONG, -1;
  memcpy(l->buf, path, l->stop);
  l->buf[l->stop] = '\0';
  l->to = l->buf + l->stop + 1;
  return (l->n = linktext(l->buf, l->to, LINKMAX + 1)) < 0 ? -2 : 1;
}

static int l_firstlink (lua_State *L) {
  ljArgs A;
  Link l;
  const char *path;
  lj_args(&A, L, "firstlink", "path");
  path = lj_argabs(&A, 1);
  switch (firstlinkof(path, &l)) {
    case 0: lua_pushboolean(L, 0); return 1;
    case 1:
      lua_pushlstring(L, l.buf, l.stop);
      lua_pushlstring(L, l.to, (size_t)l.n);
      return 2;
    case -1:
      return lj_pushfail(L, lua_pushfstring(L, "firstlink(\"%s\")", path),
                         errno);
    default:
      return lj_pushfail(L, lua_pushfstring(L, "readlink(\"%s\")", l.buf),
                         errno);
  }
}

/* core.samehost(answers) -> true while the host answers every query as
** it did, false at the first that differs: the list compile.lua notes
** while compiling (its fourth value), entries
**   {"stat", path, follow, type | false}
**   {"readlink", path, false, text | false}
**   {"firstlink", path, false, link, to, errno}  (firstlink's values, a
**                                                 nil or a message false)
** A kept plan is re-checked with it at every spawn (compile.current): the
** system calls alone, no Lua per path.  A failed firstlink counts by its
** errno (its message is made of the path and the errno). */
static int sametext (lua_State *L, int e, int k, const char *s, size_t n) {
  size_t len;
  const char *t;
  int same;
  if (lua_rawgeti(L, e, k) != LUA_TSTRING) {
    same = s == NULL && !lua_toboolean(L, -1);
    lua_pop(L, 1);
    return same;
  }
  t = lua_tolstring(L, -1, &len);
  same = s != NULL && len == n && memcmp(s, t, n) == 0;
  lua_pop(L, 1);
  return same;
}

static int sameanswer (lua_State *L, int e) {
  char buf[LINKMAX + 1];
  const char *q, *path;
  struct stat st;
  Link l;
  ssize_t n;
  int same = 0;
  lua_rawgeti(L, e, 1);
  lua_rawgeti(L, e, 2);
  q = lua_tostring(L, -2);
  path = lua_tostring(L, -1);
  if (!q || !path) luaL_error(L, "samehost: an answer without its query");
  if (strcmp(q, "stat") == 0) {
    int r;
    lua_rawgeti(L, e, 3);
    r = lua_toboolean(L, -1) ? stat(path, &st) : lstat(path, &st);
    lua_pop(L, 1);
    same = r == 0 ? sametext(L, e, 4, typename(st.st_mode),
                             strlen(typename(st.st_mode)))
                  : sametext(L, e, 4, NULL, 0);
  }
  else if (strcmp(q, "readlink") == 0) {
    n = linktext(path, buf, sizeof buf);
    same = sametext(L, e, 4, n < 0 ? NULL : buf, n < 0 ? 0 : (size_t)n);
  }
  else if (strcmp(q, "firstlink") == 0) {
    int r = path[0] == '/' ? firstlinkof(path, &l) : (errno = EINVAL, -1);
    if (r == 0)                    /* none: false, false, false */
      same = sametext(L, e, 4, NULL, 0) && sametext(L, e, 5, NULL, 0)
             && sametext(L, e, 6, NULL, 0);
    else if (r == 1)               /* the link and its text */
      same = sametext(L, e, 4, l.buf, l.stop)
             && sametext(L, e, 5, l.to, (size_t)l.n)
             && sametext(L, e, 6, NULL, 0);
    else {                         /* a failure: nil, message, errno */
      int err = errno;
      same = lua_rawgeti(L, e, 4) == LUA_TNIL;
      lua_pop(L, 1);
      lua_rawgeti(L, e, 6);
      same = same && lua_isinteger(L, -1) && lua_tointeger(L, -1) == err;
      lua_pop(L, 1);
    }
  }
  else luaL_error(L, "samehost: unknown query '%s'", q);
  lua_pop(L, 2);
  return same;
}

static int l_samehost (lua_State *L) {
  lua_Integer k, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  n = (lua_Integer)lua_rawlen(L, 1);
  for (k = 1; k <= n; k++) {
    int same;
    if (lua_rawgeti(L, 1, k) != LUA_TTABLE)
      luaL_error(L, "samehost: answers[%d]: a table expected", (int)k);
    same = sameanswer(L, lua_gettop(L));
    lua_pop(L, 1);
    if (!same) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* }====== */


const ljOp *const lj_ops_path[] = { &op_beneath, NULL };

void lj_open_path (lua_State *L) {
  lua_pushcfunction(L, l_stat);
  lua_setfield(L, -2, "stat");
  lua_pushcfunction(L, l_filetype);
  lua_setfield(L, -2, "filetype");
  lua_pushcfunction(L, l_realpath);
  lua_setfield(L, -2, "realpath");
  lua_pushcfunction(L, l_readlink);
  lua_setfield(L, -2, "readlink");
  lua_pushcfunction(L, l_samehost);
  lua_setfield(L, -2, "samehost");
  lua_pushcfunction(L, l_firstlink);
  lua_setfield(L, -2, "firstlink");
}
