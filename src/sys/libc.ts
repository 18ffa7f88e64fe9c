/**
 * Typed libc bindings (the only place bbl declares foreign functions). Every wrapper returns the raw
 * result; `check` turns a -1 into a SysError with the errno, read right after the call on the same thread.
 */
import { SysError } from "./errno.ts";
import { AT_FDCWD, MFD_CLOEXEC, nr } from "./consts.ts";

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  read_async: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  getpgrp: { parameters: [], result: "i32" },
  tcgetpgrp: { parameters: ["i32"], result: "i32" },
  isatty: { parameters: ["i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpid_async: { name: "waitpid", parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const call = (name: string, ...args: (number | bigint)[]) => rawSyscall(nr(name), args);

/**
 * The calls every run makes, made through syscall(2): binding a foreign function costs 0.15-0.3 ms
 * (Deno makes a call trampoline for each), so these share one.
 */
const SYSTEM_CALLS = {
  open: (path: Uint8Array, flags: number, mode: number) => Number(call("openat", AT_FDCWD, ptr(path), flags, mode)),
  read: (fd: number, buf: Uint8Array, count: bigint) => call("read", fd, ptr(buf), count),
  write: (fd: number, buf: Uint8Array, count: bigint) => call("write", fd, ptr(buf), count),
  close: (fd: number) => Number(call("close", fd)),
  fcntl: (fd: number, cmd: number, arg: number) => Number(call("fcntl", fd, cmd, arg)),
  pipe2: (fds: Uint8Array, flags: number) => Number(call("pipe2", ptr(fds), flags)),
  flock: (fd: number, op: number) => Number(call("flock", fd, op)),
  memfd_create: (name: Uint8Array, flags: number) => Number(call("memfd_create", ptr(name), flags)),
  /** MAP_FAILED is -1. */
  mmap: (size: bigint, prot: number, flags: number, fd: number, offset: bigint) =>
    call("mmap", 0, size, prot, flags, fd, offset),
  mprotect: (addr: Deno.PointerObject, size: bigint, prot: number) =>
    Number(call("mprotect", Deno.UnsafePointer.value(addr), size, prot)),
  munmap: (addr: Deno.PointerObject, size: bigint) => Number(call("munmap", Deno.UnsafePointer.value(addr), size)),
  getuid: () => Number(call("getuid")),
  getgid: () => Number(call("getgid")),
  getpid: () => Number(call("getpid")),
};

/** The rest of libc's functions are each bound on first use: a run uses few of them. */
export const libc: Symbols & typeof SYSTEM_CALLS = new Proxy({ ...SYSTEM_CALLS } as Record<string, unknown>, {
  get(bound, name: string) {
    if (name in bound) return bound[name];
    const def = (SYMBOLS as Record<string, Deno.ForeignFunction>)[name];
    if (def === undefined) return undefined;
    return bound[name] = Deno.dlopen("libc.so.6", { [name]: def }).symbols[name];
  },
}) as unknown as Symbols & typeof SYSTEM_CALLS;

export function errno(): number {
  const p = libc.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

const UTF8 = new TextEncoder();

/** NUL-terminated copy of a string, for path arguments. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return UTF8.encode(s + "\0");
}

/** Throws SysError(what) when a libc call returned -1; returns the result otherwise. */
export function check<T extends number | bigint>(result: T, what: string, call: string): T {
  if (Number(result) === -1) throw new SysError(what, errno(), call);
  return result;
}

/** syscall(2) with up to six arguments (the rest 0): the raw result, -1 with errno set on failure. */
export function rawSyscall(nr: number, args: (number | bigint)[]): bigint {
  const a = [...args.map(BigInt), 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6) as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  return libc.syscall(BigInt(nr), ...a);
}

/** Raw syscall(2). Returns the result; failures (-1) raise SysError(what). */
export function sys(nr: number, what: string, ...args: (number | bigint)[]): bigint {
  return check(rawSyscall(nr, args), what, `syscall(${nr})`);
}

/** The address of a buffer, for system call arguments that point to memory. */
export function ptr(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** Writes all of `bytes` to `fd`; -1 on a failure (errno set) or a write that took nothing. */
export function writeAll(fd: number, bytes: Uint8Array): number {
  for (let off = 0; off < bytes.length;) {
    const w = Number(libc.write(fd, bytes.subarray(off), BigInt(bytes.length - off)));
    if (w <= 0) return -1;
    off += w;
  }
  return bytes.length;
}

/** A close-on-exec memfd named `name` holding `bytes`: nothing on disk, gone with its last descriptor. */
export function memfdOf(name: string, bytes: Uint8Array, what: string): number {
  const fd = check(libc.memfd_create(cstr(name), MFD_CLOEXEC), what, "memfd_create");
  check(writeAll(fd, bytes), what, "write");
  return fd;
}
