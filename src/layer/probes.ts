/** The capabilities `bbl doctor` checks by mounting for real inside a user namespace. */
export const PROBES = [
  { name: "overlay", title: "overlayfs in a user namespace", required: false },
  { name: "fuse", title: "FUSE mounts in a user namespace", required: false },
] as const;
