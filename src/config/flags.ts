/**
 * Command-line flags as the highest-priority configuration source: each flag sets the key of the same
 * meaning, checked by the same rules as a file (an error names the flag).
 */
import { checkConfig, type Config, ENV_NAME_RE, type MountEntry } from "./schema.ts";
import { UsageError } from "../errors.ts";

export interface RawFlags {
  name?: string;
  home?: string;
  cwd?: boolean;
  programDir?: boolean;
  net?: string;
  shareNet?: boolean;
  dns: string[];
  hostname?: string;
  setenv: string[];
  keepEnv: string[];
  unsetEnv: string[];
  bind: string[];
  roBind: string[];
  seccomp?: string;
  seccompAllow: string[];
  limit: string[];
  gui?: string;
  dbus?: string;
  audio?: string;
  gpu?: boolean;
  nestedSandbox?: boolean;
}

/** Every repeatable flag, not given. */
export const NO_FLAGS: RawFlags = {
  dns: [],
  setenv: [],
  keepEnv: [],
  unsetEnv: [],
  bind: [],
  roBind: [],
  seccompAllow: [],
  limit: [],
};

const FLAG_OF: Record<string, string> = {
  mounts: "--bind/--ro-bind",
  env: "--setenv/--keep-env/--unset-env",
  limits: "--limit",
  seccomp_allow: "--seccomp-allow",
};

function mountFlag(kind: "bind" | "robind", v: string): MountEntry {
  const i = v.indexOf(":");
  if (i === 0 || v === "") {
    throw new UsageError(`--${kind === "bind" ? "bind" : "ro-bind"} ${v}: expected SRC or SRC:DEST`);
  }
  return i < 0 ? { kind, src: v, same: true } : { kind, src: v.slice(0, i), dest: v.slice(i + 1) };
}

export function flagsToConfig(raw: RawFlags): Config {
  const c: Config = {};
  if (raw.name !== undefined) c.name = raw.name;
  if (raw.home !== undefined) c.home = raw.home;
  if (raw.cwd) c.cwd = true;
  if (raw.programDir) c.program_dir = true;
  if (raw.shareNet && raw.net !== undefined && raw.net !== "host") {
    throw new UsageError(`--share-net conflicts with --net ${raw.net}`);
  }
  if (raw.net !== undefined || raw.shareNet) c.net = (raw.net ?? "host") as Config["net"];
  if (raw.dns.length > 0) c.dns = raw.dns;
  if (raw.hostname !== undefined) c.hostname = raw.hostname;
  const set: Record<string, string> = {};
  for (const kv of raw.setenv) {
    const i = kv.indexOf("=");
    const name = i < 0 ? kv : kv.slice(0, i);
    if (i < 0 || !ENV_NAME_RE.test(name)) throw new UsageError(`--setenv ${kv}: expected NAME=VALUE`);
    if (name in set) throw new UsageError(`--setenv ${name} given twice`);
    set[name] = kv.slice(i + 1);
  }
  if (raw.setenv.length + raw.keepEnv.length + raw.unsetEnv.length > 0) {
    c.env = {
      ...(raw.setenv.length ? { set } : {}),
      ...(raw.keepEnv.length ? { keep: raw.keepEnv } : {}),
      ...(raw.unsetEnv.length ? { unset: raw.unsetEnv } : {}),
    };
  }
  const mounts = [...raw.bind.map((v) => mountFlag("bind", v)), ...raw.roBind.map((v) => mountFlag("robind", v))];
  if (mounts.length > 0) c.mounts = mounts;
  if (raw.seccomp !== undefined) c.seccomp = raw.seccomp;
  if (raw.gui !== undefined) c.gui = raw.gui as Config["gui"];
  if (raw.dbus !== undefined) c.dbus = raw.dbus as Config["dbus"];
  if (raw.audio !== undefined) c.audio = raw.audio as Config["audio"];
  if (raw.gpu) c.gpu = true;
  if (raw.nestedSandbox) c.nested_sandbox = true;
  if (raw.seccompAllow.length > 0) c.seccomp_allow = raw.seccompAllow;
  if (raw.limit.length > 0) {
    const limits: Record<string, number | string> = {};
    for (const l of raw.limit) {
      const m = l.match(/^([a-z]+)=(\S+)$/);
      if (!m) throw new UsageError(`--limit ${l}: expected NAME=N (or tmpfs=SIZE)`);
      if (m[1] in limits) throw new UsageError(`--limit ${m[1]} given twice`);
      limits[m[1]] = m[1] === "tmpfs" || !/^\d+$/.test(m[2]) ? m[2] : Number(m[2]);
    }
    c.limits = limits;
  }
  return checkConfig(c, {
    fail(path, _label, message): never {
      const key = String(path[0]);
      throw new UsageError(`${FLAG_OF[key] ?? `--${key.replace(/_/g, "-")}`}: ${message}`);
    },
  });
}
