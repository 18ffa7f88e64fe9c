/** Starting a layer's helpers (before its sublayers) and waiting until each is ready. */
import type { Helper, LayerPlan } from "../plan/types.ts";
import { spawn } from "../sys/spawn.ts";
import { closeFdsOp, noNewPrivsOp } from "../sys/privileges.ts";
import { seccompOp } from "../seccomp/apply.ts";
import { cloneFlags, highFd, layerPrivilegeOps } from "./spawn_layer.ts";
import { nr } from "../sys/consts.ts";
import { idMapOps } from "./idmap.ts";
import { libc } from "../sys/libc.ts";
import { WNOHANG } from "../sys/consts.ts";
import { BblError } from "../errors.ts";
import { resolveCommand } from "./app.ts";

async function ready(h: Helper): Promise<boolean> {
  if (!h.wait) return true;
  if ("path" in h.wait) {
    // Asynchronous, and given up after a second: on a FUSE mount the answer waits for the daemon.
    const check = Deno.lstat(h.wait.path).then(() => true, () => false);
    return await Promise.race([check, new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
  }
  try {
    (await Deno.connect({ transport: "unix", path: h.wait.socket })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `h` for `layer`; resolves when it is ready, fails if it dies or times out. `direct`: the
 * helper is spawned by the parent of a helper-only layer, so it enters that layer's namespaces, ids
 * and privilege drops itself.
 */
export async function startHelper(h: Helper, layer: LayerPlan, direct: boolean, pass: number[] = []): Promise<number> {
  const env = layer.env;
  const path = resolveCommand(h.run[0], env.PATH ?? "");
  const policy = layer.helperSeccomp;
  // Numbered 10 and up first, so that placing them at 3, 4, ... clobbers none of them.
  const high = pass.map(highFd);
  const pid = spawn({
    flags: direct ? cloneFlags(layer.unshare) : 0,
    path,
    argv: h.run,
    env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    pdeathsig: 0, // it lives as long as the sandbox's pid namespace, not its starting layer
    ops: [
      ...(direct && layer.uidMap && layer.gidMap ? idMapOps(layer.uidMap, layer.gidMap) : []),
      ...high.map((fd, i) => ({ what: "passing a descriptor to the helper", nr: nr("dup3"), args: [fd, 3 + i, 0] })),
      closeFdsOp(3 + high.length),
      ...(direct ? layerPrivilegeOps(layer) : []),
      ...(policy ? [noNewPrivsOp(), seccompOp(policy)] : []), // last: it may forbid what the steps above use
    ],
  });
  high.forEach((fd) => libc.close(fd));
  const deadline = Date.now() + 1000 * (h.timeout ?? 10);
  while (!(await ready(h))) {
    if (libc.waitpid(pid, null, WNOHANG) === pid) throw new BblError(`helper ${h.run[0]} exited before it was ready`);
    if (Date.now() > deadline) throw new BblError(`helper ${h.run[0]} was not ready after ${h.timeout ?? 10} s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return pid;
}
