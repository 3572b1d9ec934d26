/*
** proc.c: fork, exec, execp, waitpid, kill, getpid, getppid, isatty,
** close, _exit, and the decoded wait status shared with the child object.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lj.h"



/* {====== Wait status ======}
** {exited=true, code=n} or {signaled=true, signal=n, signame="SIGTERM",
** core=bool} or {stopped=true, signal=n, signame=...}; rusage adds
** rusage={utime=s, stime=s, maxrss=kB}.
*/

void lj_pushstatus (lua_State *L, int status, const struct rusage *ru) {
  char buf[32];
  lua_createtable(L, 0, 6);
  if (WIFEXITED(status)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "exited");
    lua_pushinteger(L, WEXITSTATUS(status));
    lua_setfield(L, -2, "code");
  }
  else if (WIFSIGNALED(status) || WIFSTOPPED(status)) {
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : WSTOPSIG(status);
    const char *name = lj_cname(&lj_signals, sig, buf, sizeof buf);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, WIFSIGNALED(status) ? "signaled" : "stopped");
    lua_pushinteger(L, sig);
    lua_setfield(L, -2, "signal");
    lua_pushstring(L, name ? name : "?");
    lua_setfield(L, -2, "signame");
    if (WIFSIGNALED(status)) {
      lua_pushboolean(L, WCOREDUMP(status));
      lua_setfield(L, -2, "core");
    }
  }
  else if (WIFCONTINUED(status)) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "continued");
  }
  if (ru) {
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, ru->ru_utime.tv_sec + ru->ru_utime.tv_usec / 1e6);
    lua_setfield(L, -2, "utime");
    lua_pushnumber(L, ru->ru_stime.tv_sec + ru->ru_stime.tv_usec / 1e6);
    lua_setfield(L, -2, "stime");
    lua_pushinteger(L, ru->ru_maxrss);
    lua_setfield(L, -2, "maxrss");
    lua_setfield(L, -2, "rusage");
  }
}

/* }====== */


/* {====== fork, exec ======} */

static int l_fork (lua_State *L) {
  pid_t pid = fork();
  if (pid < 0) return lj_pushfail(L, "fork", errno);
  lua_pushinteger(L, pid);
  return 1;
}

/* env: nil (the current environment), a list of "K=V", or a map K -> V */
const char **lj_argenv (ljArgs *A, int n) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  size_t count = 0, i = 0;
  const char **env;
  if (lj_isnone(A, n)) return (const char **)environ;
  lj_argtable(A, n);
  lua_pushnil(L);
  while (lua_next(L, idx)) count++, lua_pop(L, 1);
  if (lua_rawlen(L, idx) > 0) {    /* a list: any other key would be lost */
    if (count != lua_rawlen(L, idx))
      lj_argerror(A, n, "a list of \"NAME=value\" or a map, not both");
    env = lj_argstrlist(A, n, &count);
    for (i = 0; i < count; i++)
      if (strchr(env[i], '=') == NULL || env[i][0] == '=')
        lj_argerror(A, n, "item %d: \"NAME=value\" expected", (int)i + 1);
    return env;
  }
  env = (const char **)lj_alloc(L, A->arena, sizeof(char *) * (count + 1));
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t kl, vl;
    const char *k, *v;
    char *kv;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      lj_argerror(A, n, "string keys and values expected");
    k = lua_tolstring(L, -2, &kl);
    v = lua_tolstring(L, -1, &vl);
    if (kl == 0 || memchr(k, '=', kl) || memchr(k, '\0', kl)
        || memchr(v, '\0', vl))
      lj_argerror(A, n, "bad variable \"%s\"", k);
    kv = (char *)lj_alloc(L, A->arena, kl + vl + 2);
    memcpy(kv, k, kl);
    kv[kl] = '=';
    memcpy(kv + kl + 1, v, vl + 1);
    env[i++] = kv;
    lua_pop(L, 1);
  }
  env[i] = NULL;
  return env;
}

const char **lj_argargv (ljArgs *A, int n) {
  size_t count;
  const char **argv = lj_argstrlist(A, n, &count);
  if (count == 0) lj_argerror(A, n, "empty argv (argv[1] is the name)");
  return argv;
}

/*
** execp with an env searches that env's PATH, as env(1) and a spawn plan
** do (execvpe(3) would search ours), or the spawner's default.  Each
** candidate goes to execvpe as a path: a #!-less script still runs
** with /bin/sh.  Returns with errno set, as execvp does.
*/
static void execsearch (const char *file, char **argv, char **env) {
  const char *dir = "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(file);
  int eacces = 0, i;
  for (i = 0; env[i]; i++)
    if (strncmp(env[i], "PATH=", 5) == 0) dir = env[i] + 5;
  for (;;) {
    size_t n = strcspn(dir, ":"), len = n ? n : 1;  /* "" is "." */
    char buf[4096];
    if (len + flen + 2 <= sizeof buf) {
      memcpy(buf, n ? dir : ".", len);
      buf[len] = '/';
      memcpy(buf + len + 1, file, flen + 1);
      execvpe(buf, argv, env);
      if (errno == EACCES) eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE
               && errno != ENODEV && errno != ETIMEDOUT)
        return;                    /* found, but it failed: stop there */
    }
    if (dir[n] == '\0') break;
    dir += n + 1;
  }
  errno = eacces ? EACCES : ENOENT;
}

static int execute (lua_State *L, int search) {
  ljArgs A;
  const char *path, **argv, **env;
  lj_args(&A, L, search ? "execp" : "exec", "path,argv,env");
  A.arena = lj_newarena(L);
  A.n = 3 < A.n ? 3 : A.n;
  path = lj_argpath(&A, 1);
  argv = lj_argargv(&A, 2);
  env = lj_argenv(&A, 3);
  if (search && !lj_isnone(&A, 3) && strchr(path, '/') == NULL)
    execsearch(path, (char **)argv, (char **)env);
  else if (search) execvpe(path, (char **)argv, (char **)env);
  else execve(path, (char **)argv, (char **)env);
  return lj_pushfail(L, lua_pushfstring(L, "%s(\"%s\")",
                                        search ? "execp" : "exec", path),
                     errno);
}

static int l_exec (lua_State *L) { return execute(L, 0); }
static int l_execp (lua_State *L) { return execute(L, 1); }

/* }====== */


/* {====== waitpid, kill, getpid, _exit ======} */

static const ljName waitflags[] = {
  { "nohang", WNOHANG, NULL }, { "untraced", WUNTRACED, NULL },
  { "continued", WCONTINUED, NULL }, { NULL, 0, NULL }
};

static const ljNames lj_waitflags = { "wait option", "W", waitflags };

/* waitpid(pid [, options]) -> status table (with .pid) | false (nohang,
** still running) | nil, msg, errno */
static int l_waitpid (lua_State *L) {
  ljArgs A;
  int status = 0, pid, opts;
  struct rusage ru;
  pid_t r;
  lj_args(&A, L, "waitpid", "pid,options");
  pid = (int)lj_argint(&A, 1, INT32_MIN + 1, INT32_MAX);
  opts = (int)lj_argflags(&A, 2, &lj_waitflags);
  do r = wait4(pid, &status, opts, &ru); while (r < 0 && errno == EINTR);
  if (r < 0)
    return lj_pushfail(L, lua_pushfstring(L, "waitpid(%d)", pid), errno);
  if (r == 0) { lua_pushboolean(L, 0); return 1; }
  lj_pushstatus(L, status, &ru);
  lua_pushinteger(L, r);
  lua_setfield(L, -2, "pid");
  return 1;
}

static int l_kill (lua_State *L) {
  ljArgs A;
  int pid, sig;
  lj_args(&A, L, "kill", "pid,signal");
  pid = (int)lj_argint(&A, 1, INT32_MIN + 1, INT32_MAX);
  sig = lj_isnone(&A, 2) ? SIGTERM : lj_argsignal0(&A, 2);
  if (kill(pid, sig) != 0)
    return lj_pushfail(L, lua_pushfstring(L, "kill(%d, %d)", pid, sig),
                       errno);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_getpid (lua_State *L) {
  lua_pushinteger(L, getpid());
  return 1;
}

static int l_getppid (lua_State *L) {
  lua_pushinteger(L, getppid());
  return 1;
}

/* isatty(fd) -> true if fd is open on a terminal: what a sandbox given
** that fd could reconfigure (compile adds the terminal ioctl rules) */
static int l_isatty (lua_State *L) {
  ljArgs A;
  lj_args(&A, L, "isatty", "fd");
  lua_pushboolean(L, isatty((int)lj_argint(&A, 1, 0, INT_MAX)));
  return 1;
}

/* close(fd) -> true | nil, msg, errno: for the fds core hands out raw
** (core.nsfd) once they have been passed on */
static int l_close (lua_State *L) {
  ljArgs A;
  int fd;
  lj_args(&A, L, "close", "fd");
  fd = lj_argfd(&A, 1);
  if (close(fd) != 0) return lj_pushfail(L, lua_pushfstring(L, "close(%d)", fd), errno);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_exit (lua_State *L) {
  ljArgs A;
  lj_args(&A, L, "_exit", "code");
  _exit((int)lj_optint(&A, 1, 0, 255, 0));
  return 0;
}

/* }====== */


void lj_open_proc (lua_State *L) {
  static const luaL_Reg fns[] = {
    { "fork", l_fork }, { "exec", l_exec }, { "execp", l_execp },
    { "waitpid", l_waitpid }, { "kill", l_kill }, { "getpid", l_getpid },
    { "getppid", l_getppid }, { "isatty", l_isatty }, { "close", l_close },
    { "_exit", l_exit },
    { NULL, NULL }
  };
  luaL_setfuncs(L, fns, 0);
}
