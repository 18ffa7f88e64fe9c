/**
 * The default tree's compiled program (src/layer/compile.ts and setup.ts: layer1+2, layer2h+3 and the app),
 * run on the interpreter's TypeScript model over a recording kernel: what each process mounts,
 * where, in which order, how it reaches destinations, where each branch of a clone goes, and what a
 * failing step reports.
 */
import assert from "node:assert/strict";
import { buildPlan } from "../../src/plan/plan.ts";
import { host, runOptions as opts } from "./fixtures.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { parseTemplate } from "../../src/plan/template.ts";
import { layerProgram, setupProblem } from "../../src/layer/compile.ts";
import type { Look } from "../../src/layer/setup.ts";
import { type KernelArg, runProgram, type SpawnOp } from "../../src/sys/program.ts";
import { NR } from "../../src/sys/consts.ts";
import { errnoName } from "../../src/sys/errno.ts";

const NAMES = Object.fromEntries(Object.entries(NR[Deno.build.arch as "x86_64"]).map(([k, v]) => [v, k]));

const text = (a: KernelArg): string => {
  if (typeof a === "bigint") return String(a);
  const bytes = a instanceof Uint8Array ? a : "at" in a ? a.at.subarray(a.offset) : null;
  if (bytes === null) return "strings" in a ? `[${a.strings.map((s) => typeof s === "string" ? s : text(s))}]` : "bpf";
  // text (a path, file content) up to its NUL, if any; else a struct
  if (bytes.length === 1 && bytes[0] === 0) return '""';
  const end = bytes.indexOf(0);
  const str = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  const printable = [...str].every((ch) => ch.charCodeAt(0) >= 0x20 || ch === "\n" || ch === "\t");
  if (str.length > 0 && printable && (end < 0 ? bytes.length > 0 : bytes.subarray(end).every((b) => b === 0))) {
    return JSON.stringify(str);
  }
  // a struct: as 64-bit words
  return `u64[${[...new BigUint64Array(bytes.slice().buffer, 0, bytes.length >> 3)].join(",")}]`;
};

/** Host: /bin and /lib are symlinks into /usr (merged /usr), ~/.ssh a directory, ~/.gnupg absent. */
const look: Look = (p) => {
  if (p === "/bin" || p === "/lib" || p === "/sbin" || p === "/lib64") {
    return { kind: "symlink", target: `usr${p}`, toDir: true };
  }
  if (["/", "/usr", "/etc", "/home/alice/.ssh"].includes(p)) return { kind: "dir" };
  return null;
};

function plan() {
  const p = buildPlan(opts(), host, DEFAULT_TEMPLATE);
  assert.equal(setupProblem(p.root), null);
  return p;
}

function program(): SpawnOp[] {
  return layerProgram(plan().root, look, { init: 11, images: {} });
}

/**
 * Runs `ops` with `clones` as the results of successive clones (0: the child's branch); the calls
 * made, decoded (with " = FD" after each that opens a descriptor), and the outcome.
 */
function trace(ops: SpawnOp[], clones: bigint | bigint[], fail?: (call: string) => number | null) {
  const results = [clones].flat();
  let fd = 20;
  const calls: string[] = [];
  const outcome = runProgram(ops, (n, args) => {
    const call = `${NAMES[n] ?? n}(${args.map(text).join(", ")})`;
    const errno = fail?.(call);
    if (errno) {
      calls.push(call);
      return BigInt(-errno);
    }
    if (NAMES[n] === "clone") {
      calls.push(call);
      return results.shift() ?? 4321n;
    }
    const opens = ["openat", "openat2", "open_tree"].includes(NAMES[n]);
    calls.push(opens ? `${call} = ${fd}` : call);
    return opens ? BigInt(fd++) : 0n;
  });
  return { calls, outcome };
}

Deno.test("native layers: layer2's root, built in bubblewrap's order through descriptors", () => {
  const { calls, outcome } = trace(program(), 1234n);
  assert.ok(outcome.ok);
  const mounts = calls.filter((c) => /^(mount|move_mount|symlinkat|pivot_root)\(/.test(c));
  const root = "/run/user/1000/bbl/ls-4242/layer2";
  assert.equal(mounts[0], `mount("", "/", "", ${(1 << 19) | 16384}, 0)`, "first: the inherited tree made a slave");
  assert.match(mounts[1], new RegExp(`^mount\\("tmpfs", "${root}", "tmpfs", 6, "mode=0755,size=64m"\\)$`));
  // the host's root bound at /zrootfs from the descriptor opened on it (by path, once), nosuid and
  // nodev set on the detached copy, attached on the mount point reached beneath the new root
  const rootFd = calls.find((c) => c.startsWith(`openat(-100, "${root}", `))!.split(" = ")[1];
  const i = calls.findIndex((c) => c.startsWith(`openat(-100, "/", ${0o10000000 | 0o2000000}) = `));
  assert.ok(i > 0);
  const src = calls[i].split(" = ")[1];
  const how = `u64[${0o10000000 | 0o200000 | 0o2000000},0,12]`; // O_PATH|O_DIRECTORY|O_CLOEXEC, NO_SYMLINKS|BENEATH
  assert.deepEqual(calls.slice(i + 1, i + 6), [
    `mkdirat(${rootFd}, "zrootfs", 493)`,
    `openat2(${rootFd}, "zrootfs", ${how}, 24) = ${+src + 1}`,
    `open_tree(${src}, "", 561153) = ${+src + 2}`, // OPEN_TREE_CLONE | CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH
    `mount_setattr(${+src + 2}, "", 36864, u64[6,0,0,0], 32)`, // AT_EMPTY_PATH | AT_RECURSIVE; NOSUID | NODEV
    `move_mount(${+src + 2}, "", ${+src + 1}, "", 68)`, // F_EMPTY_PATH | T_EMPTY_PATH
  ]);
  // merged /usr: the symlinks are symlinks, /usr and /etc read-only binds
  assert.ok(mounts.includes(`symlinkat("usr/bin", ${rootFd}, "bin")`));
  assert.ok(calls.some((c) => /^openat\(-100, "\/usr", \d+\)/.test(c)) && !calls.some((c) => c.includes('"/bin"')));
  // ~/.ssh exists: masked with a mode-000 tmpfs on the descriptor of the path reached beneath the root;
  // ~/.gnupg does not: nothing is created for it
  assert.ok(
    calls.some((c) => /^mount\("tmpfs", "\/proc\/self\/fd\/\d+", "tmpfs", 6, "mode=0000,size=\d+k"\)$/.test(c)),
    calls.join("\n"),
  );
  assert.ok(!calls.some((c) => c.includes(".gnupg")));
  assert.ok(!calls.some((c) => /^mkdirat\(.*"\.ssh"/.test(c)), "a mask's path is never created");
  // inside the new root, every path is reached component by component with openat2, never by a path
  // with a slash in it (which would be resolved through whatever is there)
  const beneath = calls.filter((c) => c.startsWith("openat2("));
  assert.ok(beneath.length > 10 && beneath.every((c) => /, u64\[\d+,0,12\], 24\)/.test(c)), beneath.join("\n"));
  assert.ok(
    !calls.some((c) => /^(openat2|mkdirat|symlinkat\("[^"]*", \d+)\(?\d*,? ?"[^"]*\//.test(c)),
    calls.join("\n"),
  );
  // pivot, then the read-only remounts, then the clone
  const pivot = calls.indexOf('pivot_root(".", ".")');
  assert.equal(calls[pivot + 1], 'umount2(".", 2)');
  const ro = calls.filter((c, k) => k > pivot && c.startsWith('mount("", "/proc/self/fd/'));
  // remount-ro /, then /dev, the ~/.ssh mask and /sbxdir, in the order they were made
  assert.equal(ro.length, 4);
  assert.ok(ro.every((c) => c.endsWith(`, "", ${32 | 4096 | 1 | 2 | 4}, 0)`))); // REMOUNT|BIND|RDONLY|NOSUID|NODEV
  const clone = calls.findIndex((c) => c.startsWith("clone("));
  assert.ok(clone > pivot);
  // the parent names its child in decimal for the init, closes its descriptors, becomes the init
  assert.deepEqual(calls.slice(clone + 1).map((c) => c.replace(/\[bbl-init,"1234",\d+\]/, "[bbl-init,1234,MASK]")), [
    `close_range(3, 4294967295, 4)`,
    `execveat(11, "", [bbl-init,1234,MASK], [], 4096)`,
  ]);
});

Deno.test("native layers: the first clone's child is layer3, compiled too: its root, hostname, loopback, user-namespace lock", () => {
  const { calls, outcome } = trace(program(), [0n, 5678n]);
  assert.ok(outcome.ok);
  const clone = calls.findIndex((c) => c.startsWith("clone("));
  const layer3 = calls.slice(clone + 1);
  assert.match(calls[clone], /^clone\(\d+, 0, 0, 0, 0\)$/);
  // its own maps first (root inside, written by itself), then its session, network and name
  assert.match(layer3.slice(0, 6).join("\n"), /"\/proc\/self\/setgroups"[^]*"\/proc\/self\/uid_map"/);
  assert.ok(layer3.includes("unshare(128)"), "a time namespace for what it starts");
  const sethostname = layer3.findIndex((c) => c.startsWith("sethostname("));
  assert.ok(layer3.findIndex((c) => c.startsWith(`ioctl(`)) < sethostname);
  assert.match(layer3[sethostname], /^sethostname\("bbl", 3\)$/);
  // its new root on layer2's view of the instance; sources from the host view
  assert.ok(layer3.some((c) => c.startsWith('mount("tmpfs", "/zrootfs/run/user/1000/bbl/ls-4242/layer3", ')));
  assert.ok(layer3.some((c) => /^openat\(-100, "\/zrootfs\/usr", \d+\) = \d+$/.test(c)));
  // the lock on nested user namespaces, written into its own new proc
  const lock = layer3.findIndex((c) => c.includes('"sys/user/max_user_namespaces"'));
  assert.match(layer3[lock + 1], /^write\(\d+, "1\\n", 2\)$/);
  // /proc/keys covered by the empty file; /etc/hostname written into the new root (no /etc/hostname
  // in the bound /etc: the create succeeds), then protected read-only
  assert.ok(
    layer3.some((c) => c.startsWith('openat(-100, "/zrootfs/run/user/1000/bbl/ls-4242/layer3.scratch/mask", ')),
  );
  const hostname = layer3.findIndex((c) => /^openat\(\d+, "hostname", /.test(c));
  assert.match(layer3[hostname + 1], /^write\(\d+, "bbl\\n", 4\)$/);
  // the parent goes on to become the init of the app's pid namespace, waiting for the app
  assert.match(calls.at(-1)!, /^execveat\(11, "", \[bbl-init,"5678",\d+\], \[\], 4096\)$/);
});

Deno.test("native layers: a file a bound directory already has is covered by one of ours", () => {
  const { calls } = trace(program(), [0n, 5678n], (c) => /^openat\(\d+, "hosts", /.test(c) ? 17 : null);
  const at = calls.findIndex((c) => /^openat\(\d+, "hosts", /.test(c));
  assert.match(calls[at + 1], /^openat\(-100, ".*layer3\.scratch\/file-\d+", \d+, 420\) = \d+$/);
  assert.match(calls[at + 2], /^write\(\d+, "127\.0\.0\.1/);
});

Deno.test("native layers: the app's process: its maps, working directory, privileges dropped, filter, then PATH tried in order", () => {
  const p = plan();
  const app = p.root.sublayers[0].sublayers[0].app!;
  const notHere = (c: string) => c.startsWith("execve(") && !c.startsWith('execve("/usr/bin/ls"') ? 2 : null;
  const { calls, outcome } = trace(program(), [0n, 0n], notHere);
  assert.ok(outcome.ok);
  const clone = calls.map((c, i) => c.startsWith("clone(") ? i : -1).filter((i) => i >= 0)[1];
  const own = calls.slice(clone + 1);
  const first = (re: RegExp) => own.findIndex((c) => re.test(c));
  assert.ok(first(/uid_map/) < first(/^close_range\(3, /));
  assert.ok(first(/^setsid\(\)/) > 0);
  // the first of its directory, home and / that can be entered: tried last to first
  assert.deepEqual(own.filter((c) => c.startsWith("chdir(")), [
    'chdir("/")',
    `chdir("${app.home}")`,
    `chdir("${app.cwd}")`,
  ]);
  assert.ok(first(/^capset\(/) > first(/^chdir\(/));
  assert.ok(first(/^seccomp\(/) > first(/^capset\(/));
  assert.equal(
    own[first(/^seccomp\(/) + 1],
    "rt_sigprocmask(2, u64[0], 0, 8)",
    "the app starts with no signal blocked",
  );
  const tried = own.filter((c) => c.startsWith("execve(")).map((c) => c.match(/^execve\("([^"]+)"/)![1]);
  const dirs: string[] = app.env.PATH!.split(":");
  assert.deepEqual(tried, dirs.slice(0, dirs.indexOf("/usr/bin") + 1).map((d) => `${d}/ls`));
});

Deno.test("native layers: a failing step names the layer, what it did and the errno", () => {
  const ops = program();
  for (
    const [call, errno, what, clones] of [
      [/^move_mount/, 13, "layer2: mounting / at /zrootfs", 1234n],
      [/^openat2\(\d+, "\.ssh"/, 40, "layer2: reaching /zrootfs/home/alice/.ssh", 1234n],
      [/^pivot_root/, 22, "layer2: switching to the new root (pivot_root)", 1234n],
      [/^execveat/, 2, "layer2: starting the native init", 1234n],
      [/^sethostname/, 1, "layer3: setting the hostname to bbl", 0n],
      [
        /^mount\("tmpfs", "\/proc\/self\/fd\/\d+", "tmpfs", 6, "mode=1777,size=1g"\)/,
        28,
        "layer3: mounting a tmpfs at /tmp",
        0n,
      ],
      [/^seccomp/, 22, "installing the seccomp filter", [0n, 0n]],
    ] as const
  ) {
    const { outcome } = trace(ops, clones as bigint | bigint[], (c) => call.test(c) ? errno : null);
    assert.ok(!outcome.ok);
    assert.equal(`${ops[outcome.step].what}: ${errnoName(outcome.errno)}`, `${what}: ${errnoName(errno)}`);
  }
});

Deno.test("native layers: the shapes it does not compile are refused by the planner, naming the layer", () => {
  const root = plan().root;
  const two = { ...root, sublayers: [...root.sublayers, { ...root.sublayers[0], name: "twin" }] };
  assert.match(setupProblem(two)!, /exactly one/);
  const layer3 = root.sublayers[0];
  const image = {
    name: "A",
    image: "/zrootfs/a",
    argv0: "a",
    offset: 1,
    format: "squashfs" as const,
    fuseDevice: "/dev/fuse",
  };
  const many = { ...layer3, appimages: Array.from({ length: 9 }, (_, i) => ({ ...image, name: `A${i}` })) };
  assert.equal(setupProblem(many), "more than 8 AppImages");
  // the app and, beside it, a layer that is more than its helpers (it sets a hostname)
  const twins = parseTemplate(
    [
      "layer:",
      "  name: top",
      "  unshare: [user, pid, mnt]",
      "  ids: root",
      "  fs: [{ kind: tmpfs, dest: / }, { kind: proc, dest: /proc }]",
      "  sublayers:",
      "    - { name: app, app: true, unshare: [user], ids: user }",
      "    - { name: b, unshare: [user, uts], ids: user, hostname: x, helpers: [{ run: [sleep, '9'] }] }",
      "",
    ].join("\n"),
    "twins.yaml",
  );
  assert.throws(() => buildPlan(opts(), host, twins), /twins\.yaml: top: bbl cannot set this layer up: .*exactly one/);
});

Deno.test("native layers: an AppImage: layer3 mounts its FUSE filesystem, its daemon gets the connection and the image, and is waited for", () => {
  const appImage = {
    name: "Tool",
    path: "/home/alice/T.AppImage",
    argv0: "T",
    offset: 1000,
    format: "squashfs" as const,
  };
  const p = buildPlan(opts({ appimages: [appImage] }), host, DEFAULT_TEMPLATE);
  const ops = layerProgram(p.root, look, { init: 11, images: { Tool: 12 } });
  // layer3's branch; the helper's clone returns its pid (the parent goes on), the app's too
  const { calls } = trace(ops, [0n, 777n, 888n], (c) => c.startsWith("newfstatat(") && !c.includes("Tool") ? 2 : null);
  const fuse = calls.findIndex((c) => c.startsWith('openat(-100, "/dev/fuse", '));
  const fuseFd = calls[fuse].split(" = ")[1];
  const mount = calls.find((c) => c.includes('"fuse.squashfuse"'))!;
  assert.match(
    mount,
    new RegExp(
      `^mount\\("Tool", "/proc/self/fd/\\d+", "fuse.squashfuse", 7, "rootmode=40000,user_id=0,group_id=0,fd=${fuseFd}"\\)$`,
    ),
  );
  const helper = calls.findIndex((c, i) => i > fuse && c.startsWith("clone("));
  // the parent hands the connection over (closes its own), then waits for the mount to answer
  assert.equal(calls[helper + 1], `close(${fuseFd})`);
  assert.match(calls[helper + 2], /^newfstatat\(-100, "\/sbxdir\/apps\/Tool", u64\[[0,]*\], 256\)$/);
  const waitStep = ops.find((o) => o.readiness)!;
  assert.deepEqual(waitStep.onFail, { tries: 1500, whileAlive: { reg: 7 } }); // 30 s, every 20 ms, while it lives
  // the daemon's own branch: its descriptors at 3 and 4, then its user namespace's steps, the filter
  const d = trace(ops, [0n, 0n], () => null).calls;
  const dFuse = d.find((c) => c.startsWith('openat(-100, "/dev/fuse", '))!.split(" = ")[1];
  const at = d.findIndex((c) => c.startsWith("clone(")) + 1;
  const daemon = d.slice(d.findIndex((c, i) => i > at && c.startsWith("clone(")) + 1);
  assert.ok(daemon.includes(`dup3(${dFuse}, 3, 0)`), "the FUSE connection this layer mounted");
  assert.ok(daemon.includes("dup3(12, 4, 0)"), "the image the launcher opened and checked");
  assert.ok(daemon.findIndex((c) => c.startsWith("seccomp(")) > daemon.findIndex((c) => c.startsWith("capset(")));
  assert.match(
    daemon.at(-1)!,
    /^execve\("[^"]*squashfuse", \[squashfuse,-f,-o,offset=1000,\/proc\/self\/fd\/4,\/dev\/fd\/3\]/,
  );
});

Deno.test("native layers: a failure in any filesystem step names its layer and its destination (every kind, the fixture)", () => {
  const three = parseTemplate(
    Deno.readTextFileSync(new URL("../fixtures/three-level.yaml", import.meta.url)),
    "three-level.yaml",
  );
  const p = buildPlan(opts(), host, three);
  const middle = p.root.sublayers[0];
  const withHome: Look = (path) =>
    path === "/home/alice" ? { kind: "dir" } : path === "/etc/hostname" ? { kind: "file" } : look(path);
  const ops = layerProgram(p.root, withHome, { init: 11, images: {} });
  const kinds = new Set<string>();
  for (const op of middle.fs.slice(1)) {
    // an optional source this host does not have: no step at all
    if ("optional" in op && op.optional && withHome(op.src.replace(/^\/host/, "")) === null) continue;
    // the first step of the middle layer that works on this destination fails with EACCES
    const about = op.kind === "remount-ro" ? `making ${op.dest} read-only` : op.dest;
    const k = ops.findIndex((s) => s.what.startsWith("middle: ") && s.what.includes(about) && s.nr >= 0);
    assert.ok(k >= 0, `a step for ${op.kind} ${op.dest}`);
    const failing = ops.map((s, i) => i === k ? { ...s, nr: 999999 } : s);
    const { outcome } = trace(failing, [0n, 0n], (c) => c.startsWith("999999(") ? 13 : null);
    assert.ok(!outcome.ok && outcome.step === k, `${op.kind} ${op.dest}: the step that failed is reported`);
    const message = `${failing[outcome.step].what}: ${errnoName(outcome.errno)}`;
    assert.match(message, new RegExp(`^middle: .*${op.dest.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.*: EACCES$`));
    kinds.add(op.kind);
  }
  // every kind the fixture has was checked
  for (
    const k of [
      "tmpfs",
      "mask",
      "proc",
      "dev",
      "mqueue",
      "robind",
      "rotmpfs",
      "dir",
      "file",
      "rofile",
      "symlink",
      "tmp-overlay",
      "remount-ro",
    ]
  ) {
    assert.ok(kinds.has(k), `${k} checked`);
  }
});
