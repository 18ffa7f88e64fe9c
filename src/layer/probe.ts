/**
 * A doctor probe: runs as root of a fresh user + mount namespace (see src/doctor.ts), tries one kind
 * of mount on a private tmpfs and exits 0 when it works, or prints why not and exits 1. The tmpfs
 * exists only in this namespace; the host keeps one empty directory, removed here.
 */
import { mount } from "../sys/mount.ts";
import { check, cstr, libc } from "../sys/libc.ts";
import { MNT_DETACH, MS, O } from "../sys/consts.ts";

const args = Deno.args[0] === "__probe" ? Deno.args.slice(1) : Deno.args;
const dir = Deno.makeTempDirSync({ prefix: "bbl-probe-" });
let code = 0;
try {
  mount("making mounts private", null, "/", null, MS.SLAVE | MS.REC);
  mount("mounting a tmpfs", "tmpfs", dir, "tmpfs", MS.NOSUID | MS.NODEV, "mode=0700");
  if (args[0] === "overlay") {
    for (const d of ["lower", "upper", "work", "merged"]) Deno.mkdirSync(`${dir}/${d}`);
    mount(
      "mounting an overlayfs",
      "overlay",
      `${dir}/merged`,
      "overlay",
      0,
      `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,userxattr`,
    );
  } else if (args[0] === "fuse") {
    const fd = check(libc.open(cstr("/dev/fuse"), O.RDWR | O.CLOEXEC, 0), "opening /dev/fuse", "open");
    Deno.mkdirSync(`${dir}/mnt`);
    mount(
      "mounting a FUSE filesystem",
      "bbl-probe",
      `${dir}/mnt`,
      "fuse",
      MS.NOSUID | MS.NODEV,
      `fd=${fd},rootmode=40000,user_id=0,group_id=0`,
    );
  } else {
    throw new Error(`unknown probe ${args[0]}`);
  }
} catch (e) {
  console.log((e as Error).message);
  code = 1;
} finally {
  libc.umount2(cstr(dir), MNT_DETACH);
  Deno.removeSync(dir, { recursive: true });
}
Deno.exit(code);
