/**
 * Desktop apps, end to end as the unprivileged test user, against real servers (tests/desktop_servers.ts):
 * X11 through an untrusted cookie, a nested Xephyr, Wayland, a filtered session bus, sound sockets,
 * fonts, the GPU, xdg-open. Screenshots go to a directory each test prints.
 */
import assert from "node:assert/strict";
import {
  asUser,
  bbl,
  exists,
  installed,
  readRest,
  REPO,
  runArgv,
  spawnBbl,
  startBbl,
  user,
  userTempDir,
  withUserDirs,
  writeAsUser,
} from "../helpers.ts";
import { buildAppImage } from "../appimage_fixture.ts";
import { colours, hasDrawing, pngColours, xwdToPng } from "../xwd_png.ts";
import {
  type Compositor,
  runtimeDir,
  startBus,
  startSocket,
  startWeston,
  startXvfb,
  type Xserver,
} from "../desktop_servers.ts";

/** Kept after the run (git-ignored), for people to look at. */
const SHOTS = `${REPO}/.test-output/screenshots`;

function withX(fn: (x: Xserver, home: string) => Promise<void>): Promise<void> {
  return withUserDirs(["bbl-x-", "bbl-home-"], async (dir, home) => {
    const x = await startXvfb(dir);
    try {
      await fn(x, home);
    } finally {
      await x.stop();
    }
  });
}

/** A screenshot of the whole X display, kept (xwd and PNG) for people to look at. */
async function screenshot(x: Xserver, name: string): Promise<string> {
  Deno.mkdirSync(SHOTS, { recursive: true });
  const file = `${SHOTS}/${name}.xwd`;
  const r = await x.client(["xwd", "-root", "-silent", "-out", file]);
  assert.equal(r.code, 0, r.out);
  assert.ok(Deno.statSync(file).size > 1024 * 768, "a full-screen image");
  assert.ok(hasDrawing(Deno.readFileSync(file)), "something is drawn on the screen");
  const png = `${SHOTS}/${name}.png`;
  Deno.writeFileSync(png, await xwdToPng(Deno.readFileSync(file)));
  console.log(`screenshot: ${png}`);
  return png;
}

/** Top-level windows of the host X display, by name. */
async function topWindows(x: Xserver): Promise<string> {
  return (await x.client(["xwininfo", "-root", "-children"])).out;
}

Deno.test("gui x11: the app draws on your X server through an untrusted cookie", async () => {
  await withX(async (x, home) => {
    const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
    // A window of yours (trusted), which the app must not be able to read.
    const mine = new Deno.Command("xlogo", { env: { ...env, PATH: "/usr/bin" }, stdout: "null", stderr: "null" })
      .spawn();
    try {
      let id = "";
      for (let i = 0; i < 100 && !id; i++) {
        id = (await topWindows(x)).match(/(0x[0-9a-f]+) "xlogo"/)?.[1] ?? "";
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(id, "xlogo is up");
      const app = await startBbl(
        [
          "--gui",
          "x11",
          "--",
          "/bin/sh",
          "-c",
          `xeyes & xwd -id ${id} -silent >/dev/null 2>&1 && echo READ-YOUR-WINDOW;` +
          "xdpyinfo | grep -c -E '^ +(XTEST|XInputExtension)$'; echo ready; wait",
        ],
        home,
        "ready",
        env,
      );
      try {
        assert.match(app.output, /^0\nready/m, "no input injection extensions, your window unreadable");
        assert.doesNotMatch(app.output, /READ-YOUR-WINDOW/);
        let top = "";
        for (let i = 0; i < 100 && !/"xeyes"/.test(top); i++) {
          top = await topWindows(x);
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(top, /"xeyes"/, "the app's window is on your display");
        await screenshot(x, "x11-untrusted");
      } finally {
        app.child.kill("SIGTERM");
        await app.child.status;
        await readRest(app.reader);
      }
      // With the host cookie, on request, it can (that is what trusted means).
      writeAsUser(`${home}/.config/bbl/default.yaml`, "x11_trusted: true\n");
      const t2 = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", `xwd -id ${id} -silent >/dev/null && echo read`], {
        home,
        env,
      });
      assert.equal(t2.stdout, "read\n", t2.stderr);
    } finally {
      mine.kill("SIGTERM");
      await mine.status;
    }
  });
});

Deno.test("gui x11 on a server that resets when its last client leaves (xvfb-run): the untrusted cookie stays valid", () =>
  withUserDirs(["bbl-x-"], async (dir) => {
    const x = await startXvfb(dir, true);
    try {
      const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
      const r = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", "sleep 0.5; xdpyinfo | grep -c 'name of display'"], {
        env,
      });
      assert.equal(r.stdout, "1\n", r.stderr);
      assert.doesNotMatch(r.stderr, /Invalid MIT-MAGIC-COOKIE/);
    } finally {
      await x.stop();
    }
  }));

/** A GTK 3 window with one text field (python3-gi): prints the field's text at each change. */
const ENTRY_PY = `import sys, gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gtk
w = Gtk.Window(title="bbl-typing")
e = Gtk.Entry()
w.add(e)
e.connect("changed", lambda e: print("text=" + e.get_text(), flush=True))
w.connect("destroy", Gtk.main_quit)
w.show_all()
print("ready", flush=True)
Gtk.main()
`;

Deno.test({
  name: "input methods: an app types through your IBus (its portal on the filtered bus): a' e' becomes á é",
  // .ci/run installs ibus, its GTK 3 module and the m17n engines (latn-post: a then ' is á)
  ignore: !installed("/usr/libexec/ibus-portal") || !installed("/usr/share/m17n/latn-post.mim"),
  fn: () =>
    withUserDirs(["bbl-x-", "bbl-home-", "bbl-ibus-"], async (dir, home, ibusHome) => {
      const x = await startXvfb(dir);
      const rt = runtimeDir();
      const bus = await startBus(rt, []);
      // Your IBus, as a desktop session runs it: the daemon with an engine, and its portal on the session bus.
      const mine = {
        PATH: "/usr/bin:/bin",
        HOME: ibusHome,
        DISPLAY: `:${x.display}`,
        XAUTHORITY: x.xauthority,
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus`,
        XDG_RUNTIME_DIR: rt,
      };
      const mineCmd = (argv: string[], out: "piped" | "null" = "null") => {
        const u = asUser(argv);
        return new Deno.Command(u[0], { args: u.slice(1), env: mine, clearEnv: true, stdout: out, stderr: out });
      };
      const daemon = mineCmd([
        "ibus-daemon",
        "--panel=disable",
        "--emoji-extension=disable",
        "--config=/usr/libexec/ibus-memconf",
      ])
        .spawn();
      let portal: Deno.ChildProcess | null = null;
      try {
        let address = "";
        for (let i = 0; i < 100 && !address.startsWith("unix:"); i++) {
          await new Promise((r) => setTimeout(r, 100));
          address = new TextDecoder().decode((await mineCmd(["ibus", "address"], "piped").output()).stdout);
        }
        assert.match(address, /^unix:/, "ibus-daemon is up");
        portal = mineCmd(["/usr/libexec/ibus-portal"]).spawn();
        writeAsUser(`${dir}/entry.py`, ENTRY_PY);
        const env = {
          DISPLAY: `:${x.display}`,
          XAUTHORITY: x.xauthority,
          DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus`,
          XDG_RUNTIME_DIR: rt,
          GTK_IM_MODULE: "ibus",
        };
        const typeInto = async (dbus: string) => {
          const app = await startBbl(
            ["--gui", "x11", "--dbus", dbus, "--ro-bind", `${dir}/entry.py`, "--", "python3", `${dir}/entry.py`],
            home,
            "ready",
            env,
          );
          try {
            const xdotool = (args: string[]) => x.client(["xdotool", ...args]);
            await xdotool(["search", "--sync", "--name", "bbl-typing", "windowfocus", "--sync"]);
            // The engine of the focused input context: a then ' is á (m17n's latn-post).
            await mineCmd(["ibus", "engine", "m17n:t:latn-post"]).output();
            await xdotool(["type", "--delay", "100", "a'e' "]);
            let out = app.output;
            const reading = (async () => {
              for (;;) {
                const { value, done } = await app.reader.read();
                if (done) return;
                out += new TextDecoder().decode(value);
              }
            })();
            for (let i = 0; i < 50 && !/text=\S* $/m.test(out); i++) await new Promise((r) => setTimeout(r, 100));
            app.child.kill("SIGTERM");
            await app.child.status;
            await reading;
            return out.match(/text=\S* $/m)?.[0];
          } finally {
            try {
              app.child.kill("SIGTERM");
            } catch { /* ended */ }
          }
        };
        assert.equal(await typeInto("filter"), "text=áé ", "IBus composed the accents");
        // The control: with no bus there is no IBus for the app, and the same keys stay what they are.
        assert.equal(await typeInto("none"), "text=a'e' ");
      } finally {
        portal?.kill();
        daemon.kill();
        await portal?.status;
        await daemon.status;
        await bus.stop();
        await x.stop();
        Deno.removeSync(rt, { recursive: true });
      }
    }),
});

Deno.test("with a display: your input method's variables pass; GTK settings stay in the sandbox's home", () =>
  withUserDirs(["bbl-x-", "bbl-home-"], async (dir, home) => {
    const x = await startXvfb(dir);
    try {
      const im = { GTK_IM_MODULE: "ibus", QT_IM_MODULE: "ibus", XMODIFIERS: "@im=ibus", SDL_IM_MODULE: "ibus" };
      const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority, ...im };
      const show = 'echo "$GTK_IM_MODULE $QT_IM_MODULE $XMODIFIERS $SDL_IM_MODULE"';
      const r = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", show], { env });
      assert.equal(r.stdout, "ibus ibus @im=ibus ibus\n", r.stderr);
      const none = await bbl(["--", "/bin/sh", "-c", show], { env });
      assert.equal(none.stdout, "   \n", "without a display, none of them");
      // a setting written inside lands in the sandbox's (here persistent) home, never in dconf
      const set =
        "gsettings set org.gnome.desktop.interface clock-format 12h && gsettings get org.gnome.desktop.interface clock-format";
      const g = await bbl(["--gui", "x11", "--home", "persist", "--name", "gset", "--", "/bin/sh", "-c", set], {
        env,
        home,
      });
      assert.equal(g.stdout, "'12h'\n", g.stderr);
      const keyfile = `${home}/.local/state/bbl/gset/home/.config/glib-2.0/settings/keyfile`;
      assert.match(Deno.readTextFileSync(keyfile), /clock-format='12h'/);
      assert.equal(exists(`${home}/.config/dconf`), false, "nothing in the host's dconf");
    } finally {
      await x.stop();
    }
  }));

Deno.test({
  name: "gui x11, untrusted: a German layout types ä ö ß into the app (core keymap); XKEYBOARD is what the app lacks",
  // .ci/run installs xdotool and setxkbmap (x11-xkb-utils)
  ignore: !installed("/usr/bin/xdotool") || !installed("/usr/bin/setxkbmap"),
  fn: () =>
    withUserDirs(["bbl-x-", "bbl-home-"], async (dir, home) => {
      const x = await startXvfb(dir);
      try {
        assert.equal((await x.client(["setxkbmap", "de"])).code, 0);
        const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
        const ext = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", "xdpyinfo | grep -c XKEYBOARD"], { env, home });
        assert.equal(ext.stdout, "0\n", "the SECURITY extension hides XKEYBOARD from untrusted clients");
        assert.match((await x.client(["xdpyinfo"])).out, /XKEYBOARD/, "which the server has");
        // line-buffered: xev writes to a pipe
        const xevArgv = [
          "--gui",
          "x11",
          "--",
          "stdbuf",
          "-oL",
          "xev",
          "-geometry",
          "300x300+0+0",
          "-event",
          "keyboard",
        ];
        const xev = await startBbl(xevArgv, home, "Outer window", env);
        try {
          await new Promise((r) => setTimeout(r, 500));
          await x.client(["xdotool", "mousemove", "100", "100"]);
          await x.client(["xdotool", "key", "adiaeresis", "odiaeresis", "ssharp"]);
          await new Promise((r) => setTimeout(r, 500));
        } finally {
          xev.child.kill("SIGTERM");
        }
        const out = xev.output + await readRest(xev.reader);
        await xev.child.status;
        // German keycodes (on a US layout 48, 47 and 20 are ' ; and -)
        assert.match(out, /keycode 48 \(keysym 0xe4, adiaeresis\)/);
        assert.match(out, /keycode 47 \(keysym 0xf6, odiaeresis\)/);
        assert.match(out, /keycode 20 \(keysym 0xdf, ssharp\)/);
        assert.match(out, /XLookupString gives 2 bytes: \(c3 a4\) "ä"/);
      } finally {
        await x.stop();
      }
    }),
});

const dbusLaunch = installed("/usr/bin/dbus-launch");

Deno.test({
  name: "a display and no bus: nothing inside can autolaunch a session bus (dbus-launch masked)",
  // .ci/run installs dbus-x11, whose dbus-launch GLib and libdbus would use
  ignore: !dbusLaunch,
  fn: () =>
    withUserDirs(["bbl-x-"], async (dir) => {
      const x = await startXvfb(dir);
      try {
        const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
        const call = "gdbus call --session --dest org.freedesktop.DBus --object-path / " +
          "--method org.freedesktop.DBus.ListNames 2>&1; test -r /usr/bin/dbus-launch || echo masked";
        const r = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", call], { env });
        assert.doesNotMatch(r.stdout, /org\.freedesktop\.DBus'/, `a bus was autolaunched: ${r.stdout}`);
        assert.match(r.stdout, /^masked$/m);
        // without a display there is nothing to autolaunch for: dbus-launch is there as usual
        const plain = await bbl(["--", "/bin/sh", "-c", "test -r /usr/bin/dbus-launch && echo readable"]);
        assert.equal(plain.stdout, "readable\n");
      } finally {
        await x.stop();
      }
    }),
});

Deno.test("gui xephyr: the app lands on a nested server of its own; two at once; your X server unreachable", async () => {
  await withX(async (x, home) => {
    const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
    const script = 'xeyes & echo display=$DISPLAY; python3 -c "import socket; s=socket.socket(socket.AF_UNIX)\n' +
      `try:\n  s.connect(b'\\\\0/tmp/.X11-unix/X${x.display}'); print('REACHED-HOST-X')\nexcept OSError: print('host-x-unreachable')\";` +
      ` test -e /tmp/.X11-unix/X${x.display} && echo HOST-SOCKET; echo ready; wait`;
    // "one" runs a window manager (an X client standing in for one) on its nested display.
    writeAsUser(`${home}/.config/bbl/one.yaml`, "xephyr_wm: [xlogo]\n");
    const inner = "for i in $(seq 50); do xwininfo -root -children | grep -q xlogo && break; sleep 0.1; done;" +
      " echo wm=$(xwininfo -root -children | grep -c xlogo);";
    const one = await startBbl(
      ["--gui", "xephyr", "--name", "one", "--", "/bin/sh", "-c", inner + script],
      home,
      "ready",
      env,
    );
    const two = await startBbl(
      ["--gui", "xephyr", "--name", "two", "--", "/bin/sh", "-c", inner.replace(/for i .*?done;/, "") + script],
      home,
      "ready",
      env,
    );
    try {
      for (const r of [one, two]) {
        assert.match(r.output, /host-x-unreachable/);
        assert.doesNotMatch(r.output, /REACHED-HOST-X|HOST-SOCKET/);
      }
      const d1 = one.output.match(/display=:(\d+)/)![1], d2 = two.output.match(/display=:(\d+)/)![1];
      assert.notEqual(d1, d2, "each instance its own display number");
      assert.notEqual(d1, String(x.display));
      // Xephyr listens only on its socket path inside: no abstract socket in your network namespace.
      const unix = Deno.readTextFileSync("/proc/net/unix");
      assert.match(unix, new RegExp(`@/tmp/.X11-unix/X${x.display}\\b`), "the check sees abstract sockets");
      for (const d of [d1, d2]) assert.doesNotMatch(unix, new RegExp(`@/tmp/.X11-unix/X${d}\\b`));
      let top = "";
      for (let i = 0; i < 100 && !(/"bbl: one"/.test(top) && /"bbl: two"/.test(top)); i++) {
        top = await topWindows(x);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(top, /"bbl: one"/);
      assert.match(top, /"bbl: two"/);
      assert.doesNotMatch(top, /"xeyes"|"xlogo"/, "the apps' windows are inside the nested servers, not on yours");
      assert.match(one.output, /^wm=1$/m, "the window manager runs on the nested display");
      assert.match(two.output, /^wm=0$/m);
      await screenshot(x, "xephyr-two-instances");
    } finally {
      for (const r of [one, two]) {
        r.child.kill("SIGTERM");
        await r.child.status;
        await readRest(r.reader);
      }
    }
    // And with no display at all (the default), the host's abstract X socket is out of reach too.
    const none = await bbl([
      "--",
      "python3",
      "-c",
      `import socket; s=socket.socket(socket.AF_UNIX)
try:
  s.connect(b'\\0/tmp/.X11-unix/X${x.display}'); print('REACHED')
except OSError as e: print('unreachable')`,
    ], { home, env });
    assert.equal(none.stdout, "unreachable\n", none.stderr);
    const outside = await new Deno.Command("python3", {
      args: [
        "-c",
        `import socket; s=socket.socket(socket.AF_UNIX); s.connect(b'\\0/tmp/.X11-unix/X${x.display}'); print('ok')`,
      ],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(outside.stdout), "ok\n", "the socket is real: reachable from outside");
  });
});

const QT5_APP = "/usr/lib/x86_64-linux-gnu/qt5/examples/widgets/widgets/analogclock/analogclock";

/** A headless weston of the test user's for `fn`, with the environment that names it. */
const onWeston = (fn: (home: string, env: Record<string, string>, w: Compositor) => Promise<void>) =>
  withUserDirs(["bbl-home-"], async (home) => {
    const rt = runtimeDir();
    const w = await startWeston(rt);
    try {
      await fn(home, { XDG_RUNTIME_DIR: rt, WAYLAND_DISPLAY: "wayland-bbl" }, w);
    } finally {
      await w.stop();
      Deno.removeSync(rt, { recursive: true });
    }
  });

Deno.test({
  name: "gui wayland: a Qt 5 app runs on the compositor (Qt told to use Wayland) instead of aborting without X",
  // .ci/run installs qtbase5-examples and qtwayland5 (x86_64: the example's path)
  ignore: !installed(QT5_APP),
  fn: () =>
    onWeston(async (home, env) => {
      const r = await bbl(["--gui", "wayland", "--", "/bin/sh", "-c", `timeout 3 ${QT5_APP}; echo "rc=$?"`], {
        home,
        env,
      });
      assert.match(r.stdout, /^rc=124$/m, `it ran until stopped: ${r.stdout} ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /Could not load the Qt platform plugin/);
    }),
});

Deno.test({
  name: "gui wayland: Chromium runs on the compositor, no X server needed (its platform chosen by the session type)",
  ignore: !installed("/usr/bin/chromium"),
  fn: () =>
    onWeston(async (home, env) => {
      const flags = "--no-first-run --disable-gpu --disable-background-networking --user-data-dir=/tmp/c";
      const r = await bbl(
        [
          "--gui",
          "wayland",
          "--nested-sandbox",
          "--",
          "/bin/sh",
          "-c",
          `timeout 6 chromium ${flags} about:blank; echo "rc=$?"`,
        ],
        { home, env },
      );
      assert.match(r.stdout, /^rc=124$/m, `it ran until stopped: ${r.stdout} ${r.stderr.slice(-1500)}`);
      assert.doesNotMatch(r.stderr, /Missing X server/);
    }),
});

/** Distinct colours on a screen once an app has drawn its widgets there (text, controls). */
const DRAWN = 32;

/**
 * Takes screenshots (`take` counts the colours of one, up to DRAWN) until one shows an app's widgets,
 * which it draws a moment after its window maps; fails if it never does.
 */
async function untilDrawn(name: string, take: () => Promise<number>): Promise<void> {
  let n = 0;
  for (let i = 0; i < 50 && n < DRAWN; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    n = await take();
  }
  assert.ok(n >= DRAWN, `${name}: the app drew its widgets (${n} colours on the screen)`);
}

/** The X display's screenshot once an app has drawn its widgets on it. */
async function screenshotWhenDrawn(x: Xserver, name: string): Promise<string> {
  const file = `${SHOTS}/${name}.xwd`;
  Deno.mkdirSync(SHOTS, { recursive: true });
  await untilDrawn(name, async () => {
    await x.client(["xwd", "-root", "-silent", "-out", file]);
    return colours(Deno.readFileSync(file), DRAWN);
  });
  return await screenshot(x, name);
}

/**
 * One app per toolkit, from Debian (.ci/run installs them): `argv` runs it, `res` is its windows'
 * resource name, `flags` what bbl is given for it, `runs` how long it is left running under Wayland.
 */
const TOOLKIT_APPS = [
  { toolkit: "GTK 3", argv: ["/usr/bin/gtk3-widget-factory"], res: "gtk3-widget-factory", gtk4: false },
  { toolkit: "GTK 4", argv: ["/usr/bin/gtk4-widget-factory"], res: "gtk4-widget-factory", gtk4: true },
  { toolkit: "Qt 5", argv: [QT5_APP], res: "analogclock", gtk4: false },
  { toolkit: "Qt 6", argv: ["/usr/bin/qt6ct"], res: "qt6ct", gtk4: false },
  {
    toolkit: "Chromium",
    argv: ["/usr/bin/chromium", "--no-first-run", "--disable-gpu", "--user-data-dir=/tmp/c", "about:blank"],
    res: "chromium",
    gtk4: false,
    flags: ["--nested-sandbox"],
    runs: 6,
  },
  {
    toolkit: "Firefox",
    argv: ["/usr/bin/firefox-esr", "--no-remote", "--profile", "/tmp", "about:blank"],
    res: "Navigator",
    gtk4: false,
    runs: 8,
  },
];

for (const t of TOOLKIT_APPS) {
  Deno.test({
    name: `toolkits: a ${t.toolkit} app draws in each mode that can serve it, and gui: auto picks one on each desktop`,
    ignore: !installed(t.argv[0]),
    fn: async () => {
      const slug = t.toolkit.replace(" ", "").toLowerCase();
      const flags = t.flags ?? [];
      await withX(async (x, home) => {
        const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
        // On an X11 desktop auto is x11, except for GTK 4, which needs a nested server.
        for (const mode of t.gtk4 ? ["xephyr", "auto"] : ["x11", "xephyr", "auto"]) {
          const nested = mode === "xephyr" || (mode === "auto" && t.gtk4);
          // The app's own window on your display, or the nested server's window (titled "bbl: NAME").
          const window = nested ? /"bbl: [^"]+"/ : new RegExp(`\\("${t.res}"`);
          const run = spawnBbl(["--gui", mode, ...flags, "--", ...t.argv], home, env);
          try {
            let top = "";
            for (let i = 0; i < 200 && !window.test(top); i++) {
              top = await topWindows(x);
              await new Promise((r) => setTimeout(r, 50));
            }
            assert.match(top, window, `${mode}: its window is up`);
            if (nested) assert.doesNotMatch(top, new RegExp(`\\("${t.res}"`), "the app is inside the nested server");
            await screenshotWhenDrawn(x, `toolkit-${slug}-${mode}`);
          } finally {
            run.kill("SIGTERM");
            await run.status;
          }
        }
        if (t.gtk4) {
          const r = await bbl(["--gui", "x11", "--", ...t.argv], { home, env });
          assert.equal(r.code, 125, r.stderr);
          assert.match(r.stderr, /gtk4-widget-factory is a GTK 4 app, .*XInput2.*: use gui: xephyr/);
          // Unchecked (behind a shell), this is what GTK 4 itself does on an untrusted connection.
          const direct = await bbl(["--gui", "x11", "--", "/bin/sh", "-c", `${t.argv.join(" ")}; echo "rc=$?"`], {
            home,
            env,
          });
          assert.match(direct.stderr, /XInput2 support not found on display/);
          assert.doesNotMatch(direct.stdout, /rc=0/);
        }
      });
      // Under Wayland (a Wayland desktop's auto too): drawn on the compositor's black, empty desktop.
      await onWeston(async (home, env, w) => {
        for (const mode of ["wayland", "auto"]) {
          const run = spawnBbl(["--gui", mode, ...flags, "--", ...t.argv], home, env);
          const name = `toolkit-${slug}-wayland-${mode}`;
          let png: Uint8Array = new Uint8Array();
          try {
            await untilDrawn(name, async () => pngColours(png = await w.screenshot(), DRAWN));
          } finally {
            Deno.writeFileSync(`${SHOTS}/${name}.png`, png);
            run.kill("SIGTERM");
            await run.status;
          }
        }
      });
    },
  });
}

Deno.test("gui wayland: the compositor's socket under the same name, and no X11", async () => {
  const rt = runtimeDir(), home = userTempDir("bbl-home-");
  const w = await startWeston(rt);
  try {
    const r = await bbl(
      ["--gui", "wayland", "--", "/bin/sh", "-c", 'echo "$WAYLAND_DISPLAY [$DISPLAY]"; wayland-info'],
      {
        home,
        env: { XDG_RUNTIME_DIR: rt, WAYLAND_DISPLAY: "wayland-bbl", DISPLAY: ":0" },
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^wayland-bbl \[\]$/m);
    assert.match(r.stdout, /interface: 'wl_compositor'/);
  } finally {
    await w.stop();
    Deno.removeSync(rt, { recursive: true });
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("dbus filter: portals and notifications reachable, systemd and a terminal not; host: everything", async () => {
  const rt = runtimeDir(), home = userTempDir("bbl-home-");
  const names = [
    "org.freedesktop.portal.Desktop",
    "org.freedesktop.Notifications",
    "org.freedesktop.systemd1",
    "org.gnome.Terminal",
  ];
  const bus = await startBus(rt, names);
  const call = (n: string) =>
    `gdbus call --session --dest ${n} --object-path / --method org.example.Any >/dev/null 2>&1 && echo "yes ${n}" || echo "no ${n}";`;
  try {
    const env = { XDG_RUNTIME_DIR: rt, DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus` };
    const filtered = await bbl(["--dbus", "filter", "--", "/bin/sh", "-c", names.map(call).join("")], { home, env });
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.equal(
      filtered.stdout,
      "yes org.freedesktop.portal.Desktop\nyes org.freedesktop.Notifications\nno org.freedesktop.systemd1\nno org.gnome.Terminal\n",
    );
    writeAsUser(`${home}/.config/bbl/default.yaml`, "dbus_talk: [org.gnome.Terminal]\n");
    const listed = await bbl(["--dbus", "filter", "--", "/bin/sh", "-c", call("org.gnome.Terminal")], { home, env });
    assert.equal(listed.stdout, "yes org.gnome.Terminal\n", "extended by dbus_talk");
    const host = await bbl(["--dbus", "host", "--", "/bin/sh", "-c", call("org.freedesktop.systemd1")], { home, env });
    assert.equal(host.stdout, "yes org.freedesktop.systemd1\n");
    assert.match(host.stderr, /warning: .*the real session bus/);
    const none = await bbl(
      ["--", "/bin/sh", "-c", call("org.freedesktop.portal.Desktop") + " ls /run/user/*/bus 2>&1"],
      {
        home,
        env,
      },
    );
    assert.match(none.stdout, /^no org.freedesktop.portal.Desktop\n.*No such file/);
    // xdg-open hands the link to the portal when the bus is filtered, and prints it otherwise.
    const xa = userTempDir("bbl-x-");
    const x = await startXvfb(xa);
    try {
      const xenv = { ...env, DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
      const viaPortal = await bbl(["--gui", "x11", "--dbus", "filter", "--", "xdg-open", "https://example.org/"], {
        home,
        env: xenv,
      });
      assert.equal(viaPortal.code, 0, viaPortal.stderr);
      assert.doesNotMatch(viaPortal.stderr, /asks to open/);
      const printed = await bbl(["--gui", "x11", "--", "xdg-open", "https://example.org/"], { home, env: xenv });
      assert.match(printed.stderr, /the app asks to open: https:\/\/example.org\//);
    } finally {
      await x.stop();
      Deno.removeSync(xa, { recursive: true });
    }
  } finally {
    await bus.stop();
    Deno.removeSync(rt, { recursive: true });
    Deno.removeSync(home, { recursive: true });
  }
});

Deno.test("dbus filter: an AppImage may own the bus names of its desktop file's id (ID and ID.*), and no others", () =>
  withUserDirs(["bbl-home-", "bbl-img-"], async (home, dir) => {
    const rt = runtimeDir();
    const bus = await startBus(rt, []);
    try {
      const own = (n: string) =>
        `gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus ` +
        `--method org.freedesktop.DBus.RequestName ${n} 4 >/dev/null 2>&1 && echo "owns ${n}" || echo "not ${n}"`;
      const run = ["#!/bin/sh", ...["org.example.Tool", "org.example.Tool.Sub", "org.other.App"].map(own)].join("\n");
      const image = buildAppImage(
        dir,
        "Tool.AppImage",
        {
          AppRun: { text: run + "\n", mode: 0o755 },
          "org.example.Tool.desktop": "[Desktop Entry]\nType=Application\nName=Tool\nExec=tool\n",
        },
        "gzip",
        user,
      );
      const env = { XDG_RUNTIME_DIR: rt, DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus` };
      const r = await bbl(["--dbus", "filter", "--appimage", image], { home, env });
      assert.equal(r.stdout, "owns org.example.Tool\nowns org.example.Tool.Sub\nnot org.other.App\n", r.stderr);
    } finally {
      await bus.stop();
      Deno.removeSync(rt, { recursive: true });
    }
  }));

Deno.test("dbus filter: tray icons' watcher (StatusNotifierWatcher) is out of reach unless listed in dbus_talk", () =>
  withUserDirs(["bbl-home-"], async (home) => {
    const rt = runtimeDir();
    const watcher = "org.kde.StatusNotifierWatcher";
    const bus = await startBus(rt, [watcher]);
    try {
      const call = `gdbus call --session --dest ${watcher} --object-path / --method org.example.Any >/dev/null 2>&1 ` +
        `&& echo yes || echo no`;
      const env = { XDG_RUNTIME_DIR: rt, DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus` };
      const r = await bbl(["--dbus", "filter", "--", "/bin/sh", "-c", call], { home, env });
      assert.equal(r.stdout, "no\n", r.stderr);
      writeAsUser(`${home}/.config/bbl/default.yaml`, `dbus_talk: [${watcher}]\n`);
      const listed = await bbl(["--dbus", "filter", "--", "/bin/sh", "-c", call], { home, env });
      assert.equal(listed.stdout, "yes\n", "reachable when you list it");
    } finally {
      await bus.stop();
      Deno.removeSync(rt, { recursive: true });
    }
  }));

/** Adds a file to the document portal (python3-gi): `full PATH APP` for APP from outside, `add PATH` as the caller. */
const DOCUMENTS_PY = `import os, sys
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SESSION)
fds = Gio.UnixFDList.new_from_array([os.open(sys.argv[2], os.O_PATH)])
if sys.argv[1] == "full":
    args = GLib.Variant("(ahusas)", ([0], 0, sys.argv[3], ["read", "write"]))
else:
    args = GLib.Variant("(hbb)", (0, False, False))
r, _ = bus.call_with_unix_fd_list_sync("org.freedesktop.portal.Documents", "/org/freedesktop/portal/documents",
    "org.freedesktop.portal.Documents", "AddFull" if sys.argv[1] == "full" else "Add", args, None,
    Gio.DBusCallFlags.NONE, -1, fds, None)
v = r.unpack()[0]
print(v[0] if isinstance(v, list) else v)
`;

Deno.test("portals: the app is the sandboxed app bbl.NAME to them; the document portal shows it its own documents only", () =>
  withUserDirs(["bbl-home-", "bbl-files-", "bbl-cwd-"], async (home, files, cwd) => {
    const rt = runtimeDir();
    const bus = await startBus(rt, []);
    const env = { XDG_RUNTIME_DIR: rt, DBUS_SESSION_BUS_ADDRESS: `unix:path=${rt}/bus` };
    const documents = `--dest org.freedesktop.portal.Documents --object-path /org/freedesktop/portal/documents`;
    const onBus = ["env", "-i", "PATH=/usr/bin:/bin", `DBUS_SESSION_BUS_ADDRESS=${env.DBUS_SESSION_BUS_ADDRESS}`];
    try {
      writeAsUser(`${files}/documents.py`, DOCUMENTS_PY);
      writeAsUser(`${files}/chosen.txt`, "chosen\n");
      writeAsUser(`${files}/other.txt`, "for another app\n");
      writeAsUser(`${cwd}/mine.txt`, "shared by the app\n");
      // What your file chooser does when you pick a file for an app: export it for that app's id.
      const exportFor = async (file: string, app: string) => {
        const r = await runArgv(asUser([...onBus, "python3", `${files}/documents.py`, "full", file, app]));
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      const chosen = await exportFor(`${files}/chosen.txt`, "bbl.docs");
      await exportFor(`${files}/other.txt`, "org.other.App");
      const doc = `/run/user/${user.uid}/doc`;
      const script = [
        "cat /.flatpak-info",
        `ls ${doc}; ls ${doc}/${chosen}`,
        `cat ${doc}/${chosen}/chosen.txt && echo edited > ${doc}/${chosen}/chosen.txt`,
        // Of the directory holding the documents, only the one file bound shows.
        `ls ${files}`,
        `gdbus call --session ${documents} --method org.freedesktop.portal.Documents.List '' 2>&1 | grep -o NotAllowed`,
        // A file the app shares itself is the app's document: it appears in its own view.
        `mine=$(python3 ${files}/documents.py add ${cwd}/mine.txt 2>&1) && cat ${doc}/$mine/mine.txt && echo $mine`,
      ].join("; ");
      const r = await bbl([
        "--name",
        "docs",
        "--dbus",
        "filter",
        "--cwd",
        "--ro-bind",
        `${files}/documents.py`,
        "--",
        "/bin/sh",
        "-c",
        script,
      ], { home, env, cwd });
      const lines = r.stdout.split("\n");
      assert.deepEqual(lines.slice(0, 7), [
        "[Application]",
        "name=bbl.docs",
        chosen,
        "chosen.txt",
        "chosen",
        "documents.py",
        "NotAllowed",
      ], r.stderr);
      assert.equal(lines[7], "shared by the app");
      assert.equal(Deno.readTextFileSync(`${files}/chosen.txt`), "edited\n", "read-write, as the portal grants");
      // The portal filed what the app shared under its id.
      const list = ["gdbus", "call", "--session", ...documents.split(" "), "--method"];
      const listed = await runArgv(asUser([...onBus, ...list, "org.freedesktop.portal.Documents.List", "bbl.docs"]));
      assert.ok(listed.stdout.includes(`'${lines[8]}': b'${cwd}/mine.txt'`), listed.stdout);
      assert.ok(listed.stdout.includes(`'${chosen}': b'${files}/chosen.txt'`), listed.stdout);
      // On the real bus the portals look at the app's own root: the same answer.
      const listInside = `gdbus call --session ${documents} --method org.freedesktop.portal.Documents.List '' 2>&1`;
      const host = await bbl(["--name", "docs", "--dbus", "host", "--", "/bin/sh", "-c", listInside], { home, env });
      assert.match(host.stdout, /NotAllowed/, host.stderr);
    } finally {
      await bus.stop();
      Deno.removeSync(rt, { recursive: true });
    }
  }));

Deno.test("audio: the sound server's socket only when asked; fonts when present; the GPU or a clear error", async () => {
  const rt = runtimeDir(), home = userTempDir("bbl-home-");
  const pulse = await startSocket(`${rt}/pulse/native`);
  const connect = 'python3 -c "import socket,os; s=socket.socket(socket.AF_UNIX); ' +
    "s.connect(os.environ['PULSE_SERVER'][5:]); print(s.recv(5).decode())\"";
  try {
    const env = { XDG_RUNTIME_DIR: rt };
    const none = await bbl(["--", "/bin/sh", "-c", `ls /run/user/${user.uid}; echo "[$PULSE_SERVER]"`], { home, env });
    assert.equal(none.stdout, "[]\n", none.stderr);
    const asked = await bbl(["--audio", "pulse", "--", "/bin/sh", "-c", connect], { home, env });
    assert.equal(asked.stdout, "hello\n", asked.stderr);
    const pw = await bbl(["--audio", "pipewire", "--", "true"], { home, env });
    assert.equal(pw.code, 125);
    assert.match(pw.stderr, /pipewire: no socket at/);
  } finally {
    await pulse.stop();
    Deno.removeSync(rt, { recursive: true });
  }
  await withX(async (x, xhome) => {
    writeAsUser(`${xhome}/.fonts/Mine.ttf`, "font");
    const env = { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority };
    const r = await bbl([
      "--gui",
      "x11",
      "--",
      "/bin/sh",
      "-c",
      "cat ~/.fonts/Mine.ttf; touch ~/.fonts/x 2>/dev/null || echo ro",
    ], {
      home: xhome,
      env,
    });
    assert.equal(r.stdout, "fontro\n", r.stderr);
    const bare = await bbl(["--gui", "x11", "--", "true"], { env });
    assert.equal(bare.code, 0, "no fonts or themes at all is fine");
  });
  let nodes: string[] = [];
  try {
    nodes = [...Deno.readDirSync("/dev/dri")].map((e) => e.name).filter((n) => n.startsWith("renderD"));
  } catch { /* no GPU */ }
  const gpu = await bbl(["--gpu", "--", "/bin/sh", "-c", "ls /dev/dri; ls /dev"], { home });
  if (nodes.length === 0) {
    assert.equal(gpu.code, 125);
    assert.match(gpu.stderr, /no GPU render node/);
  } else {
    assert.equal(gpu.code, 0, gpu.stderr);
    assert.match(gpu.stdout, new RegExp(`^${nodes[0]}$`, "m"));
    assert.doesNotMatch(gpu.stdout, /^card\d/m, "render nodes only");
  }
  Deno.removeSync(home, { recursive: true });
});

Deno.test("gui asked without a display is a clear error; no gui needs none", async () => {
  const r = await bbl(["--gui", "x11", "--", "true"]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /gui: x11: DISPLAY is not set/);
  const w = await bbl(["--gui", "wayland", "--", "true"], { env: { XDG_RUNTIME_DIR: "/nonexistent" } });
  assert.match(w.stderr, /WAYLAND_DISPLAY is not set/);
  const plain = await bbl(["--", "/bin/sh", "-c", 'echo "[$DISPLAY][$WAYLAND_DISPLAY]"'], { env: { DISPLAY: ":0" } });
  assert.equal(plain.stdout, "[][]\n");
});

Deno.test("an AppImage gets the display there is, untrusted, without being told", async () => {
  await withX(async (x, home) => {
    const dir = userTempDir("bbl-appimages-");
    try {
      const image = buildAppImage(
        dir,
        "Viewer.AppImage",
        {
          AppRun: "#!/bin/sh\nxdpyinfo | grep -E '^(name of display|number of extensions)'\n",
        },
        "gzip",
        Deno.uid() === 0 ? user : undefined,
      );
      const r = await bbl(["--appimage", image], { home, env: { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^name of display: +:${x.display}$`, "m"));
      assert.match(r.stdout, /^number of extensions: +2$/m, "the untrusted cookie");
      // One that brings GTK 4 gets a nested X server instead (GTK 4 cannot draw with an untrusted cookie).
      const gtk4 = buildAppImage(
        dir,
        "Gtk4Tool.AppImage",
        {
          AppRun: "#!/bin/sh\nxdpyinfo | grep -E '^name of display'\n",
          "usr/lib/x86_64-linux-gnu/libgtk-4.so.1": "a stand-in",
        },
        "gzip",
        Deno.uid() === 0 ? user : undefined,
      );
      const g = await bbl(["--appimage", gtk4], { home, env: { DISPLAY: `:${x.display}`, XAUTHORITY: x.xauthority } });
      assert.equal(g.code, 0, g.stderr);
      const shown = g.stdout.match(/^name of display: +:(\d+)$/m)?.[1];
      assert.ok(shown !== undefined && shown !== String(x.display), `a display of its own: ${g.stdout}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
});
