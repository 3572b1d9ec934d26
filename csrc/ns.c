/*
** ns.c: namespaces (unshare, setns -- by path, by namespace fd, or by a
** process's pidfd), host and domain names, and the uid/gid maps of a user
** namespace (core.write_idmap; lj_writemaps for the spawner and lj.call).
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

/* i[1] > 0: a fresh network namespace made ahead of time (netpool.c;
** spawn.c sets it, a plan cannot), joined in place of a new one; should
** the join fail, the step makes its own */
static int unshare_apply (const ljStep *s, ljCtx *c) {
  int flags = (int)s->i[0];
  (void)c;
  if (s->i[1] > 0) {
    if ((flags & CLONE_NEWNET) && setns((int)s->i[1], CLONE_NEWNET) == 0)
      flags &= ~CLONE_NEWNET;
    close((int)s->i[1]);
  }
  return unshare(flags) == 0 ? 0 : errno;   /* unshare(0): nothing */
}

static void ns_describe (const ljStep *s, ljBuf *b) {
  if (s->op->apply == unshare_apply) {
    lj_bufaddflags(b, &lj_nsflags, s->i[0]);
    if (s->i[1] > 0) lj_bufadd(b, "; net made ahead");
    return;
  }
  if (s->s[0]) lj_bufaddq(b, s->s[0]);
  else { lj_bufadd(b, "fd "); lj_bufaddint(b, s->i[1]); }
  if (s->i[0]) { lj_bufadd(b, ", "); lj_bufaddflags(b, &lj_nsflags, s->i[0]); }
}

static const ljOp op_unshare = {
  "unshare", "namespaces", LJ_PARENT(unshare_decode), unshare_apply, LJ_PARENT(ns_describe), 0
};

/* setns(path_or_fd, nstype): nstype may be omitted (any type).  The fd
** may be a pidfd: nstype then names the namespaces of that process to
** join (see below); the runner keeps it (usefd) */
static void setns_decode (ljArgs *A, ljStep *s) {
  int t = A->n < 1 ? LUA_TNONE : lua_type(A->L, lj_argidx(A, 1));
  if (t == LUA_TSTRING) s->s[0] = lj_argpath(A, 1);
  else if (t == LUA_TNUMBER) s->i[1] = s->usefd = lj_argfd(A, 1);
  else lj_argerror(A, 1, "path or fd expected, got %s",
                   lua_typename(A->L, t));     /* LUA_TNONE: "no value" */
  s->i[0] = lj_argflags(A, 2, &lj_nsflags);
}

/* {====== Entering a process: setns(pidfd, namespaces) ======}
** With a pidfd, setns joins that process's namespaces, several at once:
** setns(2) itself takes a pidfd and a set of CLONE_NEW* flags (Linux
** 5.8) and joins them all or none; before that, each /proc/PID/ns/X is
** opened and joined in turn, user first (it gives the capabilities the
** others need), mount last.  The /proc/PID directory is opened first and
** the pidfd checked after (it polls readable once its process is gone),
** so a pid recycled meanwhile is never entered: the pid of a process
** that still runs is its own.  Joining the mount namespace lands in the
** process's root and working directory (as nsenter --root --wd), not in
** the namespace's root: a chroot of the process holds for us too.
** System calls only: this runs in the runner.
*/

static const int nsorder[] = {
  CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET,
  CLONE_NEWPID, CLONE_NEWTIME, CLONE_NEWNS
};
static const char *const nsfile[] = {
  "ns/user", "ns/cgroup", "ns/ipc", "ns/uts", "ns/net", "ns/pid", "ns/time",
  "ns/mnt"
};

/* "/proc/self/fdinfo/N" or "/proc/N" into buf, by hand */
static void procpath (char *buf, const char *pre, int n, const char *post) {
  char d[16];
  int k = 0;
  size_t len = strlen(pre);
  memcpy(buf, pre, len);
  do d[k++] = (char)('0' + n % 10); while ((n /= 10) > 0);
  while (k > 0) buf[len++] = d[--k];
  memcpy(buf + len, post, strlen(post) + 1);
}

/* the pid of a pidfd (its fdinfo's "Pid:" line), 0 if fd is no pidfd
** (or /proc is not there to tell), -1 if its process is gone */
int lj_fdinfopid (const char *path) {
  char buf[1024], *p;
  ssize_t n;
  int f, pid = 0, neg = 0;
  if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
  n = read(f, buf, sizeof buf - 1);
  close(f);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (p = buf; (p = strstr(p, "Pid:")) != NULL; p++)
    if (p == buf || p[-1] == '\n') break;
  if (p == NULL) return 0;
  for (p += 4; *p == ' ' || *p == '\t'; p++) {}
  if (*p == '-') { neg = 1; p++; }
  while (*p >= '0' && *p <= '9') pid = pid * 10 + (*p++ - '0');
  return neg || pid == 0 ? -1 : pid;
}

static int pidfdpid (int fd) {
  char path[48];
  procpath(path, "/proc/self/fdinfo/", fd, "");
  return lj_fdinfopid(path);
}

/* the pidfd's process still runs: a pidfd polls readable once it has
** exited (Linux 5.3, as pidfd_open) */
static int alive (int pidfd) {
  struct pollfd p;
  p.fd = pidfd;
  p.events = POLLIN;
  p.revents = 0;
  return poll(&p, 1, 0) == 0;
}

static void closeall (int *fds, int n) {
  int k;
  for (k = 0; k < n; k++)
    if (fds[k] >= 0) close(fds[k]);
}

/* before setns(2) took pidfds: each namespace by its /proc file, through
** the directory the pidfd vouched for */
static int joinfiles (int dir, int flags) {
  int fds[8], k, err = 0;
  for (k = 0; k < 8; k++) fds[k] = -1;
  for (k = 0; k < 8 && !err; k++)
    if ((flags & nsorder[k])
        && (fds[k] = openat(dir, nsfile[k], O_RDONLY | O_CLOEXEC)) < 0)
      err = errno == ENOENT ? EINVAL : errno;  /* a kernel without it */
  for (k = 0; k < 8 && !err; k++)
    if (fds[k] >= 0 && setns(fds[k], nsorder[k]) != 0) err = errno;
  closeall(fds, 8);
  return err;
}

static int enterpid (int pidfd, int pid, int flags) {
  char path[32];
  int fds[3] = { -1, -1, -1 }, err = 0;  /* /proc/PID, its root, cwd */
  if (pid < 0) return ESRCH;
  procpath(path, "/proc/", pid, "");
  if ((fds[0] = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return errno == ENOENT ? ESRCH : errno;
  if ((flags & CLONE_NEWNS)
      && ((fds[1] = openat(fds[0], "root", O_PATH | O_CLOEXEC)) < 0
          || (fds[2] = openat(fds[0], "cwd", O_PATH | O_CLOEXEC)) < 0))
    err = errno;
  if (!err && !alive(pidfd)) err = ESRCH;   /* fds[0] may be another's */
  if (!err && setns(pidfd, flags) != 0) {
    err = errno;
    if (err == EINVAL) err = joinfiles(fds[0], flags);   /* < 5.8 */
  }
  if (!err && fds[1] >= 0
      && (fchdir(fds[1]) != 0 || chroot(".") != 0 || fchdir(fds[2]) != 0))
    err = errno;
  closeall(fds, 3);
  return err;
}

/* }====== */

static int setns_apply (const ljStep *s, ljCtx *c) {
  int fd = (int)s->i[1], err = 0, pid;
  (void)c;
  if (s->s[0]) {
    if ((fd = open(s->s[0], O_RDONLY | O_CLOEXEC)) < 0) return errno;
    if (setns(fd, (int)s->i[0]) != 0) err = errno;
    close(fd);
    return err;
  }
  if (s->i[0] && (pid = pidfdpid(fd)) != 0)
    return enterpid(fd, pid, (int)s->i[0]);
  return setns(fd, (int)s->i[0]) == 0 ? 0 : errno;
}

static const ljOp op_setns = {
  "setns", "path_or_fd,nstype", LJ_PARENT(setns_decode), setns_apply,
  LJ_PARENT(ns_describe), 0
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

/* newuidmap or newgidmap, for maps we may not write ourselves */
static int runhelper (const char *prog, int pid, const char *map) {
  char *argv[1 + 1 + 3 * 340 + 1], buf[8192], pidstr[16];
  int argc = 0, status;
  pid_t h;
  char *save = NULL, *tok;
  snprintf(pidstr, sizeof pidstr, "%d", pid);
  snprintf(buf, sizeof buf, "%s", map);
  argv[argc++] = (char *)prog;
  argv[argc++] = pidstr;
  for (tok = strtok_r(buf, " \n", &save); tok && argc < 1 + 1 + 3 * 340;
       tok = strtok_r(NULL, " \n", &save))
    argv[argc++] = tok;
  argv[argc] = NULL;
  if ((errno = posix_spawnp(&h, prog, NULL, NULL, argv, environ)) != 0)
    return errno == ENOENT ? EPERM : errno;
  while (waitpid(h, &status, 0) < 0)
    if (errno != EINTR) return errno;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

/* single line mapping our own euid/egid: a user may write it himself */
static int ownmap (const char *map, unsigned id) {
  unsigned in, out, count;
  char tail;
  return sscanf(map, "%u %u %u\n%c", &in, &out, &count, &tail) == 3
         && out == id && count == 1;
}

int lj_writemaps (int pid, const char *uid, const char *gid, int setgroups,
                  const char **what) {
  int err;
  if (setgroups || (gid && !lj_hascap(CAP_SETGID) && ownmap(gid, getegid()))) {
    *what = "setgroups";
    if ((err = lj_writeproc(pid, "setgroups",
                            setgroups == 2 ? "allow" : "deny")) != 0)
      return err;
  }
  if (uid) {
    *what = "uid_map";
    err = lj_hascap(CAP_SETUID) || ownmap(uid, geteuid())
          ? lj_writeproc(pid, "uid_map", uid)
          : runhelper("newuidmap", pid, uid);
    if (err) return err;
  }
  if (gid) {
    *what = "gid_map";
    err = lj_hascap(CAP_SETGID) || ownmap(gid, getegid())
          ? lj_writeproc(pid, "gid_map", gid)
          : runhelper("newgidmap", pid, gid);
    if (err) return err;
  }
  return 0;
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

/* core.nsfd(pidfd, "net") -> an fd of that process's namespace (O_RDONLY,
** close-on-exec), for a helper that takes one by path (pasta's --netns
** /proc/self/fd/N) | nil, msg, errno.  Opened through /proc/PID, checked
** against the pidfd after: a recycled pid is never the one opened */
static int l_nsfd (lua_State *L) {
  ljArgs A;
  char path[32];
  const char *name;
  int pidfd, pid, dir, fd, k;
  lj_args(&A, L, "nsfd", "pidfd,namespace");
  pidfd = lj_argfd(&A, 1);
  name = lj_argstr(&A, 2, NULL);
  for (k = 0; k < 8; k++)
    if (strcmp(nsfile[k] + 3, name) == 0) break;
  if (k == 8)
    lj_argerror(&A, 2, "user, cgroup, ipc, uts, net, pid, time or mnt expected");
  if ((pid = pidfdpid(pidfd)) <= 0)
    return lj_pushfail(L, "nsfd (no live process)", pid < 0 ? ESRCH : EBADF);
  procpath(path, "/proc/", pid, "");
  if ((dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    return lj_pushfail(L, lua_pushfstring(L, "nsfd open(\"%s\")", path), errno);
  fd = openat(dir, nsfile[k], O_RDONLY | O_CLOEXEC);
  k = errno;
  close(dir);
  if (fd < 0) return lj_pushfail(L, lua_pushfstring(L, "nsfd %s/%s", path, name), k);
  if (!alive(pidfd)) {             /* dir may have been another's */
    close(fd);
    return lj_pushfail(L, "nsfd (the process has exited)", ESRCH);
  }
  lua_pushinteger(L, fd);
  return 1;
}

void lj_open_ns (lua_State *L) {
  static const luaL_Reg fns[] = {
    { "write_idmap", write_idmap },
    { "write_setgroups", write_setgroups },
    { "nsfd", l_nsfd },
    { NULL, NULL }
  };
  luaL_setfuncs(L, fns, 0);
  lj_pushnames(L, &lj_nsflags);
  lua_setfield(L, -2, "CLONE");
}
