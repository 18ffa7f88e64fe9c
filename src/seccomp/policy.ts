/**
 * The seccomp policy as data: rules that make a system call fail with an errno, each with an optional
 * condition on one argument (first matching rule wins); anything not matched is allowed. src/seccomp/bpf.ts compiles
 * it; `bbl explain` prints it.
 */
import { CLONE } from "../sys/consts.ts";

export type Action = { errno: number };

export interface Condition {
  /** Argument index (0-5); compared on its low 32 bits. */
  arg: number;
  /** "any-bit": (arg & values[0]) != 0; "in" / "not-in": arg is one / none of `values`. */
  op: "any-bit" | "in" | "not-in";
  values: number[];
}

export interface Rule {
  syscall: string;
  action: Action;
  when?: Condition;
}

export interface Policy {
  rules: Rule[];
}

const EPERM = { errno: 1 };
const ENOSYS = { errno: 38 };

/** clone(2) flags that create namespaces (CLONE_NEWTIME is not a clone flag: its bit is CSIGNAL's). */
export const CLONE_NEW_MASK = CLONE.NEWNS | CLONE.NEWCGROUP | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWUSER |
  CLONE.NEWPID | CLONE.NEWNET;

/** Socket families an app may use. */
const ALLOWED_FAMILIES = [1, /* AF_UNIX */ 2, /* AF_INET */ 10, /* AF_INET6 */ 16 /* AF_NETLINK */];
const TIOCSTI = 0x5412, TIOCLINUX = 0x541c;

const DENIED = [
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "userfaultfd",
  "perf_event_open",
  "ptrace",
  "process_vm_readv",
  "process_vm_writev",
  "pidfd_getfd",
  "kexec_load",
  "kexec_file_load",
  "init_module",
  "finit_module",
  "delete_module",
  "syslog",
  "acct",
  "swapon",
  "swapoff",
  "reboot",
  "settimeofday",
  "clock_settime",
  "clock_adjtime",
  "adjtimex",
  "quotactl",
  "quotactl_fd",
  "open_by_handle_at",
  "name_to_handle_at",
  "iopl",
  "ioperm",
  "mount",
  "umount2",
  "pivot_root",
  "chroot",
  "unshare",
  "setns",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
];
/** The new mount API and clone3 get ENOSYS, so libc falls back to calls the filter can inspect. */
const NOT_IMPLEMENTED = [
  "clone3",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
];

export const DEFAULT_POLICY: Policy = {
  rules: [
    ...DENIED.map((syscall): Rule => ({ syscall, action: EPERM })),
    ...NOT_IMPLEMENTED.map((syscall): Rule => ({ syscall, action: ENOSYS })),
    { syscall: "clone", action: EPERM, when: { arg: 0, op: "any-bit", values: [CLONE_NEW_MASK] } },
    { syscall: "socket", action: EPERM, when: { arg: 0, op: "not-in", values: ALLOWED_FAMILIES } },
    // Faking terminal input (CVE-2019-10063): the command compared on its low 32 bits, as the kernel does.
    { syscall: "ioctl", action: EPERM, when: { arg: 1, op: "in", values: [TIOCSTI, TIOCLINUX] } },
    // PER_LINUX (0) and the query 0xffffffff only: no READ_IMPLIES_EXEC and the like.
    { syscall: "personality", action: EPERM, when: { arg: 0, op: "not-in", values: [0, 0xffffffff] } },
  ],
};

/** Named exceptions a user can ask for (`--seccomp-allow`), and the rules each removes. */
export const ALLOWANCES: Record<string, (r: Rule) => boolean> = {
  /** Debuggers and tracers. */
  ptrace: (r) => ["ptrace", "process_vm_readv", "process_vm_writev"].includes(r.syscall),
  /** Sandboxes of their own (Chromium, Flatpak inside): new namespaces. */
  userns: (r) => r.syscall === "unshare" || r.syscall === "setns" || r.syscall === "clone" || r.syscall === "clone3",
  io_uring: (r) => r.syscall.startsWith("io_uring_"),
  perf: (r) => r.syscall === "perf_event_open",
};

/**
 * What an app's own sandbox needs (Chromium's zygote, Firefox's content processes): new namespaces
 * through clone and unshare, and chroot into an empty directory of their own. setns, mount and the
 * rest stay denied.
 */
export const NESTED_SANDBOX = (r: Rule) => r.syscall === "unshare" || r.syscall === "clone" || r.syscall === "chroot";

/** The default policy without the rules the named allowances remove. */
export function policyWith(allow: string[]): Policy {
  return { rules: DEFAULT_POLICY.rules.filter((r) => !allow.some((a) => ALLOWANCES[a](r))) };
}
