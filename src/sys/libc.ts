/**
 * Typed libc bindings (the only place bbl declares foreign functions). Every wrapper returns the raw
 * result; `check` turns a -1 into a SysError with the errno, read right after the call on the same thread.
 */
import { SysError } from "./errno.ts";
import { MFD_CLOEXEC } from "./consts.ts";

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i64" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read_async: { name: "read", parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  getpgrp: { parameters: [], result: "i32" },
  tcgetpgrp: { parameters: ["i32"], result: "i32" },
  isatty: { parameters: ["i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpid_async: { name: "waitpid", parameters: ["i32", "buffer", "i32"], result: "i32", nonblocking: true },
  getuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  getpid: { parameters: [], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Each function is bound on its first use: binding costs a fraction of a millisecond each (Deno
 * makes a call trampoline for it), and a run uses about half of them.
 */
export const libc: Symbols = new Proxy({} as Record<string, unknown>, {
  get(bound, name: string) {
    if (name in bound) return bound[name];
    const def = (SYMBOLS as Record<string, Deno.ForeignFunction>)[name];
    if (def === undefined) return undefined;
    return bound[name] = Deno.dlopen("libc.so.6", { [name]: def }).symbols[name];
  },
}) as unknown as Symbols;

export function errno(): number {
  const p = libc.__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** NUL-terminated copy of a string, for path arguments. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
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
