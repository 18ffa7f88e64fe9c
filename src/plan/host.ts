/** Facts about the invoking user and host that the planner needs. Gathered once by the launcher. */
import type { SelfFacts } from "../selfexec.ts";

export interface HostFacts {
  uid: number;
  gid: number;
  user: string;
  home: string;
  cwd: string;
  pid: number;
  env: Record<string, string>;
  /** The sandbox's terminal (the slave of the pty the launcher relays, e.g. /dev/pts/3), or null. */
  tty: string | null;
  /** Where per-instance directories live: $XDG_RUNTIME_DIR/bbl, or /tmp/bbl-UID when it is unset. */
  instanceBase: string;
  self: SelfFacts;
  /**
   * Where /etc/resolv.conf, /etc/machine-id and /etc/os-release really are (often symlinks, such as
   * resolv.conf into /run), or null when missing: replaced there when the configuration asks.
   */
  etc: {
    resolvConf: string | null;
    machineId: string | null;
    osRelease: string | null;
    hostname: string | null;
    hosts: string | null;
  };
}
