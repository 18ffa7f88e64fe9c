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
  /** The terminal on stdin (e.g. /dev/pts/3), or null. */
  tty: string | null;
  /** Stdin is a terminal whose foreground process group is the launcher's. */
  terminalForeground: boolean;
  /** Where per-instance directories live: $XDG_RUNTIME_DIR/bbl, or /tmp/bbl-UID when it is unset. */
  instanceBase: string;
  runner: RunnerFacts;
  /** The never-access paths that exist, resolved (realpath) so a symlink cannot dodge the mask. */
  neverAccess: string[];
}
