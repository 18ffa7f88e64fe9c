/**
 * Finding a child's /proc entry. The pid the spawn stub returns is in the caller's pid namespace, but
 * the /proc mounted in the caller's view may belong to an ancestor pid namespace (a layer that created
 * a pid namespace without mounting a new /proc): there, the child is found among our children by the
 * NSpid column of its status, which lists its pid in every namespace from the /proc's down.
 */
import { libc } from "./libc.ts";

function nspid(status: string): number[] {
  return (status.match(/^NSpid:\s*(.*)$/m)?.[1] ?? "").trim().split(/\s+/).map(Number);
}

export function procPathOf(pid: number): string {
  const self = nspid(Deno.readTextFileSync("/proc/self/status"));
  if (self.at(-1) === libc.getpid() && self.length === 1) return `/proc/${pid}`;
  // Our own pid in this /proc's namespace is self[0]; a child's pid in our namespace is at our depth.
  const level = self.length - 1;
  for (const task of Deno.readDirSync(`/proc/${self[0]}/task`)) {
    const children = Deno.readTextFileSync(`/proc/${self[0]}/task/${task.name}/children`).trim();
    for (const c of children ? children.split(/\s+/) : []) {
      try {
        if (nspid(Deno.readTextFileSync(`/proc/${c}/status`))[level] === pid) return `/proc/${c}`;
      } catch { /* exited meanwhile */ }
    }
  }
  throw new Error(`no /proc entry for child ${pid}`);
}
