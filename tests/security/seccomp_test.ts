/**
 * Escape attempts against the default sandbox, as an unprivileged user, with the default seccomp
 * filter and with it off (to show which layer of defence stops each one). The attack program is
 * compiled here with the system compiler and handed to the sandbox on stdin (it sees no host file).
 */
import assert from "node:assert/strict";
import { bbl, REPO, userTempDir, writeAsUser } from "../helpers.ts";

const bin = Deno.makeTempFileSync({ prefix: "bbl-attack-" });
const cc = new Deno.Command("cc", { args: ["-O1", "-o", bin, `${REPO}/tests/security/attack.c`], stderr: "piped" })
  .outputSync();
if (!cc.success) throw new Error(`compiling the attack program: ${new TextDecoder().decode(cc.stderr)}`);
const attack = Deno.readFileSync(bin);
Deno.removeSync(bin);

async function attackIn(flags: string[]): Promise<Record<string, number>> {
  const r = await bbl([...flags, "--", "/bin/sh", "-c", "cat > /tmp/a && chmod +x /tmp/a && /tmp/a"], {
    stdinBytes: attack,
  });
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(" ")).map(([k, v]) => [k, Number(v)]));
}

const EPERM = 1, ENOTTY = 25, ENOSPC = 28, ENOSYS = 38;

Deno.test("escape attempts with the default filter: each refused by seccomp", async () => {
  const r = await attackIn([]);
  for (
    const k of [
      "keyctl",
      "bpf",
      "userfaultfd",
      "perf_event_open",
      "io_uring_setup",
      "ptrace_init",
      "personality",
      "mount",
      "pivot_root",
      "chroot",
      "socket_packet",
      "socket_vsock",
      "tiocsti",
      "tiocsti_high",
      "unshare_user",
      "clone_newuser",
    ]
  ) {
    assert.equal(r[k], EPERM, `${k}: ${r[k]}`);
  }
  for (const k of ["open_tree", "fsopen", "i386_getpid", "x32_getpid"]) assert.equal(r[k], ENOSYS, `${k}: ${r[k]}`);
  assert.equal(r.socket_unix, 0, "ordinary sockets still work");
});

Deno.test("the same attempts with --seccomp off: which layer stops what", async () => {
  const r = await attackIn(["--seccomp", "off"]);
  // Stopped anyway, by having no capabilities in a user namespace that owns none of the mounts:
  for (const k of ["mount", "open_tree", "fsopen", "pivot_root", "chroot", "socket_packet"]) {
    assert.equal(r[k], EPERM, `${k}: ${r[k]}`);
  }
  assert.equal(r.ptrace_init, EPERM, "pid 1 is another user namespace's root");
  assert.equal(r.tiocsti, ENOTTY, "no terminal here (stdin is a pipe); issue #6's pty relay covers terminals");
  // Stopped by the nested user-namespace lock (the limit in the app's parent's user namespace):
  assert.equal(r.unshare_user, ENOSPC);
  assert.equal(r.clone_newuser, ENOSPC);
  // Stopped only by the filter: each of these works without it.
  for (const k of ["keyctl", "personality", "socket_vsock", "i386_getpid"]) {
    assert.equal(r[k], 0, `${k} succeeds without the filter: ${r[k]}`);
  }
});

Deno.test("--seccomp-allow userns lifts both the filter's rules and the lock", async () => {
  const r = await attackIn(["--seccomp-allow", "userns"]);
  assert.equal(r.unshare_user, 0);
  assert.equal(r.clone_newuser, 0);
  assert.equal(r.mount_in_new_userns, EPERM, "a new user namespace alone still owns no mount");
  assert.equal(r.keyctl, EPERM, "the rest of the filter stays");
});

Deno.test("with --nested-sandbox every attempt fails as by default, except the user namespaces it opens", async () => {
  const [base, nested] = [await attackIn([]), await attackIn(["--nested-sandbox"])];
  const opened = ["unshare_user", "clone_newuser"];
  for (const k of opened) assert.equal(nested[k], 0, `${k} is what the option opens`);
  assert.equal(nested.mount_in_new_userns, EPERM, "a new user namespace alone still owns no mount");
  // chroot is allowed by the filter for a sandbox's own use, and refused here by capabilities.
  assert.equal(nested.chroot, EPERM);
  for (const [k, v] of Object.entries(base).filter(([k]) => !opened.includes(k))) {
    assert.equal(nested[k], v, `${k}: ${nested[k]} (by default ${v})`);
  }
});

Deno.test("--seccomp FILE replaces the default policy with the file's", async () => {
  const dir = userTempDir("bbl-policy-");
  try {
    writeAsUser(`${dir}/p.yaml`, "rules:\n  - { syscall: personality, errno: EACCES }\n");
    const r = await attackIn(["--seccomp", `${dir}/p.yaml`]);
    assert.equal(r.personality, 13, "the file's rule, with its errno");
    assert.equal(r.keyctl, 0, "the default rules are not there");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
