/*
** aux.c: the arena, argument checking and error results shared by every
** concern of lunajail.core.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lj.h"


/* {====== Arena ======}
** A list of chunks allocated with the state's allocator.  Chunks never
** move, so pointers into them stay valid until the arena is closed.
*/

typedef struct ljChunk {
  struct ljChunk *next;
  size_t size, used;
  max_align_t data[];
} ljChunk;

struct ljArena {
  ljChunk *head;
  lua_Alloc f;
  void *ud;
};

void lj_arenafree (ljArena *a) {
  while (a->head) {
    ljChunk *c = a->head;
    a->head = c->next;
    a->f(a->ud, c, sizeof(ljChunk) + c->size, 0);
  }
}

static int arena_close (lua_State *L) {
  lj_arenafree((ljArena *)luaL_checkudata(L, 1, LJ_ARENA));
  return 0;
}

/* an arena that outlives the call: freed by lj_arenafree or __gc */
ljArena *lj_newarena_kept (lua_State *L) {
  ljArena *a = (ljArena *)lua_newuserdatauv(L, sizeof(ljArena), 0);
  a->head = NULL;                          /* closed state first */
  a->f = lua_getallocf(L, &a->ud);
  if (luaL_newmetatable(L, LJ_ARENA)) {
    lua_pushcfunction(L, arena_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, arena_close);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  return a;
}

ljArena *lj_newarena (lua_State *L) {
  ljArena *a = lj_newarena_kept(L);
  lua_toclose(L, -1);
  return a;
}

void *lj_alloc (lua_State *L, ljArena *a, size_t n) {
  const size_t align = sizeof(max_align_t);
  ljChunk *c = a->head;
  void *p;
  n = (n + align - 1) / align * align;
  if (n == 0) n = align;
  if (c == NULL || c->size - c->used < n) {
    size_t size = n > 4000 ? n : 4000;
    c = (ljChunk *)a->f(a->ud, NULL, 0, sizeof(ljChunk) + size);
    if (c == NULL) luaL_error(L, "not enough memory");
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  p = (char *)c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

const char *lj_strdup (lua_State *L, ljArena *a, const char *s, size_t n) {
  char *d = (char *)lj_alloc(L, a, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* }====== */


/* {====== Arguments ======} */

void lj_args (ljArgs *A, lua_State *L, const char *where, const char *names) {
  A->L = L;
  A->base = 1;
  A->n = lua_gettop(L);
  A->where = where;
  A->names = names;
  A->arena = NULL;
  A->copy = 0;
}

/* the n-th name of a comma-separated list, into buf */
static const char *argname (const char *names, int n, char *buf, size_t sz) {
  const char *p = names;
  size_t len;
  if (p == NULL) return NULL;
  while (--n > 0 && p) {
    p = strchr(p, ',');
    if (p) p++;
  }
  if (p == NULL || *p == '\0') return NULL;
  len = strcspn(p, ",");
  if (len >= sz) len = sz - 1;
  memcpy(buf, p, len);
  buf[len] = '\0';
  return buf;
}

int lj_argerror (ljArgs *A, int n, const char *fmt, ...) {
  lua_State *L = A->L;
  char nbuf[40];
  const char *name = argname(A->names, n, nbuf, sizeof nbuf);
  va_list ap;
  luaL_where(L, 1);
  if (name)
    lua_pushfstring(L, "%s: bad argument #%d (%s): ", A->where, n, name);
  else
    lua_pushfstring(L, "%s: bad argument #%d: ", A->where, n);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 3);
  lua_error(L);
  __builtin_unreachable();
}

int lj_argidx (ljArgs *A, int n) {
  return A->base + n - 1;
}

int lj_isnone (ljArgs *A, int n) {
  return n > A->n || lua_isnil(A->L, lj_argidx(A, n));
}

int lj_isstring (ljArgs *A, int n) {
  return n <= A->n && lua_type(A->L, lj_argidx(A, n)) == LUA_TSTRING;
}

static int typeerror (ljArgs *A, int n, const char *expected) {
  return lj_argerror(A, n, "%s expected, got %s", expected,
                     n > A->n ? "no value"
                              : luaL_typename(A->L, lj_argidx(A, n)));
}

lua_Integer lj_argint (ljArgs *A, int n, lua_Integer min, lua_Integer max) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n), isint;
  lua_Integer v;
  if (n > A->n || lua_type(L, idx) != LUA_TNUMBER)  /* no "12" strings */
    typeerror(A, n, "integer");
  v = lua_tointegerx(L, idx, &isint);
  if (!isint)
    lj_argerror(A, n, "number has no integer representation");
  if (v < min || v > max)
    lj_argerror(A, n, "%I out of range [%I, %I]", v, min, max);
  return v;
}

lua_Integer lj_optint (ljArgs *A, int n, lua_Integer min, lua_Integer max,
                       lua_Integer def) {
  return lj_isnone(A, n) ? def : lj_argint(A, n, min, max);
}

int lj_argbool (ljArgs *A, int n) {
  int idx = lj_argidx(A, n);
  if (n > A->n || !lua_isboolean(A->L, idx)) typeerror(A, n, "boolean");
  return lua_toboolean(A->L, idx);
}

int lj_optbool (ljArgs *A, int n, int def) {
  return lj_isnone(A, n) ? def : lj_argbool(A, n);
}

const char *lj_argstr (ljArgs *A, int n, size_t *len) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  size_t l;
  const char *s;
  if (n > A->n || lua_type(L, idx) != LUA_TSTRING) typeerror(A, n, "string");
  s = lua_tolstring(L, idx, &l);
  if (memchr(s, '\0', l))
    lj_argerror(A, n, "string contains a NUL byte");
  if (A->copy) s = lj_strdup(L, A->arena, s, l);
  if (len) *len = l;
  return s;
}

/* any bytes, always copied into the arena */
const char *lj_argbytes (ljArgs *A, int n, size_t *len) {
  int idx = lj_argidx(A, n);
  const char *s;
  if (n > A->n || lua_type(A->L, idx) != LUA_TSTRING)
    typeerror(A, n, "string");
  s = lua_tolstring(A->L, idx, len);
  return lj_strdup(A->L, A->arena, s, *len);
}

const char *lj_optstr (ljArgs *A, int n, const char *def) {
  return lj_isnone(A, n) ? def : lj_argstr(A, n, NULL);
}

const char *lj_argpath (ljArgs *A, int n) {
  size_t len;
  const char *s = lj_argstr(A, n, &len);
  if (len == 0) lj_argerror(A, n, "empty path");
  if (len >= 4096) lj_argerror(A, n, "path longer than PATH_MAX");
  return s;
}

const char *lj_argabs (ljArgs *A, int n) {
  const char *s = lj_argpath(A, n);
  if (s[0] != '/')
    lj_argerror(A, n, "absolute path expected, got \"%s\"", s);
  return s;
}

/*
** Modes are octal strings only ("0755", "755"): Lua has no octal literals,
** so a number such as 0755 is decimal 755 (= 01363) and no range check
** could tell the mistake from a real mode.
*/
unsigned lj_argmode (ljArgs *A, int n, unsigned def) {
  size_t len;
  const char *s, *p;
  unsigned v = 0;
  if (lj_isnone(A, n)) return def;
  if (lua_type(A->L, lj_argidx(A, n)) != LUA_TSTRING)
    typeerror(A, n, "octal mode string (\"0755\")");
  s = lua_tolstring(A->L, lj_argidx(A, n), &len);
  if (len == 0 || len > 5)
    lj_argerror(A, n, "octal mode string expected, got \"%s\"", s);
  for (p = s; *p; p++) {
    if (*p < '0' || *p > '7')
      lj_argerror(A, n, "octal mode string expected, got \"%s\"", s);
    v = v * 8 + (unsigned)(*p - '0');
  }
  if (v > 07777) lj_argerror(A, n, "mode \"%s\" above 07777", s);
  return v;
}

/*
** Times (timeouts, grace periods, deadlines) are seconds, integers or
** floats, checked against a range that says what they can mean: NaN
** compares false with everything, so a deadline of now() + NaN never
** comes, and -inf or -1e12 put one in the past forever.  Infinities are
** refused too: where "never" means something, the caller says nil.
*/
double lj_argtime (ljArgs *A, int n, double min, double max) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  double v;
  if (n > A->n || lua_type(L, idx) != LUA_TNUMBER)  /* no "5" strings */
    typeerror(A, n, "number of seconds");
  v = (double)lua_tonumber(L, idx);
  if (!(v >= min && v <= max)) {                    /* NaN fails both */
    const char *lo;
    luaL_checkstack(L, 8, NULL);
    lo = lj_pushnum(L, min);
    lj_argerror(A, n, "a number from %s to %s expected, got %s", lo,
                lj_pushnum(L, max), lj_pushnum(L, v));
  }
  return v;
}

/* "5", "0.25", "1e+300", "-inf", "NaN" (not "-nan"): for messages */
const char *lj_pushnum (lua_State *L, double v) {
  char buf[32];
  if (v != v) return lua_pushliteral(L, "NaN");
  snprintf(buf, sizeof buf, "%.14g", v);
  return lua_pushstring(L, buf);
}

int lj_argfd (ljArgs *A, int n) {
  return (int)lj_argint(A, n, 0, 1 << 30);
}

int lj_argtable (ljArgs *A, int n) {
  int idx = lj_argidx(A, n);
  if (n > A->n || !lua_istable(A->L, idx)) typeerror(A, n, "table");
  return idx;
}

const char **lj_argstrlist (ljArgs *A, int n, size_t *count) {
  lua_State *L = A->L;
  ljArena *a = A->arena;
  int idx = lj_argtable(A, n);
  lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
  const char **v;
  if (len > 1 << 20) lj_argerror(A, n, "list too long");
  v = (const char **)lj_alloc(L, a, sizeof(char *) * ((size_t)len + 1));
  for (i = 1; i <= len; i++) {
    size_t l;
    const char *s;
    if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
      lj_argerror(A, n, "item %I: string expected, got %s", i,
                  luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &l);
    if (memchr(s, '\0', l))
      lj_argerror(A, n, "item %I contains a NUL byte", i);
    v[i - 1] = lj_strdup(L, a, s, l);
    lua_pop(L, 1);
  }
  v[len] = NULL;
  if (count) *count = (size_t)len;
  return v;
}

/* the same list packed, each string with its NUL: a blob that can be
** copied (a step's p), walked with strlen */
const char *lj_argpacked (ljArgs *A, int n, size_t *count, size_t *len) {
  size_t k, c, total = 0;
  const char **v = lj_argstrlist(A, n, &c);
  char *out, *p;
  for (k = 0; k < c; k++) total += strlen(v[k]) + 1;
  p = out = (char *)lj_alloc(A->L, A->arena, total + 1);
  for (k = 0; k < c; k++) {
    size_t l = strlen(v[k]) + 1;
    memcpy(p, v[k], l);
    p += l;
  }
  if (count) *count = c;
  *len = total;
  return out;
}

/* }====== */


/* {====== Buffers and error results ======} */

void lj_bufadd (ljBuf *b, const char *s) {
  while (*s && b->n + 1 < b->size) b->b[b->n++] = *s++;
  b->b[b->n] = '\0';
}

void lj_bufaddq (ljBuf *b, const char *s) {
  lj_bufadd(b, "\"");
  lj_bufadd(b, s);
  lj_bufadd(b, "\"");
}

void lj_bufaddint (ljBuf *b, int64_t v) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  *--p = '\0';
  do { *--p = (char)('0' + u % 10); u /= 10; } while (u);
  if (v < 0) *--p = '-';
  lj_bufadd(b, p);
}

void lj_bufaddflags (ljBuf *b, const ljNames *t, int64_t v) {
  const ljName *e;
  int first = 1;
  lj_bufadd(b, "\"");
  for (e = t->list; e->name; e++)
    if (e->value && (v & e->value) == e->value) {
      if (!first) lj_bufadd(b, ",");
      lj_bufadd(b, e->name);
      first = 0;
    }
  lj_bufadd(b, "\"");
}

void lj_describe (const ljStep *s, ljBuf *b) {
  int i, first = 1;
  lj_bufadd(b, s->op->name);
  lj_bufadd(b, "(");
  if (s->op->describe)
    s->op->describe(s, b);
  else
    for (i = 0; i < LJ_NSTR; i++) {
      if (s->s[i] == NULL) continue;
      if (!first) lj_bufadd(b, ", ");
      lj_bufaddq(b, s->s[i]);
      first = 0;
    }
  lj_bufadd(b, ")");
}

/* "No such file or directory (ENOENT)" */
void lj_pusherrtext (lua_State *L, int err) {
  char buf[128], nbuf[32];
  const char *name = lj_cname(&lj_errnos, err, nbuf, sizeof nbuf);
#if defined(__GLIBC__)
  const char *text = strerror_r(err, buf, sizeof buf);   /* GNU's */
#else
  const char *text = strerror_r(err, buf, sizeof buf) == 0 ? buf : "?";
#endif
  if (name) lua_pushfstring(L, "%s (%s)", text, name);
  else lua_pushfstring(L, "%s (errno %d)", text, err);
}

int lj_pushfail (lua_State *L, const char *what, int err) {
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: ", what);
  lj_pusherrtext(L, err);
  lua_concat(L, 2);
  lua_pushinteger(L, err);
  return 3;
}

/* }====== */
