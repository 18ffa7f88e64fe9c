import assert from "node:assert/strict";
import { privilegeProblems } from "../../src/sys/privileges.ts";
import { exitCodeOf } from "../../src/sys/process.ts";
import { diagnoseUserns, usernsBlocker } from "../../src/userns.ts";
import { SysError } from "../../src/sys/errno.ts";
import { NR } from "../../src/sys/consts.ts";
import { absent, exists } from "../../src/sys/files.ts";

const STATUS_OK = "Name:\tsh\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n" +
  "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";

Deno.test("privilege check: zero caps and no_new_privs pass, anything else is named", () => {
  assert.deepEqual(privilegeProblems(STATUS_OK), []);
  assert.deepEqual(privilegeProblems(STATUS_OK.replace("CapBnd:\t0000000000000000", "CapBnd:\t000001ffffffffff")), [
    "CapBnd is 000001ffffffffff",
  ]);
  assert.deepEqual(privilegeProblems(STATUS_OK.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0")), ["NoNewPrivs is 0"]);
  assert.equal(privilegeProblems("Name: x\n").length, 6);
});

Deno.test("exit codes from wait status", () => {
  assert.equal(exitCodeOf(7 << 8), 7);
  assert.equal(exitCodeOf(9), 137);
  assert.equal(exitCodeOf(15), 143);
  assert.equal(exitCodeOf(0), 0);
});

Deno.test("user namespace blockers name the setting and the fix", () => {
  const settings = (m: Record<string, string>) => (p: string) => m[p] ?? null;
  assert.equal(usernsBlocker(settings({})), null);
  assert.match(
    usernsBlocker(settings({ "/proc/sys/kernel/unprivileged_userns_clone": "0" }))!,
    /sysctl -w kernel.unprivileged_userns_clone=1/,
  );
  assert.match(usernsBlocker(settings({ "/proc/sys/user/max_user_namespaces": "0" }))!, /user.max_user_namespaces/);
  assert.match(
    usernsBlocker(settings({ "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1" }))!,
    /kernel.apparmor_restrict_unprivileged_userns=0/,
  );
  const e = diagnoseUserns(
    new SysError("starting x", 1, "clone"),
    settings({ "/proc/sys/user/max_user_namespaces": "0" }),
  );
  assert.match(e!.message, /^cannot create the sandbox: user namespaces are disabled/);
  assert.equal(diagnoseUserns(new SysError("x", 2, "clone"), settings({})), null);
});

Deno.test("SysError says what failed and the errno name", () => {
  assert.equal(new SysError("mounting ~/data at /data", 13, "mount").message, "mounting ~/data at /data: EACCES");
});

/** `#define __NR_name N` (and asm-generic's `__NR_name __NR3264_name`) of a kernel uapi header. */
function headerNumbers(file: string): Record<string, number> {
  const defs = new Map<string, string>();
  for (const m of Deno.readTextFileSync(file).matchAll(/^#define (__NR(?:3264)?_\w+)\s+(\S+)/gm)) {
    if (!defs.has(m[1])) defs.set(m[1], m[2]); // the first: asm-generic's 64-bit branch comes first
  }
  const value = (v: string): number => /^\d+$/.test(v) ? Number(v) : defs.has(v) ? value(defs.get(v)!) : NaN;
  return Object.fromEntries([...defs].filter(([k]) => k.startsWith("__NR_")).map(([k, v]) => [k.slice(5), value(v)]));
}

Deno.test("system call numbers: each architecture's table is the kernel's (its uapi headers)", () => {
  const x86 = ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"].find((f) => {
    try {
      return Deno.statSync(f).isFile;
    } catch {
      return false;
    }
  });
  assert.ok(x86, "no x86_64 unistd_64.h (linux-libc-dev)");
  const headers = { x86_64: headerNumbers(x86), aarch64: headerNumbers("/usr/include/asm-generic/unistd.h") };
  for (const arch of ["x86_64", "aarch64"] as const) {
    for (const [name, n] of Object.entries(NR[arch])) assert.equal(n, headers[arch][name], `${arch} ${name}`);
  }
});

Deno.test("exists and absent: what stat and lstat would find, asked without an exception", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/f`, "");
    Deno.symlinkSync(`${dir}/f`, `${dir}/to-f`);
    Deno.symlinkSync(`${dir}/gone`, `${dir}/dangling`);
    for (
      const [p, want] of [["f", true], ["to-f", true], ["", true], ["dangling", false], ["gone", false], ["f/x", false]]
    ) {
      assert.equal(exists(`${dir}/${p}`), want, p as string);
    }
    // absent: ENOENT only, as Deno's NotFound; a symlink itself is there for lstat
    assert.equal(absent(`${dir}/gone`, true), true);
    assert.equal(absent(`${dir}/dangling`, true), true);
    assert.equal(absent(`${dir}/dangling`, false), false);
    assert.equal(absent(`${dir}/f`, false), false);
    assert.equal(absent(`${dir}/f/x`, true), false); // ENOTDIR: not absence, an error to report
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
