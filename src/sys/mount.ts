/** Mount-related system calls, each named for what it does and failing with a SysError that says so. */
import { check, cstr, libc, ptr, sys } from "./libc.ts";
import { AT_EMPTY_PATH, AT_FDCWD, AT_RECURSIVE, MNT_DETACH, MOUNT_ATTR, MS, nr } from "./consts.ts";

const NULL = new Uint8Array(1); // "" for unused string arguments

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

const OPEN_TREE_CLONE = 1, MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_SYMLINKS = 0x10;

/**
 * A recursive copy of the tree at `srcFd` (an O_PATH descriptor), nosuid/nodev (and read-only when
 * asked) on every mount of it, attached at `target`: the attributes are set on the detached copy
 * itself, so no change of the paths in between can send them elsewhere.
 */
export function bindTree(what: string, srcFd: number, target: string, readonly: boolean): void {
  const empty = cstr("");
  const tree = Number(sys(nr("open_tree"), what, srcFd, ptr(empty), OPEN_TREE_CLONE | AT_RECURSIVE | AT_EMPTY_PATH));
  try {
    const attrs = MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | (readonly ? MOUNT_ATTR.RDONLY : 0);
    const attr = new BigUint64Array([BigInt(attrs), 0n, 0n, 0n]);
    sys(
      nr("mount_setattr"),
      what,
      tree,
      ptr(empty),
      AT_EMPTY_PATH | AT_RECURSIVE,
      ptr(new Uint8Array(attr.buffer)),
      32,
    );
    const to = cstr(target);
    // T_SYMLINKS: a target of /proc/self/fd/N means the directory that descriptor holds
    sys(nr("move_mount"), what, tree, ptr(empty), AT_FDCWD, ptr(to), MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
  } finally {
    libc.close(tree);
  }
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
