/**
 * The sandbox environment is built from an allowlist: nothing of the host's environment reaches the
 * app unless named here or by the user. Secrets (SSH_AUTH_SOCK, tokens, DBUS_SESSION_BUS_ADDRESS) are
 * therefore absent without having to be listed.
 */

/** Host variables copied when set. */
export const ALLOWED_ENV = ["PATH", "TERM", "LANG", "TZ", "COLORTERM"] as const;
/** Host variable name patterns copied when set. */
export const ALLOWED_ENV_PATTERNS = [/^LC_[A-Z_]+$/];

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface EnvInput {
  host: Record<string, string>;
  user: string;
  home: string;
  shell: string;
  uid: number;
  /** Extra host variables the user asked to keep. */
  keep: string[];
  /** Variables the user set explicitly; they win over everything. */
  set: Record<string, string>;
}

export function buildEnv(i: EnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(i.host)) {
    if ((ALLOWED_ENV as readonly string[]).includes(k) || ALLOWED_ENV_PATTERNS.some((p) => p.test(k))) {
      env[k] = v;
    }
  }
  env.PATH ??= DEFAULT_PATH;
  Object.assign(env, {
    HOME: i.home,
    USER: i.user,
    LOGNAME: i.user,
    SHELL: i.shell,
    XDG_RUNTIME_DIR: `/run/user/${i.uid}`,
  });
  for (const k of i.keep) if (k in i.host) env[k] = i.host[k];
  Object.assign(env, i.set);
  return env;
}
