/**
 * What bbl needs to know of an AppImage's contents before its run: whether it is a Chromium or
 * Electron build, which sandboxes its own renderers and needs `nested_sandbox` for it (it holds
 * chrome-sandbox, resources/app.asar or chrome_100_percent.pak near its root), whether it brings
 * GTK 4 (which cannot draw on untrusted X11), and its desktop file's
 * id (`org.xfce.mousepad` for org.xfce.mousepad.desktop), the bus name the app registers. The image
 * is looked at inside a sandbox of its own (mounted as for a run, nothing read on the host), and the
 * answer remembered by the file's identity (device, inode, size, modification time) in bbl's runtime
 * directory (nothing is written to your home), so it costs one sandbox start the first time only,
 * until the next reboot.
 */
import type { AppImageRequest } from "../plan/options.ts";
import type { SandboxRunner } from "./extract.ts";
import { removeTree } from "../state/store.ts";
import { GTK4_LIBRARY } from "../desktop/toolkit.ts";

/** The files that mark a Chromium/Electron build (found up to a few directories down). */
export const BROWSER_MARKS = ["chrome-sandbox", "chrome_100_percent.pak", "resources/app.asar"];

export interface ImageFacts {
  browser: boolean;
  /** It holds GTK 4 (libgtk-4.so): no untrusted X11 for it (src/desktop/toolkit.ts). */
  gtk4: boolean;
  /** The desktop file's name without .desktop, when it is a bus name (two or more dotted parts). */
  desktopId: string | null;
}

/** The shell run inside: the desktop files' names into `out/desktop`, the marks found into `out/marks`. */
export function probeScript(appDir: string, out: string): string {
  const names = [
    ...BROWSER_MARKS.map((m) => m.includes("/") ? `-path '*/${m}'` : `-name '${m}'`),
    "-name 'libgtk-4.so*'",
  ]
    .join(" -o ");
  return `cd ${appDir} && { ls *.desktop > ${out}/desktop 2>/dev/null; ` +
    `find ${appDir} -maxdepth 4 \\( ${names} \\) -print > ${out}/marks 2>/dev/null; exit 0; }`;
}

/** What the marks found (`find`'s paths) say. */
export function marksFacts(marks: string): Pick<ImageFacts, "browser" | "gtk4"> {
  const paths = marks.split("\n").filter(Boolean);
  return {
    browser: paths.some((p) => BROWSER_MARKS.some((m) => p.endsWith(`/${m}`))),
    gtk4: paths.some((p) => GTK4_LIBRARY.test(p.split("/").pop()!)),
  };
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
    const facts = JSON.parse(Deno.readTextFileSync(known)) as ImageFacts;
    if (typeof facts.gtk4 === "boolean") return facts; // else remembered by an earlier bbl: look again
  } catch { /* not looked at yet */ }
  Deno.mkdirSync(kinds, { recursive: true, mode: 0o700 });
  const out = Deno.makeTempDirSync({ dir: kinds, prefix: ".probe-" });
  try {
    const name = "probe", inside = "/run/bbl-probe";
    const code = await run(name, [
      { kind: "appimage", src: a.path, name },
      { kind: "bind", src: out, dest: inside },
    ], ["/bin/sh", "-c", probeScript(`/sbxdir/apps/${name}`, inside)]);
    if (code !== 0) return null; // could not look: no guess, and nothing remembered
    const read = (f: string) => {
      try {
        return Deno.readTextFileSync(`${out}/${f}`);
      } catch {
        return ""; // none found
      }
    };
    const facts: ImageFacts = { ...marksFacts(read("marks")), desktopId: desktopId(read("desktop")) };
    Deno.writeTextFileSync(known, JSON.stringify(facts) + "\n");
    return facts;
  } finally {
    removeTree(out);
  }
}
