/** `bbl doctor`: tries every requirement for real and prints what works, what does not, and the fix. */
import { spawn } from "./sys/spawn.ts";
import { CLONE, nr, O } from "./sys/consts.ts";
import { waitChild } from "./sys/process.ts";
import { check, cstr, libc } from "./sys/libc.ts";
import { idMapOps } from "./layer/idmap.ts";
import { resolveCommand } from "./layer/app.ts";
import { runnerCommand, runnerFacts } from "./selfexec.ts";
import { PROBES } from "./layer/probes.ts";
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

/** Runs a probe (src/layer/probe.ts) in new user+mount namespaces; resolves to its complaint or null. */
async function probe(name: string): Promise<string | null> {
  const cmd = runnerCommand(runnerFacts(Deno.env.toObject()), "", "probe", [name]);
  const out = Deno.makeTempFileSync({ prefix: "bbl-doctor-" });
  const fd = check(libc.open(cstr(out), O.WRONLY | O.CLOEXEC, 0), `opening ${out}`, "open");
  try {
    const pid = spawn({
      flags: CLONE.NEWUSER | CLONE.NEWNS,
      path: cmd.path,
      argv: cmd.argv,
      env: cmd.env,
      pdeathsig: 9,
      ops: [...rootAsMe(), { what: "capturing the probe's output", nr: nr("dup3"), args: [fd, 1, 0] }],
    });
    const { code } = await waitChild(pid);
    return code === 0 ? null : Deno.readTextFileSync(out).trim() || `the probe exited with ${code}`;
  } catch (e) {
    return (e as Error).message;
  } finally {
    libc.close(fd);
    Deno.removeSync(out);
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
