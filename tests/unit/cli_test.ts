import assert from "node:assert/strict";
import { flagsToConfig, NO_FLAGS, type RawFlags } from "../../src/config/flags.ts";
import { mergeConfigs } from "../../src/config/merge.ts";
import { resolveConfig } from "../../src/config/resolve.ts";
import { UsageError } from "../../src/errors.ts";
import { fakeHost } from "./fixtures.ts";
import { parseRun } from "../../src/cli/run_options.ts";
import { selfArgv, V8_FLAGS } from "../../src/selfexec.ts";

const raw = NO_FLAGS;

Deno.test("flags: each sets the configuration key of the same meaning", () => {
  assert.deepEqual(
    flagsToConfig({
      ...raw,
      setenv: ["A=1=2", "B="],
      keepEnv: ["C"],
      unsetEnv: ["D"],
      shareNet: true,
      home: "persist",
      cwd: true,
      bind: ["~/data:/data", "/srv"],
      roBind: ["./x"],
      limit: ["nproc=10", "tmpfs=2g"],
      dns: ["9.9.9.9"],
    }),
    {
      home: "persist",
      cwd: true,
      net: "host",
      dns: ["9.9.9.9"],
      env: { set: { A: "1=2", B: "" }, keep: ["C"], unset: ["D"] },
      mounts: [
        { kind: "bind", src: "~/data", dest: "/data" },
        { kind: "bind", src: "/srv", same: true },
        { kind: "robind", src: "./x", same: true },
      ],
      limits: { nproc: 10, tmpfs: "2g" },
    },
  );
});

Deno.test("flags: bad values and conflicts are usage errors naming the flag", () => {
  const cases: [Partial<RawFlags>, RegExp][] = [
    [{ setenv: ["1A=x"] }, /--setenv/],
    [{ setenv: ["A=1", "A=2"] }, /given twice/],
    [{ keepEnv: ["A"], setenv: ["A=1"] }, /--setenv\/--keep-env\/--unset-env: A conflicts with env.set A/],
    [{ unsetEnv: ["A"], setenv: ["A=1"] }, /conflicts with env.set or env.keep/],
    [{ limit: ["nproc"] }, /--limit nproc/],
    [{ limit: ["stack=1"] }, /--limit: unknown limit/],
    [{ limit: ["nproc=1", "nproc=2"] }, /given twice/],
    [{ limit: ["tmpfs=lots"] }, /--limit: expected a size/],
    [{ seccompAllow: ["everything"] }, /--seccomp-allow: unknown/],
    [{ home: "persit" }, /--home: .*did you mean 'persist'/],
    [{ net: "hots" }, /--net: .*did you mean 'host'/],
    [{ net: "none", shareNet: true }, /--share-net conflicts with --net none/],
    [{ dns: ["1.2.3"] }, /--dns: '1.2.3' is not an IP address/],
    [{ name: "../x" }, /--name: invalid sandbox name '..\/x'/],
    [{ bind: [":/x"] }, /--bind :\/x: expected SRC/],
    [{ hostname: "a_b" }, /--hostname/],
  ];
  for (const [r, msg] of cases) {
    assert.throws(
      () => flagsToConfig({ ...raw, ...r }),
      (e: unknown) => e instanceof UsageError && msg.test(e.message),
      `${JSON.stringify(r)} -> ${msg}`,
    );
  }
});

Deno.test("flags: seccomp choices are checked once resolved", () => {
  const resolve = (r: Partial<RawFlags>) =>
    resolveConfig(
      "x",
      mergeConfigs([{ from: { label: "command line", dir: "/" }, config: flagsToConfig({ ...raw, ...r }) }]),
      [],
      {},
      fakeHost({}),
    );
  assert.equal(resolve({ seccomp: "off" }).seccomp, null);
  assert.ok(resolve({ seccompAllow: ["ptrace"] }).seccomp!.rules.every((r) => r.syscall !== "ptrace"));
  assert.throws(() => resolve({ seccomp: "off", seccompAllow: ["ptrace"] }), /seccomp_allow goes with the default/);
  assert.throws(() => resolve({ seccomp: "/no/such/policy.yaml" }), /policy.yaml/);
});

Deno.test("run options: options end at the command; without any, nothing is parsed", async () => {
  const subs = ["explain", "doctor"];
  assert.deepEqual(await parseRun([], subs), { raw: {}, command: [] });
  assert.deepEqual(await parseRun(["ls", "-la", "--net", "host"], subs), {
    raw: {},
    command: ["ls", "-la", "--net", "host"],
  });
  assert.deepEqual(await parseRun(["--net", "host", "--bind=/a", "--bind", "/b", "--cwd", "ls", "-l"], subs), {
    raw: { net: "host", bind: ["/a", "/b"], cwd: true },
    command: ["ls", "-l"],
  });
  // for commander: its subcommands, its messages for what is not an ordinary run
  assert.equal(await parseRun(["explain", "ls"], subs), null);
  assert.equal(await parseRun(["--net", "host", "doctor"], subs), null);
  assert.equal(await parseRun(["--bogus", "ls"], subs), null);
  assert.equal(await parseRun(["-h"], subs), null);
  assert.equal(await parseRun(["--cwd=yes", "ls"], subs), null);
});

Deno.test("V8's flags: the bbl and compile tasks and every run from source (launchers bbl writes, the tests, the bench) have the same", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).tasks;
  for (const name of ["bbl", "compile"]) assert.ok(tasks[name].split(" ").includes(V8_FLAGS), name);
  assert.ok(selfArgv({ exe: "/opt/deno", srcDir: "/opt/bbl/src" }).includes(V8_FLAGS));
});
