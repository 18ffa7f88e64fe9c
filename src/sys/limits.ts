/** Resource limits the app starts with (setrlimit in the child, before its execve). */
import type { SpawnOp } from "./spawn.ts";
import { nr } from "./consts.ts";

/** RLIMIT_* numbers (the same on x86_64 and aarch64). */
export const RLIMITS: Record<string, number> = { cpu: 0, fsize: 1, nproc: 6, nofile: 7, as: 9 };

/** prlimit64(0, resource, {soft = hard = value}, NULL) for each limit. */
export function limitOps(limits: Record<string, number>): SpawnOp[] {
  return Object.entries(limits).map(([name, value]) => {
    const v = new BigUint64Array([BigInt(value), BigInt(value)]);
    return {
      what: `setting the ${name} limit to ${value}`,
      nr: nr("prlimit64"),
      args: [0, RLIMITS[name], new Uint8Array(v.buffer), 0],
    };
  });
}
