/**
 * Why unprivileged user namespaces might be unavailable, from the kernel settings that control them,
 * with the command that changes each. Used when creating the sandbox fails, and by `bbl doctor`.
 */
import { SysError } from "./sys/errno.ts";
import { BblError } from "./errors.ts";

export type ReadSetting = (path: string) => string | null;

export const readProcSetting: ReadSetting = (path) => {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
};

/** The first setting that forbids unprivileged user namespaces, as a one-line fix, or null. */
export function usernsBlocker(read: ReadSetting): string | null {
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0") {
    return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); " +
      "enable them with: sudo sysctl -w kernel.unprivileged_userns_clone=1";
  }
  if (read("/proc/sys/user/max_user_namespaces") === "0") {
    return "user namespaces are disabled (user.max_user_namespaces = 0); " +
      "enable them with: sudo sysctl -w user.max_user_namespaces=15000";
  }
  if (read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") {
    return "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1); " +
      "allow them with: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
  }
  return null;
}

/** Turns a failure to create or map the first user namespace into the setting to change, if known. */
export function diagnoseUserns(e: unknown, read: ReadSetting = readProcSetting): BblError | null {
  if (!(e instanceof SysError) || !["EPERM", "EACCES", "EINVAL", "ENOSPC", "EUSERS"].includes(e.code)) return null;
  const blocker = usernsBlocker(read);
  return blocker ? new BblError(`cannot create the sandbox: ${blocker}`) : null;
}
