/** The terminal: a real pseudo-terminal around bbl (python3's pty), as a user at a shell would have. */
import assert from "node:assert/strict";
import { bblArgv, inPty, PTY_RUN, userEnv, userTempDir } from "../helpers.ts";

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

Deno.test("job control works in an interactive shell inside", async () => {
  const r = await inPty(["--", "/bin/bash", "--norc", "-i"], [
    "WAIT:$ ",
    "sleep 30 &\n",
    "jobs\n",
    "WAIT:Running",
    "kill %1; wait; exit 4\n",
  ]);
  assert.match(r.screen, /\[1\]\+\s+Running\s+sleep 30 &/);
  assert.equal(r.code, 4);
});

Deno.test("the window size reaches the app, and so do its changes", async () => {
  const script = 'trap "stty size; exit 0" WINCH; stty size; echo ready; while :; do sleep 0.05; done';
  const r = await inPty(["--", "/bin/sh", "-c", script], ["WAIT:ready", "SIZE:40,120"]);
  assert.match(r.screen, /^33 111\r?$/m);
  assert.match(r.screen, /^40 120\r?$/m);
  assert.equal(r.code, 0);
});

const legacyTiocsti = (() => {
  try {
    return Deno.readTextFileSync("/proc/sys/dev/tty/legacy_tiocsti").trim() === "1";
  } catch {
    return false;
  }
})();

Deno.test({
  name: "TIOCSTI with the filter off fakes input only on the sandbox's own terminal, never the user's",
  // With dev.tty.legacy_tiocsti=0 the kernel refuses TIOCSTI to everyone: nothing to show then.
  ignore: !legacyTiocsti,
  fn: async () => {
    const inject = `python3 -c '
import fcntl, termios
for c in "echo PWNED\\n": fcntl.ioctl(0, termios.TIOCSTI, c)
print("injected")'`;
    // foreground, and in the background of a shell inside (on its controlling terminal: a background
    // job of a non-interactive shell otherwise gets /dev/null)
    for (const app of [inject, `${inject} < /dev/tty & wait`]) {
      const home = userTempDir("bbl-home-");
      try {
        const bbl = bblArgv(["--seccomp", "off", "--", "/bin/sh", "-c", app], userEnv(home, { TERM: "xterm" }));
        // After bbl exits, whatever was injected into the user's terminal would be read by this shell.
        const outer = ["bash", "-c", 'PATH=/usr/bin:/bin "$@"; read -t 1 line; echo "GOT[$line]"', "bash", ...bbl];
        const out = await new Deno.Command("python3", {
          args: [PTY_RUN, JSON.stringify([]), ...outer],
          stdout: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        assert.match(text, /injected/, text);
        assert.match(text, /GOT\[\]/, text);
        assert.ok(!/GOT\[echo PWNED/.test(text), text);
      } finally {
        Deno.removeSync(home, { recursive: true });
      }
    }
  },
});

Deno.test("Ctrl-Z stops the app and bbl with it; fg continues both", async () => {
  const home = userTempDir("bbl-home-");
  try {
    // An interactive shell of the test user's runs bbl as a job, as at a real terminal.
    const asUser = bblArgv(["--version"], {}).indexOf("env");
    const drop = bblArgv(["--version"], {}).slice(0, asUser);
    // Quotes split the words the test waits for, so the shell's echo of the typed line does not match.
    const app = "echo sta''rted; sleep 0.3; echo after-''resume; exit 3";
    const bbl = bblArgv(["--", "/bin/sh", "-c", app], userEnv(home)).slice(asUser);
    const typed = bbl.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    // The prompt shows the last exit status: "P3 " once bbl has returned the app's code.
    const shell = [...drop, "env", "-i", "PATH=/usr/bin:/bin", `HOME=${home}`, "TERM=xterm", "PS1=P$? "];
    const keys = ["WAIT:P0 ", `${typed}\n`, "WAIT:started", "\x1a", "WAIT:Stopped", "fg\n", "WAIT:P3 ", "exit\n"];
    const out = await new Deno.Command("python3", {
      args: [PTY_RUN, JSON.stringify(keys), ...shell, "bash", "--norc", "-i"],
      stdout: "piped",
    }).output();
    const screen = new TextDecoder().decode(out.stdout);
    assert.ok(screen.includes("started"), screen);
    const stopped = screen.indexOf("Stopped"), resumed = screen.indexOf("after-resume");
    assert.ok(stopped > screen.indexOf("started"), `the shell saw bbl stop while the app ran: ${screen}`);
    assert.ok(resumed > stopped, `the app went on after fg: ${screen}`);
    assert.match(screen, /P3 /, "and its exit code came back");
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("input typed before bbl takes the terminal is echoed once and reaches the app whole", async () => {
  // Typed at once, while bbl is still starting: a whole line, then the start of the next one.
  const script = 'echo re""ady; read a; read b; echo "got=[$a] got=[$b]"';
  const r = await inPty(["--", "/bin/sh", "-c", script], ["early-line\nhalf", "WAIT:ready", "way\n"]);
  assert.match(r.screen, /got=\[early-line\] got=\[halfway\]/, r.screen);
  // once as typed (the user's terminal echoed it before raw mode), once in the app's output
  assert.equal(r.screen.split("early-line").length - 1, 2, r.screen);
  assert.equal(r.code, 0);
});

Deno.test("end of input on the terminal (script(1) with stdin at EOF) is end of file for the app", async () => {
  const home = userTempDir("bbl-home-");
  try {
    const argv = bblArgv(["--", "/bin/sh", "-c", "od -c; echo end"], userEnv(home, { TERM: "xterm" }));
    const line = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
    const out = await new Deno.Command("timeout", {
      args: ["20", "script", "-qec", line, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, `${text} ${new TextDecoder().decode(out.stderr)}`);
    // od read nothing at all (no NUL byte) and returned, so the app saw end of file
    assert.match(text, /^0000000\r?\nend\r?$/m, text);
  } finally {
    Deno.removeSync(home, { recursive: true });
  }
});
