/**
 * The native init's semantics, run for real outside any sandbox: natively on this machine's
 * architecture, and the other one under qemu-user where it is installed (else reported as ignored).
 * A shell starts the child the init is to wait for, then execs the init in its own place.
 */
import assert from "node:assert/strict";
import { initElf } from "../../src/sys/init_elf.ts";
import { SIG } from "../../src/sys/consts.ts";
import { archRunner, type StubArch } from "../../scripts/stub_asm.ts";

const bit = (name: string) => 1n << BigInt(SIG[name]);

for (const arch of ["x86_64", "aarch64"] as StubArch[]) {
  const prefix = archRunner(arch);
  Deno.test({
    name: `native init (${arch}): exit status, signals forwarded as asked, privileges dropped`,
    ignore: prefix === null,
    fn: async () => {
      const dir = Deno.makeTempDirSync({ prefix: "bbl-init-" });
      try {
        const init = `${dir}/bbl-init`;
        Deno.writeFileSync(init, initElf(arch), { mode: 0o755 });
        const exec = [...prefix!, init].map((a) => `'${a}'`).join(" ");
        /** `child` in the background, then the init waiting for it with the forwarded `mask`. */
        const start = (child: string, mask: bigint) =>
          new Deno.Command("sh", { args: ["-c", `${child} & exec ${exec} $! ${mask}`], stdout: "null" }).spawn();
        assert.equal((await start("(exit 7)", 0n).status).code, 7, "the child's exit code");
        assert.equal((await start("sh -c 'kill -9 $$'", 0n).status).code, 128 + 9, "killed by a signal: 128+N");
        // SIGUSR1 is not forwarded (the child would die of it); SIGTERM is
        const waiting = start("sleep 30", bit("SIGTERM") | bit("SIGINT"));
        await new Promise((r) => setTimeout(r, 300));
        const status = Deno.readTextFileSync(`/proc/${waiting.pid}/status`);
        for (const k of ["CapPrm", "CapEff", "CapBnd", "CapAmb"]) {
          assert.match(status, new RegExp(`^${k}:\\s*0+$`, "m"), k);
        }
        assert.match(status, /^NoNewPrivs:\s*1$/m);
        assert.match(status, /^Name:\s*bbl-init$/m);
        // every signal blocked but the two that cannot be (read from a signalfd); qemu keeps some for itself
        if (prefix!.length === 0) assert.match(status, /^SigBlk:\s*fffffffffffbfeff$/m, "every signal blocked");
        Deno.kill(waiting.pid, "SIGUSR1");
        await new Promise((r) => setTimeout(r, 200));
        Deno.kill(waiting.pid, "SIGTERM");
        assert.equal((await waiting.status).code, 128 + 15, "SIGTERM reached the child; SIGUSR1 did not");
        // nothing to wait for: bbl's own failure
        const alone = [...prefix!, init, "999999", "0"];
        assert.equal((await new Deno.Command(alone[0], { args: alone.slice(1) }).output()).code, 125);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}
