/**
 * `--desktop-entry`: a launcher in ~/.local/share/applications that runs the AppImage through bbl
 * with the same options. The image's own .desktop file and icon are read in a sandbox (they are
 * untrusted): only Name, Comment and Categories are taken, cleaned, and the icon only if it is a PNG
 * or SVG of reasonable size. Exec is always bbl's.
 */
import type { AppImageRequest } from "../plan/options.ts";
import type { SandboxRunner } from "./extract.ts";
import { BblError } from "../errors.ts";
import { removeTree } from "../state/store.ts";

const MAX_ICON = 2 << 20;

/** A value safe for one line of a desktop file (no control characters, bounded). */
function clean(v: string | undefined, max = 200): string {
  return [...(v ?? "")].map((c) => c < " " || c === "\x7f" ? " " : c).join("").trim().slice(0, max);
}

/** One Exec argument, quoted per the Desktop Entry specification, then escaped as a string value. */
export function execArg(a: string): string {
  const quoted = /[\s"'\\><~|&;$*?#()`]/.test(a) || a === "" ? `"${a.replace(/["`$\\]/g, "\\$&")}"` : a;
  return quoted.replace(/\\/g, "\\\\").replace(/%/g, "%%");
}

/** The keys of the [Desktop Entry] group of a desktop file. */
export function desktopKeys(text: string): Record<string, string> {
  const keys: Record<string, string> = {};
  let inEntry = false;
  for (const line of text.split("\n")) {
    const group = line.match(/^\[(.*)\]\s*$/);
    if (group) inEntry = group[1] === "Desktop Entry";
    else if (inEntry) {
      const kv = line.match(/^([A-Za-z0-9-]+)\s*=\s*(.*)$/);
      if (kv && !(kv[1] in keys)) keys[kv[1]] = kv[2];
    }
  }
  return keys;
}

function iconKind(bytes: Uint8Array): "png" | "svg" | null {
  if (bytes.length === 0 || bytes.length > MAX_ICON) return null;
  if (bytes[0] === 0x89 && new TextDecoder().decode(bytes.subarray(1, 4)) === "PNG") return "png";
  const head = new TextDecoder().decode(bytes.subarray(0, 256)).trimStart();
  return head.startsWith("<svg") || head.startsWith("<?xml") ? "svg" : null;
}

export interface DesktopInput {
  image: AppImageRequest;
  /** How to run bbl again, with the options of this command line. */
  bblArgv: string[];
  home: string;
  env: Record<string, string>;
  cwd: string;
}

/** Writes the launcher (and icon); returns the desktop file's path. */
export async function writeDesktopEntry(i: DesktopInput, run: SandboxRunner): Promise<string> {
  const a = i.image;
  const data = i.env.XDG_DATA_HOME?.startsWith("/") ? i.env.XDG_DATA_HOME : `${i.home}/.local/share`;
  const out = Deno.makeTempDirSync({ prefix: "bbl-desktop-" });
  try {
    const appdir = a.extracted ? "/run/bbl-app" : `/sbxdir/apps/${a.name}`;
    const script = `cd ${appdir} || exit 1
d=$(ls *.desktop 2>/dev/null | head -n 1)
[ -n "$d" ] && head -c 65536 -- "$d" > /run/bbl-out/app.desktop
i=$(sed -n 's/^Icon=//p' "$d" 2>/dev/null | head -n 1)
for f in .DirIcon "$i.png" "$i.svg"; do [ -f "$f" ] && head -c ${
      MAX_ICON + 1
    } -- "$f" > /run/bbl-out/icon && break; done
exit 0`;
    const mounts = [
      a.extracted
        ? { kind: "robind" as const, src: a.extracted, dest: "/run/bbl-app" }
        : { kind: "appimage" as const, src: a.path, name: a.name },
      { kind: "bind" as const, src: out, dest: "/run/bbl-out" },
    ];
    const code = await run(`${a.name}-desktop`, mounts, ["/bin/sh", "-c", script]);
    if (code !== 0) throw new BblError(`reading ${a.argv0}'s desktop file failed (exit ${code})`);
    let keys: Record<string, string> = {};
    try {
      keys = desktopKeys(Deno.readTextFileSync(`${out}/app.desktop`));
    } catch { /* none: the name will do */ }
    let icon: string | null = null;
    try {
      const bytes = Deno.readFileSync(`${out}/icon`);
      const kind = iconKind(bytes);
      if (kind) {
        icon = `${data}/icons/bbl-${a.name}.${kind}`;
        Deno.mkdirSync(`${data}/icons`, { recursive: true });
        Deno.writeFileSync(icon, bytes, { mode: 0o644 });
      }
    } catch { /* no icon */ }
    const lines = [
      "[Desktop Entry]",
      "Type=Application",
      `Name=${clean(keys.Name) || a.name} (bbl)`,
      ...(clean(keys.Comment) ? [`Comment=${clean(keys.Comment)}`] : []),
      `Exec=${[...i.bblArgv, "--", "%U"].map((x) => x === "%U" ? x : execArg(x)).join(" ")}`,
      `Path=${i.cwd}`,
      ...(icon ? [`Icon=${icon}`] : []),
      ...(/^[A-Za-z0-9;-]+$/.test(keys.Categories ?? "") ? [`Categories=${keys.Categories}`] : []),
      "Terminal=false",
      "",
    ];
    const file = `${data}/applications/bbl-${a.name}.desktop`;
    Deno.mkdirSync(`${data}/applications`, { recursive: true });
    Deno.writeTextFileSync(file, lines.join("\n"), { mode: 0o644 });
    return file;
  } finally {
    removeTree(out);
  }
}
