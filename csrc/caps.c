/*
** caps.c: capabilities.  libcap parses names and text in the parent; the
** apply side is raw capset(2) and prctl(2) on precomputed data, because
** libcap's own setters may take locks and allocate.
**
** A capability is named "sys_admin", "cap_sys_admin" or "CAP_SYS_ADMIN",
** or given by number; a set is a list, a comma-separated string or "all".
*/

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lj.h"

typedef struct Sets {              /* capset(2)'s three sets */
  uint64_t eff, prm, inh;
} Sets;

static int maxcap (void) {
  int n = (int)cap_max_bits();      /* the kernel's count, else libcap's */
  return n > 0 && n <= 64 ? n : CAP_LAST_CAP + 1;
}


/* {====== Names ======} */

static int capbyname (const char *s, size_t len, cap_value_t *v) {
  char buf[64];
  size_t i = 0, k = 0;
  if (len >= 4 && strncasecmp(s, "cap_", 4) == 0) k = 4;
  memcpy(buf, "cap_", 4);
  for (i = 4; k < len && i + 1 < sizeof buf; k++, i++) {
    if (!isalnum((unsigned char)s[k]) && s[k] != '_') return 0;
    buf[i] = (char)tolower((unsigned char)s[k]);
  }
  buf[i] = '\0';
  if (isdigit((unsigned char)buf[4])) return 0;   /* names only */
  return cap_from_name(buf, v) == 0;
}

static uint64_t onecap (ljArgs *A, int n, const char *s, size_t len) {
  cap_value_t v;
  if (!capbyname(s, len, &v) || v >= 64) {
    lua_pushlstring(A->L, s, len);
    return (uint64_t)lj_argerror(A, n, "unknown capability \"%s\"",
                                 lua_tostring(A->L, -1));
  }
  return (uint64_t)1 << v;
}

static uint64_t allcaps (void) {
  int m = maxcap();
  return m >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << m) - 1;
}

/* a set of capabilities -> bit mask.  Required: a nil (a misspelt
** field) must not pass for the empty set, which for caps_drop_bound
** would mean "drop nothing" */
static uint64_t argcaps (ljArgs *A, int n) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  uint64_t m = 0;
  if (n > A->n)
    return (uint64_t)lj_argerror(A, n, "capability list expected, got "
                                 "no value");
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t l;
    const char *s = lua_tolstring(L, idx, &l);
    if (memchr(s, '\0', l)) lj_argerror(A, n, "string contains a NUL byte");
    if (strcmp(s, "all") == 0) return allcaps();
    while (*s) {
      size_t len;
      while (*s == ' ' || *s == ',') s++;
      len = strcspn(s, ", ");
      if (len) m |= onecap(A, n, s, len);
      s += len;
    }
    return m;
  }
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    for (i = 1; i <= len; i++) {
      int ty = lua_rawgeti(L, idx, i);
      if (ty == LUA_TSTRING) {
        size_t l;
        const char *s = lua_tolstring(L, -1, &l);
        m |= onecap(A, n, s, l);
      }
      else if (ty == LUA_TNUMBER && lua_isinteger(L, -1)
               && lua_tointeger(L, -1) >= 0 && lua_tointeger(L, -1) < maxcap())
        m |= (uint64_t)1 << lua_tointeger(L, -1);
      else
        lj_argerror(A, n, "item %I: capability name or number 0..%d "
                    "expected", i, maxcap() - 1);
      lua_pop(L, 1);
    }
    return m;
  }
  return (uint64_t)lj_argerror(A, n, "capability list expected, got %s",
                               luaL_typename(L, idx));
}

static void pushcapnames (lua_State *L, uint64_t m) {
  int c, i = 0;
  lua_newtable(L);
  for (c = 0; c < 64; c++)
    if (m & ((uint64_t)1 << c)) {
      char *name = cap_to_name((cap_value_t)c);
      const char *s = name ? name : "?";
      if (strncmp(s, "cap_", 4) == 0) s += 4;
      lua_pushstring(L, s);
      lua_seti(L, -2, ++i);
      cap_free(name);
    }
}

static void describe_caps (const ljStep *s, ljBuf *b) {
  uint64_t m = (uint64_t)s->i[0];
  int c, first = 1;
  lj_bufadd(b, "\"");
  for (c = 0; c < 64; c++)
    if (m & ((uint64_t)1 << c)) {
      char *name = cap_to_name((cap_value_t)c);   /* parent side only */
      if (!first) lj_bufadd(b, ",");
      lj_bufadd(b, name && strncmp(name, "cap_", 4) == 0 ? name + 4 : "?");
      cap_free(name);
      first = 0;
    }
  lj_bufadd(b, "\"");
}

/* }====== */


/* {====== Raw setters (async-signal-safe) ======} */

static int rawcapget (Sets *s) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
  /* zeroed: valgrind takes capget to fill only d[0] (version 1) */
  if (syscall(SYS_capget, &h, d) != 0) return errno;
  s->eff = d[0].effective | (uint64_t)d[1].effective << 32;
  s->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
  s->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
  return 0;
}

static int rawcapset (const Sets *s) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  int k;
  for (k = 0; k < 2; k++) {
    d[k].effective = (uint32_t)(s->eff >> (32 * k));
    d[k].permitted = (uint32_t)(s->prm >> (32 * k));
    d[k].inheritable = (uint32_t)(s->inh >> (32 * k));
  }
  return syscall(SYS_capset, &h, d) == 0 ? 0 : errno;
}

/* drop every cap of m from the bounding set; EINVAL means "beyond the
** kernel's last capability": nothing to drop.  One prctl per cap: a
** refused drop (EPERM, no CAP_SETPCAP; the kernel checks that before the
** cap's number) is an error only for a cap that is still there */
static int dropbound (uint64_t m) {
  int c;
  for (c = 0; c < 64; c++) {
    if (!(m & ((uint64_t)1 << c)) || prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == 0)
      continue;
    if (errno == EINVAL) break;
    if (errno != EPERM) return errno;
    switch (prctl(PR_CAPBSET_READ, c, 0, 0, 0)) {   /* EPERM comes first */
      case 0: continue;            /* not there: dropped already */
      case 1: return EPERM;
      default: return errno == EINVAL ? 0 : errno;    /* beyond the last */
    }
  }
  return 0;
}

static int clearambient (void) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0
      && errno != EINVAL)                /* EINVAL: no ambient set (< 4.3) */
    return errno;
  return 0;
}

/* }====== */


/* {====== Steps ======} */

/* caps_set("cap_net_bind_service=eip"): the three sets, as text */
static void caps_set_decode (ljArgs *A, ljStep *s) {
  const char *text = lj_argstr(A, 1, NULL);
  cap_t c = cap_from_text(text);
  Sets *sets;
  int v;
  if (c == NULL) lj_argerror(A, 1, "bad capability text \"%s\"", text);
  sets = (Sets *)lj_alloc(A->L, A->arena, sizeof *sets);
  for (v = 0; v < 64; v++) {
    cap_flag_value_t e = CAP_CLEAR, p = CAP_CLEAR, i = CAP_CLEAR;
    if (cap_get_flag(c, v, CAP_EFFECTIVE, &e) != 0) break;
    cap_get_flag(c, v, CAP_PERMITTED, &p);
    cap_get_flag(c, v, CAP_INHERITABLE, &i);
    if (e) sets->eff |= (uint64_t)1 << v;
    if (p) sets->prm |= (uint64_t)1 << v;
    if (i) sets->inh |= (uint64_t)1 << v;
  }
  cap_free(c);
  s->s[0] = text;
  s->p = sets;
  s->plen = sizeof *sets;
}

static int caps_set_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return rawcapset((const Sets *)s->p);
}

static const ljOp op_caps_set = {
  "caps_set", "text", LJ_PARENT(caps_set_decode), caps_set_apply, NULL, 0
};

static void mask_decode (ljArgs *A, ljStep *s) {
  s->i[0] = (int64_t)argcaps(A, 1);
}

static int drop_bound_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return dropbound((uint64_t)s->i[0]);
}

static const ljOp op_caps_drop_bound = {
  "caps_drop_bound", "caps", LJ_PARENT(mask_decode), drop_bound_apply, LJ_PARENT(describe_caps), 0
};

static void none_decode (ljArgs *A, ljStep *s) {
  (void)A; (void)s;
}

static int clear_ambient_apply (const ljStep *s, ljCtx *c) {
  (void)s; (void)c;
  return clearambient();
}

static const ljOp op_caps_clear_ambient = {
  "caps_clear_ambient", "", LJ_PARENT(none_decode), clear_ambient_apply, NULL, 0
};

/*
** caps_keep(list): afterwards the thread holds exactly `list` in every set
** -- effective, permitted, inheritable, bounding and ambient (ambient, so
** a non-root program keeps them across exec).  caps_keep({}) empties all
** five.  Needs CAP_SETPCAP for the bounding set.
*/
static int caps_keep_apply (const ljStep *s, ljCtx *c) {
  uint64_t m = (uint64_t)s->i[0];
  Sets sets;
  int err, v;
  (void)c;
  /* a change of uid under keepcaps leaves only the permitted set: raise
  ** it to effective, for the CAP_SETPCAP that dropping bounds needs */
  if ((err = rawcapget(&sets)) != 0) return err;
  sets.eff = sets.prm;
  if ((err = rawcapset(&sets)) != 0) return err;
  if ((err = dropbound(~m)) != 0) return err;
  sets.eff = sets.prm = sets.inh = m;
  if ((err = rawcapset(&sets)) != 0) return err;
  if ((err = clearambient()) != 0) return err;
  for (v = 0; v < 64; v++)
    if ((m & ((uint64_t)1 << v))
        && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) != 0)
      return errno;
  return 0;
}

static const ljOp op_caps_keep = {
  "caps_keep", "caps", LJ_PARENT(mask_decode), caps_keep_apply, LJ_PARENT(describe_caps), 0
};

/* }====== */


/* caps_get() -> {effective=, permitted=, inheritable=, bounding=,
** ambient= (lists of names), text="=ep ..."} of the calling thread */
static int caps_get (lua_State *L) {
  Sets s = { 0, 0, 0 };
  uint64_t bnd = 0, amb = 0;
  int err, v;
  cap_t c;
  if ((err = rawcapget(&s)) != 0) return lj_pushfail(L, "capget", err);
  for (v = 0; v < maxcap(); v++) {
    if (prctl(PR_CAPBSET_READ, v, 0, 0, 0) == 1) bnd |= (uint64_t)1 << v;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, v, 0, 0) == 1)
      amb |= (uint64_t)1 << v;
  }
  lua_createtable(L, 0, 6);
  pushcapnames(L, s.eff); lua_setfield(L, -2, "effective");
  pushcapnames(L, s.prm); lua_setfield(L, -2, "permitted");
  pushcapnames(L, s.inh); lua_setfield(L, -2, "inheritable");
  pushcapnames(L, bnd); lua_setfield(L, -2, "bounding");
  pushcapnames(L, amb); lua_setfield(L, -2, "ambient");
  if ((c = cap_get_proc()) != NULL) {
    char *t = cap_to_text(c, NULL);
    lua_pushstring(L, t ? t : "");
    lua_setfield(L, -2, "text");
    cap_free(t);
    cap_free(c);
  }
  return 1;
}

/* caps_names() -> every capability the kernel knows, by number */
static int caps_names (lua_State *L) {
  pushcapnames(L, allcaps());
  return 1;
}

const ljOp *const lj_ops_caps[] = {
  &op_caps_set, &op_caps_drop_bound, &op_caps_clear_ambient, &op_caps_keep,
  NULL
};

void lj_open_caps (lua_State *L) {
  static const luaL_Reg fns[] = {
    { "caps_get", caps_get }, { "caps_names", caps_names }, { NULL, NULL }
  };
  luaL_setfuncs(L, fns, 0);
}
