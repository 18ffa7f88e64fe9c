/**
 * Paths no layer below the semi-trusted one may ever see: keys, credentials, browser profiles and
 * bbl's own configuration. `~` is the invoking user's home.
 */
export const NEVER_ACCESS = [
  "~/.ssh",
  "~/.gnupg",
  "~/.pki",
  "~/.password-store",
  "~/.local/share/keyrings",
  "~/.aws",
  "~/.azure",
  "~/.config/gcloud",
  "~/.kube",
  "~/.docker",
  "~/.netrc",
  "~/.git-credentials",
  "~/.mozilla",
  "~/.config/google-chrome",
  "~/.config/chromium",
  "~/.config/BraveSoftware",
  "~/.config/bbl",
];
