/** Writing a new user namespace's id maps from its parent, while the child waits to be released. */
import type { IdMap } from "../plan/types.ts";
import { SysError } from "../sys/errno.ts";
import { procPathOf } from "../sys/proc.ts";

function write(path: string, text: string, what: string): void {
  try {
    Deno.writeTextFileSync(path, text);
  } catch (e) {
    // Deno's errors carry the errno name in `code`.
    throw new SysError(what, (e as { code?: string }).code ?? String(e), "write");
  }
}

export function formatIdMap(map: IdMap[]): string {
  return map.map((m) => `${m.inside} ${m.outside} ${m.count}`).join("\n") + "\n";
}

/** setgroups=deny first: required for an unprivileged writer, and the app never needs setgroups(2). */
export function writeIdMaps(pid: number, uidMap: IdMap[], gidMap: IdMap[]): void {
  const proc = procPathOf(pid);
  write(`${proc}/setgroups`, "deny", "denying setgroups in the new user namespace");
  write(`${proc}/uid_map`, formatIdMap(uidMap), `mapping user ids (${formatIdMap(uidMap).trim()})`);
  write(`${proc}/gid_map`, formatIdMap(gidMap), `mapping group ids (${formatIdMap(gidMap).trim()})`);
}
