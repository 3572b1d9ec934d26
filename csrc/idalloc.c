/*
** idalloc.c: host ids leased to sandboxes (uid = "auto" as root).
**
**   core.idlease{ first =, count =, lockdir = "/run/lunajail",
**                 exclude = {{from, to}, ...}, proc = "/proc" | false }
**     -> lease | nil, message, errno
**   lease:id()     the id: a uid, and the gid of the same number
**   lease:close()  == __close == __gc: releases it; idempotent
**
** An id is drawn from [first, first + count), starting at a random place
** and going up (wrapping once), and is skipped when an `exclude` interval
** (inclusive; the Lua side reads /etc/passwd, /etc/subuid, ...) covers it
** or a process uses it (a scan of proc's status files, once per lease;
** proc = false: no scan).  It is taken with an fcntl OFD write lock on
** the byte at offset `id` of
** LOCKDIR/ids.lock: one file for every range (the offset is the id), so
** allocators with different ranges still agree.  A lock that is held
** means "leased": the next id.  No lock directory, no lease: nothing falls
** back to an unlocked draw.
**
** Each lease opens the file anew, so its lock belongs to its own open file
** description: OFD locks of different descriptions conflict even within
** one process (threads, several Lua states), unlike POSIX record locks.
** The lock lasts while any fd of that description is open: the lease's,
** then the child object's (core.spawn's plan.lease moves it there; closed
** once the child is reaped) and lunajail-init's copy (child.c hands it to
** init, which keeps it from the payload and holds it until the sandbox
** ends).  Every failure mode holds a lock too long, never too short.
**
** The lock directory is walked from / one component at a time, never
** through a symlink; every directory on the way must belong to root or
** to us and be writable by nobody else (or sticky, as /tmp is), and the
** last must be ours and 0700 (made so when it is missing).  So nobody but
** us can swap the lock file, which would give two sandboxes one id.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "spawn.h"

#define MAXID     4294967294LL     /* (uid_t)-1 is not an id */
#define LOCKFILE  "ids.lock"
#define PF_KTHREAD 0x00200000      /* /proc/PID/stat flags */


/* {====== The lock directory and file ======} */

/* a directory we may trust: root's or ours, writable by nobody else
** unless sticky; the last one ours and 0700 */
static const char *baddir (const struct stat *st, int last) {
  uid_t me = geteuid();
  if (!S_ISDIR(st->st_mode)) return "not a directory";
  if (last) {
    if (st->st_uid != me) return "not owned by us";
    if (st->st_mode & 077) return "not mode 0700";
    return NULL;
  }
  if (st->st_uid != 0 && st->st_uid != me) return "owned by another user";
  if ((st->st_mode & 022) && !(st->st_mode & S_ISVTX))
    return "writable by group or others";
  return NULL;
}

typedef struct Why {               /* what failed, for the message */
  char text[400];
  int err;
} Why;

/* "idlease: lock directory PATH[: WHAT]", what formatted with arg */
static int fail (Why *w, int err, const char *path, const char *what,
                 const char *arg) {
  int n = snprintf(w->text, sizeof w->text, "idlease: lock directory %s",
                   path);
  if (what && n > 0 && (size_t)n < sizeof w->text) {
    w->text[n++] = ':';
    w->text[n++] = ' ';
    snprintf(w->text + n, sizeof w->text - (size_t)n, what, arg);
  }
  w->err = err;
  return -1;
}

/* fd's directory is one to trust (see baddir), else fail */
static int checkdir (int fd, int last, const char *path, Why *w) {
  struct stat st;
  const char *bad;
  if (fstat(fd, &st) != 0) return fail(w, errno, path, NULL, NULL);
  if ((bad = baddir(&st, last)) == NULL) return 0;
  return fail(w, EPERM, path, last ? "%s (it must be a directory of our "
              "own, mode 0700)" : "a directory on the way is %s", bad);
}

/* the next component under fd, never a symlink; made 0700 if last */
static int walk (int fd, const char *comp, int last, const char *path,
                 Why *w) {
  int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (next < 0 && errno == ENOENT && last) {
    if (mkdirat(fd, comp, 0700) != 0 && errno != EEXIST)
      return fail(w, errno, path, "mkdir", NULL);
    next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (next >= 0) return next;
  if (errno == ENOTDIR || errno == ELOOP)
    return fail(w, ENOTDIR, path, "%s is a symlink or not a directory",
                comp);
  return fail(w, errno, path, "%s", comp);
}

/* the lock directory, walked from / one component at a time */
static int opendir_safe (const char *path, Why *w) {
  char comp[256];
  const char *p = path;
  int fd, next;
  if (path[0] != '/')
    return fail(w, EINVAL, path, "an absolute path expected", NULL);
  if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return fail(w, errno, path, "/", NULL);
  for (;;) {
    size_t n;
    int last;
    while (*p == '/') p++;
    if ((n = strcspn(p, "/")) == 0) break;         /* "/" itself */
    last = p[n + strspn(p + n, "/")] == '\0';
    if (n >= sizeof comp || (n <= 2 && strncmp(p, "..", n) == 0)) {
      close(fd);
      return fail(w, EINVAL, path, "a plain path expected (no . or ..)",
                  NULL);
    }
    memcpy(comp, p, n);
    comp[n] = '\0';
    if (checkdir(fd, 0, path, w) != 0 || (next = walk(fd, comp, last, path,
                                                      w)) < 0) {
      close(fd);
      return -1;
    }
    close(fd);
    fd = next;
    p += n;
    if (last) break;
  }
  if (checkdir(fd, 1, path, w) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* LOCKDIR/ids.lock, a regular file of ours with one link */
static int openlock (int dir, const char *path, Why *w) {
  struct stat st;
  int fd = openat(dir, LOCKFILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC
                  | O_NONBLOCK, 0600);
  if (fd < 0) return fail(w, errno, path, LOCKFILE, NULL);
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail(w, e, path, LOCKFILE, NULL);
  }
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != geteuid()
      || (st.st_mode & 077)) {
    close(fd);
    return fail(w, EPERM, path, LOCKFILE ": not a regular file of ours, "
                "mode 0600, with one link", NULL);
  }
  return fd;
}

/* 0 taken, 1 leased by someone else, else -1 (errno) */
static int trylock (int fd, int64_t id) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)id;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 0;
  return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

/* }====== */


/* {====== Ids in use: a scan of /proc ======}
** Every process's status, Uid:, Gid: and Groups: lines (threads that
** changed their own ids are not seen).  Kernel threads, always root, are
** skipped when kthreadd is pid 2 here: its children are all of them.
*/

typedef struct Ids {               /* a growing list of ids */
  int64_t *v;
  size_t n, cap;
} Ids;

static int addid (Ids *s, int64_t id) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    int64_t *v = (int64_t *)realloc(s->v, cap * sizeof *v);
    if (v == NULL) return -1;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = id;
  return 0;
}

static int cmpid (const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int hasid (const Ids *s, int64_t id) {
  return s->n > 0 && bsearch(&id, s->v, s->n, sizeof id, cmpid) != NULL;
}

/* the file's first size-1 bytes, NUL-terminated; -1 if unreadable */
static ssize_t readat (int dir, const char *name, char *buf, size_t size) {
  ssize_t n, got = 0;
  int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  while ((size_t)got < size - 1
         && (n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
    got += n;
  close(fd);
  buf[got] = '\0';
  return got;
}

/* the pids of the kernel threads (kthreadd's children), sorted; empty
** when pid 2 is not kthreadd (a pid namespace of our own) */
static int kthreads (int proc, Ids *k) {
  char buf[16384], *p;
  ssize_t n;
  int field;
  if (readat(proc, "2/stat", buf, sizeof buf) <= 0
      || (p = strrchr(buf, ')')) == NULL)
    return 0;
  for (field = 3; field <= 9 && p; field++) p = strchr(p + 1, ' ');
  if (p == NULL || !(strtoul(p + 1, NULL, 10) & PF_KTHREAD)) return 0;
  if (addid(k, 2) != 0) return -1;
  if ((n = readat(proc, "2/task/2/children", buf, sizeof buf)) < 0)
    return 0;
  if ((size_t)n == sizeof buf - 1 && (p = strrchr(buf, ' ')) != NULL)
    *p = '\0';                    /* cut short: not a piece of a pid */
  for (p = buf; *p; ) {
    char *end;
    unsigned long pid = strtoul(p, &end, 10);
    if (end == p) break;
    if (addid(k, (int64_t)pid) != 0) return -1;
    p = end;
  }
  qsort(k->v, k->n, sizeof *k->v, cmpid);
  return 0;
}

/* the ids of one "Uid:\t1\t2\t3\t4" style line that fall in the range */
static int lineids (const char *buf, const char *key, int64_t first,
                    int64_t count, Ids *used) {
  const char *p = strstr(buf, key);
  if (p == NULL) return 0;
  p += strlen(key);
  while (*p && *p != '\n') {
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p) break;
    if ((int64_t)v >= first && (int64_t)v - first < count
        && addid(used, (int64_t)v) != 0)
      return -1;
    p = end;
  }
  return 0;
}

/* every id in [first, first+count) a process has; 0 or an errno */
static int scanproc (const char *path, int64_t first, int64_t count,
                     Ids *used) {
  Ids kt = { NULL, 0, 0 };
  struct dirent *e;
  DIR *d;
  int proc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;
  if (proc < 0) return errno;
  if ((d = fdopendir(proc)) == NULL) {
    err = errno;
    close(proc);
    return err;
  }
  if (kthreads(proc, &kt) != 0) err = ENOMEM;
  while (!err && (e = readdir(d)) != NULL) {
    char name[64], buf[4096];
    char *end;
    unsigned long pid = strtoul(e->d_name, &end, 10);
    if (*end || end == e->d_name || hasid(&kt, (int64_t)pid)) continue;
    snprintf(name, sizeof name, "%lu/status", pid);
    if (readat(proc, name, buf, sizeof buf) <= 0) continue;  /* gone */
    if (lineids(buf, "\nUid:", first, count, used) != 0
        || lineids(buf, "\nGid:", first, count, used) != 0
        || lineids(buf, "\nGroups:", first, count, used) != 0)
      err = ENOMEM;
  }
  closedir(d);
  free(kt.v);
  if (used->n) qsort(used->v, used->n, sizeof *used->v, cmpid);
  return err;
}

/* }====== */


/* {====== Drawing an id ======}
** Unusable ids are inclusive intervals [a, b], sorted and merged: the
** exclusions and the ids in use.  From a random start, the first usable
** id whose lock we get.
*/

typedef struct Span { int64_t a, b; } Span;

static int cmpspan (const void *x, const void *y) {
  const Span *p = (const Span *)x, *q = (const Span *)y;
  return (p->a > q->a) - (p->a < q->a);
}

static size_t merge (Span *s, size_t n) {
  size_t i, k = 0;
  if (n == 0) return 0;
  qsort(s, n, sizeof *s, cmpspan);
  for (i = 1; i < n; i++) {
    if (s[i].a <= s[k].b + 1) {
      if (s[i].b > s[k].b) s[k].b = s[i].b;
    }
    else s[++k] = s[i];
  }
  return k + 1;
}

/* the first id >= id that no span covers */
static int64_t usable (const Span *s, size_t n, int64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {                      /* the last span with a <= id */
    size_t mid = (lo + hi) / 2;
    if (s[mid].a <= id) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && s[lo - 1].b >= id) return s[lo - 1].b + 1;  /* merged: */
  return id;                             /* the next span starts later */
}

static uint64_t randomness (void) {
  uint64_t r = 0;
  struct timespec ts;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r) return r;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)getpid()
         ^ (uint64_t)ts.tv_sec;
}

/* the id leased on fd, or -1 with errno (EUSERS: none left) */
static int64_t draw (int fd, int64_t first, int64_t count, const Span *s,
                     size_t n) {
  int64_t end = first + count, start = first
                + (int64_t)(randomness() % (uint64_t)count), id = start;
  int wrapped = 0;
  for (;;) {
    int r;
    id = usable(s, n, id);
    if (!wrapped && id >= end) { wrapped = 1; id = first; continue; }
    if (id >= end || (wrapped && id >= start)) break;
    if ((r = trylock(fd, id)) == 0) return id;
    if (r < 0) return -1;
    id++;
  }
  errno = EUSERS;
  return -1;
}

/* }====== */


/* {====== core.idlease and the lease object ======} */

static ljLease *tolease (lua_State *L) {
  return (ljLease *)luaL_checkudata(L, 1, LJ_LEASE);
}

static int lease_close (lua_State *L) {
  ljLease *l = tolease(L);
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  return 0;
}

static int lease_id (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)tolease(L)->id);
  return 1;
}

static int lease_tostring (lua_State *L) {
  ljLease *l = tolease(L);
  lua_pushfstring(L, "lunajail.Lease (id %I, %s)", (lua_Integer)l->id,
                  l->fd >= 0 ? "held" : "released or handed to a child");
  return 1;
}

/* opts[k]: an integer in [min, max] */
static int64_t intfield (ljArgs *A, const char *k, int64_t min,
                         int64_t max) {
  lua_State *L = A->L;
  lua_Integer v;
  int isint;
  lua_getfield(L, 1, k);
  v = lua_tointegerx(L, -1, &isint);
  if (!isint || lua_type(L, -1) != LUA_TNUMBER || v < min || v > max)
    lj_argerror(A, 1, "%s: an integer from %I to %I expected", k,
                (lua_Integer)min, (lua_Integer)max);
  lua_pop(L, 1);
  return v;
}

/* opts[k]: an absolute path, def when absent, NULL when false (anchored
** by opts) */
static const char *pathfield (ljArgs *A, const char *k, const char *def) {
  lua_State *L = A->L;
  const char *s;
  int t = lua_getfield(L, 1, k);
  if (t == LUA_TNIL || (t == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    lua_pop(L, 1);
    return t == LUA_TNIL ? def : NULL;
  }
  s = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || s[0] != '/'
      || strlen(s) != lua_rawlen(L, -1))
    lj_argerror(A, 1, "%s: an absolute path expected", k);
  lua_pop(L, 1);
  return s;
}

/* opts.exclude = {{from, to}, ...} -> spans, in a userdata on the stack */
static Span *exclusions (ljArgs *A, size_t *n) {
  lua_State *L = A->L;
  Span *s;
  lua_Integer i, len = 0;
  int t;
  if (lua_getfield(L, 1, "exclude") != LUA_TNIL) {
    if (!lua_istable(L, -1)) lj_argerror(A, 1, "exclude: a table expected");
    len = (lua_Integer)lua_rawlen(L, -1);
    if (len > 1000000) lj_argerror(A, 1, "exclude: too many intervals");
  }
  t = lua_gettop(L);
  s = (Span *)lua_newuserdatauv(L, sizeof *s * (size_t)(len + 1), 0);
  for (i = 1; i <= len; i++) {
    lua_Integer a, b;
    int ok1, ok2;
    if (lua_rawgeti(L, t, i) != LUA_TTABLE)
      lj_argerror(A, 1, "exclude[%I]: {from, to} expected", i);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    a = lua_tointegerx(L, -2, &ok1);
    b = lua_tointegerx(L, -1, &ok2);
    if (!ok1 || !ok2 || a < 0 || b < a || b > MAXID)
      lj_argerror(A, 1, "exclude[%I]: {from, to} with 0 <= from <= to "
                  "expected", i);
    s[i - 1].a = a;
    s[i - 1].b = b;
    lua_pop(L, 3);
  }
  *n = (size_t)len;
  return s;
}

/* the exclusions and the ids in use, merged; NULL when out of memory */
static Span *unusable (const Span *ex, size_t nex, const Ids *used,
                       size_t *n) {
  Span *s = (Span *)malloc(sizeof *s * (nex + used->n + 1));
  size_t k;
  if (s == NULL) return NULL;
  memcpy(s, ex, sizeof *s * nex);
  for (k = 0; k < used->n; k++) s[nex + k].a = s[nex + k].b = used->v[k];
  *n = merge(s, nex + used->n);
  return s;
}

/* the lease on stack index 2 holds fd: the id, or fail */
static int lease (lua_State *L, ljLease *l, const char *dirpath,
                  const char *procpath, int64_t first, int64_t count,
                  const Span *ex, size_t nex) {
  Ids used = { NULL, 0, 0 };
  Span *spans = NULL;
  size_t n = 0;
  int64_t id = -1;
  int err = procpath ? scanproc(procpath, first, count, &used) : 0;
  const char *what = "idlease: scanning %s for ids in use";
  if (!err && (spans = unusable(ex, nex, &used, &n)) == NULL) err = ENOMEM;
  if (!err) {
    what = "idlease: fcntl(F_OFD_SETLK) on %s/" LOCKFILE;
    if ((id = draw(l->fd, first, count, spans, n)) < 0) err = errno;
  }
  free(used.v);
  free(spans);
  if (id >= 0) {
    l->id = id;
    lua_settop(L, 2);
    return 1;
  }
  close(l->fd);
  l->fd = -1;
  if (err == EUSERS)
    lua_pushfstring(L, "idlease: no free id in %I..%I (each one is leased, "
                    "in use or excluded)", (lua_Integer)first,
                    (lua_Integer)(first + count - 1));
  else lua_pushfstring(L, what, what[9] == 's' ? procpath : dirpath);
  return lj_pushfail(L, lua_tostring(L, -1), err);
}

static int l_idlease (lua_State *L) {
  ljArgs A;
  const char *dirpath, *procpath;
  int64_t first, count;
  size_t nex;
  Span *ex;
  ljLease *l;
  Why w;
  int dir;
  lj_args(&A, L, "idlease", "options");
  lj_argtable(&A, 1);
  lua_settop(L, 1);
  first = intfield(&A, "first", 1, MAXID);
  count = intfield(&A, "count", 1, MAXID - first + 1);
  if ((dirpath = pathfield(&A, "lockdir", "/run/lunajail")) == NULL)
    lj_argerror(&A, 1, "lockdir: an absolute path expected");
  procpath = pathfield(&A, "proc", "/proc");
  l = (ljLease *)lua_newuserdatauv(L, sizeof *l, 0);   /* 2: closed first */
  l->fd = -1;
  l->id = 0;
  luaL_setmetatable(L, LJ_LEASE);
  ex = exclusions(&A, &nex);                /* raises before any fd */
  memset(&w, 0, sizeof w);
  if ((dir = opendir_safe(dirpath, &w)) < 0)
    return lj_pushfail(L, w.text, w.err);
  l->fd = openlock(dir, dirpath, &w);
  close(dir);
  if (l->fd < 0) return lj_pushfail(L, w.text, w.err);
  return lease(L, l, dirpath, procpath, first, count, ex, nex);
}

/* core.idsinuse{first =, count =, proc = "/proc"} -> {id, ...}: the ids
** of the range some process has (the scan a lease makes), sorted, so
** that a caller may keep them a moment (lunajail.ids) | nil, msg, errno */
static int l_idsinuse (lua_State *L) {
  ljArgs A;
  Ids used = { NULL, 0, 0 };
  const char *procpath;
  int64_t first, count;
  size_t k;
  int err;
  lj_args(&A, L, "idsinuse", "options");
  lj_argtable(&A, 1);
  lua_settop(L, 1);
  first = intfield(&A, "first", 1, MAXID);
  count = intfield(&A, "count", 1, MAXID - first + 1);
  if ((procpath = pathfield(&A, "proc", "/proc")) == NULL)
    lj_argerror(&A, 1, "proc: an absolute path expected");
  if ((err = scanproc(procpath, first, count, &used)) != 0) {
    free(used.v);
    return lj_pushfail(L, lua_pushfstring(L, "idsinuse: scanning %s", procpath), err);
  }
  lua_createtable(L, (int)used.n, 0);
  for (k = 0; k < used.n; k++) {
    lua_pushinteger(L, (lua_Integer)used.v[k]);
    lua_rawseti(L, -2, (lua_Integer)k + 1);
  }
  free(used.v);
  return 1;
}

/* }====== */


void lj_open_idalloc (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "id", lease_id }, { "close", lease_close }, { NULL, NULL }
  };
  if (luaL_newmetatable(L, LJ_LEASE)) {
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, lease_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lease_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, lease_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_idlease);
  lua_setfield(L, -2, "idlease");
  lua_pushcfunction(L, l_idsinuse);
  lua_setfield(L, -2, "idsinuse");
}
