/**
 * The first layer's compiled program (src/layer/native_layer.ts), run on the interpreter's
 * TypeScript model over a recording kernel: what it mounts, where, in which order, how it reaches
 * destinations, where each branch of its clone ends, and what a failing step reports.
 */
import assert from "node:assert/strict";
import { buildPlan } from "../../src/plan/plan.ts";
import { host, runOptions as opts } from "./fixtures.ts";
import { DEFAULT_TEMPLATE } from "../../src/plan/default_template.ts";
import { type Look, nativeLayerProgram, nativeProblem } from "../../src/layer/native_layer.ts";
import { type KernelArg, runProgram, type SpawnOp } from "../../src/sys/program.ts";
import { NR } from "../../src/sys/consts.ts";
import { errnoName } from "../../src/sys/errno.ts";

const NAMES = Object.fromEntries(Object.entries(NR[Deno.build.arch as "x86_64"]).map(([k, v]) => [v, k]));

const text = (a: KernelArg): string => {
  if (typeof a === "bigint") return String(a);
  const bytes = a instanceof Uint8Array ? a : "at" in a ? a.at.subarray(a.offset) : null;
  if (bytes === null) return "strings" in a ? `[${a.strings.map((s) => typeof s === "string" ? s : text(s))}]` : "bpf";
  const end = bytes.indexOf(0);
  const str = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  const printable = [...str].every((ch) => ch.charCodeAt(0) >= 0x20);
  if (end >= 0 && printable && bytes.subarray(end).every((b) => b === 0)) return JSON.stringify(str);
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

const SUB = {
  flags: 0x7e020000,
  ops: [] as SpawnOp[],
  path: "/zrootfs/opt/deno",
  argv: ["deno", "run"],
  env: ["A=1"],
  blocked: [2],
};

function program() {
  const plan = buildPlan(opts(), host, DEFAULT_TEMPLATE);
  assert.equal(nativeProblem(plan.root), null);
  return nativeLayerProgram(plan, look, { subPlan: 10, init: 11 }, SUB);
}

/**
 * Runs `ops` with `clone` as the clone's result; the calls made, decoded (with " = FD" after each
 * that opens a descriptor), and the outcome.
 */
function trace(ops: SpawnOp[], clone: bigint, fail?: (call: string) => number | null) {
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
      return clone;
    }
    const opens = ["openat", "openat2", "open_tree"].includes(NAMES[n]);
    calls.push(opens ? `${call} = ${fd}` : call);
    return opens ? BigInt(fd++) : 0n;
  });
  return { calls, outcome };
}

Deno.test("native first layer: the default tree's root, built in bubblewrap's order through descriptors", () => {
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

Deno.test("native first layer: the clone's child runs the sublayer's steps and execs its runner", () => {
  const { calls } = trace(program(), 0n);
  const clone = calls.findIndex((c) => c.startsWith("clone("));
  assert.equal(calls[clone], `clone(${0x7e020000 | 17}, 0, 0, 0, 0)`);
  assert.match(calls[clone + 1], /^rt_sigprocmask\(2, /);
  assert.equal(calls[clone + 2], 'execve("/zrootfs/opt/deno", [deno,run], [A=1])');
  assert.equal(calls.length, clone + 3, "nothing of the parent's branch");
});

Deno.test("native first layer: a failing step names the layer, what it did and the errno", () => {
  const ops = program();
  for (
    const [call, errno, what] of [
      [/^move_mount/, 13, "layer2: mounting / at /zrootfs"],
      [/^openat2\(\d+, "\.ssh"/, 40, "layer2: reaching /zrootfs/home/alice/.ssh"],
      [/^pivot_root/, 22, "layer2: switching to the new root (pivot_root)"],
      [/^execveat/, 2, "layer2: starting the native init"],
    ] as const
  ) {
    const { outcome } = trace(ops, 1234n, (c) => call.test(c) ? errno : null);
    assert.ok(!outcome.ok);
    assert.equal(`${ops[outcome.step].what}: ${errnoName(outcome.errno)}`, `${what}: ${errnoName(errno)}`);
  }
});

Deno.test("native first layer: only the shapes it compiles; others keep their runner", () => {
  const plan = buildPlan(opts(), host, DEFAULT_TEMPLATE);
  const withFile = {
    ...plan.root,
    fs: [...plan.root.fs, { kind: "file" as const, dest: "/x", content: "", mode: 0o644 }],
  };
  assert.match(nativeProblem(withFile)!, /file/);
  const noPid = {
    ...plan.root,
    sublayers: plan.root.sublayers.map((s) => ({ ...s, unshare: s.unshare.filter((n) => n !== "pid") })),
  };
  assert.equal(nativeProblem(noPid), "sublayer");
});
