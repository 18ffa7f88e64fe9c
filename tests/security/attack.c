/* Escape attempts for tests/security/seccomp_test.ts: each prints "name errno" (0: it succeeded). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void report(const char *name, long r) { printf("%s %d\n", name, r < 0 ? errno : 0); }

static long i386_syscall(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
  if (ret < 0 && ret > -4096) { errno = -ret; return -1; }
  return ret;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
  report("bpf", syscall(SYS_bpf, 0, NULL, 0));
  report("userfaultfd", syscall(SYS_userfaultfd, 0));
  report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
  report("ptrace_init", ptrace(PTRACE_ATTACH, 1, 0, 0)); /* the sandbox init: another user namespace's root */
  report("personality", personality(READ_IMPLIES_EXEC) == -1 ? -1 : (personality(0xffffffff) & READ_IMPLIES_EXEC ? 0 : -1));
  report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
  report("open_tree", syscall(SYS_open_tree, -100, "/", 1));
  report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
  report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
  report("chroot", chroot("/tmp"));
  report("socket_packet", socket(AF_PACKET, SOCK_RAW, 0));
  report("socket_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  report("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  char c = 'x';
  report("tiocsti", ioctl(0, TIOCSTI, &c));
  report("tiocsti_high", syscall(SYS_ioctl, 0, 0x100000000UL | TIOCSTI, &c));
  report("i386_getpid", i386_syscall(20 /* i386 getpid */, 0, 0, 0));
  report("x32_getpid", syscall(0x40000000 | SYS_getpid));
  pid_t pid = fork();
  if (pid == 0) {
    long r = unshare(CLONE_NEWUSER);
    report("unshare_user", r);
    if (r == 0) report("mount_in_new_userns", mount("none", "/tmp", "tmpfs", 0, NULL)); /* its own mntns? no: EPERM */
    _exit(0);
  }
  waitpid(pid, NULL, 0);
  long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (child == 0) _exit(0); /* the raw clone's child: nothing to do */
  report("clone_newuser", child);
  while (wait(NULL) > 0) {}
  return 0;
}
