/** Network interface setup inside a new network namespace. */
import { check, libc } from "./libc.ts";
import { IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS } from "./consts.ts";

const AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0o2000000;

/** Brings the loopback interface up (a new network namespace starts with it down). */
export function loopbackUp(): void {
  const what = "bringing up the loopback interface";
  const fd = check(libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), what, "socket");
  try {
    const ifr = new Uint8Array(40); // struct ifreq: name[16], then a short of flags
    ifr.set(new TextEncoder().encode("lo"));
    check(libc.ioctl(fd, BigInt(SIOCGIFFLAGS), ifr), what, "ioctl(SIOCGIFFLAGS)");
    const dv = new DataView(ifr.buffer);
    dv.setUint16(16, dv.getUint16(16, true) | IFF_UP, true);
    check(libc.ioctl(fd, BigInt(SIOCSIFFLAGS), ifr), what, "ioctl(SIOCSIFFLAGS)");
  } finally {
    libc.close(fd);
  }
}
