/** Renders a Plan as an indented tree a person can read (`bbl explain`). */
import type { FsOp, IdMap, Plan } from "./types.ts";

const maps = (m?: IdMap[]) =>
  m?.map((x) => `${x.inside}->${x.outside}` + (x.count > 1 ? `(+${x.count})` : "")).join(",") ?? "-";

function fsLine(op: FsOp): string {
  switch (op.kind) {
    case "tmpfs":
      return `tmpfs    ${op.dest} mode=${op.mode.toString(8)}${op.size ? ` size=${op.size}` : ""}${
        op.readonly ? " ro" : ""
      }`;
    case "bind":
    case "robind":
      return `${op.kind.padEnd(8)} ${op.src} -> ${op.dest}${op.optional ? " (optional)" : ""}`;
    case "same":
    case "rosame":
      return `${op.kind.padEnd(8)} ${op.dest}${op.optional ? " (optional)" : ""}`;
    case "dir":
      return `dir      ${op.dest} mode=${op.mode.toString(8)}`;
    case "symlink":
      return `symlink  ${op.dest} -> ${op.target}`;
    case "dev":
      return `dev      ${op.dest}${op.console ? ` (console: ${op.console})` : ""}`;
    default:
      return `${op.kind.padEnd(8)} ${op.dest}`;
  }
}

export function formatPlan(plan: Plan): string {
  const out = [`instance ${plan.instance} (${plan.instanceDir})`];
  for (const [i, l] of plan.layers.entries()) {
    const pad = "  ".repeat(i + 1);
    out.push(
      `${pad}${l.name}: unshare ${l.unshare.join(",")}; uid ${maps(l.uidMap)}; gid ${maps(l.gidMap)}` +
        (l.hostname ? `; hostname ${l.hostname}` : ""),
    );
    if (l.rootMount) out.push(`${pad}  new root on ${l.rootMount}:`, ...l.fs.map((op) => `${pad}    ${fsLine(op)}`));
  }
  const a = plan.app;
  const pad = "  ".repeat(plan.layers.length + 1);
  out.push(`${pad}app: ${JSON.stringify(a.argv)}`);
  out.push(
    `${pad}  ids: ${
      a.uidMap ? `own user namespace, uid ${maps(a.uidMap)}, gid ${maps(a.gidMap)}` : "the layer's root"
    }`,
  );
  out.push(
    `${pad}  privileges: no_new_privs, every capability dropped; ${
      a.foreground ? "terminal foreground" : "new session"
    }`,
  );
  out.push(`${pad}  cwd: ${a.cwd} (else ${a.home})`);
  out.push(`${pad}  env: ${Object.keys(a.env).sort().map((k) => `${k}=${a.env[k]}`).join(" ")}`);
  return out.join("\n");
}
