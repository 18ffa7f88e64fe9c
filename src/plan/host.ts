/** Facts about the invoking user and host that the planner needs. Gathered once by the launcher. */
import type { RunnerFacts } from "../selfexec.ts";

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
  runner: RunnerFacts;
  /** The never-access paths that exist, resolved (realpath) so a symlink cannot dodge the mask. */
  neverAccess: string[];
}
