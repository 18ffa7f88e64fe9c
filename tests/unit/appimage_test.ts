/** AppImage reading (every ELF class and byte order), the plan it makes, and the files bbl writes for it. */
import assert from "node:assert/strict";
import { desktopId, marksFacts } from "../../src/appimage/browser.ts";
import { readAppImage } from "../../src/appimage/format.ts";
import { checkAppImageTools } from "../../src/appimage/tools.ts";
import { desktopKeys, execArg } from "../../src/appimage/desktop.ts";
import { runScript } from "../../src/layer/appimage.ts";
import { buildPlan } from "../../src/plan/plan.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { allLayers } from "../../src/plan/tree.ts";
import type { AppImageRequest } from "../../src/plan/options.ts";
import { UsageError } from "../../src/errors.ts";
import { host, runOptions } from "./fixtures.ts";

interface Elf {
  is64: boolean;
  le: boolean;
  marker?: number[];
  /** Program headers: [offset, filesz]. */
  segments: [number, number][];
  shoff: number;
  shnum: number;
  payload?: string;
  size?: number;
}

/** A synthetic ELF runtime followed by `payload` at the end of its section header table. */
function elf(e: Elf): Uint8Array {
  const ehsize = e.is64 ? 64 : 52, phentsize = e.is64 ? 56 : 32, shentsize = e.is64 ? 64 : 40;
  const end = e.shoff + e.shnum * shentsize;
  const bytes = new Uint8Array(e.size ?? end + (e.payload?.length ?? 0));
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, e.is64 ? 2 : 1, e.le ? 1 : 2, 1]);
  bytes.set(e.marker ?? [0x41, 0x49, 0x02], 8);
  const word = (off: number, n: number) => e.is64 ? v.setBigUint64(off, BigInt(n), e.le) : v.setUint32(off, n, e.le);
  word(e.is64 ? 32 : 28, ehsize); // phoff: right after the header
  word(e.is64 ? 40 : 32, e.shoff);
  const half = (off: number, n: number) => v.setUint16(off, n, e.le);
  const [phe, phn, she, shn] = e.is64 ? [54, 56, 58, 60] : [42, 44, 46, 48];
  half(phe, phentsize);
  half(phn, e.segments.length);
  half(she, shentsize);
  half(shn, e.shnum);
  e.segments.forEach(([off, sz], i) => {
    const at = ehsize + i * phentsize;
    if (e.is64) {
      v.setBigUint64(at + 8, BigInt(off), e.le);
      v.setBigUint64(at + 32, BigInt(sz), e.le);
    } else {
      v.setUint32(at + 4, off, e.le);
      v.setUint32(at + 16, sz, e.le);
    }
  });
  if (e.payload && end < bytes.length) {
    bytes.set(new TextEncoder().encode(e.payload).subarray(0, bytes.length - end), end);
  }
  return bytes;
}

const read = (b: Uint8Array) => (off: number, len: number) => b.subarray(off, off + len);
const parse = (b: Uint8Array) => readAppImage("x.AppImage", read(b), b.length);

Deno.test("AppImage: 32- and 64-bit, little- and big-endian runtimes; the image starts after the section headers", () => {
  for (const is64 of [true, false]) {
    for (const le of [true, false]) {
      const b = elf({ is64, le, segments: [[0, 400], [400, 100]], shoff: 600, shnum: 10, payload: "hsqs-----" });
      assert.deepEqual(parse(b), { offset: 600 + 10 * (is64 ? 64 : 40), format: "squashfs" }, `${is64} ${le}`);
      const d = elf({ is64, le, segments: [[0, 400]], shoff: 600, shnum: 2, payload: "DWARFS\x02" });
      assert.equal(parse(d).format, "dwarfs");
    }
  }
});

Deno.test("AppImage: every malformed or foreign file is a clear error", () => {
  const ok = { is64: true, le: true, segments: [[0, 400]] as [number, number][], shoff: 600, shnum: 4 };
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(), /not an AppImage: an empty file/],
    [new TextEncoder().encode("#!/bin/sh\n"), /a script/],
    [new TextEncoder().encode("PK\x03\x04rest"), /a ZIP archive/],
    [new TextEncoder().encode("hsqs"), /a bare squashfs image/],
    [elf({ ...ok, marker: [0, 0, 0], payload: "hsqs" }), /without the AppImage marker/],
    [elf({ ...ok, marker: [0x41, 0x49, 0x01], payload: "hsqs" }), /type 1 AppImage \(ISO 9660\)/],
    [elf({ ...ok, marker: [0x41, 0x49, 0x07], payload: "hsqs" }), /unknown type 7/],
    [elf({ ...ok, payload: "hsqs" }).subarray(0, 30), /truncated: the ELF header is incomplete/],
    [elf({ ...ok, size: 700 }), /beyond the end of the file/],
    [elf({ ...ok, shnum: 0, payload: "hsqs" }), /no section header table/],
    [elf({ ...ok, segments: [[0, 2000]], payload: "hsqs" }), /segment 0 .* overlaps the image/],
    [
      elf({ ...ok, payload: "GARBAGE" }),
      /no squashfs or DwarFS filesystem at offset 856 \(found bytes 47 41 52 42 41 47\)/,
    ],
    [elf(ok), /no filesystem image after the runtime/],
  ];
  for (const [b, msg] of cases) {
    assert.throws(() => parse(b), (e: unknown) => e instanceof UsageError && msg.test(e.message), msg.source);
  }
});

const req = (o: Partial<AppImageRequest> = {}): AppImageRequest => ({
  name: "Tool",
  path: "/home/alice/Downloads/Tool.AppImage",
  argv0: "Tool.AppImage",
  offset: 1000,
  format: "squashfs",
  ...o,
});

Deno.test("AppImage plan: /dev/fuse for the app's root, the daemon an untrusted helper, the userns lock counts it", () => {
  const t = DEFAULT_TEMPLATE;
  const plan = buildPlan(runOptions({ appimages: [req(), req({ name: "B", offset: 7 })] }), host, t);
  const L = Object.fromEntries(allLayers(plan.root).map((l) => [l.name, l]));
  assert.ok(L.layer2.fs.some((f) => f.kind === "dev" && f.extra?.includes("fuse")), "layer2's /dev has fuse");
  assert.ok(!L.layer3.fs.some((f) => f.kind === "dev" && f.extra?.includes("fuse")), "the app's /dev does not");
  assert.deepEqual(L.layer3.appimages![0], {
    name: "Tool",
    image: "/zrootfs/home/alice/Downloads/Tool.AppImage",
    argv0: "Tool.AppImage",
    offset: 1000,
    format: "squashfs",
    fuseDevice: "/dev/fuse",
  });
  assert.deepEqual(L.layer4a.helpers.map((h) => [h.appimage, h.run.join(" "), h.wait]), [
    ["Tool", "squashfuse -f -o offset=1000 /proc/self/fd/4 /dev/fd/3", { path: "/sbxdir/apps/Tool" }],
    ["B", "squashfuse -f -o offset=7 /proc/self/fd/4 /dev/fd/3", { path: "/sbxdir/apps/B" }],
  ]);
  assert.ok(L.layer4a.helperSeccomp !== null && L.layer4a.dropCaps && L.layer4a.noNewPrivs);
  assert.equal(L.layer3.maxUserNamespaces, 3, "two daemons and the app, each in a user namespace of its own");

  const unpacked = buildPlan(
    runOptions({ appimages: [req({ extracted: "/home/alice/.cache/bbl/appimages/ab" })] }),
    host,
    t,
  );
  const U = Object.fromEntries(allLayers(unpacked.root).map((l) => [l.name, l]));
  assert.equal(U.layer3.appimages![0].extracted, "/zrootfs/home/alice/.cache/bbl/appimages/ab");
  assert.ok(!U.layer2.fs.some((f) => f.kind === "dev" && f.extra?.includes("fuse")));
  assert.equal(U.layer4a, undefined, "no daemon: the helper layer is left out");
});

Deno.test("AppImage: the run script, desktop files, and the tools a run needs", () => {
  const script = runScript({ name: "Tool", argv0: "it's.AppImage" });
  assert.match(script, /^APPDIR=\/sbxdir\/apps\/Tool$/m);
  assert.match(script, /^ARGV0='it'\\''s.AppImage'$/m);
  assert.match(script, /^exec "\$APPDIR\/AppRun" "\$@"$/m);
  assert.equal(execArg("/a b/c"), '"/a b/c"');
  assert.equal(execArg('say "$x"'), '"say \\\\"\\\\$x\\\\""');
  assert.equal(execArg("50%"), "50%%");
  assert.deepEqual(desktopKeys("[Desktop Action x]\nName=No\n[Desktop Entry]\nName = Yes\nIcon=i\n"), {
    Name: "Yes",
    Icon: "i",
  });
  const none = { tool: () => null, fuse: () => true };
  assert.throws(() => checkAppImageTools([req()], false, none), /install the package squashfuse .* --appimage-extract/);
  assert.throws(() => checkAppImageTools([req()], true, none), /install the package squashfs-tools/);
  assert.throws(() => checkAppImageTools([req({ format: "dwarfs" })], false, none), /needs dwarfs/);
  const noFuse = { tool: (n: string) => `/usr/bin/${n}`, fuse: () => false };
  assert.throws(() => checkAppImageTools([req()], false, noFuse), /no \/dev\/fuse/);
  checkAppImageTools([req()], false, { tool: (n) => `/usr/bin/${n}`, fuse: () => true });
});

Deno.test("an AppImage's desktop id: the first desktop file's name, when it is a bus name", () => {
  assert.equal(desktopId("org.xfce.mousepad.desktop\nother.desktop\n"), "org.xfce.mousepad");
  assert.equal(desktopId("mousepad.desktop\n"), null, "one part: not a bus name");
  assert.equal(desktopId("org.x.$(rm).desktop\n"), null);
  assert.equal(desktopId(""), null);
});

Deno.test("an AppImage's marks: a Chromium/Electron build, GTK 4 inside", () => {
  const at = "/sbxdir/apps/probe";
  assert.deepEqual(marksFacts(`${at}/chrome-sandbox\n`), { browser: true, gtk4: false });
  assert.deepEqual(marksFacts(`${at}/resources/app.asar\n`), { browser: true, gtk4: false });
  assert.deepEqual(marksFacts(`${at}/usr/lib/libgtk-4.so.1\n${at}/usr/lib/libgtk-4.so.1.800.3\n`), {
    browser: false,
    gtk4: true,
  });
  assert.deepEqual(marksFacts(`${at}/usr/lib/libgtk-4.so.1.in-a-name-only.txt\n${at}/x/app.asar.bak\n`), {
    browser: false,
    gtk4: false,
  });
  assert.deepEqual(marksFacts(""), { browser: false, gtk4: false });
});
