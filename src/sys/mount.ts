/** Mount-related system calls, each named for what it does and failing with a SysError that says so. */
import { check, cstr, libc, sys } from "./libc.ts";
import { AT_FDCWD, AT_RECURSIVE, MNT_DETACH, MOUNT_ATTR, MS, nr } from "./consts.ts";

const NULL = new Uint8Array(1); // "" for unused string arguments

function ptr(buf: Uint8Array): bigint {
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf));
}

export function mount(
  what: string,
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(
    libc.mount(
      source === null ? NULL : cstr(source),
      cstr(target),
      fstype === null ? NULL : cstr(fstype),
      BigInt(flags),
      data === null ? NULL : cstr(data),
    ),
    what,
    "mount",
  );
}

/** Recursive bind of src at dest, then nosuid/nodev (and read-only when asked) on every submount. */
export function bindMount(what: string, src: string, dest: string, readonly: boolean): void {
  mount(what, src, dest, null, MS.BIND | MS.REC);
  setAttrRecursive(what, dest, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (readonly ? MOUNT_ATTR.RDONLY : 0));
}

/** mount_setattr(2) with AT_RECURSIVE: applies to the whole subtree at once (Linux 5.12+). */
export function setAttrRecursive(what: string, path: string, attrSet: number): void {
  const attr = new BigUint64Array([BigInt(attrSet), 0n, 0n, 0n]); // set, clr, propagation, userns_fd
  const p = cstr(path);
  sys(nr("mount_setattr"), what, AT_FDCWD, ptr(p), AT_RECURSIVE, ptr(new Uint8Array(attr.buffer)), 32);
}

/** Remounts one mount (not its submounts) read-only, keeping nosuid/nodev. */
export function remountReadonly(what: string, path: string): void {
  mount(what, null, path, null, MS.REMOUNT | MS.BIND | MS.RDONLY | MS.NOSUID | MS.NODEV);
}

/** pivot_root(".", ".") then detach the old root: the standard way to leave no old root behind. */
export function pivotInto(newRoot: string): void {
  check(libc.chdir(cstr(newRoot)), `entering the new root ${newRoot}`, "chdir");
  const dot = cstr(".");
  sys(nr("pivot_root"), "switching to the new root (pivot_root)", ptr(dot), ptr(dot));
  check(libc.umount2(dot, MNT_DETACH), "detaching the old root", "umount2");
  check(libc.chdir(cstr("/")), "entering /", "chdir");
}
