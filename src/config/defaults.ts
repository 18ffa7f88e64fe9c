/** The embedded defaults: the lowest-priority configuration source (what `bbl config show` starts from). */
import type { Config } from "./schema.ts";

/**
 * Paths no layer below the semi-trusted one may ever see: keys, credentials, browser profiles and
 * bbl's own configuration. bbl adds its state directory itself (each sandbox sees only its own).
 */
export const NEVER_ACCESS = [
  "~/.ssh",
  "~/.gnupg",
  "~/.pki",
  "~/.password-store",
  "~/.local/share/keyrings",
  "~/.aws",
  "~/.azure",
  "~/.config/gcloud",
  "~/.kube",
  "~/.docker",
  "~/.netrc",
  "~/.git-credentials",
  "~/.mozilla",
  "~/.config/google-chrome",
  "~/.config/chromium",
  "~/.config/BraveSoftware",
  "~/.config/bbl",
];

export const DEFAULT_CONFIG = {
  home: "tmpfs",
  cwd: false,
  net: "none",
  machine_id: "host",
  etc_hosts: "own",
  program_dir: false,
  mask_os_release: false,
  allow_opt: false,
  see_real_hw: false,
  gui: "none",
  x11_trusted: false,
  dbus: "none",
  audio: "none",
  gpu: false,
  nested_sandbox: false,
  seccomp: "default",
  never_access: NEVER_ACCESS,
} as const satisfies Config;
