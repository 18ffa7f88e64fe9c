/** Desktop support: parsing DISPLAY, WAYLAND_DISPLAY and the bus address; X authority files; the plan. */
import assert from "node:assert/strict";
import { freeDisplay, parseDisplay, waylandSocket } from "../../src/desktop/display.ts";
import { encodeXauth, parseNlist, wildEntries } from "../../src/desktop/xauth.ts";
import { proxyArgs, sessionBusSocket } from "../../src/desktop/dbus.ts";
import { defaultAppId, flatpakInfo, isAppId, parseMountPoint } from "../../src/desktop/portal.ts";
import { linksGtk4, neededLibraries } from "../../src/desktop/toolkit.ts";
import { withFile } from "../../src/sys/files.ts";
import { resolveDesktop } from "../../src/config/desktop.ts";
import { mergeConfigs } from "../../src/config/merge.ts";
import { parseConfig } from "../../src/config/schema.ts";
import { DEFAULT_CONFIG } from "../../src/config/defaults.ts";
import { buildPlan } from "../../src/plan/plan.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { allLayers } from "../../src/plan/tree.ts";
import type { DesktopOptions } from "../../src/plan/options.ts";
import { UsageError } from "../../src/errors.ts";
import { fakeHost, host, runOptions } from "./fixtures.ts";

Deno.test("DISPLAY and WAYLAND_DISPLAY: every form, and clear errors", () => {
  assert.deepEqual(parseDisplay(":0"), { number: 0 });
  assert.deepEqual(parseDisplay(":1.0"), { number: 1 });
  assert.deepEqual(parseDisplay("unix:12"), { number: 12 });
  assert.deepEqual(parseDisplay("host:10"), { number: 10, host: "host" });
  assert.deepEqual(parseDisplay("localhost:10.0"), { number: 10, host: "localhost" });
  assert.equal(parseDisplay(undefined), null);
  assert.equal(parseDisplay(""), null);
  assert.throws(() => parseDisplay("zero"), /DISPLAY=zero: not a display name/);
  assert.equal(
    waylandSocket({ WAYLAND_DISPLAY: "wayland-0", XDG_RUNTIME_DIR: "/run/user/5" }),
    "/run/user/5/wayland-0",
  );
  assert.equal(waylandSocket({ WAYLAND_DISPLAY: "/tmp/w.sock" }), "/tmp/w.sock");
  assert.equal(waylandSocket({}), null);
  assert.throws(() => waylandSocket({ WAYLAND_DISPLAY: "wayland-0" }), /needs XDG_RUNTIME_DIR/);
  assert.equal(freeDisplay(new Set([0, 10, 11, 13])), 12);
});

Deno.test("X authority: xauth's hex entries, rewritten to match any host, in the binary format", () => {
  const nlist = "0100 0002 766d 0002 3433 0012 4d49542d4d414749432d434f4f4b49452d31 0004 0a0b0c0d\n" +
    "0100 0002 766d 0001 35 0012 4d49542d4d414749432d434f4f4b49452d31 0001 ff\n";
  const entries = parseNlist(nlist);
  assert.equal(entries.length, 2);
  assert.equal(entries[0].number, "43");
  assert.equal(entries[0].name, "MIT-MAGIC-COOKIE-1");
  const wild = wildEntries(entries, 43);
  assert.equal(wild.length, 1);
  assert.deepEqual(
    [...encodeXauth(wild)],
    [
      0xff,
      0xff,
      0,
      0,
      0,
      2,
      0x34,
      0x33,
      0,
      18,
      ...new TextEncoder().encode("MIT-MAGIC-COOKIE-1"),
      0,
      4,
      10,
      11,
      12,
      13,
    ],
  );
});

Deno.test("session bus: the socket from its address; the proxy's policy", () => {
  assert.equal(sessionBusSocket({ DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1/bus" }), "/run/user/1/bus");
  assert.equal(sessionBusSocket({ DBUS_SESSION_BUS_ADDRESS: "unix:guid=x,path=/a%20b;tcp:host=h" }), "/a b");
  assert.equal(sessionBusSocket({ XDG_RUNTIME_DIR: "/run/user/7" }), "/run/user/7/bus");
  assert.throws(() => sessionBusSocket({ DBUS_SESSION_BUS_ADDRESS: "unix:abstract=/tmp/dbus-x" }), /socket path/);
  assert.deepEqual(proxyArgs("/up", "/down", { talk: ["org.a.B"], own: ["org.a.App"], see: [] }), [
    "xdg-dbus-proxy",
    "unix:path=/up",
    "/down",
    "--filter",
    "--talk=org.freedesktop.portal.*",
    "--talk=org.freedesktop.Notifications",
    "--talk=org.a.B",
    "--own=org.a.App",
  ]);
});

const PLAIN = { appimage: false, label: "tool", gtk4: () => false };

const desktop = (yaml: string, env: Record<string, string>, paths: string[], appimage = false, gtk4 = false) =>
  resolveDesktop(
    mergeConfigs([
      { from: { label: "defaults", dir: "/" }, config: DEFAULT_CONFIG },
      { from: { label: "c.yaml", dir: "/" }, config: parseConfig(yaml, "c.yaml") },
    ]),
    fakeHost(env, paths),
    "tool",
    { appimage, label: "tool", gtk4: () => gtk4 },
  );

Deno.test("desktop options: what is asked must be there", () => {
  const rt = { XDG_RUNTIME_DIR: "/run/user/1000" };
  const wl = ["/run/user/1000/wayland-0"], x = ["/tmp/.X11-unix/X0"];
  assert.deepEqual(desktop("gui: auto", { ...rt, WAYLAND_DISPLAY: "wayland-0", DISPLAY: ":0" }, [...wl, ...x]).gui, {
    mode: "wayland",
    socket: "/run/user/1000/wayland-0",
  });
  assert.deepEqual(desktop("gui: auto", { DISPLAY: ":0" }, x).gui, { mode: "x11", display: 0, trusted: false });
  // An AppImage gets the display there is unless its configuration says; a plain command none.
  assert.equal(desktop("", { DISPLAY: ":0" }, x, true).gui.mode, "x11");
  assert.equal(desktop("", {}, [], true).gui.mode, "none");
  assert.equal(desktop("gui: none", { DISPLAY: ":0" }, x, true).gui.mode, "none");
  assert.equal(desktop("", { DISPLAY: ":0" }, x).gui.mode, "none");
  assert.deepEqual(desktop("gui: x11\nx11_trusted: true", { DISPLAY: ":0" }, x).gui, {
    mode: "x11",
    display: 0,
    trusted: true,
  });
  assert.deepEqual(desktop("gui: xephyr", { DISPLAY: ":0" }, [...x, "/home/alice/.Xauthority"]).gui, {
    mode: "xephyr",
    hostDisplay: 0,
    display: 11,
    hostXauthority: "/home/alice/.Xauthority",
  });
  const d = desktop("gui: none\ndbus: filter\ndbus_talk: [org.kde.*]\naudio: pulse\ngpu: true", rt, [
    "/run/user/1000/bus",
    "/run/user/1000/pulse/native",
    "/dev/dri/renderD128",
    "/dev/dri/card0",
  ]);
  assert.deepEqual(d.dbus, {
    mode: "filter",
    socket: "/run/user/1000/bus",
    talk: ["org.kde.*"],
    own: [],
    see: [],
    appId: "bbl.tool",
    documents: "/run/user/1000/doc",
  });
  const named = desktop("dbus: host\napp_id: org.example.Tool", rt, ["/run/user/1000/bus"]);
  assert.equal(named.dbus.mode === "host" && named.dbus.appId, "org.example.Tool");
  assert.deepEqual(d.audio, { mode: "pulse", socket: "/run/user/1000/pulse/native", cookie: null });
  assert.deepEqual(d.devices, ["dri/renderD128"]);
  assert.deepEqual(d.themes, [], "no display, no fonts and themes");
  assert.deepEqual(desktop("gui: x11", { DISPLAY: ":0" }, [...x, "/home/alice/.fonts/a.ttf"]).themes, [
    "/home/alice/.fonts",
  ]);
  const cases: [string, Record<string, string>, string[], RegExp][] = [
    ["gui: x11", {}, [], /gui: x11: DISPLAY is not set/],
    ["gui: x11", { DISPLAY: "remote:3" }, [], /network display/],
    ["gui: x11", { DISPLAY: ":5" }, [], /no X server socket at \/tmp\/.X11-unix\/X5/],
    ["gui: wayland", rt, [], /WAYLAND_DISPLAY is not set/],
    ["gui: wayland", { ...rt, WAYLAND_DISPLAY: "w" }, [], /no compositor socket at \/run\/user\/1000\/w/],
    ["gui: auto", {}, [], /auto: neither WAYLAND_DISPLAY nor DISPLAY/],
    ["dbus: host", rt, [], /no session bus socket at \/run\/user\/1000\/bus/],
    ["audio: pipewire", rt, [], /pipewire: no socket at \/run\/user\/1000\/pipewire-0/],
    ["gpu: true", {}, [], /no GPU render node/],
  ];
  const bare = {
    ...fakeHost({ DISPLAY: ":0", XDG_RUNTIME_DIR: "/run/user/1000" }, [...x, "/run/user/1000/bus"]),
    tool: () => null,
  };
  const merged = (yaml: string) =>
    mergeConfigs([
      { from: { label: "defaults", dir: "/" }, config: DEFAULT_CONFIG },
      { from: { label: "c.yaml", dir: "/" }, config: parseConfig(yaml, "c.yaml") },
    ]);
  assert.throws(
    () => resolveDesktop(merged("gui: x11"), bare, "tool", PLAIN),
    /needs xauth, which is not installed \(package xauth\)/,
  );
  assert.throws(
    () => resolveDesktop(merged("gui: xephyr"), bare, "tool", PLAIN),
    /needs Xephyr, .* \(package xserver-xephyr\)/,
  );
  assert.throws(
    () => resolveDesktop(merged("dbus: filter"), bare, "tool", PLAIN),
    /needs xdg-dbus-proxy, .* \(package xdg-dbus-proxy\)/,
  );
  assert.deepEqual(desktop("gui: xephyr\nxephyr_wm: [twm]", { DISPLAY: ":0" }, x).gui, {
    mode: "xephyr",
    hostDisplay: 0,
    display: 11,
    hostXauthority: null,
    wm: ["twm"],
  });
  for (const [yaml, env, paths, msg] of cases) {
    assert.throws(
      () => desktop(yaml, env, paths),
      (e: unknown) => e instanceof UsageError && msg.test(e.message),
      yaml,
    );
  }
});

const plan = (d: Partial<DesktopOptions>) => {
  const p = buildPlan(
    runOptions({
      desktop: { ...runOptions().desktop, ...d },
    }),
    host,
    DEFAULT_TEMPLATE,
  );
  return { p, L: Object.fromEntries(allLayers(p.root).map((l) => [l.name, l])) };
};

Deno.test("desktop plan: X11, Xephyr, Wayland, the bus, sound and GPU land where they should", () => {
  const x = plan({ gui: { mode: "x11", display: 0, trusted: false }, themes: ["/home/alice/.fonts"] });
  const dir = "/run/user/1000/bbl/ls-4242";
  assert.deepEqual(x.p.xauth, { kind: "untrusted", display: 0, file: `${dir}/Xauthority` });
  assert.ok(
    x.L.layer3.fs.some((f) =>
      f.kind === "bind" && f.src === "/zrootfs/tmp/.X11-unix/X0" && f.dest === "/tmp/.X11-unix/X0"
    ),
  );
  assert.ok(x.L.layer3.fs.some((f) => f.kind === "robind" && f.dest === "/run/user/1000/Xauthority"));
  assert.ok(x.L.layer3.fs.some((f) => f.kind === "robind" && f.dest === "/home/alice/.fonts" && f.optional));
  assert.equal(x.L.layer4.app!.env.DISPLAY, ":0");
  assert.equal(x.L.layer4.app!.env.XAUTHORITY, "/run/user/1000/Xauthority");
  assert.match(x.L.layer4.app!.env.PATH, /^\/sbxdir\/bin:/);
  assert.match(x.L.layer3.sbxBin!["xdg-open"], /the app asks to open/);
  assert.equal(x.L.layer2a, undefined, "no trusted helper needed");

  const xe = plan({ gui: { mode: "xephyr", hostDisplay: 0, display: 12, hostXauthority: "/home/alice/.Xauthority" } });
  const xephyr = xe.L.layer2a.helpers[0];
  assert.deepEqual(xephyr.run.slice(0, 4), ["Xephyr", ":12", "-auth", `/zrootfs${dir}/Xauthority`]);
  assert.ok(xephyr.run.includes("local"), "no abstract socket in the host's network namespace");
  assert.deepEqual(xephyr.wait, { socket: "/tmp/.X11-unix/X12" });
  assert.equal(xe.L.layer2a.env.DISPLAY, ":0");
  assert.equal(xe.L.layer2a.env.XAUTHORITY, "/zrootfs/home/alice/.Xauthority");
  assert.ok(xe.L.layer2.fs.some((f) => f.kind === "tmpfs" && f.dest === "/tmp"));
  assert.ok(
    xe.L.layer2.fs.some((f) => f.kind === "bind" && f.src === "/tmp/.X11-unix/X0" && f.dest === "/tmp/.X11-unix/X0"),
  );
  assert.ok(
    xe.L.layer3.fs.some((f) => f.kind === "bind" && f.src === "/tmp/.X11-unix/X12"),
    "from the host layer's /tmp",
  );
  assert.equal(xe.p.xauth?.kind, "random");

  const wm = plan({ gui: { mode: "xephyr", hostDisplay: 0, display: 12, hostXauthority: null, wm: ["twm", "-v"] } });
  assert.deepEqual(
    wm.L.layer4a.helpers.map((h) => h.run),
    [["twm", "-v"]],
    "the window manager: untrusted, beside the app",
  );
  assert.equal(wm.L.layer4a.env.DISPLAY, ":12");
  assert.equal(wm.L.layer2a.env.XAUTHORITY, undefined, "no host cookie file: none given");

  const w = plan({ gui: { mode: "wayland", socket: "/run/user/1000/wayland-1" } });
  assert.ok(w.L.layer3.fs.some((f) => f.kind === "bind" && f.dest === "/run/user/1000/wayland-1"));
  assert.equal(w.L.layer4.app!.env.WAYLAND_DISPLAY, "wayland-1");
  for (const [k, v] of [["QT_QPA_PLATFORM", "wayland"], ["MOZ_ENABLE_WAYLAND", "1"], ["XDG_SESSION_TYPE", "wayland"]]) {
    assert.equal(w.L.layer4.app!.env[k], v, `${k}: toolkits that would look for X11 are told`);
  }
  assert.equal(w.L.layer4.app!.env.ELECTRON_OZONE_PLATFORM_HINT, "wayland");
  assert.equal(w.L.layer4.app!.env.DISPLAY, undefined);

  const bus = {
    socket: "/run/user/1000/bus",
    talk: [],
    own: [],
    see: [],
    appId: "bbl.t",
    documents: "/run/user/1000/doc",
  };
  const f = plan({
    dbus: { mode: "filter", ...bus },
    audio: { mode: "pipewire", socket: "/run/user/1000/pipewire-0" },
    devices: ["dri/renderD128"],
  });
  assert.equal(f.L.layer2a.helpers[0].run[0], "xdg-dbus-proxy");
  assert.equal(f.L.layer2a.helpers[0].run[1], "unix:path=/zrootfs/run/user/1000/bus");
  assert.ok(
    f.L.layer3.fs.some((o) =>
      o.kind === "bind" && o.src === "/sbxdir/temp/bbl-dbus-proxy" && o.dest === "/run/user/1000/bus"
    ),
  );
  assert.equal(f.L.layer4.app!.env.DBUS_SESSION_BUS_ADDRESS, "unix:path=/run/user/1000/bus");
  assert.ok(f.L.layer3.fs.some((o) => o.kind === "robind" && o.dest === "/run/user/1000/pipewire-0"));
  for (const l of ["layer2", "layer3"]) {
    assert.ok(f.L[l].fs.some((o) => o.kind === "dev" && o.extra?.includes("dri/renderD128")), l);
  }
  // The portals see the app (and the proxy speaking for it) as the sandboxed app bbl.t, and it gets
  // its own documents: by-app/bbl.t, at the path the portals give it.
  const info = "[Application]\nname=bbl.t\n";
  for (
    const [l, dest] of [["layer2", "/.flatpak-info"], ["layer3", "/.flatpak-info"], [
      "layer3",
      "/run/user/1000/flatpak-info",
    ]]
  ) {
    assert.ok(f.L[l].fs.some((o) => o.kind === "rofile" && o.dest === dest && o.content === info), `${l} ${dest}`);
  }
  assert.ok(
    f.L.layer3.fs.some((o) =>
      o.kind === "bind" && o.src === "/zrootfs/run/user/1000/doc/by-app/bbl.t" && o.dest === "/run/user/1000/doc"
    ),
  );
  const h = plan({ dbus: { mode: "host", ...bus, documents: null } });
  assert.ok(h.L.layer3.fs.some((o) => o.kind === "bind" && o.src === "/zrootfs/run/user/1000/bus"));
  assert.ok(h.L.layer3.fs.some((o) => o.dest === "/.flatpak-info"), "the app's own root: the portals look at it");
  assert.ok(!h.L.layer2.fs.some((o) => o.dest === "/.flatpak-info"), "no proxy, nothing in the trusted root");
  assert.ok(!h.L.layer3.fs.some((o) => o.dest === "/run/user/1000/doc"), "no document portal, no documents");
  const none = plan({});
  assert.ok(!none.L.layer3.fs.some((o) => o.dest === "/.flatpak-info"), "no bus, no portals");
});

Deno.test("portals: app ids as xdg-desktop-portal takes them; bbl.NAME by default; the network is said", () => {
  for (const ok of ["org.example.App", "bbl.tool", "bbl.my-tool", "a.b_c.D9", "bbl.0ad"]) assert.ok(isAppId(ok), ok);
  for (const bad of ["tool", "org..App", ".org.App", "org.my-x.App", "org.App.", "org.Ä.b", "a." + "b".repeat(255)]) {
    assert.ok(!isAppId(bad), bad);
  }
  assert.equal(defaultAppId("FreeCAD-0.21 (x)"), "bbl.FreeCAD-0_21__x_");
  assert.ok(isAppId(defaultAppId("FreeCAD-0.21 (x)")));
  assert.equal(flatpakInfo("bbl.t", true), "[Application]\nname=bbl.t\n\n[Context]\nshared=network;\n");
  assert.equal(parseMountPoint("(b'/run/user/1000/doc',)\n"), "/run/user/1000/doc");
  assert.equal(parseMountPoint("Error: GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown"), null);
  assert.throws(() => parseConfig("app_id: tool\n", "c.yaml"), /c.yaml:1:\d+: app_id: use two or more parts/);
});

/** A minimal dynamic ELF file: one PT_LOAD from offset 0 at `vaddr`, a PT_DYNAMIC needing `libs`. */
function elfNeeding(libs: string[], is64: boolean, le: boolean, vaddr = 0x400000): Uint8Array {
  const ehsize = is64 ? 64 : 52, phentsize = is64 ? 56 : 32, entry = is64 ? 16 : 8;
  const strs = "\0" + libs.map((l) => l + "\0").join("");
  const dynOff = ehsize + 2 * phentsize, strOff = dynOff + (libs.length + 2) * entry;
  const buf = new Uint8Array(strOff + strs.length);
  const v = new DataView(buf.buffer);
  const word = (off: number, n: number) => is64 ? v.setBigUint64(off, BigInt(n), le) : v.setUint32(off, n, le);
  buf.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1]);
  word(is64 ? 32 : 28, ehsize);
  v.setUint16(is64 ? 54 : 42, phentsize, le);
  v.setUint16(is64 ? 56 : 44, 2, le);
  const ph = (i: number, type: number, offset: number, addr: number, size: number) => {
    const at = ehsize + i * phentsize;
    v.setUint32(at, type, le);
    word(at + (is64 ? 8 : 4), offset);
    word(at + (is64 ? 16 : 8), addr);
    word(at + (is64 ? 32 : 16), size);
  };
  ph(0, 1, 0, vaddr, buf.length);
  ph(1, 2, dynOff, vaddr + dynOff, (libs.length + 2) * entry);
  let at = dynOff, name = 1;
  for (const l of libs) {
    word(at, 1), word(at + entry / 2, name), at += entry, name += l.length + 1;
  }
  word(at, 5), word(at + entry / 2, vaddr + strOff);
  buf.set(new TextEncoder().encode(strs), strOff);
  return buf;
}

const readerOf = (b: Uint8Array) => (offset: number, length: number) => b.subarray(offset, offset + length);

Deno.test("toolkit: an ELF program's needed libraries (both classes and byte orders); GTK 4 by libgtk-4", () => {
  for (const [is64, le] of [[true, true], [false, true], [true, false], [false, false]]) {
    const f = elfNeeding(["libgtk-4.so.1", "libc.so.6"], is64, le);
    assert.deepEqual(neededLibraries(readerOf(f)), ["libgtk-4.so.1", "libc.so.6"], `${is64} ${le}`);
  }
  assert.ok(linksGtk4(neededLibraries(readerOf(elfNeeding(["libgtk-4.so.1"], true, true)))));
  assert.ok(!linksGtk4(neededLibraries(readerOf(elfNeeding(["libgtk-3.so.0", "libc.so.6"], true, true)))));
  assert.equal(neededLibraries(readerOf(new TextEncoder().encode("#!/bin/sh\necho\n"))), null, "a script");
  assert.equal(neededLibraries(readerOf(new Uint8Array(0))), null);
  assert.ok(!linksGtk4(null));
  // A real program of this machine: the dynamic loader's libc among its needs.
  const sh = withFile(Deno.openSync("/bin/sh"), neededLibraries);
  assert.ok(sh?.includes("libc.so.6"), `/bin/sh needs ${sh}`);
});

Deno.test("gui and GTK 4: refused on untrusted X11 with the modes that serve it; auto picks Xephyr on X11", () => {
  const x = ["/tmp/.X11-unix/X0"], wl = ["/run/user/1000/wayland-0"];
  const onX = { DISPLAY: ":0" };
  assert.throws(
    () => desktop("gui: x11", onX, x, false, true),
    /c.yaml: gui: x11: tool is a GTK 4 app, which cannot draw on X11 with an untrusted cookie .*XInput2.*: use gui: xephyr .* or gui: wayland, or x11_trusted: true/,
  );
  assert.deepEqual(desktop("gui: x11\nx11_trusted: true", onX, x, false, true).gui, {
    mode: "x11",
    display: 0,
    trusted: true,
  });
  assert.equal(desktop("gui: auto", onX, x, false, true).gui.mode, "xephyr");
  assert.equal(desktop("", onX, x, true, true).gui.mode, "xephyr", "an AppImage's default display");
  assert.equal(desktop("gui: auto", onX, x, false, false).gui.mode, "x11", "other apps: the X server itself");
  const both = { ...onX, XDG_RUNTIME_DIR: "/run/user/1000", WAYLAND_DISPLAY: "wayland-0" };
  assert.equal(desktop("gui: auto", both, [...x, ...wl], false, true).gui.mode, "wayland");
  const noXephyr = {
    ...fakeHost(onX, x),
    tool: (n: string) => n === "Xephyr" ? null : `/usr/bin/${n}`,
  };
  assert.throws(
    () =>
      resolveDesktop(
        mergeConfigs([{ from: { label: "defaults", dir: "/" }, config: { ...DEFAULT_CONFIG, gui: "auto" } }]),
        noXephyr,
        "tool",
        { appimage: false, label: "calc", gtk4: () => true },
      ),
    /defaults: gui: auto: calc is a GTK 4 app.*install Xephyr \(package xserver-xephyr\)/,
  );
  let asked = 0;
  desktop("gui: xephyr", onX, x);
  resolveDesktop(
    mergeConfigs([{ from: { label: "defaults", dir: "/" }, config: { ...DEFAULT_CONFIG, gui: "wayland" } }]),
    fakeHost({ XDG_RUNTIME_DIR: "/run/user/1000", WAYLAND_DISPLAY: "wayland-0" }, wl),
    "tool",
    { appimage: false, label: "t", gtk4: () => (asked++, true) },
  );
  assert.equal(asked, 0, "the program is not read when no choice depends on it");
  resolveDesktop(
    mergeConfigs([{ from: { label: "defaults", dir: "/" }, config: { ...DEFAULT_CONFIG, gui: "auto" } }]),
    fakeHost(onX, x),
    "tool",
    { appimage: false, label: "t", gtk4: () => (asked++, false) },
  );
  assert.equal(asked, 1, "and read once when it does (auto, then x11)");
});
