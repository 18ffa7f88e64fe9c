/**
 * The filesystem steps the configuration adds to a template (pure): in the app's root (homes, the
 * current directory, mounts, files such as resolv.conf, desktop sockets), in the layer that shows
 * the host with the never-access paths masked (an overlay home, this sandbox's own state), and the
 * masks an overlay needs again. Also the AppImages' FUSE daemons.
 */
import type { AppImageRequest, RunOptions } from "./options.ts";
import type { FsOp, Helper } from "./types.ts";
import type { HostFacts } from "./host.ts";
import { appRootOps as desktopAppOps, hostLayerOps as desktopHostOps, type Where } from "./desktop.ts";

/** The generic os-release a sandbox shows with mask_os_release. */
const GENERIC_OS_RELEASE = 'NAME="Linux"\nID=linux\nPRETTY_NAME="Linux"\n';
const ZERO_MACHINE_ID = "0".repeat(32) + "\n";

/** The hostname inside when none is configured. */
export const DEFAULT_HOSTNAME = "bbl";

/** /etc/hosts of a sandbox: loopback names and its own hostname. */
const hostsFile = (name: string) =>
  `127.0.0.1\tlocalhost\n127.0.1.1\t${name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;

/** An empty read-only tmpfs needs no room: masks of directories get the smallest one. */
export const MASK_SIZE = "4k";

/** A never-access path (or the state directory) masked where it is, when it exists. */
const maskStep = (src: string, dest: string): FsOp => ({ kind: "mask", src, dest, optional: true, size: MASK_SIZE });

export const pathIn = (child: string, parent: string) =>
  parent === "/" || child === parent || child.startsWith(parent + "/");

/** The app root's steps that come from the configuration; `w.host` maps a host path to this layer's view. */
export function appRootSteps(o: RunOptions, h: HostFacts, w: Where): FsOp[] {
  const { host } = w, home = h.home;
  const ops: FsOp[] = [];
  if (o.home.mode === "persist") ops.push({ kind: "bind", src: host(`${o.stateDir}/home`), dest: home });
  if (o.home.mode === "dir") ops.push({ kind: "bind", src: host(o.home.path), dest: home });
  // The overlay itself is mounted where the host is masked (see hostLayerSteps).
  if (o.home.mode === "overlay") ops.push({ kind: "bind", src: host(home), dest: home });
  if (o.cwd) ops.push({ kind: "bind", src: host(h.cwd), dest: h.cwd });
  for (const m of o.mounts) {
    ops.push({ kind: m.kind, src: host(m.src), dest: m.dest, ...(m.optional ? { optional: true } : {}) });
  }
  const resolv = h.etc.resolvConf ?? "/etc/resolv.conf";
  if (o.dns.length > 0) {
    const content = o.dns.map((a) => `nameserver ${a}\n`).join("");
    ops.push({ kind: "rofile", dest: resolv, content, mode: 0o644 });
  } else if (o.net === "host" && h.etc.resolvConf && !h.etc.resolvConf.startsWith("/etc/")) {
    // /etc/resolv.conf is a symlink (systemd-resolved, NetworkManager): its target, read-only.
    ops.push({ kind: "robind", src: host(h.etc.resolvConf), dest: h.etc.resolvConf, optional: true });
  }
  if (o.machineId === "zero" && h.etc.machineId) {
    ops.push({ kind: "rofile", dest: h.etc.machineId, content: ZERO_MACHINE_ID, mode: 0o444 });
  }
  if (o.maskOsRelease && h.etc.osRelease) {
    ops.push({ kind: "rofile", dest: h.etc.osRelease, content: GENERIC_OS_RELEASE, mode: 0o644 });
  }
  ops.push(...desktopAppOps(o.desktop, w));
  if (o.allowOpt) ops.push({ kind: "rosame", src: host("/opt"), dest: "/opt", optional: true });
  if (o.seeRealHw) {
    for (const p of ["/sys", "/run/udev"]) ops.push({ kind: "robind", src: host(p), dest: p, optional: true });
  }
  return ops;
}

/**
 * /etc/hostname and /etc/hosts of the sandbox's own (uname -n says the same name), none of the host's
 * entries; only over existing files: /etc is the host's, and a file created there would be created
 * on the host. The planner leaves out those the template already has a step for.
 */
export function ownNameFiles(o: RunOptions, h: HostFacts): FsOp[] {
  if (o.etcHosts === "host") return [];
  const name = o.hostname ?? DEFAULT_HOSTNAME;
  return [
    ...(h.etc.hostname ? [{ kind: "rofile" as const, dest: h.etc.hostname, content: `${name}\n`, mode: 0o644 }] : []),
    ...(h.etc.hosts ? [{ kind: "rofile" as const, dest: h.etc.hosts, content: hostsFile(name), mode: 0o644 }] : []),
  ];
}

/**
 * Steps for the layer that shows the host with the never-access paths masked (`hostAt` is where).
 *
 * An overlay home is mounted here, over the host's home in this view, not in the app's root: the
 * kernel refuses an overlay whose lower directory has mounts locked on it (the masks, once seen from
 * a less privileged user namespace), and rightly, as an overlay shows what is under them. Here the
 * masks are this layer's own, so they are simply mounted again on top (deeper, so later). Binds the
 * app asked for from inside that home are shown from the real home, so their changes reach the host.
 */
export function hostLayerSteps(o: RunOptions, h: HostFacts, hostAt: string, w: Where): FsOp[] {
  const { host } = w, home = h.home;
  const ops: FsOp[] = desktopHostOps(o.desktop, w).map((op) =>
    op.kind === "tmpfs" && o.tmpfsSize ? { ...op, size: o.tmpfsSize } : op
  );
  for (const p of o.neverAccess) ops.push(maskStep(host(p), hostAt + p));
  // Every sandbox's state is masked above; a persistent home is shown again, at the same place.
  if (o.home.mode === "persist") {
    const own = `${o.stateDir}/home`;
    ops.push({ kind: "bind", src: host(own), dest: hostAt + own });
  }
  if (o.home.mode === "overlay") {
    ops.push({
      kind: "overlay",
      lower: [host(home)],
      upper: host(`${o.stateDir}/upper`),
      work: host(`${o.stateDir}/work`),
      dest: hostAt + home,
    });
    const real = [...(o.cwd ? [h.cwd] : []), ...o.mounts.map((m) => m.src)];
    const hidden = (r: string) => o.neverAccess.some((n) => pathIn(r, n));
    for (const src of real.filter((r) => pathIn(r, home) && r !== home && !hidden(r))) {
      ops.push({ kind: "bind", src: host(src), dest: hostAt + src });
    }
  }
  return ops;
}

/**
 * An overlay shows its lower directories' own files, not what is mounted on them, so the masks of
 * the never-access paths (and of the state directory) are missing there: each is masked again.
 */
export function overlayMasks(ops: FsOp[], hostView: string, neverAccess: string[]): FsOp[] {
  const masks: FsOp[] = [];
  for (const op of ops) {
    if (op.kind !== "overlay" && op.kind !== "tmp-overlay") continue;
    for (const viewed of op.lower) {
      const lower = viewed.slice(hostView.length) || "/";
      for (const p of neverAccess) {
        if (!pathIn(p, lower)) continue;
        const dest = op.dest + (lower === "/" ? p : p.slice(lower.length));
        masks.push(maskStep(hostView + p, dest.replace(/^\/\//, "/")));
      }
    }
  }
  return masks;
}

/** The FUSE daemons of the AppImages: no capabilities, the app's seccomp policy, fds 3 and 4 given. */
export function appImageHelpers(images: AppImageRequest[]): Helper[] {
  return images.filter((a) => !a.extracted).map((a) => ({
    run: a.format === "squashfs"
      ? ["squashfuse", "-f", "-o", `offset=${a.offset}`, "/proc/self/fd/4", "/dev/fd/3"]
      : ["dwarfs", "/proc/self/fd/4", "/dev/fd/3", "-f", "-o", `offset=${a.offset}`],
    wait: { path: `/sbxdir/apps/${a.name}` },
    timeout: 30,
    appimage: a.name,
  }));
}
