/** The terminal: a real pseudo-terminal around bbl (python3's pty), as a user at a shell would have. */
import assert from "node:assert/strict";
import { bblArgv, userEnv, userTempDir } from "../helpers.ts";

const PTY_RUN = new URL("./pty_run.py", import.meta.url).pathname;

async function inPty(args: string[], keys: string[]): Promise<{ code: number; screen: string }> {
  const home = userTempDir("bbl-home-");
  try {
    const argv = bblArgv(args, userEnv(home, { TERM: "xterm" }));
    const out = await new Deno.Command("python3", {
      args: [PTY_RUN, JSON.stringify(keys), ...argv],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const i = text.lastIndexOf("\nEXIT ");
    assert.ok(i >= 0, `no exit line: ${text} ${new TextDecoder().decode(out.stderr)}`);
    return { code: Number(text.slice(i + 6).trim()), screen: text.slice(0, i) };
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
}

Deno.test("an interactive shell works on the terminal, and exit codes pass through", async () => {
  const r = await inPty(["--", "/bin/sh", "-i"], [
    "WAIT:$ ",
    "tty; test -t 0 && echo is-a-tty\n",
    "WAIT:is-a-tty",
    "exit 5\n",
  ]);
  // The host terminal is bound at /dev/console: its /dev/pts name belongs to the host's devpts.
  assert.match(r.screen, /\r\n\/dev\/console\r\n/);
  assert.match(r.screen, /is-a-tty/);
  assert.equal(r.code, 5);
});

Deno.test("Ctrl-C reaches the app in the foreground, once, and bbl exits 130", async () => {
  const script =
    'n=0; trap "echo INT; n=$((n+1))" INT; echo ready; while [ $n -lt 1 ]; do sleep 0.05; done; sleep 0.3; echo count=$n; trap - INT; kill -INT $$';
  const r = await inPty(["--", "/bin/bash", "-c", script], ["WAIT:ready", "\x03"]);
  assert.match(r.screen, /count=1/);
  assert.equal((r.screen.match(/INT/g) ?? []).length, 1, r.screen);
  assert.equal(r.code, 130);
});
