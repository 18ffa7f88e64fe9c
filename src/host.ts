/** Gathers the HostFacts the planner needs (the launcher's only look at its environment). */
import type { HostFacts } from "./plan/host.ts";
import { libc } from "./sys/libc.ts";
import { instanceBase } from "./instance.ts";

function userName(uid: number): string {
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && Number(f[2]) === uid) return f[0];
    }
  } catch { /* no passwd: fall through */ }
  return String(uid);
}

/** True when we may hand the terminal on stdin to the app (it is ours and we are in its foreground). */
function ownsTerminal(): boolean {
  return libc.isatty(0) === 1 && libc.tcgetpgrp(0) === libc.getpgrp();
}

export function gatherHost(): HostFacts {
  const uid = libc.getuid(), gid = libc.getgid();
  const env = Deno.env.toObject();
  let cwd = "/";
  try {
    cwd = Deno.cwd();
  } catch { /* deleted cwd */ }
  return {
    uid,
    gid,
    user: env.USER || userName(uid),
    home: env.HOME && env.HOME.startsWith("/") ? env.HOME.replace(/\/+$/, "") || "/" : "/",
    cwd,
    pid: Deno.pid,
    env,
    tty: libc.isatty(0) === 1 ? Deno.readLinkSync("/proc/self/fd/0") : null,
    terminalForeground: ownsTerminal(),
    instanceBase: instanceBase(env, uid),
  };
}
