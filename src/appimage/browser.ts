/**
 * What bbl needs to know of an AppImage's contents before its run: whether it is a Chromium or
 * Electron build, which sandboxes its own renderers and needs `nested_sandbox` for it (it holds
 * chrome-sandbox, resources/app.asar or chrome_100_percent.pak near its root), and its desktop file's
 * id (`org.xfce.mousepad` for org.xfce.mousepad.desktop), the bus name the app registers. The image
 * is looked at inside a sandbox of its own (mounted as for a run, nothing read on the host), and the
 * answer remembered by the file's identity (device, inode, size, modification time) in bbl's runtime
 * directory (nothing is written to your home), so it costs one sandbox start the first time only,
 * until the next reboot.
 */
import type { AppImageRequest } from "../plan/options.ts";
import type { SandboxRunner } from "./extract.ts";
import { removeTree } from "../state/store.ts";

/** The files that mark a Chromium/Electron build (found up to a few directories down). */
export const BROWSER_MARKS = ["chrome-sandbox", "chrome_100_percent.pak", "resources/app.asar"];

export interface ImageFacts {
  browser: boolean;
  /** The desktop file's name without .desktop, when it is a bus name (two or more dotted parts). */
  desktopId: string | null;
}

/** The shell run inside: the desktop files' names into `out`, then exit 0 for a browser build, 1 otherwise. */
export function probeScript(appDir: string, out: string): string {
  const names = BROWSER_MARKS.map((m) => m.includes("/") ? `-path '*/${m}'` : `-name '${m}'`).join(" -o ");
  return `cd ${appDir} && ls *.desktop > ${out} 2>/dev/null; ` +
    `find ${appDir} -maxdepth 4 \\( ${names} \\) -print 2>/dev/null | grep -q . && exit 0 || exit 1`;
}

const BUS_NAME = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$/;

/** The id of the first desktop file listed, when it is a bus name. */
export function desktopId(listing: string): string | null {
  const first = listing.split("\n").map((l) => l.trim()).find((l) => l.endsWith(".desktop"));
  const id = first?.slice(0, -".desktop".length) ?? "";
  return BUS_NAME.test(id) ? id : null;
}

/** `base`: bbl's private runtime directory (the instances' base). Null: the image could not be looked at. */
export async function imageFacts(a: AppImageRequest, base: string, run: SandboxRunner): Promise<ImageFacts | null> {
  const st = Deno.statSync(a.path);
  const kinds = `${base}/.appimage-kinds`;
  const known = `${kinds}/${st.dev}-${st.ino}-${st.size}-${st.mtime?.getTime() ?? 0}`;
  try {
    return JSON.parse(Deno.readTextFileSync(known)) as ImageFacts;
  } catch { /* not looked at yet */ }
  Deno.mkdirSync(kinds, { recursive: true, mode: 0o700 });
  const out = Deno.makeTempDirSync({ dir: kinds, prefix: ".probe-" });
  try {
    const name = "probe", inside = "/run/bbl-probe";
    const code = await run(name, [
      { kind: "appimage", src: a.path, name },
      { kind: "bind", src: out, dest: inside },
    ], ["/bin/sh", "-c", probeScript(`/sbxdir/apps/${name}`, `${inside}/desktop`)]);
    if (code !== 0 && code !== 1) return null; // could not look: no guess, and nothing remembered
    let listing = "";
    try {
      listing = Deno.readTextFileSync(`${out}/desktop`);
    } catch { /* no desktop file */ }
    const facts: ImageFacts = { browser: code === 0, desktopId: desktopId(listing) };
    Deno.writeTextFileSync(known, JSON.stringify(facts) + "\n");
    return facts;
  } finally {
    removeTree(out);
  }
}
