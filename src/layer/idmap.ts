/**
 * A new user namespace's id maps, written by the child itself through /proc/self before anything
 * else it does (as bubblewrap does), so no parent round trip is needed: setgroups denied first (the
 * kernel wants it for a writer without privilege in the parent namespace, and the app never needs
 * setgroups(2)), then one id each way. Such a writer can map only its own id: the planner allows
 * nothing else.
 */
import type { IdMap } from "../plan/types.ts";
import { reg, type SpawnOp } from "../sys/program.ts";
import { AT_FDCWD, nr, O } from "../sys/consts.ts";
import { cstr } from "../sys/libc.ts";

export function formatIdMap(map: IdMap[]): string {
  return map.map((m) => `${m.inside} ${m.outside} ${m.count}`).join("\n") + "\n";
}

/** The register the maps' descriptors pass through (each is closed before the next is opened). */
const FD = reg(0);

/** open, write, close of one /proc/self file. */
function writeOps(file: string, text: string, what: string): SpawnOp[] {
  const bytes = new TextEncoder().encode(text);
  return [
    {
      what,
      nr: nr("openat"),
      args: [AT_FDCWD, cstr(`/proc/self/${file}`), O.WRONLY | O.CLOEXEC],
      result: FD,
    },
    { what, nr: nr("write"), args: [FD, bytes, bytes.length] },
    { what, nr: nr("close"), args: [FD] },
  ];
}

/** The child's steps that map its ids in its new user namespace. */
export function idMapOps(uidMap: IdMap[], gidMap: IdMap[]): SpawnOp[] {
  return [
    ...writeOps("setgroups", "deny", "denying setgroups in the new user namespace"),
    ...writeOps("uid_map", formatIdMap(uidMap), `mapping user ids (${formatIdMap(uidMap).trim()})`),
    ...writeOps("gid_map", formatIdMap(gidMap), `mapping group ids (${formatIdMap(gidMap).trim()})`),
  ];
}
