/**
 * How the desktop portals see a sandbox. xdg-desktop-portal takes a caller for a sandboxed app when
 * the root of the caller's process holds /.flatpak-info (read through /proc/PID/root) naming the app;
 * it then keeps permissions per app id and gives the app the files you choose for it through the
 * document portal, which shows each app its own documents under DOC/by-app/ID.
 */

/** xdg-desktop-portal's rule: two or more dot-separated elements of [A-Za-z0-9_], '-' in the last one. */
export function isAppId(s: string): boolean {
  if (s.length > 255) return false;
  const parts = s.split(".");
  if (parts.length < 2) return false;
  return parts.every((p, i) => (i === parts.length - 1 ? /^[A-Za-z0-9_-]+$/ : /^[A-Za-z0-9_]+$/).test(p));
}

/**
 * The app id of a sandbox named NAME: bbl.NAME. Never taken from what the app brings (an AppImage's
 * desktop file): an app naming itself as another would get that app's documents and permissions.
 */
export function defaultAppId(name: string): string {
  return `bbl.${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/** /.flatpak-info of a sandbox: its app id, and whether it has the network (the portals ask). */
export function flatpakInfo(appId: string, network: boolean): string {
  return `[Application]\nname=${appId}\n` + (network ? "\n[Context]\nshared=network;\n" : "");
}

/** The document portal's mount point from `gdbus call ... GetMountPoint` (`(b'/run/user/1000/doc',)`), or null. */
export function parseMountPoint(out: string): string | null {
  const m = out.trim().match(/^\(b'(\/[^'\\]*)',\)$/);
  return m ? m[1] : null;
}

/**
 * Asks the session bus for the document portal's mount point (starting the portal if it is
 * installed, as Flatpak does); null when there is no portal or no gdbus to ask with.
 */
export function documentPortal(env: Record<string, string>, gdbus: string | null): string | null {
  if (!gdbus) return null;
  const args = ["call", "--session", "--timeout", "5", "--dest", "org.freedesktop.portal.Documents"];
  args.push("--object-path", "/org/freedesktop/portal/documents");
  args.push("--method", "org.freedesktop.portal.Documents.GetMountPoint");
  try {
    const out = new Deno.Command(gdbus, { args, env, clearEnv: true, stdin: "null", stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? parseMountPoint(new TextDecoder().decode(out.stdout)) : null;
  } catch {
    return null;
  }
}
