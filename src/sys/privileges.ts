/**
 * The child-side steps that take every privilege away before execve (run by the spawn stub in the
 * child, in this order), and the after-the-fact check of what the kernel reports.
 */
import type { SpawnOp } from "./spawn.ts";
import { CLOSE_RANGE_CLOEXEC, LINUX_CAPABILITY_VERSION_3, nr, PR } from "./consts.ts";

export function lastCap(): number {
  return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
}

/** Marks every fd from `from` up close-on-exec: only 0..from-1 (and what the caller set up) survive. */
export function closeFdsOp(from: number): SpawnOp {
  return {
    what: "closing inherited file descriptors",
    nr: nr("close_range"),
    args: [from, 0xffffffff, CLOSE_RANGE_CLOEXEC],
  };
}

export function noNewPrivsOp(): SpawnOp {
  return { what: "setting no_new_privs", nr: nr("prctl"), args: [PR.SET_NO_NEW_PRIVS, 1, 0, 0, 0] };
}

/**
 * no_new_privs, then every capability set emptied: bounding (needs CAP_SETPCAP, which the child still
 * has), ambient, then permitted/effective/inheritable with capset.
 */
export function dropPrivilegesOps(last: number): SpawnOp[] {
  const ops: SpawnOp[] = [noNewPrivsOp()];
  for (let cap = 0; cap <= last; cap++) {
    ops.push({
      what: `dropping capability ${cap} from the bounding set`,
      nr: nr("prctl"),
      args: [PR.CAPBSET_DROP, cap, 0, 0, 0],
    });
  }
  ops.push({
    what: "clearing ambient capabilities",
    nr: nr("prctl"),
    args: [PR.CAP_AMBIENT, PR.CAP_AMBIENT_CLEAR_ALL, 0, 0, 0],
  });
  const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
  const data = new Uint32Array(6); // two {effective, permitted, inheritable} words, all zero
  ops.push({
    what: "dropping all capabilities",
    nr: nr("capset"),
    args: [new Uint8Array(header.buffer), new Uint8Array(data.buffer)],
  });
  return ops;
}

/** The fields of /proc/PID/status that must be zero (caps) or one (NoNewPrivs) for an app. */
export function privilegeProblems(status: string): string[] {
  const fields = new Map(
    status.split("\n").map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
  );
  const problems: string[] = [];
  for (const f of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
    const v = fields.get(f);
    if (v === undefined || !/^0+$/.test(v)) problems.push(`${f} is ${v ?? "missing"}`);
  }
  const nnp = fields.get("NoNewPrivs");
  if (nnp !== "1") problems.push(`NoNewPrivs is ${nnp ?? "missing"}`);
  return problems;
}
