/** `bbl doctor`: tries every requirement for real and prints what works, what does not, and the fix. */
import { spawn, type SpawnOp } from "./sys/spawn.ts";
import { AT_FDCWD, CLONE, MS, nr, O } from "./sys/consts.ts";
import { waitChild } from "./sys/process.ts";
import { cstr, libc } from "./sys/libc.ts";
import { decimalOp, reg } from "./sys/program.ts";
import { idMapOps } from "./layer/idmap.ts";
import { resolveCommand } from "./layer/app.ts";

/** The kinds of mounts bbl needs in a user namespace, tried for real. */
const PROBES = [
  { name: "overlay", title: "overlayfs in a user namespace", required: false },
  { name: "fuse", title: "FUSE mounts in a user namespace", required: false },
] as const;
import { readProcSetting, usernsBlocker } from "./userns.ts";

interface Check {
  name: string;
  required: boolean;
  run: () => Promise<string | null>; // null: works; else what is wrong and how to fix it
}

function which(cmd: string): string | null {
  try {
    return resolveCommand(cmd, Deno.env.get("PATH") ?? "/usr/bin:/bin");
  } catch {
    return null;
  }
}

/** Maps the new user namespace's root to the invoking user, as the first layer does. */
const rootAsMe = () =>
  idMapOps([{ inside: 0, outside: libc.getuid(), count: 1 }], [{ inside: 0, outside: libc.getgid(), count: 1 }]);

/**
 * A probe's program: as root of a fresh user + mount namespace, a private tmpfs on `dir` (an empty
 * directory of the host's; the tmpfs exists only in that namespace), then the mount `kind` tried on
 * it for real. Each step says what it tried, so a failure reads "mounting an overlayfs: EPERM".
 */
function probeSteps(kind: string, dir: string): SpawnOp[] {
  const path = (p: string) => cstr(`${dir}${p}`);
  const mkdir = (p: string): SpawnOp => ({
    what: `creating ${p}`,
    nr: nr("mkdirat"),
    args: [AT_FDCWD, path(p), 0o755],
  });
  const mount = (what: string, src: string, at: string, type: string, flags: number, data: Uint8Array): SpawnOp => ({
    what,
    nr: nr("mount"),
    args: [cstr(src), path(at), cstr(type), flags, data],
  });
  const steps: SpawnOp[] = [
    ...rootAsMe(),
    { what: "making mounts private", nr: nr("mount"), args: [cstr(""), cstr("/"), cstr(""), MS.SLAVE | MS.REC, 0] },
    mount("mounting a tmpfs", "tmpfs", "", "tmpfs", MS.NOSUID | MS.NODEV, cstr("mode=0700")),
  ];
  if (kind === "overlay") {
    steps.push(...["/lower", "/upper", "/work", "/merged"].map(mkdir));
    const data = cstr(`lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,userxattr`);
    steps.push(mount("mounting an overlayfs", "overlay", "/merged", "overlay", 0, data));
  } else {
    const fuse = reg(3), prefix = "rootmode=40000,user_id=0,group_id=0,fd=";
    const data = cstr(prefix + "\0".repeat(24));
    steps.push(
      {
        what: "opening /dev/fuse",
        nr: nr("openat"),
        args: [AT_FDCWD, cstr("/dev/fuse"), O.RDWR | O.CLOEXEC],
        result: fuse,
      },
      mkdir("/mnt"),
      decimalOp("mounting a FUSE filesystem", fuse, data, prefix.length),
      mount("mounting a FUSE filesystem", "bbl-probe", "/mnt", "fuse", MS.NOSUID | MS.NODEV, data),
    );
  }
  return [...steps, { what: "the probe worked", nr: nr("exit_group"), args: [0] }];
}

/** Runs a probe in new user+mount namespaces; resolves to its complaint or null. */
async function probe(kind: string): Promise<string | null> {
  const dir = Deno.makeTempDirSync({ prefix: "bbl-probe-" });
  try {
    const pid = spawn({
      flags: CLONE.NEWUSER | CLONE.NEWNS,
      path: "",
      argv: [],
      env: [],
      pdeathsig: 9,
      ops: probeSteps(kind, dir),
    });
    const { code } = await waitChild(pid);
    return code === 0 ? null : `the probe exited with ${code}`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = Deno.osRelease().split(/[.-]/).map(Number);
  return a > major || (a === major && b >= minor);
}

const CHECKS: Check[] = [
  {
    name: "kernel 5.12 or newer (mount_setattr)",
    required: true,
    run: () => Promise.resolve(kernelAtLeast(5, 12) ? null : `kernel ${Deno.osRelease()} is too old; bbl needs 5.12+`),
  },
  {
    name: "unprivileged user namespaces",
    required: true,
    run: async () => {
      const blocker = usernsBlocker(readProcSetting);
      if (blocker) return blocker;
      try {
        const pid = spawn({
          flags: CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNS | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS |
            CLONE.NEWCGROUP,
          path: "/bin/true",
          argv: ["true"],
          env: [],
          pdeathsig: 9,
          ops: rootAsMe(),
        });
        const { code } = await waitChild(pid);
        return code === 0 ? null : `a process in new namespaces exited with ${code}`;
      } catch (e) {
        return (e as Error).message;
      }
    },
  },
  ...PROBES.map((p): Check => ({ name: p.title, required: p.required, run: () => probe(p.name) })),
  {
    name: "/dev/fuse",
    required: false,
    run: () => {
      try {
        Deno.openSync("/dev/fuse", { read: true, write: true }).close();
        return Promise.resolve(null);
      } catch (e) {
        return Promise.resolve(`cannot open /dev/fuse (${(e as Error).name}); AppImages need it: load the fuse module`);
      }
    },
  },
  ...[
    ["squashfuse", "squashfuse", "mounting AppImages"],
    ["unsquashfs", "squashfs-tools", "--appimage-extract"],
    ["Xephyr", "xserver-xephyr", "gui: xephyr"],
    ["xdg-dbus-proxy", "xdg-dbus-proxy", "dbus: filter"],
  ].map(([cmd, pkg, use]): Check => ({
    name: `${cmd} (for ${use})`,
    required: false,
    run: () => Promise.resolve(which(cmd) ? null : `not found; install the package ${pkg}`),
  })),
];

export async function doctor(): Promise<number> {
  let failed = 0;
  for (const c of CHECKS) {
    const problem = await c.run();
    if (problem === null) console.log(`ok      ${c.name}`);
    else {
      console.log(`${c.required ? "FAIL" : "missing"} ${c.name}: ${problem}`);
      if (c.required) failed++;
    }
  }
  console.log(failed ? `${failed} required check(s) failed` : "bbl can run sandboxes here");
  return failed ? 1 : 0;
}
