/** Renders a Plan as an indented tree a person can read (`bbl explain`). */
import type { FsOp, IdMap, LayerPlan, Plan } from "./types.ts";

const maps = (m?: IdMap[]) =>
  m?.map((x) => `${x.inside}->${x.outside}` + (x.count > 1 ? `(+${x.count})` : "")).join(",");
const opt = (o: { optional?: boolean }) => o.optional ? " (optional)" : "";

export function fsLine(op: FsOp): string {
  const k = op.kind.padEnd(11);
  switch (op.kind) {
    case "tmpfs":
    case "rotmpfs":
      return `${k} ${op.dest} mode=${op.mode.toString(8).padStart(4, "0")}${op.size ? ` size=${op.size}` : ""}`;
    case "bind":
    case "robind":
    case "same":
    case "rosame":
    case "mask":
      return `${k} ${op.dest} <- ${op.src}${opt(op)}`;
    case "dir":
      return `${k} ${op.dest} mode=${op.mode.toString(8).padStart(4, "0")}`;
    case "file":
    case "rofile":
      return `${k} ${op.dest} mode=${op.mode.toString(8).padStart(4, "0")} (${op.content.length} bytes)`;
    case "symlink":
      return `${k} ${op.dest} -> ${op.target}`;
    case "dev":
      return `${k} ${op.dest} <- ${op.from}${op.console ? ` (console ${op.console})` : ""}`;
    case "overlay":
      return `${k} ${op.dest} <- ${op.lower.join(":")} (upper ${op.upper})`;
    case "tmp-overlay":
      return `${k} ${op.dest} <- ${op.lower.join(":")} (upper on tmpfs)`;
    default:
      return `${k} ${op.dest}`;
  }
}

function layerLines(l: LayerPlan, pad: string): string[] {
  const facts = [
    `unshare ${l.unshare.join(",") || "-"}`,
    ...(l.uidMap ? [`uid ${maps(l.uidMap)}`, `gid ${maps(l.gidMap)}`] : []),
    ...(l.dropCaps ? ["caps dropped"] : []),
    ...(l.noNewPrivs ? ["no_new_privs"] : []),
    ...(l.hostname !== undefined ? [`hostname ${l.hostname}`] : []),
    ...(l.maxUserNamespaces !== undefined ? [`user namespaces below locked at ${l.maxUserNamespaces}`] : []),
    ...(l.unshare.includes("pid")
      ? ["stays as init"]
      : l.app
      ? []
      : l.helperOnly
      ? ["its helpers only"]
      : ["stays, as bbl's native init, until the process below it ends"]),
  ];
  const joined = l.joined ? ` (with ${l.joined}, in one process)` : "";
  const out = [`${pad}${l.name}${joined}${l.app ? " (app)" : ""}: ${facts.join("; ")}`];
  const p = pad + "  ";
  if (l.rootMount) {
    out.push(`${p}new root on ${l.rootMount}:`, ...l.fs.map((op) => `${p}  ${fsLine(op)}`));
    if (l.sbxdir) out.push(`${p}  sbxdir      /sbxdir (apps/, temp/, plans of the layers below)`);
    for (const a of l.appimages ?? []) {
      const how = a.extracted ? `unpacked ${a.extracted}, read-only` : `${a.format} at offset ${a.offset}, FUSE`;
      out.push(`${p}  appimage    /sbxdir/apps/${a.name} <- ${a.image} (${how}); run_${a.name}`);
    }
    for (const name of Object.keys(l.sbxBin ?? {})) out.push(`${p}  program     /sbxdir/bin/${name}`);
  }
  for (const h of l.helpers) {
    const wait = h.wait
      ? ("path" in h.wait ? `, ready when ${h.wait.path} exists` : `, ready when ${h.wait.socket} accepts`)
      : "";
    out.push(`${p}helper: ${JSON.stringify(h.run)}${wait}${l.helperSeccomp ? ", under the app's seccomp policy" : ""}`);
  }
  if (l.app) {
    const a = l.app;
    out.push(`${p}app: ${JSON.stringify(a.argv)}${a.path ? ` (runs ${a.path})` : ""}`);
    out.push(
      `${p}  cwd ${a.cwd} (else ${a.home}); ${
        a.terminal ? "the foreground group of the sandbox's pty (Ctrl-Z stops it and bbl)" : "new session"
      }`,
    );
    const calls = a.seccomp ? [...new Set(a.seccomp.rules.map((r) => r.syscall))] : [];
    out.push(`${p}  seccomp ${a.seccomp ? `${a.seccomp.rules.length} rules on ${calls.join(" ")}` : "off"}`);
    const limits = Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(" ");
    if (limits) out.push(`${p}  limits ${limits}`);
    out.push(`${p}  env ${Object.keys(a.env).sort().map((k) => `${k}=${a.env[k]}`).join(" ")}`);
  }
  for (const s of l.sublayers) out.push(...layerLines(s, p));
  return out;
}

export function formatPlan(plan: Plan): string {
  const state = plan.state ? [`state ${plan.state.dir} (home: ${plan.state.home}; locked while it runs)`] : [];
  return [`instance ${plan.instance} (${plan.instanceDir})`, ...state, ...layerLines(plan.root, "  ")].join("\n");
}
