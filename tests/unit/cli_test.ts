import assert from "node:assert/strict";
import { toRunOptions } from "../../src/cli/main.ts";
import { UsageError } from "../../src/errors.ts";

const raw = {
  setenv: [] as string[],
  keepEnv: [] as string[],
  seccomp: "default",
  seccompAllow: [] as string[],
  limit: [] as string[],
};

Deno.test("run options: ids, env settings", () => {
  const o = toRunOptions({ ...raw, uid: "0", gid: "5", setenv: ["A=1=2", "B="], keepEnv: ["C"], shareNet: true }, [
    "x",
  ]);
  assert.equal(o.uid, 0);
  assert.equal(o.gid, 5);
  assert.deepEqual(o.setenv, { A: "1=2", B: "" });
  assert.deepEqual(o.keepenv, ["C"]);
  assert.equal(o.shareNet, true);
  assert.deepEqual(o.command, ["x"]);
});

Deno.test("run options: bad values are usage errors", () => {
  for (
    const r of [
      { ...raw, uid: "-1" },
      { ...raw, uid: "4294967295" },
      { ...raw, gid: "x" },
      { ...raw, setenv: ["1A=x"] },
      { ...raw, setenv: ["A=1", "A=2"] },
      { ...raw, keepEnv: ["A B"] },
      { ...raw, setenv: ["A=1"], keepEnv: ["A"] },
      { ...raw, seccomp: "/no/such/policy.yaml" },
      { ...raw, seccomp: "off", seccompAllow: ["ptrace"] },
      { ...raw, limit: ["nproc"] },
      { ...raw, limit: ["stack=1"] },
      { ...raw, limit: ["nproc=1", "nproc=2"] },
      { ...raw, seccompAllow: ["everything"] },
      { ...raw, seccomp: "off", seccompAllow: ["ptrace"] },
    ]
  ) {
    assert.throws(() => toRunOptions(r, []), UsageError, JSON.stringify(r));
  }
});
