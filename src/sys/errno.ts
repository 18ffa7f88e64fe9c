/** errno names for Linux (x86_64 and aarch64 share the generic numbering), and SysError. */

const NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  8: "ENOEXEC",
  9: "EBADF",
  10: "ECHILD",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  15: "ENOTBLK",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  31: "EMLINK",
  32: "EPIPE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  110: "ETIMEDOUT",
  122: "EDQUOT",
};

/** The errnos bbl's own code branches on. */
export const ENOENT = 2, EACCES = 13, EEXIST = 17, ENOTDIR = 20;

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `errno ${errno}`;
}

/** What an errno means where bbl reaches a path inside a root it builds (never through a symlink). */
export const PATH_MEANING: Record<string, string> = {
  ELOOP: "refusing a path through a symlink",
  ENOTDIR: "not a directory",
};

/**
 * A failed system call. `what` says what bbl was doing, in the user's terms ("mounting ~/data at
 * /data"); the message adds the errno name, e.g. "mounting ~/data at /data: EACCES".
 */
export class SysError extends Error {
  /** The errno name, e.g. "EACCES". */
  readonly code: string;
  constructor(readonly what: string, errno: number | string, readonly call: string) {
    const code = typeof errno === "number" ? errnoName(errno) : errno;
    super(`${what}: ${code}`);
    this.name = "SysError";
    this.code = code;
  }
}
