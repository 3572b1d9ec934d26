/*
** ids.c: setresuid, setresgid, setgroups, setfsuid, setfsgid and the
** getters.
**
** The raw system calls, never glibc's wrappers: those broadcast the change
** to every thread of the process (SIGSETXID), and a spawner child that
** shares the host's memory would change the host's threads.  So each call
** here changes the calling thread, as the kernel does.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lj.h"

#define MAXID  4294967294LL        /* (uid_t)-1 means "unchanged": refused */
#define MAXGROUPS 65536


/* {====== setresuid, setresgid ======}
** setresuid(r [, e [, s]]): e and s default to r.
*/

static void setres_decode (ljArgs *A, ljStep *s) {
  s->i[0] = lj_argint(A, 1, 0, MAXID);
  s->i[1] = lj_optint(A, 2, 0, MAXID, s->i[0]);
  s->i[2] = lj_optint(A, 3, 0, MAXID, s->i[0]);
}

static int setresuid_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return syscall(SYS_setresuid, (uid_t)s->i[0], (uid_t)s->i[1],
                 (uid_t)s->i[2]) == 0 ? 0 : errno;
}

static int setresgid_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return syscall(SYS_setresgid, (gid_t)s->i[0], (gid_t)s->i[1],
                 (gid_t)s->i[2]) == 0 ? 0 : errno;
}

static void setres_describe (const ljStep *s, ljBuf *b) {
  int k;
  for (k = 0; k < 3; k++) {
    if (k) lj_bufadd(b, ", ");
    lj_bufaddint(b, s->i[k]);
  }
}

static const ljOp op_setresuid = {
  "setresuid", "ruid,euid,suid", LJ_PARENT(setres_decode), setresuid_apply,
  LJ_PARENT(setres_describe), LJ_OPF_CREDS
};

static const ljOp op_setresgid = {
  "setresgid", "rgid,egid,sgid", LJ_PARENT(setres_decode), setresgid_apply,
  LJ_PARENT(setres_describe), LJ_OPF_CREDS
};

/* }====== */


/* {====== setgroups ======} */

static void setgroups_decode (ljArgs *A, ljStep *s) {
  lua_State *L = A->L;
  int idx = lj_argtable(A, 1);
  lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
  gid_t *g;
  if (len > MAXGROUPS) lj_argerror(A, 1, "more than %d groups", MAXGROUPS);
  g = (gid_t *)lj_alloc(L, A->arena, sizeof(gid_t) * (size_t)(len + 1));
  for (i = 1; i <= len; i++) {
    int isint;
    lua_Integer v;
    lua_rawgeti(L, idx, i);
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER || v < 0 || v > MAXID)
      lj_argerror(A, 1, "item %I: gid expected", i);
    g[i - 1] = (gid_t)v;
    lua_pop(L, 1);
  }
  s->i[0] = len;
  s->p = g;
  s->plen = sizeof(gid_t) * (size_t)len;
}

static int setgroups_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return syscall(SYS_setgroups, (size_t)s->i[0], (const gid_t *)s->p) == 0
         ? 0 : errno;
}

static void setgroups_describe (const ljStep *s, ljBuf *b) {
  const gid_t *g = (const gid_t *)s->p;
  int64_t k;
  lj_bufadd(b, "{");
  for (k = 0; k < s->i[0] && k < 8; k++) {
    if (k) lj_bufadd(b, ", ");
    lj_bufaddint(b, g[k]);
  }
  lj_bufadd(b, s->i[0] > 8 ? ", ...}" : "}");
}

static const ljOp op_setgroups = {
  "setgroups", "groups", LJ_PARENT(setgroups_decode), setgroups_apply,
  LJ_PARENT(setgroups_describe), 0
};

/* }====== */


/* {====== setfsuid, setfsgid ======}
** The ids file access is checked and files are made with, alone: the
** setup as root writes under an owner bind (an idmapped bind, mount.c)
** as the sandbox's uid, which the mapping stores as the owner's; root's
** own uid is not mapped there (EOVERFLOW).  A non-zero fsuid takes the
** file-system capabilities (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER,
** ...) out of the effective set, and setfsuid(0) gives them back.  The
** kernel reports nothing: the id is read back (setfsuid(-1) changes
** nothing), EPERM if it did not take.
*/

static void setfs_decode (ljArgs *A, ljStep *s) {
  s->i[0] = lj_argint(A, 1, 0, MAXID);
}

static int setfsuid_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  syscall(SYS_setfsuid, (uid_t)s->i[0]);
  return (int64_t)(unsigned)syscall(SYS_setfsuid, (uid_t)-1) == s->i[0]
         ? 0 : EPERM;
}

static int setfsgid_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  syscall(SYS_setfsgid, (gid_t)s->i[0]);
  return (int64_t)(unsigned)syscall(SYS_setfsgid, (gid_t)-1) == s->i[0]
         ? 0 : EPERM;
}

static void setfs_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddint(b, s->i[0]);
}

static const ljOp op_setfsuid = {
  "setfsuid", "fsuid", LJ_PARENT(setfs_decode), setfsuid_apply,
  LJ_PARENT(setfs_describe), LJ_OPF_CREDS
};

static const ljOp op_setfsgid = {
  "setfsgid", "fsgid", LJ_PARENT(setfs_decode), setfsgid_apply,
  LJ_PARENT(setfs_describe), LJ_OPF_CREDS
};

/* }====== */


/* {====== Getters ======} */

static int getres (lua_State *L, long nr) {
  unsigned r, e, s;                      /* uid_t and gid_t alike */
  if (syscall(nr, &r, &e, &s) != 0)
    return lj_pushfail(L, "getres[ug]id", errno);
  lua_pushinteger(L, r);
  lua_pushinteger(L, e);
  lua_pushinteger(L, s);
  return 3;
}

static int l_getresuid (lua_State *L) { return getres(L, SYS_getresuid); }
static int l_getresgid (lua_State *L) { return getres(L, SYS_getresgid); }

/* the list in a userdata: up to 256 KB, too much for the C stack of an
** embedder's thread */
static int l_getgroups (lua_State *L) {
  gid_t *g;
  int n, i;
  do {                             /* size > 0: getgroups always stores */
    if ((n = getgroups(0, NULL)) < 0)
      return lj_pushfail(L, "getgroups", errno);
    g = (gid_t *)lua_newuserdatauv(L, sizeof(gid_t) * (size_t)(n + 1), 0);
    n = getgroups(n + 1, g);       /* EINVAL: it grew meanwhile (threads) */
    if (n < 0 && errno != EINVAL) return lj_pushfail(L, "getgroups", errno);
    if (n < 0) lua_pop(L, 1);
  } while (n < 0);
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, g[i]);
    lua_seti(L, -2, i + 1);
  }
  return 1;
}

/* }====== */


const ljOp *const lj_ops_ids[] = {
  &op_setresuid, &op_setresgid, &op_setgroups, &op_setfsuid, &op_setfsgid,
  NULL
};

void lj_open_ids (lua_State *L) {
  static const luaL_Reg fns[] = {
    { "getresuid", l_getresuid }, { "getresgid", l_getresgid },
    { "getgroups", l_getgroups }, { NULL, NULL }
  };
  luaL_setfuncs(L, fns, 0);
}
