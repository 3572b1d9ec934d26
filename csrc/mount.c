/*
** mount.c: mount, umount, pivot_root, chroot, chdir and the small file
** helpers recipes need (mkdir_p, symlink, write_file, touch), and the
** plan step "beneath" that keeps them inside a new root.
** Every apply function here is async-signal-safe.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "lj.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#ifndef MOUNT_ATTR_RDONLY              /* <linux/mount.h> clashes with glibc */
#define MOUNT_ATTR_RDONLY   0x00000001
#define MOUNT_ATTR_NOSUID   0x00000002
#define MOUNT_ATTR_NODEV    0x00000004
#define MOUNT_ATTR_NOEXEC   0x00000008
struct mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif


#define N(name, value)  { name, value, NULL }

static const ljName mountflags[] = {
  N("rdonly", MS_RDONLY), N("nosuid", MS_NOSUID), N("nodev", MS_NODEV),
  N("noexec", MS_NOEXEC), N("synchronous", MS_SYNCHRONOUS),
  N("remount", MS_REMOUNT), N("mandlock", MS_MANDLOCK),
  N("dirsync", MS_DIRSYNC), N("nosymfollow", MS_NOSYMFOLLOW),
  N("noatime", MS_NOATIME), N("nodiratime", MS_NODIRATIME),
  N("bind", MS_BIND), N("move", MS_MOVE), N("rec", MS_REC),
  N("silent", MS_SILENT), N("posixacl", MS_POSIXACL),
  N("unbindable", MS_UNBINDABLE), N("private", MS_PRIVATE),
  N("slave", MS_SLAVE), N("shared", MS_SHARED), N("relatime", MS_RELATIME),
  N("strictatime", MS_STRICTATIME), N("lazytime", MS_LAZYTIME),
  { NULL, 0, NULL }
};

const ljNames lj_mountflags = { "mount flag", "MS_", mountflags };

static const ljName umountflags[] = {
  N("force", MNT_FORCE), N("detach", MNT_DETACH), N("expire", MNT_EXPIRE),
  { "nofollow", UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW" }, { NULL, 0, NULL }
};

const ljNames lj_umountflags = { "umount flag", "MNT_", umountflags };


/* {====== Beneath a root ======}
** A plan's {"beneath", root} step: from then on, every path under root
** that mount (its target), mkdir_p, touch, write_file and symlink (the
** link) act on resolves inside root as if root were / (openat2 with
** RESOLVE_IN_ROOT): a symlink planted by whoever can write a directory
** bound into the sandbox -- the payload of an earlier run, say -- cannot
** lead a setup write or mount out of it.  The last component is never
** followed when created or written; a mount point that is a directory is
** opened first and mounted on through the fd (fchdir, then "."), so no
** later swap can move it.  A plan's step only: it changes how the steps
** after it resolve.
*/

typedef struct At {
  int dirfd;                       /* the parent, or AT_FDCWD */
  const char *name;                /* the last component */
  char buf[4096];
} At;

#define MAXDEPTH 256                /* directories deep, by hand */

/* RESOLVE_IN_ROOT by hand, where openat2 is missing (before Linux 5.6;
** valgrind): one component at a time, O_NOFOLLOW, each opened from the
** fd of the one before; a symlink's target is spliced in front of what
** is left (from the root when absolute); ".." goes back one fd and never
** above the root.  flags: O_PATH, maybe O_DIRECTORY. */
static int walkin (ljCtx *c, const char *rel, int flags) {
  char buf[2][8192];
  int stack[MAXDEPTH], depth = 0, links = 0, k = 0, err = 0, fd = -1;
  const char *rest;
  size_t n = strlen(rel);
  if (n >= sizeof buf[0]) return errno = ENAMETOOLONG, -1;
  memcpy(buf[0], rel, n + 1);
  rest = buf[0];
  stack[0] = c->beneathfd;
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

static int openin (ljCtx *c, const char *rel, int flags) {
  struct open_how how;
  int fd;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  fd = (int)syscall(SYS_openat2, c->beneathfd, rel, &how, sizeof how);
  return fd < 0 && errno == ENOSYS ? walkin(c, rel, flags) : fd;
}

/* path below the "beneath" root ("/x/y"), or NULL */
static const char *inroot (ljCtx *c, const char *path) {
  size_t n;
  if (c->beneath == NULL) return NULL;
  n = strlen(c->beneath);
  if (strncmp(path, c->beneath, n) != 0 || (path[n] != '/' && path[n] != '\0'))
    return NULL;
  return path[n] ? path + n : "/";
}

/* a->dirfd, a->name: where path is, for the *at() calls */
static int at (ljCtx *c, const char *path, At *a) {
  const char *rel = inroot(c, path);
  char *slash;
  size_t len;
  a->dirfd = AT_FDCWD;
  a->name = path;
  if (rel == NULL) return 0;
  len = strlen(rel);
  if (len >= sizeof a->buf) return ENAMETOOLONG;
  memcpy(a->buf, rel, len + 1);
  while (len > 1 && a->buf[len - 1] == '/') a->buf[--len] = '\0';
  slash = strrchr(a->buf, '/');    /* rel starts with '/' */
  a->name = slash[1] ? slash + 1 : ".";
  if (strcmp(a->name, "..") == 0) return EINVAL;
  if (slash == a->buf) a->dirfd = openin(c, "/", O_PATH | O_DIRECTORY);
  else {
    *slash = '\0';
    a->dirfd = openin(c, a->buf, O_PATH | O_DIRECTORY);
  }
  return a->dirfd < 0 ? errno : 0;
}

static void closeat (At *a) {
  if (a->dirfd >= 0) close(a->dirfd);
  a->dirfd = AT_FDCWD;
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
  "beneath", "root", beneath_decode, beneath_apply, NULL, LJ_OPF_PLAN
};

/* }====== */



/* {====== mount ======}
** A bind mount ignores rdonly, nosuid, nodev and noexec: like mount(8),
** core.mount then remounts the bind with them, keeping the flags the
** kernel has locked on the source (in a user namespace a remount that
** drops a locked flag fails with EPERM).  With "rec", every mount of the
** tree gets them, through mount_setattr(2) (Linux 5.12); a kernel
** without it fails with ENOSYS rather than leave submounts writable.  If
** the flags cannot be applied the bind is undone: fail closed.
*/

#define BINDATTRS  (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

static void mount_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_optstr(A, 1, NULL);
  s->s[1] = lj_argpath(A, 2);
  s->s[2] = lj_optstr(A, 3, NULL);
  s->i[0] = lj_argflags(A, 4, &lj_mountflags);
  s->s[3] = lj_optstr(A, 5, NULL);
}

static unsigned long lockedflags (const char *target, int *err) {
  struct statfs sf;
  unsigned long f = 0;
  if (statfs(target, &sf) != 0) { *err = errno; return 0; }
  if (sf.f_flags & ST_RDONLY) f |= MS_RDONLY;
  if (sf.f_flags & ST_NOSUID) f |= MS_NOSUID;
  if (sf.f_flags & ST_NODEV) f |= MS_NODEV;
  if (sf.f_flags & ST_NOEXEC) f |= MS_NOEXEC;
  if (sf.f_flags & ST_NOATIME) f |= MS_NOATIME;
  if (sf.f_flags & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sf.f_flags & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

static int setattr_rec (const char *target, unsigned long fl) {
  struct mount_attr ma;
  memset(&ma, 0, sizeof ma);
  if (fl & MS_RDONLY) ma.attr_set |= MOUNT_ATTR_RDONLY;
  if (fl & MS_NOSUID) ma.attr_set |= MOUNT_ATTR_NOSUID;
  if (fl & MS_NODEV) ma.attr_set |= MOUNT_ATTR_NODEV;
  if (fl & MS_NOEXEC) ma.attr_set |= MOUNT_ATTR_NOEXEC;
  if (syscall(SYS_mount_setattr, AT_FDCWD, target, AT_RECURSIVE, &ma,
              sizeof ma) != 0)
    return errno;
  return 0;
}

/* the bind's flags, after the bind itself */
static int bindattrs (const char *target, unsigned long fl) {
  unsigned long keep;
  int err = 0;
  if (fl & MS_REC) return setattr_rec(target, fl);
  keep = lockedflags(target, &err);
  if (err) return err;
  return mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | keep |
               (fl & BINDATTRS), NULL) == 0 ? 0 : errno;
}

/* mount(2), then a bind's flags (undone if they fail) */
static int mountat (const ljStep *s, const char *target) {
  unsigned long fl = (unsigned long)s->i[0];
  int err;
  if (mount(s->s[0], target, s->s[2], fl, s->s[3]) != 0) return errno;
  if ((fl & MS_BIND) && (fl & BINDATTRS) && !(fl & MS_REMOUNT)
      && (err = bindattrs(target, fl)) != 0) {
    umount2(target, MNT_DETACH);
    return err;
  }
  return 0;
}

/* beneath a root: a directory through its fd (mount "." from inside it;
** the bind's flags from inside the new mount, "." again); a file by name
** in its parent, never through a symlink */
static int mountin (const ljStep *s, ljCtx *c, const char *rel) {
  unsigned long fl = (unsigned long)s->i[0];
  struct stat st;
  At a;
  int cwd, fd, err = 0;
  if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return errno;
  if ((fd = openin(c, rel, O_PATH)) < 0 || fstat(fd, &st) != 0) err = errno;
  else if (S_ISDIR(st.st_mode)) {
    if (fchdir(fd) != 0 || mount(s->s[0], ".", s->s[2], fl, s->s[3]) != 0)
      err = errno;
    else if ((fl & MS_BIND) && (fl & BINDATTRS) && !(fl & MS_REMOUNT)) {
      close(fd);                   /* "." is under the new mount: reopen */
      if ((fd = openin(c, rel, O_PATH | O_DIRECTORY)) < 0 || fchdir(fd) != 0)
        err = errno;
      else err = bindattrs(".", fl);
      if (err && fchdir(fd) == 0)  /* fail closed: no bind without them */
        umount2(".", MNT_DETACH);
    }
  }
  else if ((err = at(c, s->s[1], &a)) == 0) {
    if (fchdir(a.dirfd) != 0 || fstatat(a.dirfd, a.name, &st,
                                         AT_SYMLINK_NOFOLLOW) != 0)
      err = errno;
    else err = S_ISLNK(st.st_mode) ? ELOOP : mountat(s, a.name);
    closeat(&a);
  }
  if (fd >= 0) close(fd);
  if (fchdir(cwd) != 0 && err == 0) err = errno;
  close(cwd);
  return err;
}

static int mount_apply (const ljStep *s, ljCtx *c) {
  const char *rel = inroot(c, s->s[1]);
  return rel ? mountin(s, c, rel) : mountat(s, s->s[1]);
}

static void mount_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddq(b, s->s[0] ? s->s[0] : "none");
  lj_bufadd(b, ", ");
  lj_bufaddq(b, s->s[1]);
  if (s->s[2]) { lj_bufadd(b, ", "); lj_bufaddq(b, s->s[2]); }
  else if (s->i[0]) lj_bufadd(b, ", nil");
  if (s->i[0]) { lj_bufadd(b, ", "); lj_bufaddflags(b, &lj_mountflags, s->i[0]); }
}

static const ljOp op_mount = {
  "mount", "source,target,fstype,flags,data", mount_decode, mount_apply,
  mount_describe, 0
};

/* }====== */


/* {====== umount, pivot_root, chroot, chdir ======} */

static void umount_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->i[0] = lj_argflags(A, 2, &lj_umountflags);
}

static int umount_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return umount2(s->s[0], (int)s->i[0]) == 0 ? 0 : errno;
}

static const ljOp op_umount = {
  "umount", "target,flags", umount_decode, umount_apply, NULL, 0
};

static void pivot_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->s[1] = lj_argpath(A, 2);
}

static int pivot_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return syscall(SYS_pivot_root, s->s[0], s->s[1]) == 0 ? 0 : errno;
}

static const ljOp op_pivot_root = {
  "pivot_root", "new_root,put_old", pivot_decode, pivot_apply, NULL, 0
};

static void path_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
}

static int chroot_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return chroot(s->s[0]) == 0 ? 0 : errno;
}

static int chdir_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return chdir(s->s[0]) == 0 ? 0 : errno;
}

static const ljOp op_chroot = {
  "chroot", "path", path_decode, chroot_apply, NULL, 0
};

static const ljOp op_chdir = {
  "chdir", "path", path_decode, chdir_apply, NULL, 0
};

/* }====== */


/* {====== File helpers ======}
** Modes are exact: the umask never applies to what these create.  In a
** spawn plan (the setup runs with the caller's privileges, often in a
** host directory an earlier payload could write) the set-uid and
** set-gid bits are always cleared: a setup never makes a set-uid file.
** A direct call on the calling process keeps the mode as given.
** mkdir_p(path, mode): mkdir -p; the last directory gets mode, the
** parents it creates 0755.  An existing directory is left as it is; an
** existing non-directory is EEXIST.
** symlink(target, linkpath): an existing identical link is fine.
** write_file(path, content, mode): create or truncate, then mode.
** touch(path, mode): create an empty file with mode if nothing is there
** (a mount point); anything already there is left alone, but a FIFO or
** a socket, which nothing mounts a file on.
** Nothing here can block on what an earlier run left at a path: files
** are opened O_NONBLOCK | O_NOCTTY and never through their last
** component's symlink; write_file writes regular files only (a FIFO,
** socket or device there is ENXIO, the kernel's own answer for a FIFO
** without a reader, and is never opened when seen first); mkdir_p and
** symlink open nothing but directories.
*/

/* no set-uid or set-gid file from a plan's setup */
static mode_t filemode (const ljCtx *c, int64_t mode) {
  return (mode_t)(c->plan ? mode & ~(int64_t)(S_ISUID | S_ISGID) : mode);
}

/* where a regular file is expected: 0, or the errno for what is there */
static int regular (const struct stat *st) {
  if (S_ISREG(st->st_mode)) return 0;
  if (S_ISDIR(st->st_mode)) return EISDIR;
  if (S_ISLNK(st->st_mode)) return ELOOP;
  return ENXIO;                    /* FIFO, socket, device */
}

static void mkdir_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->i[0] = lj_argmode(A, 2, 0755);
}

/* a directory just made (0700: ours alone until then) gets its exact
** mode, through an fd */
static int setmode (At *a, mode_t m) {
  int fd = openat(a->dirfd, a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                  O_NONBLOCK | O_CLOEXEC), err = 0;
  if (fd < 0)                      /* a mode without r for us: by name */
    return errno == EACCES && fchmodat(a->dirfd, a->name, m, 0) == 0
           ? 0 : errno;
  if (fchmod(fd, m) != 0) err = errno;
  close(fd);
  return err;
}

/* a directory, following symlinks (inside the root, beneath one) */
static int isdir (ljCtx *c, const char *path) {
  const char *rel = inroot(c, path);
  struct stat st;
  int fd;
  if (rel == NULL) return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  if ((fd = openin(c, rel, O_PATH | O_DIRECTORY)) < 0) return 0;
  close(fd);
  return 1;
}

static int mkdir_apply (const ljStep *s, ljCtx *c) {
  char p[4096];
  size_t len = strlen(s->s[0]), i;
  if (len >= sizeof p) return ENAMETOOLONG;
  memcpy(p, s->s[0], len + 1);
  while (len > 1 && p[len - 1] == '/') p[--len] = '\0';
  for (i = 1; i <= len; i++) {
    mode_t m = i == len ? filemode(c, s->i[0]) : 0755;
    At a;
    int err;
    if (p[i] != '/' && p[i] != '\0') continue;
    p[i] = '\0';
    if ((err = at(c, p, &a)) == 0) {
      if (mkdirat(a.dirfd, a.name, 0700) == 0) err = setmode(&a, m);
      else if (errno != EEXIST) err = errno;
      else if (!isdir(c, p)) err = i == len ? EEXIST : ENOTDIR;
      closeat(&a);
    }
    if (err) return err;
    if (i < len) p[i] = '/';
  }
  return 0;
}

static const ljOp op_mkdir_p = {
  "mkdir_p", "path,mode", mkdir_decode, mkdir_apply, NULL, 0
};

static void symlink_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->s[1] = lj_argpath(A, 2);
}

static int symlink_apply (const ljStep *s, ljCtx *c) {
  char buf[4096];
  ssize_t n;
  At a;
  int err;
  if ((err = at(c, s->s[1], &a)) != 0) return err;
  if (symlinkat(s->s[0], a.dirfd, a.name) != 0) {
    err = errno;
    n = readlinkat(a.dirfd, a.name, buf, sizeof buf);
    if (err == EEXIST && n >= 0 && (size_t)n == strlen(s->s[0])
        && memcmp(buf, s->s[0], (size_t)n) == 0)
      err = 0;                     /* the same link: fine */
  }
  closeat(&a);
  return err;
}

static const ljOp op_symlink = {
  "symlink", "target,linkpath", symlink_decode, symlink_apply, NULL, 0
};

static void write_decode (ljArgs *A, ljStep *s) {
  size_t len;
  s->s[0] = lj_argpath(A, 1);
  s->p = lj_argbytes(A, 2, &len);
  s->i[0] = (int64_t)len;
  s->i[1] = lj_argmode(A, 3, 0644);
}

/* what is at a path seen first, then the fd opened (no O_TRUNC: what
** it is may be swapped in between), truncated once it is a regular file */
static int write_apply (const ljStep *s, ljCtx *c) {
  const char *p = (const char *)s->p;
  size_t left = (size_t)s->i[0];
  mode_t m = filemode(c, s->i[1]);
  struct stat st;
  At a;
  int fd, err;
  if ((err = at(c, s->s[0], &a)) != 0) return err;
  if (fstatat(a.dirfd, a.name, &st, AT_SYMLINK_NOFOLLOW) == 0
      && (err = regular(&st)) != 0) {
    closeat(&a);
    return err;
  }
  fd = openat(a.dirfd, a.name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
              O_NOCTTY | O_CLOEXEC, m);
  if (fd < 0) err = errno;
  closeat(&a);
  if (fd < 0) return err;
  if (fstat(fd, &st) != 0) err = errno;
  else if ((err = regular(&st)) == 0 && ftruncate(fd, 0) != 0) err = errno;
  while (left > 0 && !err) {
    ssize_t w = write(fd, p, left);
    if (w > 0) { p += w; left -= (size_t)w; }
    else if (w == 0) err = EIO;    /* never a loop without progress */
    else if (errno != EINTR) err = errno;
  }
  if (!err && fchmod(fd, m) != 0) err = errno;
  close(fd);
  return err;
}

static const ljOp op_write_file = {
  "write_file", "path,content,mode", write_decode, write_apply, NULL, 0
};

static void touch_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->i[0] = lj_argmode(A, 2, 0644);
}

/* O_EXCL: never opens what is there.  A device node (a root image's
** /dev/null) or a symlink (outside a beneath root) may be a mount point
** for a file; the mount that follows judges them */
static int touch_apply (const ljStep *s, ljCtx *c) {
  mode_t m = filemode(c, s->i[0]);
  struct stat st;
  At a;
  int fd, err = 0;
  if ((err = at(c, s->s[0], &a)) != 0) return err;
  fd = openat(a.dirfd, a.name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
              O_NONBLOCK | O_NOCTTY | O_CLOEXEC, m);
  if (fd < 0 && errno != EEXIST) err = errno;
  else if (fd < 0) {
    if (fstatat(a.dirfd, a.name, &st, AT_SYMLINK_NOFOLLOW) != 0) err = errno;
    else if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) err = ENXIO;
  }
  closeat(&a);
  if (fd >= 0) {
    if (fchmod(fd, m) != 0) err = errno;
    close(fd);
  }
  return err;
}

static const ljOp op_touch = {
  "touch", "path,mode", touch_decode, touch_apply, NULL, 0
};

/* }====== */


/* {====== stat ======}
** core.stat(path [, follow]) -> {type=, mode="0755", uid=, gid=, size=,
** dev=, ino=} where type is "file", "dir", "link", "char", "block",
** "fifo" or "socket" (a symlink is itself unless follow) | nil, msg, errno
*/

static int l_stat (lua_State *L) {
  ljArgs A;
  struct stat st;
  const char *path, *type;
  char mode[8];
  lj_args(&A, L, "stat", "path,follow");
  path = lj_argpath(&A, 1);
  if ((lj_optbool(&A, 2, 0) ? stat(path, &st) : lstat(path, &st)) != 0)
    return lj_pushfail(L, lua_pushfstring(L, "stat(\"%s\")", path), errno);
  switch (st.st_mode & S_IFMT) {
    case S_IFREG: type = "file"; break;
    case S_IFDIR: type = "dir"; break;
    case S_IFLNK: type = "link"; break;
    case S_IFCHR: type = "char"; break;
    case S_IFBLK: type = "block"; break;
    case S_IFIFO: type = "fifo"; break;
    default: type = "socket"; break;
  }
  mode[0] = '0';
  mode[1] = (char)('0' + ((st.st_mode >> 9) & 7));
  mode[2] = (char)('0' + ((st.st_mode >> 6) & 7));
  mode[3] = (char)('0' + ((st.st_mode >> 3) & 7));
  mode[4] = (char)('0' + (st.st_mode & 7));
  mode[5] = '\0';
  lua_createtable(L, 0, 7);
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
  return 1;
}

/* core.realpath(path) -> the canonical absolute path (symlinks resolved) */
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

/* }====== */


const ljOp *const lj_ops_mount[] = {
  &op_mount, &op_umount, &op_pivot_root, &op_chroot, &op_chdir,
  &op_mkdir_p, &op_symlink, &op_write_file, &op_touch, &op_beneath, NULL
};

void lj_open_mount (lua_State *L) {
  lua_pushcfunction(L, l_stat);
  lua_setfield(L, -2, "stat");
  lua_pushcfunction(L, l_realpath);
  lua_setfield(L, -2, "realpath");
  lj_pushnames(L, &lj_mountflags);
  lua_setfield(L, -2, "MS");
  lj_pushnames(L, &lj_umountflags);
  lua_setfield(L, -2, "MNT");
}
