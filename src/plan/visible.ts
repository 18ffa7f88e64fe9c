/**
 * What of the host a root shows at the same path (pure): from a layer's filesystem steps, whether a
 * host path can be reached inside as itself. It decides whether a program must be bound to run, and
 * which paths the arguments name that the app will not find.
 */
import type { FsOp } from "./types.ts";
import type { NamedFile } from "./options.ts";
import { pathIn } from "./config_steps.ts";

const depth = (p: string) => p === "/" ? 0 : p.split("/").length - 1;

/** The step that decides what is at `path` inside: the deepest destination holding it (the last of equals). */
function deciding(ops: FsOp[], path: string): FsOp | null {
  let best: FsOp | null = null;
  for (const op of ops) {
    if (op.kind === "remount-ro" || !pathIn(path, op.dest)) continue;
    if (best === null || depth(op.dest) >= depth(best.dest)) best = op;
  }
  return best;
}

/**
 * Whether the host's `path` is shown at `path` by a root built from `ops`, whose host sources are seen
 * at `hostView` (masked never-access paths are the caller's to exclude).
 */
export function shownAt(ops: FsOp[], hostView: string, path: string): boolean {
  const op = deciding(ops, path);
  if (op === null) return false;
  if (op.kind === "overlay" || op.kind === "tmp-overlay") {
    return op.lower.some((l) => l.slice(hostView.length) + path.slice(op.dest.length) === path);
  }
  if (op.kind !== "bind" && op.kind !== "robind" && op.kind !== "same" && op.kind !== "rosame") return false;
  return op.src.slice(hostView.length) + path.slice(op.dest.length) === path;
}

/**
 * Whether the root has something of its own at `path`: a mount point at or below it (or a directory
 * leading to one), or the sandbox's own kernel view there (its /proc, /dev), which an argument such
 * as /proc/cpuinfo or /dev/null means.
 */
export function builtAt(ops: FsOp[], path: string): boolean {
  if (ops.some((op) => op.kind !== "remount-ro" && pathIn(op.dest, path))) return true;
  const kind = deciding(ops, path)?.kind;
  return kind === "proc" || kind === "dev" || kind === "devpts" || kind === "mqueue";
}

/**
 * The one line bbl prints after a run about host files the arguments named that the sandbox did not
 * show, or null. Words inside an argument (`sh -c './setup.sh'`) count only when the run could not
 * find or execute something (exit 126 or 127).
 */
export function notShownNote(files: NamedFile[], code: number, cwd: string): string | null {
  const asked = files.filter((f) => f.whole || code === 126 || code === 127);
  const unique = asked.filter((f, i) => asked.findIndex((g) => g.path === f.path) === i);
  if (unique.length === 0) return null;
  const words = unique.map((f) => f.word).join(", ");
  // --cwd cannot bind /
  const inCwd = cwd !== "/" && unique.every((f) => pathIn(f.path, cwd) && f.path !== cwd);
  const how = unique.length === 1
    ? `show it read-only with --ro-bind ${unique[0].path}`
    : "show each read-only with --ro-bind PATH";
  return `bbl: not visible in the sandbox: ${words} (${how}${
    inCwd ? ", or the current directory read-write with --cwd" : ""
  })`;
}
