/*
** bench/raw_spawn.c: the raw C baseline for bench/spawn.lua.
**
**   raw_spawn sandbox N   N times: clone into new user (unless root), pid,
**                         mount, net, uts and ipc namespaces; a tmpfs root
**                         with read-only binds of /usr and friends and a
**                         /proc; pivot_root; loopback up; no_new_privs;
**                         exec /bin/true;
**                         wait.  The least any sandbox of that shape costs.
**   raw_spawn cmd N [-fd FD PATH]... ARGV
**                         N times: fork, (in the child: open PATH read-only
**                         at fd FD, fresh each time, for bwrap's
**                         --seccomp FD), exec ARGV, wait: bwrap, or a plain
**                         fork+exec, without a shell in between
** Prints one line per run: the microseconds from clone to reaped.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static char **cmd;
static char **fdargs;                    /* "-fd FD PATH" triples, or NULL */
static int nfdargs;
static int pipefd[2];
static uid_t uid;
static gid_t gid;

#define CHECK(x) do { if ((x) != 0) { perror(#x); _exit(127); } } while (0)

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void writefile (const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) { perror(path); _exit(127); }
  close(fd);
}

static void bind_ro (const char *src, const char *dst) {
  CHECK(mkdir(dst, 0755));
  CHECK(mount(src, dst, NULL, MS_BIND | MS_REC, NULL));
  CHECK(mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
              | MS_NODEV, NULL));
}

static int child (void *arg) {
  char c, buf[64];
  (void)arg;
  close(pipefd[1]);
  if (read(pipefd[0], &c, 1) != 1) _exit(127);   /* maps written */
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
  CHECK(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, NULL));
  mkdir("/tmp/r", 0755);
  CHECK(mount("tmpfs", "/tmp/r", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"));
  bind_ro("/usr", "/tmp/r/usr");
  CHECK(symlink("usr/bin", "/tmp/r/bin"));
  CHECK(symlink("usr/lib", "/tmp/r/lib"));
  CHECK(symlink("usr/lib64", "/tmp/r/lib64"));
  CHECK(mkdir("/tmp/r/proc", 0755));
  CHECK(mount("proc", "/tmp/r/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL));
  CHECK(chdir("/tmp/r"));
  CHECK(syscall(SYS_pivot_root, ".", "."));
  CHECK(umount2(".", MNT_DETACH));
  CHECK(chdir("/"));
  {                                      /* loopback up, as bwrap does */
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    CHECK(ioctl(fd, SIOCGIFFLAGS, &ifr));
    ifr.ifr_flags |= IFF_UP;
    CHECK(ioctl(fd, SIOCSIFFLAGS, &ifr));
    close(fd);
  }
  CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  (void)buf;
  execl("/bin/true", "true", (char *)NULL);
  _exit(127);
}

static double sandbox (void) {
  static char stack[256 * 1024];
  int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS
              | CLONE_NEWIPC | SIGCHLD;
  double t0 = now();
  char buf[64];
  int status;
  pid_t pid;
  if (uid != 0) flags |= CLONE_NEWUSER;
  if (pipe2(pipefd, O_CLOEXEC) != 0) { perror("pipe2"); exit(1); }
  pid = clone(child, stack + sizeof stack, flags, NULL);
  if (pid < 0) { perror("clone"); exit(1); }
  close(pipefd[0]);
  if (uid != 0) {
    snprintf(buf, sizeof buf, "/proc/%d/setgroups", pid);
    writefile(buf, "deny");
    snprintf(buf, sizeof buf, "/proc/%d/uid_map", pid);
    { char m[64]; snprintf(m, sizeof m, "0 %u 1", uid); writefile(buf, m); }
    snprintf(buf, sizeof buf, "/proc/%d/gid_map", pid);
    { char m[64]; snprintf(m, sizeof m, "0 %u 1", gid); writefile(buf, m); }
  }
  if (write(pipefd[1], "g", 1) != 1) exit(1);
  close(pipefd[1]);
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
      || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "sandbox failed: %x\n", status);
    exit(1);
  }
  return now() - t0;
}

static void openfds (void) {            /* in the child, before exec */
  int i;
  for (i = 0; i < nfdargs; i++) {
    int want = atoi(fdargs[3 * i + 1]);
    int fd = open(fdargs[3 * i + 2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror(fdargs[3 * i + 2]); _exit(127); }
    if (fd == want) CHECK(fcntl(fd, F_SETFD, 0));
    else if (dup2(fd, want) != want) { perror("dup2"); _exit(127); }
  }
}

static double command (void) {
  double t0 = now();
  int status;
  pid_t pid = fork();
  if (pid == 0) { openfds(); execvp(cmd[0], cmd); _exit(127); }
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
      || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "%s failed: %x\n", cmd[0], status);
    exit(1);
  }
  return now() - t0;
}

int main (int argc, char **argv) {
  int n, i;
  if (argc < 3) {
    fprintf(stderr, "usage: raw_spawn sandbox N | cmd N [-fd FD PATH]... "
            "ARGV...\n");
    return 2;
  }
  n = atoi(argv[2]);
  uid = geteuid();
  gid = getegid();
  cmd = argv + 3;
  fdargs = cmd;
  while (cmd[0] && strcmp(cmd[0], "-fd") == 0 && cmd[1] && cmd[2]) {
    cmd += 3;
    nfdargs++;
  }
  if (strcmp(argv[1], "cmd") == 0 && !cmd[0]) {
    fprintf(stderr, "raw_spawn cmd: no ARGV\n");
    return 2;
  }
  for (i = 0; i < n; i++)
    printf("%.1f\n", strcmp(argv[1], "cmd") == 0 ? command() : sandbox());
  return 0;
}
