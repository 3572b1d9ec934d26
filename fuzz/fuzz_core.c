/*
** fuzz/fuzz_core.c: libFuzzer over lunajail.core's decoders.
**
** The input is a typed stream that builds one Lua value (a tag byte, then
** the payload; tables nest), which goes to core.check (the whole plan
** decoder of core.spawn) and, when it is a table, to core.describe (every
** step's argument decoder).  Neither starts a process or makes a change.
** Every call is protected: a Lua error is a clean rejection; a crash, an
** ASan or UBSan report, or an unbalanced stack is a finding.
*/

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int luaopen_lunajail_core (lua_State *L);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct In { const uint8_t *p; size_t n; } In;

static int byte (In *in) {
  if (in->n == 0) return -1;
  in->n--;
  return *in->p++;
}

/* names the decoders know, so the fuzzer reaches past the first check */
static const char *const words[] = {
  "mount", "umount", "pivot_root", "chroot", "chdir", "mkdir_p", "symlink",
  "write_file", "touch", "unshare", "setns", "sethostname", "setdomainname",
  "setrlimit", "setresuid", "setresgid", "setgroups", "no_new_privs",
  "pdeathsig", "dumpable", "keepcaps", "securebits", "setsid", "caps_set",
  "caps_drop_bound", "caps_clear_ambient", "caps_keep", "seccomp",
  "landlock", "ifup", "setpriority", "argv", "path", "env", "cwd",
  "namespaces", "uidmap", "gidmap", "setgroups", "steps", "stdio", "fds",
  "pid1", "die_with_parent", "new_session", "trace", "optional", "bind",
  "rec", "rdonly", "private", "user", "pid", "net", "nofile", "infinity",
  "term", "SIGKILL", "sys_admin", "all", "ro", "rw", "pipe", "null",
  "inherit", "pty", "/", "/tmp", "/proc", "0755", "errno:EPERM", "allow",
  "kill", "keyctl", "a1", "&=", "==", "default", "rules", "arch", "native",
  "handled", "execute", "deny", "tmpfs", "/bin/true", "PATH=/bin", "user,net",
};

static void value (lua_State *L, In *in, int depth) {
  int tag = byte(in), n, i;
  if (!lua_checkstack(L, 4)) { lua_pushnil(L); return; }
  switch (tag < 0 ? 0 : tag % 10) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, byte(in) & 1); break;
    case 2: {                                 /* a small integer */
      lua_pushinteger(L, (int8_t)byte(in));
      break;
    }
    case 3: {                                 /* any 64-bit integer */
      uint64_t v = 0;
      for (i = 0; i < 8; i++) v = v << 8 | (uint8_t)byte(in);
      lua_pushinteger(L, (lua_Integer)v);
      break;
    }
    case 4: {                                 /* a float, with NaN and inf */
      double d;
      uint64_t v = 0;
      for (i = 0; i < 8; i++) v = v << 8 | (uint8_t)byte(in);
      memcpy(&d, &v, sizeof d);
      lua_pushnumber(L, d);
      break;
    }
    case 5: case 6: {                         /* bytes, NULs and all */
      n = byte(in);
      if (n < 0) n = 0;
      if ((size_t)n > in->n) n = (int)in->n;
      lua_pushlstring(L, (const char *)in->p, (size_t)n);
      in->p += n;
      in->n -= (size_t)n;
      break;
    }
    case 7: {                                 /* a known word */
      n = byte(in);
      lua_pushstring(L, words[(n < 0 ? 0 : n) % (sizeof words / sizeof *words)]);
      break;
    }
    default: {                                /* a table: list and map parts */
      n = byte(in);
      n = n < 0 ? 0 : n % 12;
      lua_createtable(L, n, 0);
      if (depth > 6) break;
      for (i = 1; i <= n; i++) {
        int k = byte(in);
        if (k >= 0 && (k & 3) == 0) {          /* a keyed entry */
          value(L, in, depth + 1);            /* key */
          value(L, in, depth + 1);            /* value */
          if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER
                                   && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
            lua_pop(L, 2);                    /* not a key Lua allows */
          else
            lua_rawset(L, -3);
        }
        else {
          value(L, in, depth + 1);
          lua_rawseti(L, -2, i);
        }
      }
    }
  }
}

static lua_State *state;

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  In in = { data, size };
  int top;
  if (state == NULL) {
    state = luaL_newstate();
    luaL_openlibs(state);
    luaL_requiref(state, "lunajail.core", luaopen_lunajail_core, 0);
    lua_setglobal(state, "core");
  }
  top = lua_gettop(state);
  value(state, &in, 0);
  lua_getglobal(state, "core");
  lua_getfield(state, -1, "check");
  lua_pushvalue(state, -3);
  lua_pcall(state, 1, 0, 0) == LUA_OK ? (void)0 : lua_pop(state, 1);
  if (lua_istable(state, -2)) {
    lua_getfield(state, -1, "describe");
    lua_pushvalue(state, -3);
    lua_pcall(state, 1, 1, 0);
    lua_pop(state, 1);
  }
  lua_settop(state, top);
  lua_gc(state, LUA_GCSTEP, 0);
  return 0;
}
