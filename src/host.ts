/** Gathers the HostFacts the planner needs (the launcher's only look at its environment). */
import type { HostFacts } from "./plan/host.ts";
import { libc } from "./sys/libc.ts";
import { instanceBase } from "./instance.ts";
import { selfFacts } from "./selfexec.ts";
import { DEFAULT_PATH } from "./plan/env.ts";
import { isExecutableFile } from "./sys/files.ts";

function userName(uid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && Number(f[2]) === uid) return f[0];
    }
  } catch { /* no passwd: fall through */ }
  return String(uid);
}

function realOrNull(p: string): string | null {
  try {
    return Deno.realPathSync(p);
  } catch {
    return null;
  }
}

/** `tty`: the sandbox terminal's path when the launcher relays one (see src/sys/pty.ts). */
export function gatherHost(tty: string | null = null): HostFacts {
  const uid = libc.getuid(), gid = libc.getgid();
  const env = Deno.env.toObject();
  const home = env.HOME && env.HOME.startsWith("/") ? env.HOME.replace(/\/+$/, "") || "/" : "/";
  let cwd = "/";
  try {
    cwd = Deno.cwd();
  } catch { /* deleted cwd */ }
  return {
    uid,
    gid,
    user: env.USER || userName(uid),
    home,
    cwd,
    pid: Deno.pid,
    env,
    tty,
    instanceBase: instanceBase(env, uid),
    self: selfFacts(),
    etc: {
      resolvConf: realOrNull("/etc/resolv.conf"),
      machineId: realOrNull("/etc/machine-id"),
      osRelease: realOrNull("/etc/os-release"),
      hostname: realOrNull("/etc/hostname"),
      hosts: realOrNull("/etc/hosts"),
    },
  };
}

/** A program in the sandbox's default PATH, as the host has it (the sandbox shows the same /usr), or null. */
export function findTool(name: string): string | null {
  return DEFAULT_PATH.split(":").map((dir) => `${dir}/${name}`).find(isExecutableFile) ?? null;
}
