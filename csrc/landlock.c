/*
** landlock.c: Landlock rulesets: the file system, and TCP ports.
**
**   core.landlock_abi() -> 1, 2, ... (or nil, msg, errno without Landlock)
**   core.landlock{ {"/usr", "ro"}, {"/tmp", "rw"},
**                  {"/bin", {"execute", "read_file"}}, handled = "all",
**                  tcp_bind = {8080}, tcp_connect = {53, 443} }
**
** The step builds the ruleset, opens each path with O_PATH, adds it and
** restricts the calling thread -- all system calls, so in a spawn plan it
** runs in the child after pivot_root and the paths are the sandbox's own.
** Access: "ro" (execute, read_file, read_dir), "rw" (every right the
** kernel knows), or a list of names.  handled (default "all") is the set
** of rights the ruleset restricts; rights the running kernel's ABI lacks
** are left out, so one recipe works from ABI 1 up.  Restricting needs
** no_new_privs (or CAP_SYS_ADMIN).
**
** tcp_bind and tcp_connect (ABI 4, Linux 6.7) restrict binding and
** connecting TCP sockets to the ports listed: each key given is handled
** (an empty list: none at all), each key absent is not.  Unlike the file
** rights these are never left out: on a kernel without them the step
** fails with EOPNOTSUPP instead of running unrestricted.  A table with
** port lists and no path rule (and no handled) restricts the network
** alone; otherwise the file system is handled as above.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>

#include "lj.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER     (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE  (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif

#define FS(x)  LANDLOCK_ACCESS_FS_##x

/* ABI 4: the network (the headers may be older than the kernel) */
#define NET_BIND_TCP     (1ULL << 0)
#define NET_CONNECT_TCP  (1ULL << 1)
#define RULE_NET_PORT    2

typedef struct RulesetAttr {     /* struct landlock_ruleset_attr, ABI 4 */
  uint64_t handled_access_fs, handled_access_net;
} RulesetAttr;

typedef struct NetPortAttr {     /* struct landlock_net_port_attr */
  uint64_t allowed_access, port;
} NetPortAttr;

#define MAXPORTS 1024

static const ljName fsrights[] = {
  { "execute", FS(EXECUTE), NULL }, { "write_file", FS(WRITE_FILE), NULL },
  { "read_file", FS(READ_FILE), NULL }, { "read_dir", FS(READ_DIR), NULL },
  { "remove_dir", FS(REMOVE_DIR), NULL },
  { "remove_file", FS(REMOVE_FILE), NULL },
  { "make_char", FS(MAKE_CHAR), NULL }, { "make_dir", FS(MAKE_DIR), NULL },
  { "make_reg", FS(MAKE_REG), NULL }, { "make_sock", FS(MAKE_SOCK), NULL },
  { "make_fifo", FS(MAKE_FIFO), NULL },
  { "make_block", FS(MAKE_BLOCK), NULL }, { "make_sym", FS(MAKE_SYM), NULL },
  { "refer", FS(REFER), NULL }, { "truncate", FS(TRUNCATE), NULL },
  { "ioctl_dev", FS(IOCTL_DEV), NULL }, { NULL, 0, NULL }
};

const ljNames lj_landlock_fs = { "landlock right", "LANDLOCK_ACCESS_FS_",
                                 fsrights };

#define RO      (FS(EXECUTE) | FS(READ_FILE) | FS(READ_DIR))
#define ALL     ((FS(IOCTL_DEV) << 1) - 1)
#define FILEONLY (FS(EXECUTE) | FS(WRITE_FILE) | FS(READ_FILE) \
                  | FS(TRUNCATE) | FS(IOCTL_DEV))

typedef struct Rule {              /* a step's blob: the rules, the */
  uint64_t access;                 /* ports, then the rules' paths, */
  uint32_t path;                   /* each with its NUL (an offset from */
} Rule;                            /* the blob's start) */

#define PATHOF(r, k)  ((const char *)(r) + (r)[k].path)
#define PORTSOF(r, n) ((const Ports *)(const void *)((const char *)(r) \
                        + sizeof(Rule) * (size_t)(n)))

typedef struct Ports {           /* the tcp_bind and tcp_connect lists */
  int n[2];
  uint16_t port[2][MAXPORTS];
} Ports;

static const char *const netkeys[2] = { "tcp_bind", "tcp_connect" };

/* the rights each ABI version knows */
static uint64_t abirights (int abi) {
  if (abi <= 0) return 0;
  if (abi == 1) return FS(MAKE_SYM) * 2 - 1;
  if (abi == 2) return FS(REFER) * 2 - 1;
  if (abi <= 4) return FS(TRUNCATE) * 2 - 1;
  return ALL;
}

static int abi (void) {
  return (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
                      LANDLOCK_CREATE_RULESET_VERSION);
}


/* {====== The step ======} */

/* the access of rule `rule`, or (rule 0) the handled set */
static uint64_t argaccess (ljArgs *A, int n, int idx, lua_Integer rule) {
  lua_State *L = A->L;
  const char *s = lua_tostring(L, idx), *what;
  uint64_t v;
  ljArgs B = *A;                         /* reuse the flag parser on it */
  if (lua_type(L, idx) == LUA_TSTRING && strcmp(s, "ro") == 0) return RO;
  if (lua_type(L, idx) == LUA_TSTRING && strcmp(s, "rw") == 0) return ALL;
  if (lua_type(L, idx) == LUA_TSTRING && strcmp(s, "all") == 0) return ALL;
  what = rule ? lua_pushfstring(L, "rule %I", rule) : "handled";
  if (!lua_istable(L, idx))
    lj_argerror(A, n, "%s: access \"ro\", \"rw\" or a list of rights "
                "expected", what);
  B.base = idx;
  B.n = 1;
  v = (uint64_t)lj_argflags(&B, 1, &lj_landlock_fs);
  if (v & ~(uint64_t)ALL)                /* a number no right has */
    lj_argerror(A, n, "%s: unknown landlock right bits %I", what,
                (lua_Integer)(v & ~(uint64_t)ALL));
  if (rule) lua_pop(L, 1);
  return v;
}

/* t.tcp_bind, t.tcp_connect: lists of ports; the handled net rights */
static uint64_t argports (ljArgs *A, int n, int t, Ports *P) {
  lua_State *L = A->L;
  uint64_t handled = 0;
  int k;
  for (k = 0; k < 2; k++) {
    lua_Integer i, len;
    if (lua_getfield(L, t, netkeys[k]) == LUA_TNIL) { lua_pop(L, 1); continue; }
    if (!lua_istable(L, -1))
      lj_argerror(A, n, "%s: a list of ports expected, got %s", netkeys[k],
                  luaL_typename(L, -1));
    len = (lua_Integer)lua_rawlen(L, -1);
    if (len > MAXPORTS)
      lj_argerror(A, n, "%s: more than %d ports", netkeys[k], MAXPORTS);
    for (i = 1; i <= len; i++) {
      int isint = 0;
      lua_Integer v = 0;
      if (lua_rawgeti(L, -1, i) == LUA_TNUMBER)
        v = lua_tointegerx(L, -1, &isint);
      if (!isint || v < 0 || v > 65535)
        lj_argerror(A, n, "%s[%I]: a port from 0 to 65535 expected, got %s",
                    netkeys[k], i, luaL_tolstring(L, -1, NULL));
      P->port[k][P->n[k]++] = (uint16_t)v;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    handled |= k == 0 ? NET_BIND_TCP : NET_CONNECT_TCP;
  }
  return handled;
}

static void landlock_decode (ljArgs *A, ljStep *s) {
  lua_State *L = A->L;
  int idx = lj_argtable(A, 1);
  lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
  size_t total, off;
  Rule *r;
  Ports *P;
  if (len > 4096) lj_argerror(A, 1, "more than 4096 rules");
  total = off = sizeof(Rule) * (size_t)len + sizeof(Ports);
  for (i = 1; i <= len; i++) {             /* checked, and measured */
    size_t plen;
    const char *p;
    if (lua_rawgeti(L, idx, i) != LUA_TTABLE)
      lj_argerror(A, 1, "rule %I: {path, access} expected", i);
    lua_rawgeti(L, -1, 1);
    p = lua_tolstring(L, -1, &plen);
    if (lua_type(L, -1) != LUA_TSTRING || plen == 0 || p[0] != '/'
        || memchr(p, '\0', plen) || plen >= 4096)
      lj_argerror(A, 1, "rule %I: absolute path expected", i);
    total += plen + 1;
    lua_pop(L, 2);
  }
  r = (Rule *)lj_alloc(L, A->arena, total + 1);
  P = (Ports *)(void *)((char *)r + sizeof(Rule) * (size_t)len);
  for (i = 1; i <= len; i++) {             /* the flat blob */
    size_t plen;
    const char *p;
    lua_rawgeti(L, idx, i);
    lua_rawgeti(L, -1, 1);
    p = lua_tolstring(L, -1, &plen);
    memcpy((char *)r + off, p, plen + 1);
    r[i - 1].path = (uint32_t)off;
    off += plen + 1;
    lua_rawgeti(L, -2, 2);
    r[i - 1].access = argaccess(A, 1, lua_gettop(L), i);
    lua_pop(L, 3);
  }
  s->i[2] = (int64_t)argports(A, 1, idx, P);
  lua_getfield(L, idx, "handled");
  if (!lua_isnil(L, -1)) s->i[1] = (int64_t)argaccess(A, 1, lua_gettop(L), 0);
  else s->i[1] = len == 0 && s->i[2] ? 0 : (int64_t)ALL;   /* ports alone */
  lua_pop(L, 1);
  s->i[0] = len;
  s->p = r;
  s->plen = total;
}

/* the port rules of P into the ruleset rs */
static int addports (int rs, const Ports *P) {
  int k, j;
  for (k = 0; k < 2; k++)
    for (j = 0; j < P->n[k]; j++) {
      NetPortAttr np;
      np.allowed_access = k == 0 ? NET_BIND_TCP : NET_CONNECT_TCP;
      np.port = P->port[k][j];
      if (syscall(SYS_landlock_add_rule, rs, RULE_NET_PORT, &np, 0) != 0)
        return errno;
    }
  return 0;
}

static int landlock_apply (const ljStep *s, ljCtx *c) {
  const Rule *r = (const Rule *)s->p;
  const Ports *P = PORTSOF(r, s->i[0]);
  RulesetAttr ra;
  int rs, err = 0, v = abi();
  int64_t i;
  (void)c;
  if (v < 0) return errno;
  if (s->i[2] && v < 4) return EOPNOTSUPP;   /* never the ports ignored */
  memset(&ra, 0, sizeof ra);
  ra.handled_access_fs = (uint64_t)s->i[1] & abirights(v);
  ra.handled_access_net = (uint64_t)s->i[2];
  rs = (int)syscall(SYS_landlock_create_ruleset, &ra,
                    s->i[2] ? sizeof ra : sizeof ra.handled_access_fs, 0);
  if (rs < 0) return errno;
  for (i = 0; i < s->i[0] && !err; i++) {
    struct landlock_path_beneath_attr pb;
    struct stat st;
    int fd = open(PATHOF(r, i), O_PATH | O_CLOEXEC);
    if (fd < 0) { err = errno; break; }
    pb.parent_fd = fd;
    pb.allowed_access = r[i].access & ra.handled_access_fs;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
      pb.allowed_access &= FILEONLY;
    if (pb.allowed_access
        && syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH,
                   &pb, 0) != 0)
      err = errno;
    close(fd);
  }
  if (!err) err = addports(rs, P);
  if (!err && syscall(SYS_landlock_restrict_self, rs, 0) != 0) err = errno;
  close(rs);
  return err;
}

static void landlock_describe (const ljStep *s, ljBuf *b) {
  const Rule *r = (const Rule *)s->p;
  const Ports *P = PORTSOF(r, s->i[0]);
  int64_t i;
  int k, j;
  lj_bufadd(b, "{");
  for (i = 0; i < s->i[0] && i < 6; i++) {
    if (i) lj_bufadd(b, ", ");
    lj_bufaddq(b, PATHOF(r, i));
  }
  if (s->i[0] > 6) lj_bufadd(b, ", ...");
  for (k = 0; k < 2; k++) {
    if (!(s->i[2] & (k == 0 ? NET_BIND_TCP : NET_CONNECT_TCP))) continue;
    if (b->n > 1 && b->b[b->n - 1] != '{') lj_bufadd(b, ", ");
    lj_bufadd(b, netkeys[k]);
    lj_bufadd(b, " = {");
    for (j = 0; j < P->n[k] && j < 8; j++) {
      if (j) lj_bufadd(b, ", ");
      lj_bufaddint(b, P->port[k][j]);
    }
    lj_bufadd(b, P->n[k] > 8 ? ", ...}" : "}");
  }
  lj_bufadd(b, "}");
}

static const ljOp op_landlock = {
  "landlock", "rules", LJ_PARENT(landlock_decode), landlock_apply,
  LJ_PARENT(landlock_describe), 0
};

/* }====== */


static int landlock_abi (lua_State *L) {
  int v = abi();
  if (v < 0) return lj_pushfail(L, "landlock_create_ruleset", errno);
  lua_pushinteger(L, v);
  return 1;
}

const ljOp *const lj_ops_landlock[] = { &op_landlock, NULL };

void lj_open_landlock (lua_State *L) {
  lua_pushcfunction(L, landlock_abi);
  lua_setfield(L, -2, "landlock_abi");
  lj_pushnames(L, &lj_landlock_fs);
  lua_setfield(L, -2, "LANDLOCK");
}
