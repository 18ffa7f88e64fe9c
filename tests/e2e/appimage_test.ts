/**
 * AppImages, end to end as the unprivileged test user, with fixtures built here (tests/appimage_fixture.ts):
 * bbl reads the image itself, mounts its squashfs inside the sandbox (the FUSE daemon is an untrusted
 * helper), runs AppRun, and leaves nothing behind; bad files stop with a clear error.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  bbl,
  descendantsOf,
  exists,
  instanceBase,
  ls,
  readRest,
  startBbl,
  user,
  withUserDirs,
  writeAsUser,
} from "../helpers.ts";
import { APPRUN, buildAppImage as build, type Entry, RUNTIME_SAYS } from "../appimage_fixture.ts";

/** A fixture owned by the test user, like a download: only the sandbox keeps the app from changing it. */
const buildAppImage = (dir: string, file: string, files?: Record<string, Entry>, comp?: "gzip" | "xz" | "zstd") =>
  build(dir, file, files, comp, Deno.uid() === 0 ? user : undefined);
const withDirs = (fn: (dir: string, home: string) => Promise<void>) =>
  withUserDirs(["bbl-appimages-", "bbl-home-"], fn);

/** The test user's processes named `comm` (anywhere on the machine). */
function processesOf(comm: string): number[] {
  return [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).map((e) => Number(e.name)).filter((pid) => {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      return status.match(/^Name:\s+(\S+)/m)?.[1] === comm && status.match(/^Uid:\s+(\d+)/m)?.[1] === String(user.uid);
    } catch {
      return false;
    }
  });
}

Deno.test("an AppImage runs: args, the user's uid, AppImage conventions, exit code; gzip, xz and zstd", async () => {
  await withDirs(async (dir, home) => {
    for (const comp of ["gzip", "xz", "zstd"] as const) {
      const image = buildAppImage(dir, `Tool_2.0-x86_64-${comp}.AppImage`, { AppRun: APPRUN }, comp);
      const r = await bbl(["--name", "Tool", "--setenv", "APP_EXIT=3", "--appimage", image, "--", "one", "two words"], {
        home,
      });
      assert.equal(r.code, 3, `${comp}: ${r.stderr}`);
      assert.equal(
        r.stdout,
        [
          "args:2:one two words",
          `uid:${user.uid}`,
          "APPDIR=/sbxdir/apps/Tool",
          "APPIMAGE=/sbxdir/apps/Tool.AppImage",
          `ARGV0=Tool_2.0-x86_64-${comp}.AppImage`,
          `OWD=${home}`,
          "home:ok",
          "",
        ].join("\n"),
      );
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(RUNTIME_SAYS));
    }
    assert.deepEqual(ls(home), [], "the app's home was a tmpfs: nothing on the host");
  });
});

Deno.test("the app's name comes from the file name; /sbxdir/apps and the image are read-only", async () => {
  await withDirs(async (dir, home) => {
    const image = buildAppImage(dir, "FreeCAD_1.0.0-x86_64.AppImage");
    const r = await bbl(["--appimage", image, "--shell"], {
      home,
      stdin: "ls /sbxdir/apps; touch /sbxdir/apps/x 2>/dev/null || echo apps-ro;" +
        "echo x > /sbxdir/apps/FreeCAD/AppRun 2>/dev/null || echo image-fs-ro;" +
        "echo x >> /sbxdir/apps/FreeCAD.AppImage 2>/dev/null || echo image-file-ro;" +
        "grep -c '^FreeCAD /sbxdir/apps/FreeCAD fuse.squashfuse ro,' /proc/self/mounts\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "FreeCAD\nFreeCAD.AppImage\nrun_FreeCAD\napps-ro\nimage-fs-ro\nimage-file-ro\n1\n");
    const bad = await bbl(["--appimage", image, "--name", "../x"], { home });
    assert.equal(bad.code, 125);
    assert.match(bad.stderr, /invalid sandbox name/);
  });
});

Deno.test("after the app exits no FUSE daemon, mount or directory remains; two instances run at once", async () => {
  await withDirs(async (dir, home) => {
    const image = buildAppImage(dir, "Twin.AppImage");
    const before = ls(instanceBase);
    const first = await startBbl(["--appimage", image, "--", "wait"], home);
    const daemons = processesOf("squashfuse").filter((p) => descendantsOf(first.child.pid).includes(p));
    assert.equal(daemons.length, 1, "one FUSE daemon, inside the first sandbox");
    // The daemon is an untrusted helper: no capabilities, no_new_privs, the seccomp filter.
    const status = Deno.readTextFileSync(`/proc/${daemons[0]}/status`);
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Seccomp:\s+2$/m);
    const second = await bbl(["--appimage", image, "--", "again"], { home });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^args:1:again$/m);
    first.child.kill("SIGTERM");
    assert.notEqual((await first.child.status).code, 0);
    await readRest(first.reader);
    const gone = Date.now() + 5000;
    while (processesOf("squashfuse").length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(processesOf("squashfuse"), []);
    assert.doesNotMatch(Deno.readTextFileSync("/proc/self/mountinfo"), /squashfuse/);
    assert.deepEqual(ls(instanceBase), before);
  });
});

Deno.test("several AppImages in one sandbox, from the configuration", async () => {
  await withDirs(async (dir, home) => {
    const main = buildAppImage(dir, "Main.AppImage");
    buildAppImage(dir, "Helper-3.1.AppImage", { AppRun: '#!/bin/sh\necho "helper:$APPDIR:$*"\n' });
    writeAsUser(`${dir}/Main.bbl.yaml`, "mounts:\n  - { kind: appimage, src: ./Helper-3.1.AppImage }\n");
    assert.equal((await bbl(["config", "trust", `${dir}/Main.bbl.yaml`], { home })).code, 0);
    const r = await bbl(["--appimage", main, "--shell"], {
      home,
      stdin: "/sbxdir/apps/run_Helper x; ls /sbxdir/apps\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "helper:/sbxdir/apps/Helper:x\nHelper\nHelper.AppImage\nMain\nMain.AppImage\nrun_Helper\nrun_Main\n",
    );
  });
});

Deno.test("bad files: a clear error, exit 125, nothing created on the host", async () => {
  await withDirs(async (dir, home) => {
    const good = buildAppImage(dir, "Good.AppImage");
    const bytes = Deno.readFileSync(good);
    const write = (name: string, data: Uint8Array, mode = 0o644) => {
      Deno.writeFileSync(`${dir}/${name}`, data, { mode });
      Deno.chmodSync(`${dir}/${name}`, mode);
      return `${dir}/${name}`;
    };
    const elfEnd = bytes.findIndex((_, i) => new TextDecoder().decode(bytes.subarray(i, i + 4)) === "hsqs");
    const garbage = bytes.slice();
    garbage.fill(0x41, elfEnd, elfEnd + 64);
    const plainElf = Deno.readFileSync("/bin/true");
    Deno.mkdirSync(`${dir}/Dir.AppImage`);
    const cases: [string, RegExp][] = [
      [write("Empty.AppImage", new Uint8Array()), /not an AppImage: an empty file/],
      [`${dir}/Dir.AppImage`, /a directory, not an AppImage/],
      [write("Unreadable.AppImage", bytes, 0o000), /EACCES/],
      [write("Truncated.AppImage", bytes.subarray(0, 40)), /truncated/],
      [write("Cut.AppImage", bytes.subarray(0, 2000)), /truncated|beyond the end/],
      [write("Garbage.AppImage", garbage), /no squashfs or DwarFS filesystem at offset \d+ \(found bytes 41 41/],
      [write("Plain.AppImage", plainElf), /an ELF program without the AppImage marker/],
      [write("Script.AppImage", new TextEncoder().encode("#!/bin/sh\necho hi\n")), /not an AppImage: a script/],
      [`${dir}/Missing.AppImage`, /ENOENT/],
    ];
    const before = ls(instanceBase);
    for (const [file, msg] of cases) {
      const r = await bbl(["--appimage", file, "--", "x"], { home });
      assert.equal(r.code, 125, `${file}: ${r.stderr}`);
      assert.match(r.stderr, msg, file);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "");
    }
    assert.deepEqual(ls(instanceBase), before);
    assert.deepEqual(ls(home), []);
    // A symlink to an AppImage is an AppImage (named after the link).
    Deno.symlinkSync(good, `${dir}/Linked.AppImage`);
    const linked = await bbl(["--appimage", `${dir}/Linked.AppImage`, "--", "via-link"], { home });
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(linked.stdout, /^APPDIR=\/sbxdir\/apps\/Linked$/m);
  });
});

Deno.test("an AppRun that is a symlink out of the image leads nowhere outside the sandbox", async () => {
  await withDirs(async (dir, home) => {
    writeAsUser(`${home}/payload.sh`, "#!/bin/sh\necho LEAKED-HOST-FILE\n", 0o755);
    for (const target of [`${home}/payload.sh`, "../../../../../../.." + home + "/payload.sh", "/etc/shadow"]) {
      const image = buildAppImage(dir, "Escape.AppImage", { AppRun: { symlink: target } });
      const r = await bbl(["--appimage", image, "--", "x"], { home });
      assert.ok(r.code === 126 || r.code === 127, `${target}: ${r.code} ${r.stderr}`);
      assert.doesNotMatch(r.stdout, /LEAKED/);
      assert.match(r.stderr, /cannot execute|not found|Permission denied|No such file/);
    }
  });
});

Deno.test("--appimage-extract unpacks once into a cache named by the image's SHA-256, bound read-only", async () => {
  await withDirs(async (dir, home) => {
    const image = buildAppImage(dir, "Unpack.AppImage");
    const sha = createHash("sha256").update(Deno.readFileSync(image)).digest("hex");
    const cache = `${home}/.cache/bbl/appimages`;
    const r = await bbl(["--appimage-extract", "--appimage", image, "--", "first"], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^args:1:first$/m);
    assert.deepEqual(ls(cache), [".index", sha]);
    const made = Deno.statSync(`${cache}/${sha}/AppRun`).mtime;
    const again = await bbl(["--appimage-extract", "--appimage", image, "--shell"], {
      home,
      stdin: "touch /sbxdir/apps/Unpack/x 2>/dev/null || echo ro; grep -c 'fuse' /proc/self/mountinfo\n",
    });
    assert.equal(again.stdout, "ro\n0\n", again.stderr);
    assert.deepEqual(Deno.statSync(`${cache}/${sha}/AppRun`).mtime, made, "not unpacked again");
    assert.deepEqual(ls(cache), [".index", sha]);
    const [entry] = ls(`${cache}/.index`);
    assert.equal(
      Deno.readTextFileSync(`${cache}/.index/${entry}`),
      `${sha}\n`,
      "the hash, remembered by file identity",
    );
  });
});

Deno.test("--desktop-entry writes a launcher that runs the AppImage through bbl, with its name and icon", async () => {
  await withDirs(async (dir, home) => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const image = buildAppImage(dir, "Painter-1.0.AppImage", {
      AppRun: APPRUN,
      "painter.desktop": "[Desktop Entry]\nName=Painter Pro\nExec=ignored --evil\nIcon=painter\nCategories=Graphics;\n",
      "painter.png": { bytes: png },
    });
    const r = await bbl(["--appimage", image, "--home", "persist", "--desktop-entry"], { home });
    assert.equal(r.code, 0, r.stderr);
    const file = `${home}/.local/share/applications/bbl-Painter.desktop`;
    const text = Deno.readTextFileSync(file);
    assert.match(text, /^Name=Painter Pro \(bbl\)$/m);
    assert.match(text, new RegExp(`^Exec=.* --appimage ${image} --home persist -- %U$`, "m"));
    assert.doesNotMatch(text, /--evil/);
    assert.match(text, /^Categories=Graphics;$/m);
    assert.match(text, new RegExp(`^Icon=${home}/.local/share/icons/bbl-Painter.png$`, "m"));
    assert.ok(exists(`${home}/.local/share/icons/bbl-Painter.png`));
  });
});
