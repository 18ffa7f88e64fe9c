import assert from "node:assert/strict";
import { buildEnv, DEFAULT_PATH } from "../../src/plan/env.ts";

const base = { user: "alice", home: "/home/alice", shell: "/bin/sh", uid: 1000, keep: [], set: {} };

Deno.test("only allowlisted host variables pass", () => {
  const env = buildEnv({
    ...base,
    host: {
      PATH: "/bin",
      TERM: "vt100",
      LC_CTYPE: "C",
      SSH_AUTH_SOCK: "/s",
      AWS_SECRET_ACCESS_KEY: "k",
      DBUS_SESSION_BUS_ADDRESS: "d",
      LD_PRELOAD: "/evil.so",
    },
  });
  assert.deepEqual(Object.keys(env).sort(), [
    "HOME",
    "LC_CTYPE",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TERM",
    "USER",
    "XDG_RUNTIME_DIR",
  ]);
  assert.equal(env.XDG_RUNTIME_DIR, "/run/user/1000");
});

Deno.test("PATH defaults; keep copies; set wins over everything", () => {
  const env = buildEnv({
    ...base,
    host: { FOO: "1", HOME: "/x" },
    keep: ["FOO", "MISSING"],
    set: { HOME: "/h", BAR: "2" },
  });
  assert.equal(env.PATH, DEFAULT_PATH);
  assert.equal(env.FOO, "1");
  assert.ok(!("MISSING" in env));
  assert.equal(env.HOME, "/h");
  assert.equal(env.BAR, "2");
});
