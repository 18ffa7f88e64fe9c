/**
 * AppImages in the app's root layer, before its pivot: /sbxdir/apps/NAME is the image's filesystem,
 * run_NAME runs its AppRun, NAME.AppImage is the image itself (all read-only).
 *
 * FUSE mode: this layer (root in its user namespace) opens /dev/fuse and the image, and mounts the
 * FUSE filesystem itself (`fd=N`); the daemon, started later as an untrusted helper with neither
 * capabilities nor a path to the image, just serves that connection (libfuse takes `/dev/fd/3` as
 * "already mounted"). The kernel wants /dev/fuse opened in the mounting user namespace, which is why
 * this layer, not the launcher, opens it.
 */
import type { AppImagePlan } from "../plan/types.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { MS, O } from "../sys/consts.ts";
import { mount } from "../sys/mount.ts";
import { BblError } from "../errors.ts";
import { MAGIC } from "../appimage/format.ts";

/** What the FUSE daemon of one AppImage gets: its connection and the image, both opened here. */
export interface AppImageFds {
  fuse: number;
  image: number;
}

/** The script behind /sbxdir/apps/run_NAME: AppRun with the AppImage conventions. */
export function runScript(a: Pick<AppImagePlan, "name" | "argv0">): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "#!/bin/sh",
    `# Runs ${a.name}'s AppRun as its AppImage runtime would (written by bbl).`,
    `APPDIR=/sbxdir/apps/${a.name}`,
    `APPIMAGE=/sbxdir/apps/${a.name}.AppImage`,
    `ARGV0=${q(a.argv0)}`,
    'OWD="$PWD"',
    "export APPDIR APPIMAGE ARGV0 OWD",
    'exec "$APPDIR/AppRun" "$@"',
    "",
  ].join("\n");
}

/**
 * The image opened read-only, checked to hold the filesystem the launcher found (the same file); at
 * `path` when the opener sees it elsewhere than the layer does (the launcher, for a compiled layer).
 */
export function openImage(a: AppImagePlan, path: string = a.image): number {
  const fd = check(libc.open(cstr(path), O.RDONLY | O.CLOEXEC, 0), `opening the AppImage ${path}`, "open");
  const f = Deno.openSync(`/proc/self/fd/${fd}`);
  try {
    const magic = new Uint8Array(MAGIC[a.format].length);
    f.seekSync(a.offset, Deno.SeekMode.Start);
    const n = f.readSync(magic) ?? 0;
    if (new TextDecoder().decode(magic.subarray(0, n)) !== MAGIC[a.format]) {
      libc.close(fd);
      throw new BblError(`${path}: changed since it was checked (no ${a.format} at offset ${a.offset})`);
    }
  } finally {
    f.close();
  }
  return fd;
}

/** Mounts an AppImage's FUSE filesystem at `at` (the daemon is not running yet); returns its fds. */
export function mountFuse(a: AppImagePlan, at: string): AppImageFds {
  const image = openImage(a);
  const fuse = libc.open(cstr(a.fuseDevice!), O.RDWR | O.CLOEXEC, 0);
  if (fuse < 0) {
    libc.close(image);
    check(fuse, `opening ${a.fuseDevice} for the AppImage ${a.name} (FUSE)`, "open");
  }
  const data = `fd=${fuse},rootmode=40000,user_id=${libc.getuid()},group_id=${libc.getgid()}`;
  try {
    mount(
      `mounting the AppImage ${a.name}`,
      a.name,
      at,
      `fuse.${a.format === "squashfs" ? "squashfuse" : "dwarfs"}`,
      MS.NOSUID | MS.NODEV | MS.RDONLY,
      data,
    );
  } catch (e) {
    libc.close(image);
    libc.close(fuse);
    throw e;
  }
  return { fuse, image };
}
