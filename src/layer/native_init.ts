/**
 * An init layer's runner hands over to bbl's native init (src/sys/stub/init_*.S) once everything
 * below it runs and it knows the pid to wait for: it execs the init's ELF image from a memfd, so the
 * process that stays resident as pid 1 is one thread with no capabilities, no_new_privs, not
 * dumpable, holding no descriptor but 0-2 and no host path in its command line, and no Deno runtime.
 */
import { cstr, libc, memfdOf, ptr, sys } from "../sys/libc.ts";
import { AT_EMPTY_PATH, FORWARDED_SIGNALS, nr, SIG } from "../sys/consts.ts";
import { initElf } from "../sys/init_elf.ts";

/**
 * Until the native init takes over, this runner is the app's pid 1, and /proc/1/cmdline would name
 * the checkout and the Deno binary: its argument strings (in its own memory, read by the kernel from
 * there) are overwritten with the init's name. The runtime parsed them long before.
 */
export function hideCommandLine(): void {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields 3.. of proc(5)
  const start = BigInt(fields[48 - 3]), end = BigInt(fields[49 - 3]);
  const name = new Uint8Array(Number(end - start)); // zeros after the name
  name.set(new TextEncoder().encode("bbl-init").subarray(0, name.length - 1));
  libc.memcpy(Deno.UnsafePointer.create(start), name, BigInt(name.length));
}

/** Never returns: this process becomes the init waiting for `pid` (forwarding the usual signals to it). */
export function execNativeInit(pid: number): never {
  const what = "starting the native init";
  const fd = memfdOf("bbl-init", initElf(Deno.build.arch), what);
  const mask = FORWARDED_SIGNALS.reduce((m, s) => m | (1n << BigInt(SIG[s])), 0n);
  const args = ["bbl-init", String(pid), String(mask)].map(cstr);
  const argv = new BigUint64Array([...args.map(ptr), 0n]);
  const envp = new BigUint64Array([0n]);
  const empty = cstr("");
  const argvBytes = new Uint8Array(argv.buffer), envpBytes = new Uint8Array(envp.buffer);
  sys(nr("execveat"), what, fd, ptr(empty), ptr(argvBytes), ptr(envpBytes), AT_EMPTY_PATH);
  throw new Error(`${what}: execveat returned`); // it returns only on failure, which sys() throws
}
