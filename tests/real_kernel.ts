/** The real kernel for the TypeScript interpreter (src/sys/program.ts): syscall(2) in this process. */
import { errno, ptr, rawSyscall } from "../src/sys/libc.ts";
import type { Kernel, KernelArg } from "../src/sys/program.ts";

function value(a: KernelArg): bigint {
  if (typeof a === "bigint") return a;
  if (a instanceof Uint8Array) return ptr(a);
  if ("at" in a) return ptr(a.at) + BigInt(a.offset);
  if ("strings" in a) throw new Error("execve is the stub's: this process would stop being bbl");
  throw new Error("a BPF program is installed by the stub only"); // seccomp acts on one thread
}

export const realKernel: Kernel = (nr, args) => {
  const r = rawSyscall(nr, args.map(value));
  return r === -1n ? -BigInt(errno()) : r;
};
