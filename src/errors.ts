/** bbl's own failures and the exit codes they map to (documented in the README). */

export const EXIT = {
  /** bbl itself failed: bad usage, configuration, environment or sandbox setup. */
  BBL: 125,
  /** The command was found but could not be executed. */
  CANNOT_EXEC: 126,
  /** The command was not found inside the sandbox. */
  NOT_FOUND: 127,
} as const;

/** An error whose message is meant for the user as is; `exit` is the process exit code. */
export class BblError extends Error {
  constructor(message: string, readonly exit: number = EXIT.BBL) {
    super(message);
    this.name = "BblError";
  }
}

/** Bad command line or configuration; nothing was created. */
export class UsageError extends BblError {
  constructor(message: string) {
    super(message, EXIT.BBL);
    this.name = "UsageError";
  }
}
