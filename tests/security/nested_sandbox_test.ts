/**
 * nested_sandbox: the app may build a sandbox of its own (user namespaces, chroot into them), up to
 * exactly the number asked; the rest of the filter holds. Real programs: util-linux's unshare and
 * chroot, and Debian's Chromium (installed by .ci/run) with its own sandbox on.
 */
import assert from "node:assert/strict";
import { bbl, installed, sandboxSh, user, withUserDirs, writeAsUser } from "../helpers.ts";
import { buildAppImage } from "../appimage_fixture.ts";

/** `depth` user namespaces, each inside the one before (each maps its root, or the next could not be made), then `cmd`. */
const nested = (depth: number, cmd: string) => `${"unshare -Ur ".repeat(depth)}${cmd}`; // each level maps its root

/** Runs with `nested_sandbox: 2` in the user's configuration. */
const withTwo = (fn: (home: string) => Promise<void>) =>
  withUserDirs(["bbl-home-"], async (home) => {
    writeAsUser(`${home}/.config/bbl/default.yaml`, "nested_sandbox: 2\n");
    await fn(home);
  });

Deno.test("nested_sandbox: N user namespaces of the app's own and chroot in them; one more is ENOSPC; the rest of the filter holds", () =>
  withTwo(async (home) => {
    const two = { home };
    // in the innermost, root there: chroot (user namespaces are freed a moment after their last process)
    const ok = await sandboxSh(nested(2, "/usr/sbin/chroot / echo two-chrooted"), two);
    assert.equal(ok.stdout, "two-chrooted\n", ok.stderr);
    const over = await sandboxSh(`${nested(3, "echo three")}`, two);
    assert.notEqual(over.code, 0);
    assert.match(over.stderr, /No space left on device/, "the lock allows exactly what is asked");
    // still denied with it: mounting (even in a mount namespace of its own), setns
    // (in a mount namespace of its own, unshare's first mount call is the propagation change)
    const denied = await sandboxSh("unshare -Urm mount -t tmpfs none /tmp 2>&1; nsenter -U -t $$ true 2>&1; true", two);
    assert.match(denied.stdout, /unshare: cannot change root filesystem propagation: Operation not permitted/);
    assert.match(
      denied.stdout,
      /nsenter: reassociate to namespace 'ns\/user' failed: Operation not permitted/,
      denied.stdout,
    );
    // without it: no user namespace, no chroot
    const off = await sandboxSh("unshare -U true 2>&1; /usr/sbin/chroot / true 2>&1; true");
    assert.match(off.stdout, /unshare failed: Operation not permitted/);
    assert.match(off.stdout, /chroot: cannot change root directory to '\/': Operation not permitted/);
  }));

Deno.test("nested_sandbox composes with --seccomp off (the lock still counts); seccomp_allow with off says what to use", () =>
  withTwo(async (home) => {
    const r = await sandboxSh(
      `${nested(2, "echo two")}; ${nested(3, "true")} 2>&1 | grep -o 'No space left on device'`,
      {
        flags: ["--seccomp", "off"],
        home,
      },
    );
    assert.equal(r.stdout, "two\nNo space left on device\n", r.stderr);
    const refused = await bbl(["--seccomp", "off", "--seccomp-allow", "userns", "--", "true"]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /for an app's own sandbox use nested_sandbox \(--nested-sandbox\)/);
  }));

const chromium = installed("/usr/bin/chromium");

Deno.test({
  name:
    "Chromium runs with its own sandbox inside bbl with --nested-sandbox: renderers in a user namespace of theirs, seccomp on",
  // .ci/run installs Debian's chromium; without it there is nothing to run
  ignore: !chromium,
  fn: () =>
    withUserDirs(["bbl-home-", "bbl-page-"], async (home, dir) => {
      writeAsUser(`${dir}/page.html`, "<html><body><p>hello-bbl</p></body></html>\n");
      const flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
      const probe = [
        "#!/bin/sh",
        `chromium ${flags.join(" ")} --user-data-dir=/tmp/c --dump-dom file://${dir}/page.html 2>/dev/null`,
        `chromium ${flags.join(" ")} --user-data-dir=/tmp/d file://${dir}/page.html >/dev/null 2>&1 &`,
        "for i in $(seq 100); do pgrep -f -- --type=renderer >/dev/null && break; sleep 0.1; done; sleep 0.5",
        'echo "app $(readlink /proc/self/ns/user)"',
        "for p in $(pgrep -f -- --type=renderer); do",
        '  echo "renderer $(grep Seccomp: /proc/$p/status | tr -d "\\t ") $(readlink /proc/$p/ns/user)"',
        "done",
        "kill %1",
      ].join("\n") + "\n";
      writeAsUser(`${dir}/probe.sh`, probe, 0o755);
      const r = await bbl(["--nested-sandbox", "--ro-bind", dir, "--", `${dir}/probe.sh`], { home });
      assert.match(r.stdout, /<p>hello-bbl<\/p>/, r.stderr.slice(-2000));
      const app = r.stdout.match(/^app (\S+)$/m)?.[1];
      const renderers = [...r.stdout.matchAll(/^renderer Seccomp:(\d) (\S+)$/gm)];
      assert.ok(renderers.length > 0, r.stdout);
      for (const [, mode, ns] of renderers) {
        assert.equal(mode, "2", "a renderer runs under Chromium's seccomp filter");
        assert.notEqual(ns, app, "in a user namespace of Chromium's own");
      }
      // without the option Chromium has no sandbox and refuses to start
      const without = await bbl(
        ["--ro-bind", dir, "--", "chromium", ...flags, "--dump-dom", `file://${dir}/page.html`],
        {
          home,
        },
      );
      assert.notEqual(without.code, 0);
      assert.doesNotMatch(without.stdout, /hello-bbl/);
    }),
});

const firefox = installed("/usr/bin/firefox-esr");

Deno.test({
  name: "Firefox ESR with --nested-sandbox: a headless screenshot, content processes in user namespaces of their own",
  // .ci/run installs Debian's firefox-esr; without it there is nothing to run
  ignore: !firefox,
  fn: () =>
    withUserDirs(["bbl-home-", "bbl-page-"], async (home, dir) => {
      writeAsUser(`${dir}/page.html`, "<html><body><p>hello-bbl</p></body></html>\n");
      const probe = [
        "#!/bin/sh",
        "cd /tmp && mkdir -p p q",
        `firefox-esr --headless --profile /tmp/p --no-remote --screenshot /tmp/shot.png file://${dir}/page.html >/dev/null 2>&1`,
        'echo "shot $(stat -c %s /tmp/shot.png)"',
        `firefox-esr --headless --profile /tmp/q --no-remote file://${dir}/page.html >/dev/null 2>&1 &`,
        "for i in $(seq 150); do pgrep -f -- -contentproc >/dev/null && break; sleep 0.1; done; sleep 2",
        'echo "app $(readlink /proc/self/ns/user)"',
        // the web content processes (the forkserver that starts them is not sandboxed by design)
        "for p in $(pgrep -f -- '-contentproc -isForBrowser'); do",
        '  echo "content $(grep Seccomp: /proc/$p/status | tr -d "\\t ") $(readlink /proc/$p/ns/user)"',
        "done",
        "kill %1",
      ].join("\n") + "\n";
      writeAsUser(`${dir}/probe.sh`, probe, 0o755);
      const r = await bbl(["--nested-sandbox", "--ro-bind", dir, "--", `${dir}/probe.sh`], { home });
      assert.ok(Number(r.stdout.match(/^shot (\d+)$/m)?.[1] ?? 0) > 1000, `a screenshot: ${r.stdout} ${r.stderr}`);
      const app = r.stdout.match(/^app (\S+)$/m)?.[1];
      const content = [...r.stdout.matchAll(/^content Seccomp:(\d) (\S+)$/gm)];
      assert.ok(content.length > 0, r.stdout);
      for (const [, mode, ns] of content) {
        assert.equal(mode, "2");
        assert.notEqual(ns, app, "each content process in a user namespace of Firefox's own");
      }
    }),
});

/** An AppRun that tries to build a sandbox: a user namespace with root mapped, and chroot in it. */
const TRIES = "#!/bin/sh\nunshare -Ur /usr/sbin/chroot / echo own-sandbox-ok 2>&1\n";

Deno.test("an AppImage that is a Chromium/Electron build gets nested_sandbox, with a notice; others do not; a config turns it off", () =>
  withUserDirs(["bbl-home-", "bbl-img-"], async (home, dir) => {
    const electron = buildAppImage(
      dir,
      "Chat.AppImage",
      {
        AppRun: { text: TRIES, mode: 0o755 },
        "chrome-sandbox": "",
        "resources/app.asar": "",
      },
      "gzip",
      user,
    );
    const plain = buildAppImage(dir, "Tool.AppImage", { AppRun: { text: TRIES, mode: 0o755 } }, "gzip", user);
    const e = await bbl(["--appimage", electron], { home });
    assert.equal(e.stdout, "own-sandbox-ok\n", e.stderr);
    assert.match(
      e.stderr,
      /^bbl: Chat\.AppImage is a Chromium\/Electron build: it may build its own sandbox \(nested_sandbox; nested_sandbox: false in its configuration turns this off\)$/m,
    );
    // the answer is remembered: the second start looks no more, and says so again
    const again = await bbl(["--appimage", electron], { home });
    assert.equal(again.stdout, "own-sandbox-ok\n", again.stderr);
    const p = await bbl(["--appimage", plain], { home });
    assert.match(p.stdout, /Operation not permitted/);
    assert.doesNotMatch(p.stderr, /Chromium\/Electron/);
    writeAsUser(`${home}/.config/bbl/Chat.yaml`, "nested_sandbox: false\n");
    const off = await bbl(["--appimage", electron], { home });
    assert.match(off.stdout, /Operation not permitted/);
    assert.doesNotMatch(off.stderr, /Chromium\/Electron/);
  }));

Deno.test({
  name:
    "an AppImage whose payload is Debian's Chromium gets nested_sandbox on its own, and Chromium runs with its sandbox",
  ignore: !chromium,
  fn: () =>
    withUserDirs(["bbl-home-", "bbl-img-"], async (home, dir) => {
      writeAsUser(`${dir}/page.html`, "<html><body><p>hello-bbl</p></body></html>\n");
      const image = buildAppImage(
        dir,
        "Chromium.AppImage",
        {
          AppRun: { text: '#!/bin/sh\nexec "$APPDIR/chromium/chromium" "$@"\n', mode: 0o755 },
          chromium: { tree: "/usr/lib/chromium" },
        },
        "gzip",
        user,
      );
      const flags = ["--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking"];
      const r = await bbl([
        "--appimage",
        image,
        "--ro-bind",
        dir,
        "--",
        ...flags,
        "--dump-dom",
        `file://${dir}/page.html`,
      ], {
        home,
      });
      assert.match(r.stdout, /<p>hello-bbl<\/p>/, r.stderr.slice(-1500));
      assert.match(r.stderr, /Chromium\.AppImage is a Chromium\/Electron build/);
    }),
});
