/** Host facts and run options for planner tests: a user alice with a home and a few secrets. */
import type { HostFacts } from "../../src/plan/host.ts";
import type { RunOptions } from "../../src/plan/options.ts";
import { DEFAULT_POLICY } from "../../src/seccomp/policy.ts";
import type { HostView } from "../../src/config/resolve.ts";
import { UsageError } from "../../src/errors.ts";
import { loadYaml } from "../../src/yaml.ts";

// The unit tests parse YAML text (configurations, templates, policies).
await loadYaml();

export const host: HostFacts = {
  uid: 1000,
  gid: 1000,
  user: "alice",
  home: "/home/alice",
  cwd: "/home/alice/src",
  pid: 4242,
  env: {
    PATH: "/usr/bin:/bin",
    SHELL: "/bin/bash",
    TERM: "xterm",
    SSH_AUTH_SOCK: "/run/agent",
    GITHUB_TOKEN: "x",
    LC_ALL: "C",
  },
  tty: null,
  instanceBase: "/run/user/1000/bbl",
  self: { exe: "/opt/deno", srcDir: "/opt/bbl/src" },
  etc: {
    resolvConf: "/run/systemd/resolve/stub-resolv.conf",
    machineId: "/etc/machine-id",
    osRelease: null,
    hostname: "/etc/hostname",
    hosts: "/etc/hosts",
  },
};

export const runOptions = (o: Partial<RunOptions> = {}): RunOptions => ({
  command: ["ls", "-l"],
  name: "ls",
  home: { mode: "tmpfs" },
  stateBase: "/home/alice/.local/state/bbl",
  stateDir: null,
  cwd: false,
  mounts: [],
  appimages: [],
  desktop: {
    gui: { mode: "none" },
    dbus: { mode: "none" },
    audio: { mode: "none" },
    devices: [],
    themes: [],
    autolaunch: null,
  },
  neverAccess: ["/home/alice/.ssh", "/home/alice/.gnupg"],
  net: "none",
  dns: [],
  machineId: "host",
  maskOsRelease: false,
  allowOpt: false,
  program: null,
  namedFiles: [],
  etcHosts: "own",
  seeRealHw: false,
  setenv: {},
  keepenv: [],
  unsetenv: [],
  seccomp: DEFAULT_POLICY,
  seccompAllow: [],
  nestedSandbox: 0,
  limits: {},
  ...o,
});

/** A host whose files are `paths` (files; their parents are directories), with alice's home. */
export function fakeHost(env: Record<string, string>, paths: string[] = []): HostView {
  const all = new Set<string>(["/"]);
  for (const p of paths) {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) all.add("/" + parts.slice(0, i).join("/"));
  }
  const isDir = (p: string) => p === "/" || paths.some((f) => f.startsWith(p + "/"));
  return {
    env: { HOME: "/home/alice", ...env },
    home: "/home/alice",
    cwd: "/home/alice/src",
    readDir: (d) =>
      isDir(d)
        ? [...all].filter((p) => p !== "/" && p.replace(/\/[^/]+$/, "") === (d === "/" ? "" : d))
          .map((p) => p.split("/").pop()!)
        : null,
    realPath: (p) => all.has(p) ? p : null,
    isDir,
    isExecutable: (p) => all.has(p) && !isDir(p),
    readFile: (p) => {
      throw new Deno.errors.NotFound(p);
    },
    exists: (p) => all.has(p),
    tool: (n) => `/usr/bin/${n}`,
    displaysInUse: () => new Set([0, 10]),
    documentPortal: () => "/run/user/1000/doc",
    libraries: (p) => p.includes("gtk4") ? ["libgtk-4.so.1", "libc.so.6"] : all.has(p) ? ["libc.so.6"] : null,
    appImage: (p) => {
      if (p.endsWith(".AppImage")) return { offset: 100, format: "squashfs" };
      throw new UsageError(`${p}: not an AppImage: a script`);
    },
  };
}
