/*
** ns.c: namespaces (unshare, setns), host and domain names, and the
** uid/gid maps of a user namespace.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "lj.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const ljName nsflags[] = {
  { "user", CLONE_NEWUSER, NULL }, { "pid", CLONE_NEWPID, NULL },
  { "mount", CLONE_NEWNS, "CLONE_NEWNS" }, { "net", CLONE_NEWNET, NULL },
  { "uts", CLONE_NEWUTS, NULL }, { "ipc", CLONE_NEWIPC, NULL },
  { "cgroup", CLONE_NEWCGROUP, NULL }, { "time", CLONE_NEWTIME, NULL },
  { NULL, 0, NULL }
};

const ljNames lj_nsflags = { "namespace", "CLONE_NEW", nsflags };


/* {====== unshare, setns ======} */

static void unshare_decode (ljArgs *A, ljStep *s) {
  s->i[0] = lj_argflags(A, 1, &lj_nsflags);
  if (s->i[0] == 0) lj_argerror(A, 1, "no namespace named");
}

static int unshare_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return unshare((int)s->i[0]) == 0 ? 0 : errno;
}

static void ns_describe (const ljStep *s, ljBuf *b) {
  if (s->op->apply == unshare_apply) { lj_bufaddflags(b, &lj_nsflags, s->i[0]); return; }
  if (s->s[0]) lj_bufaddq(b, s->s[0]);
  else { lj_bufadd(b, "fd "); lj_bufaddint(b, s->i[1]); }
  if (s->i[0]) { lj_bufadd(b, ", "); lj_bufaddflags(b, &lj_nsflags, s->i[0]); }
}

static const ljOp op_unshare = {
  "unshare", "namespaces", LJ_PARENT(unshare_decode), unshare_apply, LJ_PARENT(ns_describe), 0
};

/* setns(path_or_fd, nstype): nstype may be omitted (any type) */
static void setns_decode (ljArgs *A, ljStep *s) {
  int t = A->n < 1 ? LUA_TNONE : lua_type(A->L, lj_argidx(A, 1));
  if (t == LUA_TSTRING) s->s[0] = lj_argpath(A, 1);
  else if (t == LUA_TNUMBER) s->i[1] = s->usefd = lj_argfd(A, 1);
  else lj_argerror(A, 1, "path or fd expected, got %s",
                   lua_typename(A->L, t));     /* LUA_TNONE: "no value" */
  s->i[0] = lj_argflags(A, 2, &lj_nsflags);
}

static int setns_apply (const ljStep *s, ljCtx *c) {
  int fd = (int)s->i[1], err = 0;
  (void)c;
  if (s->s[0] && (fd = open(s->s[0], O_RDONLY | O_CLOEXEC)) < 0) return errno;
  if (setns(fd, (int)s->i[0]) != 0) err = errno;
  if (s->s[0]) close(fd);
  return err;
}

static const ljOp op_setns = {
  "setns", "path_or_fd,nstype", LJ_PARENT(setns_decode), setns_apply, LJ_PARENT(ns_describe), 0
};

/* }====== */


/* {====== sethostname, setdomainname ======} */

static void name_decode (ljArgs *A, ljStep *s) {
  size_t len;
  s->s[0] = lj_argstr(A, 1, &len);
  if (len > 64) lj_argerror(A, 1, "longer than 64 bytes");
}

static int hostname_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return sethostname(s->s[0], strlen(s->s[0])) == 0 ? 0 : errno;
}

static int domainname_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return setdomainname(s->s[0], strlen(s->s[0])) == 0 ? 0 : errno;
}

static const ljOp op_sethostname = {
  "sethostname", "name", LJ_PARENT(name_decode), hostname_apply, NULL, 0
};

static const ljOp op_setdomainname = {
  "setdomainname", "name", LJ_PARENT(name_decode), domainname_apply, NULL, 0
};

/* }====== */


/* {====== uid/gid maps ======}
** core.write_idmap(pid, "uid"|"gid", {{inside, outside, count}, ...})
** writes /proc/PID/uid_map or gid_map.  For a gid map written without
** CAP_SETGID in the parent namespace, the kernel requires
** /proc/PID/setgroups to say "deny" first: write_idmap does that when the
** kernel refuses the map.  core.write_setgroups(pid, "deny"|"allow").
** These run in the parent (the spawner writes a child's maps with them).
*/

int lj_writeproc (int pid, const char *file, const char *text) {
  char path[64];
  size_t len = strlen(text);
  int fd, err = 0;
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) return errno;
  if (write(fd, text, len) != (ssize_t)len) err = errno ? errno : EIO;
  close(fd);
  return err;
}

int lj_hascap (int cap) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) != 0) return 0;
  return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* maps text for a table of {inside, outside, count} at arg n */
void lj_argidmap (ljArgs *A, int n, luaL_Buffer *b) {
  lua_State *L = A->L;
  int idx = lj_argtable(A, n);
  lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
  if (len == 0 || len > 340) lj_argerror(A, n, "1 to 340 ranges expected");
  for (i = 1; i <= len; i++) {
    lua_Integer v[3];
    int k;
    if (lua_rawgeti(L, idx, i) != LUA_TTABLE)
      lj_argerror(A, n, "range %I: {inside, outside, count} expected", i);
    for (k = 0; k < 3; k++) {
      int isint = 0;              /* numbers only: no "0" strings */
      if (lua_rawgeti(L, -1 - k, k + 1) == LUA_TNUMBER)
        v[k] = lua_tointegerx(L, -1, &isint);
      if (!isint || v[k] < (k == 2) || v[k] > 4294967294LL)
        lj_argerror(A, n, "range %I: {inside, outside, count} expected", i);
    }
    lua_pop(L, 4);
    lua_pushfstring(L, "%I %I %I\n", v[0], v[1], v[2]);
    luaL_addvalue(b);
  }
  /* the kernel takes a map in one write of less than a page */
  if (luaL_bufflen(b) >= (size_t)sysconf(_SC_PAGESIZE))
    lj_argerror(A, n, "%I ranges make %I bytes, a page or more", len,
                (lua_Integer)luaL_bufflen(b));
}

static int write_idmap (lua_State *L) {
  ljArgs A;
  luaL_Buffer b;
  int pid, err;
  const char *kind, *what, *text;
  lj_args(&A, L, "write_idmap", "pid,kind,maps");
  pid = (int)lj_argint(&A, 1, 1, INT32_MAX);
  kind = lj_argstr(&A, 2, NULL);
  if (strcmp(kind, "uid") != 0 && strcmp(kind, "gid") != 0)
    lj_argerror(&A, 2, "\"uid\" or \"gid\" expected");
  luaL_buffinit(L, &b);
  lj_argidmap(&A, 3, &b);
  luaL_pushresult(&b);
  text = lua_tostring(L, -1);
  what = kind[0] == 'u' ? "uid_map" : "gid_map";
  err = lj_writeproc(pid, what, text);
  /* without CAP_SETGID in the parent namespace the kernel wants
  ** setgroups denied first */
  if (err == EPERM && kind[0] == 'g'
      && lj_writeproc(pid, "setgroups", "deny") == 0)
    err = lj_writeproc(pid, what, text);
  if (err)
    return lj_pushfail(L, lua_pushfstring(L, "write /proc/%d/%s", pid, what),
                       err);
  lua_pushboolean(L, 1);
  return 1;
}

static int write_setgroups (lua_State *L) {
  ljArgs A;
  int pid, err;
  const char *v;
  lj_args(&A, L, "write_setgroups", "pid,value");
  pid = (int)lj_argint(&A, 1, 1, INT32_MAX);
  v = lj_argstr(&A, 2, NULL);
  if (strcmp(v, "deny") != 0 && strcmp(v, "allow") != 0)
    lj_argerror(&A, 2, "\"deny\" or \"allow\" expected");
  if ((err = lj_writeproc(pid, "setgroups", v)) != 0)
    return lj_pushfail(L, lua_pushfstring(L, "write /proc/%d/setgroups",
                                          pid), err);
  lua_pushboolean(L, 1);
  return 1;
}

/* }====== */


const ljOp *const lj_ops_ns[] = {
  &op_unshare, &op_setns, &op_sethostname, &op_setdomainname, NULL
};

void lj_open_ns (lua_State *L) {
  static const luaL_Reg fns[] = {
    { "write_idmap", write_idmap },
    { "write_setgroups", write_setgroups },
    { NULL, NULL }
  };
  luaL_setfuncs(L, fns, 0);
  lj_pushnames(L, &lj_nsflags);
  lua_setfield(L, -2, "CLONE");
}
