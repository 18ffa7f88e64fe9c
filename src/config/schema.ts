/**
 * The configuration file format (docs: README "Configuration"): one YAML mapping, every key optional.
 * A file is checked completely when read, before anything runs; an error names the file, line, column
 * and key ("bbl.yaml:4:9: mounts[1].kind: unknown kind 'bnd' (did you mean 'bind'?)").
 */
import { didYouMean, parseYaml, typeName, type YamlFile, type YamlPath } from "../yaml.ts";
import { RLIMITS } from "../sys/limits.ts";
import { ALLOWANCES } from "../seccomp/policy.ts";
import { isAppId } from "../desktop/portal.ts";

export const HOME_MODES = ["tmpfs", "persist", "overlay"] as const;
export const MOUNT_KINDS = ["bind", "robind", "appimage"] as const;
export const NET_MODES = ["none", "host"] as const;
export const MACHINE_IDS = ["host", "zero"] as const;
export const ETC_HOSTS = ["own", "host"] as const;
export const GUI_MODES = ["none", "auto", "x11", "xephyr", "wayland"] as const;
export const DBUS_MODES = ["none", "filter", "host"] as const;
export const AUDIO_MODES = ["none", "pulse", "pipewire"] as const;

export interface MountEntry {
  kind: typeof MOUNT_KINDS[number];
  /** A host path pattern (see paths.ts). */
  src: string;
  /** An absolute path inside; absent with `same: true`. */
  dest?: string;
  same?: boolean;
  optional?: boolean;
  /** appimage: its name under /sbxdir/apps (default: from the file name). */
  name?: string;
}

export interface Config {
  name?: string;
  /** tmpfs, persist, overlay, or a directory (a path with a '/' or starting with '~'). */
  home?: string;
  cwd?: boolean;
  mounts?: MountEntry[];
  never_access?: string[];
  env?: { set?: Record<string, string>; keep?: string[]; unset?: string[] };
  net?: typeof NET_MODES[number];
  dns?: string[];
  hostname?: string;
  machine_id?: typeof MACHINE_IDS[number];
  /** /etc/hostname and /etc/hosts: the sandbox's own (naming its hostname) or the host's. */
  etc_hosts?: typeof ETC_HOSTS[number];
  /** Show the directory of a program given by path read-only too (not only the program's file). */
  program_dir?: boolean;
  mask_os_release?: boolean;
  allow_opt?: boolean;
  see_real_hw?: boolean;
  gui?: typeof GUI_MODES[number];
  /** x11: the host's own cookie instead of an untrusted one. */
  x11_trusted?: boolean;
  /** xephyr: a window manager to run on the nested display (command and arguments), untrusted like the app. */
  xephyr_wm?: string[];
  dbus?: typeof DBUS_MODES[number];
  /** dbus: filter: bus names the app may also talk to, own, or see. */
  dbus_talk?: string[];
  dbus_own?: string[];
  dbus_see?: string[];
  /** The app's id for the portals (its /.flatpak-info): bbl.NAME unless given. */
  app_id?: string;
  audio?: typeof AUDIO_MODES[number];
  gpu?: boolean;
  /**
   * Lets the app build a sandbox of its own (Chromium, Firefox, Electron): up to N user namespaces
   * of its own (true: NESTED_SANDBOX_DEFAULT), with the clone flags and chroot such sandboxes use.
   */
  nested_sandbox?: boolean | number;
  /** default, off, or a policy file. */
  seccomp?: string;
  seccomp_allow?: string[];
  /** Resource limits (numbers) and tmpfs (a size such as 512m). */
  limits?: Record<string, number | string>;
}

export const KEYS = [
  "name",
  "home",
  "cwd",
  "mounts",
  "never_access",
  "env",
  "net",
  "dns",
  "hostname",
  "machine_id",
  "etc_hosts",
  "program_dir",
  "mask_os_release",
  "allow_opt",
  "see_real_hw",
  "gui",
  "x11_trusted",
  "xephyr_wm",
  "dbus",
  "dbus_talk",
  "dbus_own",
  "dbus_see",
  "app_id",
  "audio",
  "gpu",
  "nested_sandbox",
  "seccomp",
  "seccomp_allow",
  "limits",
] as const;

/** Keys whose values are lists or mappings (they merge); every other key holds a single value. */
export const COLLECTION_KEYS = [
  "mounts",
  "never_access",
  "env",
  "dbus_talk",
  "dbus_own",
  "dbus_see",
  "seccomp_allow",
  "limits",
] as const;
export type SingleKey = Exclude<typeof KEYS[number], typeof COLLECTION_KEYS[number]>;
export const SINGLE_KEYS = KEYS.filter((k) => !(COLLECTION_KEYS as readonly string[]).includes(k)) as SingleKey[];

/** The user namespaces `nested_sandbox: true` lets the app create (a browser makes one per sandboxed process kind). */
export const NESTED_SANDBOX_DEFAULT = 32;

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4_RE = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;
export const SIZE_RE = /^[1-9]\d*[kmg]?$/;
const BUS_NAME_RE = /^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+(\.\*)?$/;

/** A home value that is a directory rather than a mode. */
export function isHomePath(v: string): boolean {
  return v.includes("/") || v.startsWith("~");
}

/** Where checked values came from: a YAML file, or the command line (see flags.ts). */
export type ConfigSource = Pick<YamlFile, "fail">;

/** Checks a configuration document. */
export function checkConfig(data: unknown, y: ConfigSource): Config {
  const fail = (path: YamlPath, msg: string, atKey = false): never =>
    y.fail(path, path.map((p) => typeof p === "number" ? `[${p}]` : p).join(".").replace(/\.\[/g, "["), msg, atKey);
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) fail([], `expected a mapping, got ${typeName(data)}`);
  const c = data as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!(KEYS as readonly string[]).includes(k)) fail([k], `unknown key${didYouMean(k, KEYS)}`, true);
  }
  const str = (path: YamlPath, v: unknown) => {
    if (typeof v !== "string" || v === "") fail(path, `expected a non-empty string, got ${typeName(v)}`);
  };
  const bool = (path: YamlPath, v: unknown) => {
    if (typeof v !== "boolean") fail(path, `expected true or false, got ${typeName(v)}`);
  };
  const oneOf = (path: YamlPath, v: unknown, choices: readonly string[]) => {
    if (typeof v !== "string" || !choices.includes(v)) {
      fail(path, `expected one of ${choices.join(", ")}, got '${v}'${didYouMean(String(v), choices)}`);
    }
  };
  const strList = (path: YamlPath, v: unknown, each: (p: YamlPath, s: string) => void = () => {}) => {
    if (!Array.isArray(v)) fail(path, `expected a list, got ${typeName(v)}`);
    (v as unknown[]).forEach((s, i) => {
      str([...path, i], s);
      each([...path, i], s as string);
    });
  };
  if ("name" in c) {
    str(["name"], c.name);
    if (!NAME_RE.test(c.name as string)) {
      fail(["name"], `invalid sandbox name '${c.name}': use letters, digits, '_', '.', '-' (at most 64)`);
    }
  }
  if ("home" in c) {
    str(["home"], c.home);
    if (!isHomePath(c.home as string) && !(HOME_MODES as readonly string[]).includes(c.home as string)) {
      fail(
        ["home"],
        `expected tmpfs, persist, overlay or a directory path, got '${c.home}'${
          didYouMean(String(c.home), HOME_MODES)
        }`,
      );
    }
  }
  for (const k of ["cwd", "mask_os_release", "allow_opt", "see_real_hw", "x11_trusted", "gpu", "program_dir"]) {
    if (k in c) bool([k], c[k]);
  }
  if ("mounts" in c) {
    if (!Array.isArray(c.mounts)) fail(["mounts"], `expected a list, got ${typeName(c.mounts)}`);
    (c.mounts as unknown[]).forEach((m, i) => {
      const at: YamlPath = ["mounts", i];
      if (typeof m !== "object" || m === null || Array.isArray(m)) fail(at, `expected a mapping, got ${typeName(m)}`);
      const e = m as Record<string, unknown>;
      const keys = e.kind === "appimage"
        ? ["kind", "src", "name", "optional"]
        : ["kind", "src", "dest", "same", "optional"];
      for (const k of Object.keys(e)) {
        if (!keys.includes(k)) fail([...at, k], `unknown key${didYouMean(k, keys)}`, true);
      }
      oneOf([...at, "kind"], e.kind, MOUNT_KINDS);
      str([...at, "src"], e.src);
      if ("same" in e) bool([...at, "same"], e.same);
      if ("optional" in e) bool([...at, "optional"], e.optional);
      if ("name" in e) {
        str([...at, "name"], e.name);
        if (!NAME_RE.test(e.name as string)) fail([...at, "name"], "use letters, digits, '_', '.', '-' (at most 64)");
      }
      if ("dest" in e) {
        str([...at, "dest"], e.dest);
        if (e.same) fail([...at, "dest"], "give either dest or same: true, not both");
      } else if (!e.same && e.kind !== "appimage") fail(at, "needs dest, or same: true (the same path inside)");
    });
  }
  if ("never_access" in c) strList(["never_access"], c.never_access);
  if ("env" in c) {
    const env = c.env as Record<string, unknown>;
    if (typeof env !== "object" || env === null || Array.isArray(env)) {
      fail(["env"], `expected a mapping with set, keep, unset; got ${typeName(env)}`);
    }
    for (const k of Object.keys(env)) {
      if (!["set", "keep", "unset"].includes(k)) {
        fail(["env", k], `unknown key${didYouMean(k, ["set", "keep", "unset"])}`, true);
      }
    }
    if ("set" in env) {
      const set = env.set as Record<string, unknown>;
      if (typeof set !== "object" || set === null || Array.isArray(set)) {
        fail(["env", "set"], `expected a mapping NAME: value, got ${typeName(set)}`);
      }
      for (const [k, v] of Object.entries(set)) {
        if (!ENV_NAME_RE.test(k)) fail(["env", "set", k], `'${k}' is not a variable name`, true);
        if (typeof v !== "string" && typeof v !== "number") {
          fail(["env", "set", k], `expected a string, got ${typeName(v)}`);
        }
        set[k] = String(v);
      }
    }
    if ("keep" in env) strList(["env", "keep"], env.keep);
    if ("unset" in env) {
      strList(["env", "unset"], env.unset, (p, s) => {
        if (!ENV_NAME_RE.test(s)) fail(p, `'${s}' is not a variable name`);
        if (s in ((env.set as object) ?? {}) || ((env.keep as string[]) ?? []).includes(s)) {
          fail(p, `${s} conflicts with env.set or env.keep ${s}`);
        }
      });
    }
    for (const [i, k] of ((env.keep as string[]) ?? []).entries()) {
      if (k in ((env.set as object) ?? {})) fail(["env", "keep", i], `${k} conflicts with env.set ${k}`);
    }
  }
  if ("net" in c) oneOf(["net"], c.net, NET_MODES);
  if ("dns" in c) {
    strList(["dns"], c.dns, (p, s) => {
      if (!IPV4_RE.test(s) && !(s.includes(":") && IPV6_RE.test(s))) fail(p, `'${s}' is not an IP address`);
    });
  }
  if ("hostname" in c) {
    str(["hostname"], c.hostname);
    if (!HOSTNAME_RE.test(c.hostname as string)) fail(["hostname"], "use letters, digits and '-' (at most 63)");
  }
  if ("machine_id" in c) oneOf(["machine_id"], c.machine_id, MACHINE_IDS);
  if ("etc_hosts" in c) oneOf(["etc_hosts"], c.etc_hosts, ETC_HOSTS);
  if ("nested_sandbox" in c) {
    const v = c.nested_sandbox;
    if (typeof v !== "boolean" && !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1000)) {
      fail(
        ["nested_sandbox"],
        `expected true, false or a number of user namespaces (1-1000), got ${JSON.stringify(v)}`,
      );
    }
  }
  if ("gui" in c) oneOf(["gui"], c.gui, GUI_MODES);
  if ("dbus" in c) oneOf(["dbus"], c.dbus, DBUS_MODES);
  if ("audio" in c) oneOf(["audio"], c.audio, AUDIO_MODES);
  if ("xephyr_wm" in c) {
    strList(["xephyr_wm"], c.xephyr_wm);
    if ((c.xephyr_wm as string[]).length === 0) fail(["xephyr_wm"], "expected [command, arguments...]");
  }
  for (const k of ["dbus_talk", "dbus_own", "dbus_see"]) {
    if (k in c) {
      strList([k], c[k], (p, s) => {
        if (!BUS_NAME_RE.test(s)) fail(p, `'${s}' is not a bus name (such as org.example.App or org.example.*)`);
      });
    }
  }
  if ("app_id" in c) {
    str(["app_id"], c.app_id);
    if (!isAppId(c.app_id as string)) {
      fail(
        ["app_id"],
        "use two or more parts of letters, digits and '_' joined by '.' ('-' in the last), such as org.example.App",
      );
    }
  }
  if ("seccomp" in c) str(["seccomp"], c.seccomp);
  if ("seccomp_allow" in c) {
    strList(["seccomp_allow"], c.seccomp_allow, (p, s) => {
      if (!(s in ALLOWANCES)) {
        fail(p, `unknown; one of ${Object.keys(ALLOWANCES).join(", ")}${didYouMean(s, Object.keys(ALLOWANCES))}`);
      }
    });
  }
  if ("limits" in c) {
    const l = c.limits as Record<string, unknown>;
    if (typeof l !== "object" || l === null || Array.isArray(l)) {
      fail(["limits"], `expected a mapping NAME: number, got ${typeName(l)}`);
    }
    const names = [...Object.keys(RLIMITS), "tmpfs"];
    for (const [k, v] of Object.entries(l)) {
      if (!names.includes(k)) {
        fail(["limits", k], `unknown limit${didYouMean(k, names)}; one of ${names.join(", ")}`, true);
      }
      if (k === "tmpfs") {
        if (!SIZE_RE.test(String(v))) fail(["limits", k], "expected a size such as 512m or 2g");
      } else if (!Number.isSafeInteger(v) || (v as number) < 0) {
        fail(["limits", k], `expected a whole number, got ${JSON.stringify(v)}`);
      }
    }
  }
  return c as Config;
}

/** Parses and checks a configuration file's text. */
export function parseConfig(text: string, file: string): Config {
  const { data, yaml } = parseYaml(text, file);
  return checkConfig(data, yaml);
}
