/** Waiting for children and reading their status, for the launcher and the layers' init. */
import { libc } from "./libc.ts";
import { __WALL } from "./consts.ts";

/** Exit code in shell terms: the code, or 128+signal for a killed process. */
export function exitCodeOf(status: number): number {
  const sig = status & 0x7f;
  return sig === 0 ? (status >> 8) & 0xff : 128 + sig;
}

const statusBuf = new Int32Array(1);

/**
 * Waits (on a worker thread, so signals keep being handled) for `pid`, or any child with -1, and returns
 * the reaped pid with its shell-style exit code. A -1 result (EINTR on the worker thread, or ECHILD for a
 * moment with no child) is retried: callers wait only while a process they expect is still to come.
 */
export async function waitChild(pid: number): Promise<{ pid: number; code: number }> {
  for (;;) {
    const r = await libc.waitpid_async(pid, new Uint8Array(statusBuf.buffer), __WALL);
    if (r > 0) return { pid: r, code: exitCodeOf(statusBuf[0]) };
    // Not busy-looping when there is momentarily no child (ECHILD while a subtree is being re-parented).
    await new Promise((res) => setTimeout(res, 5));
  }
}
