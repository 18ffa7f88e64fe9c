/**
 * Whether an AppImage is a Chromium or Electron build, which sandboxes its own renderers and needs
 * `nested_sandbox` for it: it holds chrome-sandbox, resources/app.asar or chrome_100_percent.pak near
 * its root. The image is looked at inside a sandbox of its own (mounted as for a run, nothing read on
 * the host), and the answer remembered by the file's identity (device, inode, size, modification
 * time) in bbl's runtime directory (nothing is written to your home), so it costs one sandbox start
 * the first time only, until the next reboot.
 */
import type { AppImageRequest } from "../plan/options.ts";
import type { SandboxRunner } from "./extract.ts";

/** The files that mark a Chromium/Electron build (found up to a few directories down). */
export const BROWSER_MARKS = ["chrome-sandbox", "chrome_100_percent.pak", "resources/app.asar"];

/** The shell test run inside: exit 0 for a browser build, 1 for anything else. */
export function browserTest(appDir: string): string {
  const names = BROWSER_MARKS.map((m) => m.includes("/") ? `-path '*/${m}'` : `-name '${m}'`).join(" -o ");
  return `find ${appDir} -maxdepth 4 \\( ${names} \\) -print 2>/dev/null | grep -q . && exit 0 || exit 1`;
}

/** `base`: bbl's private runtime directory (the instances' base). */
export async function isBrowserBuild(a: AppImageRequest, base: string, run: SandboxRunner): Promise<boolean> {
  const st = Deno.statSync(a.path);
  const kinds = `${base}/.appimage-kinds`;
  const known = `${kinds}/${st.dev}-${st.ino}-${st.size}-${st.mtime?.getTime() ?? 0}`;
  try {
    return Deno.readTextFileSync(known).trim() === "browser";
  } catch { /* not looked at yet */ }
  const name = "probe";
  const code = await run(name, [{ kind: "appimage", src: a.path, name }], [
    "/bin/sh",
    "-c",
    browserTest(`/sbxdir/apps/${name}/`),
  ]);
  if (code !== 0 && code !== 1) return false; // could not look: no guess, and nothing remembered
  Deno.mkdirSync(kinds, { recursive: true, mode: 0o700 });
  Deno.writeTextFileSync(known, code === 0 ? "browser\n" : "plain\n");
  return code === 0;
}
