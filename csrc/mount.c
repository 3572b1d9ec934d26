/*
** mount.c: mount, bind and overlay (host sources by fd), umount,
** pivot_root, chroot, chdir and the small file helpers recipes need
** (mkdir_p, symlink, write_file, touch); below the root of a "beneath"
** step (path.c) their paths resolve inside it.
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
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP    0x00100000
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef OPEN_TREE_CLONE                /* <linux/mount.h>, as above */
#define OPEN_TREE_CLONE          1
#define MOVE_MOUNT_F_EMPTY_PATH  0x00000004
#define MOVE_MOUNT_T_SYMLINKS    0x00000010
#define MOVE_MOUNT_T_EMPTY_PATH  0x00000040
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


/* {====== Paths beneath a root ======}
** Below the root of a plan's {"beneath", root} step (path.c), a path is
** opened inside it (lj_openin).  The last component is never followed
** when created or written; a mount point is opened first and mounted on
** through its fd, so no later swap can move it.
*/

typedef struct At {
  int dirfd;                       /* the parent, or AT_FDCWD */
  const char *name;                /* the last component */
  char buf[4096];
} At;

/* a->dirfd, a->name: where path is, for the *at() calls */
static int at (ljCtx *c, const char *path, At *a) {
  const char *rel = lj_inroot(c, path);
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
  if (slash == a->buf) a->dirfd = lj_openin(c, "/", O_PATH | O_DIRECTORY);
  else {
    *slash = '\0';
    a->dirfd = lj_openin(c, a->buf, O_PATH | O_DIRECTORY);
  }
  return a->dirfd < 0 ? errno : 0;
}

static void closeat (At *a) {
  if (a->dirfd >= 0) close(a->dirfd);
  a->dirfd = AT_FDCWD;
}

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

/* mount_setattr(2): fl's rdonly, nosuid, nodev, noexec set, nothing
** cleared (a locked flag stays) */
static int setattr (int dirfd, const char *path, int at, unsigned long fl) {
  struct mount_attr ma;
  memset(&ma, 0, sizeof ma);
  if (fl & MS_RDONLY) ma.attr_set |= MOUNT_ATTR_RDONLY;
  if (fl & MS_NOSUID) ma.attr_set |= MOUNT_ATTR_NOSUID;
  if (fl & MS_NODEV) ma.attr_set |= MOUNT_ATTR_NODEV;
  if (fl & MS_NOEXEC) ma.attr_set |= MOUNT_ATTR_NOEXEC;
  if (syscall(SYS_mount_setattr, dirfd, path, at, &ma, sizeof ma) != 0)
    return errno;
  return 0;
}

/* the bind's flags, after the bind itself */
static int bindattrs (const char *target, unsigned long fl) {
  unsigned long keep;
  int err = 0;
  if (fl & MS_REC) return setattr(AT_FDCWD, target, AT_RECURSIVE, fl);
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
** the bind's flags from inside the new mount, "." again).  A file is
** mountfile's (below): one reached here is behind a symlink, ELOOP */
static int mountin (const ljStep *s, ljCtx *c, const char *rel) {
  unsigned long fl = (unsigned long)s->i[0];
  struct stat st;
  int cwd, fd, err = 0;
  if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) return errno;
  if ((fd = lj_openin(c, rel, O_PATH)) < 0 || fstat(fd, &st) != 0) err = errno;
  else if (S_ISDIR(st.st_mode)) {
    if (fchdir(fd) != 0 || mount(s->s[0], ".", s->s[2], fl, s->s[3]) != 0)
      err = errno;
    else if ((fl & MS_BIND) && (fl & BINDATTRS) && !(fl & MS_REMOUNT)) {
      close(fd);                   /* "." is under the new mount: reopen */
      if ((fd = lj_openin(c, rel, O_PATH | O_DIRECTORY)) < 0 || fchdir(fd) != 0)
        err = errno;
      else err = bindattrs(".", fl);
      if (err && fchdir(fd) == 0)  /* fail closed: no bind without them */
        umount2(".", MNT_DETACH);
    }
  }
  else err = ELOOP;
  if (fd >= 0) close(fd);
  if (fchdir(cwd) != 0 && err == 0) err = errno;
  close(cwd);
  return err;
}

/* beneath a root, onto a file that is no symlink (the /proc masks, the
** /dev nodes): by name in its parent, found once; -1 for anything else
** (a directory, a symlink, nothing there), which mountin judges */
static int mountfile (const ljStep *s, ljCtx *c) {
  struct stat st;
  At a;
  int cwd, err = -1;
  if (at(c, s->s[1], &a) != 0) return -1;
  if (fstatat(a.dirfd, a.name, &st, AT_SYMLINK_NOFOLLOW) == 0
      && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
    if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) err = errno;
    else {
      err = fchdir(a.dirfd) != 0 ? errno : mountat(s, a.name);
      if (fchdir(cwd) != 0 && err == 0) err = errno;
      close(cwd);
    }
  }
  closeat(&a);
  return err;
}

static int mount_apply (const ljStep *s, ljCtx *c) {
  const char *rel = lj_inroot(c, s->s[1]);
  int err;
  if (rel == NULL) return mountat(s, s->s[1]);
  return (err = mountfile(s, c)) >= 0 ? err : mountin(s, c, rel);
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
  "mount", "source,target,fstype,flags,data", LJ_PARENT(mount_decode), mount_apply,
  LJ_PARENT(mount_describe), 0
};

/* }====== */


/* {====== bind, overlay: host sources, by fd ======}
** core.bind(source, target [, flags [, proc [, uid, gid]]]) and core.overlay(target,
** lower [, upper, work [, flags [, proc]]]) open every source with no
** symlink in any component of its path (lj_opennolinks: ELOOP), so a
** symlink that a payload left in a directory it could write leads no
** bind and no overlay layer elsewhere on the host; the symlinks inside a
** bound tree are the sandbox's own.  A bind is attached by its fd:
** open_tree(2) clones it detached, mount_setattr(2) gives it its flags
** before anything can see it, move_mount(2) puts it on the target (below
** the beneath root through the target's fd, as mount does).  Where the
** new mount API is missing (ENOSYS: before Linux 5.2, 5.12 for
** mount_setattr; valgrind) the fd is bound by its name in proc, then
** remounted with its flags as mount does.  Overlay layers are always
** handed to overlayfs by those names ("/proc/self/fd/7"): neither a
** symlink nor option syntax in a recipe's path reaches its parser.
** proc: a proc that shows this process ("/proc"; "/oldroot/proc" after
** a staging pivot_root, where the host's tree is).
** With uid and gid, the bind is idmapped (Linux 5.12, a file system
** that allows it): the source's owner and group (its fstat, after it is
** opened) appear as uid and gid, and what uid creates under it is stored
** as the owner's -- a sandbox's leased uid writes a root-owned work dir
** as root.  The user namespace comes from idmap.c; the mapping is set by
** the same mount_setattr as the flags, before the tree is attached.  No
** fallback: without the new mount API the step fails (ENOSYS), and a
** file system that cannot be idmapped is EINVAL.  A tree that holds a
** set-id file of its owner's (or group's) is refused first (EPERM,
** idmap.c: a shared mapping could rewrite it keeping the bit).  Nothing
** here keeps a set-id bit off what the mapped uid creates: the recipe's
** seccomp guard does (lua/lunajail/seccomp.lua, SETID).
*/

#define BINDFLAGS  (BINDATTRS | MS_REC)
#define OVLBAD     (MS_BIND | MS_MOVE | MS_REMOUNT | MS_REC | MS_PRIVATE \
                    | MS_SLAVE | MS_SHARED | MS_UNBINDABLE)
#define MAXLOWER   128
#define FDNAME     (sizeof "/self/fd/" + 10)    /* after proc, with a NUL */

/* proc, optional: it lands in overlayfs's option string */
static const char *procarg (ljArgs *A, int n) {
  const char *p, *s;
  if (lj_isnone(A, n)) return NULL;
  p = lj_argabs(A, n);
  if (strlen(p) > 256) lj_argerror(A, n, "longer than 256 bytes");
  for (s = p; *s; s++)
    if (*s == ',' || *s == ':' || *s == '\\' || (unsigned char)*s < 32
        || *s == 127)
      lj_argerror(A, n, "',', ':', '\\' and control characters cannot be "
                  "in a proc path");
  return p;
}

/* proc "/self/fd/" fd */
static void fdname (ljBuf *b, const char *proc, int fd) {
  lj_bufadd(b, proc ? proc : "/proc");
  lj_bufadd(b, "/self/fd/");
  lj_bufaddint(b, fd);
}

static void bind_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argabs(A, 1);
  s->s[1] = lj_argpath(A, 2);
  s->i[0] = lj_argflags(A, 3, &lj_mountflags);
  if (s->i[0] & ~(int64_t)BINDFLAGS)
    lj_argerror(A, 3, "a bind takes rdonly, nosuid, nodev, noexec and rec");
  s->s[3] = procarg(A, 4);
  s->i[3] = !lj_isnone(A, 5) || !lj_isnone(A, 6);      /* idmapped */
  if (s->i[3]) {
    s->i[1] = lj_argint(A, 5, 0, 4294967294LL);
    s->i[2] = lj_argint(A, 6, 0, 4294967294LL);
  }
}

/* the detached tree on target */
static int moveto (ljCtx *c, int tree, const char *target) {
  const char *rel = lj_inroot(c, target);
  int fd, err = 0;
  if (rel == NULL)                 /* as mount(2) would: links followed */
    return syscall(SYS_move_mount, tree, "", AT_FDCWD, target,
                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS) == 0
           ? 0 : errno;
  if ((fd = lj_openin(c, rel, O_PATH)) < 0) return errno;
  if (syscall(SYS_move_mount, tree, "", fd, "",
              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    err = errno;
  close(fd);
  return err;
}

/* the flags and the idmapping of the detached tree, in one call */
static int setidmap (const ljStep *s, int tree, int src, int at) {
  unsigned long fl = (unsigned long)s->i[0];
  struct mount_attr ma;
  struct stat st;
  int ns, err = 0;
  if (fstat(src, &st) != 0) return errno;
  if ((err = lj_nosetid(tree, (unsigned)st.st_uid, (unsigned)st.st_gid)) != 0)
    return err;
  err = lj_idmapns(s->s[3] ? s->s[3] : "/proc", (unsigned)s->i[1],
                   (unsigned)st.st_uid, (unsigned)s->i[2], (unsigned)st.st_gid,
                   &ns);
  if (err) return err;
  memset(&ma, 0, sizeof ma);
  if (fl & MS_RDONLY) ma.attr_set |= MOUNT_ATTR_RDONLY;
  if (fl & MS_NOSUID) ma.attr_set |= MOUNT_ATTR_NOSUID;
  if (fl & MS_NODEV) ma.attr_set |= MOUNT_ATTR_NODEV;
  if (fl & MS_NOEXEC) ma.attr_set |= MOUNT_ATTR_NOEXEC;
  ma.attr_set |= MOUNT_ATTR_IDMAP;
  ma.userns_fd = (uint64_t)ns;
  if (syscall(SYS_mount_setattr, tree, "", at, &ma, sizeof ma) != 0)
    err = errno;
  close(ns);
  return err;
}

/* open_tree, mount_setattr, move_mount: never visible without its flags */
static int attach (const ljStep *s, ljCtx *c, int src) {
  unsigned long fl = (unsigned long)s->i[0];
  int rec = fl & MS_REC ? AT_RECURSIVE : 0, err = 0;
  int tree = (int)syscall(SYS_open_tree, src, "", OPEN_TREE_CLONE |
                          O_CLOEXEC | AT_EMPTY_PATH | rec);
  if (tree < 0) return errno;
  if (s->i[3]) err = setidmap(s, tree, src, AT_EMPTY_PATH | rec);
  else if (fl & BINDATTRS) err = setattr(tree, "", AT_EMPTY_PATH | rec, fl);
  if (err == 0) err = moveto(c, tree, s->s[1]);
  close(tree);                     /* unattached: dissolved */
  return err;
}

/* mount(2) of the fd's name in proc, then the flags as mount's */
static int byname (const ljStep *s, ljCtx *c, int src) {
  char name[256 + FDNAME];
  ljBuf b = { name, 0, sizeof name };
  ljStep m = *s;
  fdname(&b, s->s[3], src);
  m.s[0] = name;
  m.s[2] = m.s[3] = NULL;
  m.i[0] = s->i[0] | MS_BIND;
  return mount_apply(&m, c);
}

static int bind_apply (const ljStep *s, ljCtx *c) {
  int src = lj_opennolinks(s->s[0], O_PATH), err;
  if (src < 0) return errno;
  if ((err = attach(s, c, src)) == ENOSYS && !s->i[3])   /* idmapped: */
    err = byname(s, c, src);                            /* no fallback */
  close(src);
  return err;
}

static void bind_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddq(b, s->s[0]);
  lj_bufadd(b, ", ");
  lj_bufaddq(b, s->s[1]);
  if (s->i[0]) { lj_bufadd(b, ", "); lj_bufaddflags(b, &lj_mountflags, s->i[0]); }
  if (s->i[3]) {
    lj_bufadd(b, ", idmap: the owner as ");
    lj_bufaddint(b, s->i[1]);
    lj_bufadd(b, ":");
    lj_bufaddint(b, s->i[2]);
  }
}

static const ljOp op_bind = {
  "bind", "source,target,flags,proc,uid,gid", LJ_PARENT(bind_decode), bind_apply,
  LJ_PARENT(bind_describe), 0
};

static void overlay_decode (ljArgs *A, ljStep *s) {
  const char *lower, *l;
  size_t n, i, each, len;
  s->s[0] = lj_argpath(A, 1);
  lower = lj_argpacked(A, 2, &n, &len);
  if (n == 0) lj_argerror(A, 2, "one lower dir or more");
  if (n > MAXLOWER) lj_argerror(A, 2, "at most %d lower dirs", MAXLOWER);
  for (i = 0, l = lower; i < n; i++, l += strlen(l) + 1)
    if (l[0] != '/')
      lj_argerror(A, 2, "item %d: absolute path expected, got \"%s\"",
                  (int)i + 1, l);
  s->s[1] = lj_isnone(A, 3) ? NULL : lj_argabs(A, 3);
  s->s[2] = lj_isnone(A, 4) ? NULL : lj_argabs(A, 4);
  if ((s->s[1] == NULL) != (s->s[2] == NULL))
    lj_argerror(A, s->s[1] ? 4 : 3, "upper and work go together");
  if (s->s[1] == NULL && n < 2)
    lj_argerror(A, 2, "a read-only overlay (no upper) needs two lower dirs "
                "or more");
  s->i[0] = lj_argflags(A, 5, &lj_mountflags);
  if (s->i[0] & (int64_t)OVLBAD)
    lj_argerror(A, 5, "bind, move, remount, rec and propagation flags are "
                "not for an overlay");
  s->s[3] = procarg(A, 6);
  each = (s->s[3] ? strlen(s->s[3]) : 5) + FDNAME;
  if (sizeof "lowerdir=,upperdir=,workdir=" + (n + 2) * each > 4096)
    lj_argerror(A, 2, "too many lower dirs for a page of mount options");
  s->p = lower;                    /* "a\0b\0": a flat blob */
  s->plen = len;
  s->i[1] = (int64_t)n;
}

/* "lowerdir=P/self/fd/A:...,upperdir=...,workdir=..." of fds opened
** without symlinks; then mount as the mount op */
static int overlay_apply (const ljStep *s, ljCtx *c) {
  const char *lower = (const char *)s->p;
  const char *extra[2] = { ",upperdir=", ",workdir=" };
  int fds[MAXLOWER + 2], n = 0, err = 0, i, nl = (int)s->i[1];
  char data[4096];
  ljBuf b = { data, 0, sizeof data };
  ljStep m = *s;
  lj_bufadd(&b, "lowerdir=");
  for (i = 0; i < nl + 2; i++) {   /* the lower dirs, upper, work */
    const char *path = i < nl ? lower : s->s[i - nl + 1];
    if (i < nl) lower += strlen(lower) + 1;
    if (path == NULL) break;       /* read-only: no upper, no work */
    if ((fds[n] = lj_opennolinks(path, O_PATH | O_DIRECTORY)) < 0) {
      err = errno;
      break;
    }
    if (i >= nl) lj_bufadd(&b, extra[i - nl]);
    else if (i > 0) lj_bufadd(&b, ":");
    fdname(&b, s->s[3], fds[n++]);
  }
  if (!err && b.n + 1 >= b.size) err = E2BIG;   /* decode made room */
  if (!err) {
    m.s[0] = "overlay";
    m.s[1] = s->s[0];
    m.s[2] = "overlay";
    m.s[3] = data;
    err = mount_apply(&m, c);
  }
  while (n > 0) close(fds[--n]);
  return err;
}

static void overlay_describe (const ljStep *s, ljBuf *b) {
  const char *lower = (const char *)s->p;
  int i;
  lj_bufaddq(b, s->s[0]);
  lj_bufadd(b, ", {");
  for (i = 0; i < (int)s->i[1]; i++, lower += strlen(lower) + 1) {
    if (i) lj_bufadd(b, ", ");
    lj_bufaddq(b, lower);
  }
  lj_bufadd(b, "}");
  if (s->s[1]) {
    lj_bufadd(b, ", ");
    lj_bufaddq(b, s->s[1]);
    lj_bufadd(b, ", ");
    lj_bufaddq(b, s->s[2]);
  }
  if (s->i[0]) {
    lj_bufadd(b, s->s[1] ? ", " : ", nil, nil, ");
    lj_bufaddflags(b, &lj_mountflags, s->i[0]);
  }
}

static const ljOp op_overlay = {
  "overlay", "target,lower,upper,work,flags,proc", LJ_PARENT(overlay_decode),
  overlay_apply, LJ_PARENT(overlay_describe), 0
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
  "umount", "target,flags", LJ_PARENT(umount_decode), umount_apply, NULL, 0
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
  "pivot_root", "new_root,put_old", LJ_PARENT(pivot_decode), pivot_apply, NULL, 0
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
  "chroot", "path", LJ_PARENT(path_decode), chroot_apply, NULL, 0
};

static const ljOp op_chdir = {
  "chdir", "path", LJ_PARENT(path_decode), chdir_apply, NULL, 0
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
** chown(path, uid, gid): lchown, beneath the root too.
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
  const char *rel = lj_inroot(c, path);
  struct stat st;
  int fd;
  if (rel == NULL) return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
  if ((fd = lj_openin(c, rel, O_PATH | O_DIRECTORY)) < 0) return 0;
  close(fd);
  return 1;
}

/* the last directory of path, in a parent that is there: 0, an errno,
** or -1 when the parent is missing (the walk then makes it) */
static int mkdirlast (ljCtx *c, const char *path, mode_t m) {
  At a;
  int err;
  if (at(c, path, &a) != 0) return -1;
  if (mkdirat(a.dirfd, a.name, 0700) == 0) err = setmode(&a, m);
  else if (errno == ENOENT) err = -1;
  else if (errno != EEXIST) err = errno;
  else err = isdir(c, path) ? 0 : EEXIST;
  closeat(&a);
  return err;
}

static int mkdir_apply (const ljStep *s, ljCtx *c) {
  char p[4096];
  size_t len = strlen(s->s[0]), i;
  int last;
  if (len >= sizeof p) return ENAMETOOLONG;
  memcpy(p, s->s[0], len + 1);
  while (len > 1 && p[len - 1] == '/') p[--len] = '\0';
  if ((last = mkdirlast(c, p, filemode(c, s->i[0]))) >= 0) return last;
  for (i = 1; i <= len; i++) {       /* mkdir -p, one component at a time */
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
  "mkdir_p", "path,mode", LJ_PARENT(mkdir_decode), mkdir_apply, NULL, 0
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
  "symlink", "target,linkpath", LJ_PARENT(symlink_decode), symlink_apply, NULL, 0
};

static void write_decode (ljArgs *A, ljStep *s) {
  size_t len;
  s->s[0] = lj_argpath(A, 1);
  s->p = lj_argbytes(A, 2, &len);
  s->plen = len;
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
  "write_file", "path,content,mode", LJ_PARENT(write_decode), write_apply, NULL, 0
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
  "touch", "path,mode", LJ_PARENT(touch_decode), touch_apply, NULL, 0
};

/* chown(path, uid, gid): the owner of what is at path, never of what a
** symlink there leads to (lchown: AT_SYMLINK_NOFOLLOW, beneath the root
** like the others), nor of a file with another hard link (EMLINK); -1
** leaves that id */
static void chown_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argpath(A, 1);
  s->i[0] = lj_argint(A, 2, -1, 4294967294LL);
  s->i[1] = lj_argint(A, 3, -1, 4294967294LL);
}

static int chown_apply (const ljStep *s, ljCtx *c) {
  At a;
  int err;
  struct stat st;
  if ((err = at(c, s->s[0], &a)) != 0) return err;
  if (fstatat(a.dirfd, a.name, &st, AT_SYMLINK_NOFOLLOW) != 0) err = errno;
  else if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
    err = EMLINK;                  /* a hard link an earlier run left: the
                                      file may be anyone's, elsewhere */
  else if (fchownat(a.dirfd, a.name, (uid_t)s->i[0], (gid_t)s->i[1],
                    AT_SYMLINK_NOFOLLOW) != 0)
    err = errno;
  closeat(&a);
  return err;
}

static void chown_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddq(b, s->s[0]);
  lj_bufadd(b, ", ");
  lj_bufaddint(b, s->i[0]);
  lj_bufadd(b, ", ");
  lj_bufaddint(b, s->i[1]);
}

static const ljOp op_chown = {
  "chown", "path,uid,gid", LJ_PARENT(chown_decode), chown_apply,
  LJ_PARENT(chown_describe), 0
};

/* }====== */




const ljOp *const lj_ops_mount[] = {
  &op_mount, &op_bind, &op_overlay, &op_umount, &op_pivot_root,
  &op_chroot, &op_chdir, &op_mkdir_p, &op_symlink, &op_write_file,
  &op_touch, &op_chown, NULL
};

void lj_open_mount (lua_State *L) {
  lj_pushnames(L, &lj_mountflags);
  lua_setfield(L, -2, "MS");
  lj_pushnames(L, &lj_umountflags);
  lua_setfield(L, -2, "MNT");
}
