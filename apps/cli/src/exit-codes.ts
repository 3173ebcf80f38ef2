/** The postern command's exit codes (documented in docs/cli.md and `postern --help`). */
export const ExitCode = {
  ok: 0,
  /** The request was refused or the arguments are wrong; stderr says why and what to do. */
  refused: 1,
  /** No node is running on the data directory (start one with `npm start`). */
  notRunning: 2,
  /** `send --wait` or `contacts add <id>` gave up waiting. */
  timedOut: 3,
} as const;

/** An error the command shows as one sentence on stderr, exiting with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.refused) {
    super(message);
    this.exitCode = exitCode;
  }
}
