/**
 * The options of a run, listed once: commander builds `--help` and its errors from this table, and an
 * ordinary run (`bbl [options] [--] COMMAND...`) is parsed from it by node:util's parseArgs, so the
 * hot path loads no npm package (commander's load costs a start tens of milliseconds), and node:util
 * only when there are options to parse (it costs a start 4-9 ms).
 */
import { RLIMITS } from "../sys/limits.ts";
import { ALLOWANCES } from "../seccomp/policy.ts";
import type { RawFlags } from "../config/flags.ts";

export interface RawRunOptions extends RawFlags {
  uid?: string;
  gid?: string;
  template?: string;
  config?: string;
  appimage?: string;
  shell?: boolean;
  appimageExtract?: boolean;
  desktopEntry?: boolean;
}

export interface RunOption {
  /** The long name, without "--". */
  name: string;
  /** The value's name in --help; absent for a switch. */
  value?: string;
  repeatable?: boolean;
  help: string;
}

export const RUN_OPTIONS: RunOption[] = [
  {
    name: "appimage",
    value: "file",
    help: "run this AppImage's AppRun (arguments after --); the image is mounted inside",
  },
  { name: "shell", help: "with --appimage: your shell instead, with the app at /sbxdir/apps/NAME" },
  { name: "appimage-extract", help: "unpack AppImages once (cached, unsquashfs) instead of mounting them with FUSE" },
  { name: "desktop-entry", help: "with --appimage: write a launcher to ~/.local/share/applications and exit" },
  {
    name: "name",
    value: "name",
    help: "sandbox name: selects NAME.yaml configs and state (default: from the command)",
  },
  { name: "config", value: "file", help: "a configuration file (above the ones bbl finds itself)" },
  { name: "home", value: "mode", help: "tmpfs (default: nothing kept), persist, overlay, or a directory" },
  { name: "cwd", help: "bind the current directory read-write and start there" },
  { name: "program-dir", help: "show the program's whole directory read-only (an unpacked app), not only its file" },
  {
    name: "bind",
    value: "src[:dest]",
    repeatable: true,
    help: "bind a host path read-write (same path inside without dest; repeatable)",
  },
  { name: "ro-bind", value: "src[:dest]", repeatable: true, help: "bind a host path read-only (repeatable)" },
  { name: "net", value: "mode", help: "none (default: a private loopback only) or host" },
  { name: "share-net", help: "the same as --net host" },
  {
    name: "dns",
    value: "address",
    repeatable: true,
    help: "a name server for the sandbox's own resolv.conf (repeatable)",
  },
  { name: "hostname", value: "name", help: "host name inside (default: bbl)" },
  { name: "setenv", value: "NAME=VALUE", repeatable: true, help: "set a variable inside (repeatable)" },
  {
    name: "keep-env",
    value: "NAME",
    repeatable: true,
    help: "copy a variable (or NAME pattern) from your environment (repeatable)",
  },
  { name: "unset-env", value: "NAME", repeatable: true, help: "leave a variable out (repeatable)" },
  { name: "uid", value: "id", help: "user id inside the sandbox (default: yours; 0 for root inside)" },
  { name: "gid", value: "id", help: "group id inside the sandbox (default: yours)" },
  { name: "template", value: "file", help: "layer template (default: the embedded one; see `bbl template`)" },
  {
    name: "limit",
    value: "NAME=N",
    repeatable: true,
    help: `a resource limit for the app (${
      Object.keys(RLIMITS).join(", ")
    }), or tmpfs=SIZE for every tmpfs (repeatable)`,
  },
  {
    name: "gui",
    value: "mode",
    help: "a display: none (default), auto, x11 (untrusted cookie), xephyr (nested X), wayland",
  },
  { name: "dbus", value: "mode", help: "the session bus: none (default), filter (portals and notifications), host" },
  { name: "audio", value: "mode", help: "sound: none (default), pulse, pipewire" },
  { name: "gpu", help: "the GPU's render nodes (/dev/dri/renderD*)" },
  {
    name: "nested-sandbox",
    help: "let the app build its own sandbox (Chromium, Firefox, Electron): user namespaces, chroot",
  },
  { name: "seccomp", value: "policy", help: "system call filter for the app: default, off, or a policy FILE" },
  {
    name: "seccomp-allow",
    value: "name",
    repeatable: true,
    help: `lift one group of the filter's rules (${Object.keys(ALLOWANCES).join(", ")})`,
  },
];

/** "appimage-extract" -> "appimageExtract": the key commander gives an option. */
export const optionKey = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

const BY_NAME = new Map(RUN_OPTIONS.map((o) => [o.name, o]));

/**
 * An ordinary run's options and command, or null when the command line is for commander (a
 * subcommand, --help, --version, a short option, or anything parseArgs refuses, whose message
 * commander gives). Options end at the first argument that is not one: it and the rest are the command.
 */
export async function parseRun(
  head: string[],
  subcommands: string[],
): Promise<{ raw: RawRunOptions; command: string[] } | null> {
  let i = 0;
  while (i < head.length && head[i].startsWith("-")) {
    const [flag] = head[i].split("=", 1);
    const option = flag.startsWith("--") ? BY_NAME.get(flag.slice(2)) : undefined;
    if (option === undefined) return null;
    i += option.value !== undefined && !head[i].includes("=") ? 2 : 1;
  }
  if (i < head.length && subcommands.includes(head[i])) return null;
  const values = i === 0 ? {} : await parseOptions(head.slice(0, i));
  if (values === null) return null;
  // As commander gives them: repeatable options not given are absent (the caller fills in empty lists).
  const raw = Object.fromEntries(Object.entries(values).map(([k, v]) => [optionKey(k), v])) as unknown as RawRunOptions;
  return { raw, command: head.slice(i) };
}

/** The values of `args`, all options, as parseArgs reads them; null for what it refuses. */
async function parseOptions(args: string[]): Promise<Record<string, unknown> | null> {
  const { parseArgs } = await import("node:util");
  try {
    return parseArgs({
      args,
      options: Object.fromEntries(
        RUN_OPTIONS.map((o) => [o.name, { type: o.value ? "string" : "boolean", multiple: o.repeatable ?? false }]),
      ) as NonNullable<Parameters<typeof parseArgs>[0]>["options"],
      strict: true,
      allowPositionals: false,
    }).values;
  } catch {
    return null;
  }
}
