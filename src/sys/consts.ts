/** Linux constants used by bbl (uapi values; identical on x86_64 and aarch64 unless noted). */

export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  REC: 16384,
  SLAVE: 1 << 19,
} as const;

export const MNT_DETACH = 2;
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const MFD_CLOEXEC = 1;
export const AT_RECURSIVE = 0x8000;

/** open(2) flags; O_DIRECTORY and O_NOFOLLOW are not the same on aarch64 (arch/arm64 uapi fcntl.h). */
export const O_BY_ARCH = {
  x86_64: { DIRECTORY: 0o200000, NOFOLLOW: 0o400000 },
  aarch64: { DIRECTORY: 0o40000, NOFOLLOW: 0o100000 },
} as const;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  NOCTTY: 0o400,
  EXCL: 0o200,
  ...O_BY_ARCH[Deno.build.arch as "x86_64" | "aarch64"] ?? O_BY_ARCH.x86_64,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

export const PR = {
  SET_PDEATHSIG: 1,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

export const SIG: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGWINCH: 28,
};

/** The signals bbl passes on to the sandboxed app (issue: forwarded by the launcher and the init). */
export const FORWARDED_SIGNALS = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
] as const;

export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
export const CLOSE_RANGE_CLOEXEC = 4;
export const SIOCGIFFLAGS = 0x8913;
export const SIOCSIFFLAGS = 0x8914;
export const IFF_UP = 0x1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const WNOHANG = 1;
export const __WALL = 0x40000000;

/** System call numbers bbl makes through syscall(2) or the stub's op list. */
export const NR: Record<"x86_64" | "aarch64", Record<string, number>> = {
  x86_64: {
    read: 0,
    write: 1,
    close: 3,
    mmap: 9,
    mprotect: 10,
    munmap: 11,
    fcntl: 72,
    flock: 73,
    getuid: 102,
    getgid: 104,
    pipe2: 293,
    memfd_create: 319,
    faccessat2: 439,
    openat: 257,
    ioctl: 16,
    setpgid: 109,
    setsid: 112,
    capset: 126,
    pivot_root: 155,
    prctl: 157,
    prlimit64: 302,
    keyctl: 250,
    unshare: 272,
    execveat: 322,
    dup3: 292,
    seccomp: 317,
    close_range: 436,
    openat2: 437,
    open_tree: 428,
    move_mount: 429,
    mount_setattr: 442,
    clone: 56,
    wait4: 61,
    nanosleep: 35,
    exit_group: 231,
    mount: 165,
    umount2: 166,
    chdir: 80,
    fchdir: 81,
    mkdirat: 258,
    symlinkat: 266,
    fchmod: 91,
    fchmodat: 268,
    sethostname: 170,
    socket: 41,
    connect: 42,
    getpid: 39,
    rt_sigprocmask: 14,
    execve: 59,
    newfstatat: 262,
  },
  aarch64: {
    dup3: 24,
    fcntl: 25,
    flock: 32,
    faccessat2: 439,
    pipe2: 59,
    getuid: 174,
    getgid: 176,
    munmap: 215,
    mmap: 222,
    mprotect: 226,
    memfd_create: 279,
    openat: 56,
    close: 57,
    ioctl: 29,
    pivot_root: 41,
    read: 63,
    write: 64,
    capset: 91,
    unshare: 97,
    setpgid: 154,
    setsid: 157,
    prctl: 167,
    keyctl: 219,
    prlimit64: 261,
    execveat: 281,
    seccomp: 277,
    close_range: 436,
    openat2: 437,
    open_tree: 428,
    move_mount: 429,
    mount_setattr: 442,
    clone: 220,
    wait4: 260,
    nanosleep: 101,
    exit_group: 94,
    mount: 40,
    umount2: 39,
    chdir: 49,
    fchdir: 50,
    mkdirat: 34,
    symlinkat: 36,
    fchmod: 52,
    fchmodat: 53,
    sethostname: 161,
    socket: 198,
    connect: 203,
    getpid: 172,
    rt_sigprocmask: 135,
    execve: 221,
    newfstatat: 79,
  },
};

/** keyctl(2) operation: join a new anonymous session keyring (the second argument null). */
export const KEYCTL_JOIN_SESSION_KEYRING = 1;

/** System call names by number, on the machine running bbl. */
export function syscallNames(): Record<number, string> {
  const table = NR[Deno.build.arch as "x86_64" | "aarch64"] ?? {};
  return Object.fromEntries(Object.entries(table).map(([name, n]) => [n, name]));
}

export function nr(name: string): number {
  const table = NR[Deno.build.arch as "x86_64" | "aarch64"];
  const n = table?.[name];
  if (n === undefined) throw new Error(`no syscall number for ${name} on ${Deno.build.arch}`);
  return n;
}
