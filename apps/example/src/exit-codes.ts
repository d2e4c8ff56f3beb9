import { AsmError } from '@asm/core';

/**
 * Exit codes of the `asm` CLI, for scripts:
 *
 * | code | meaning |
 * |---|---|
 * | 0 | success |
 * | 1 | the run (or the operation) failed: provider error, policy violation, timeout |
 * | 2 | usage error: unknown command or flag, missing or malformed argument |
 * | 3 | configuration or connection error: no provider configured, missing key, unreachable or unusable store, bad policy file |
 * | 4 | not found: the session does not exist in the store |
 * | 130 | interrupted (Ctrl-C): the run was cancelled |
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  config: 3,
  notFound: 4,
  interrupted: 130,
} as const;

/** One of the documented exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one message and an exit code (no stack trace). */
export class CliError extends Error {
  /** The process exit code. */
  readonly exitCode: ExitCode;
  /** A second line telling the user what to do, if any. */
  readonly hint: string | undefined;

  constructor(exitCode: ExitCode, message: string, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** A command-line mistake: exit code 2, with the help hint of the command. */
export function usageError(message: string, command?: string): CliError {
  return new CliError(EXIT.usage, message, `Run \`asm ${command ? `${command} ` : ''}--help\` for usage.`);
}

const CONFIG_CODES = new Set<string>([
  'storage_connection_failed',
  'storage_error',
  'migration_required',
  'provider_authentication_failed',
  'dependency_not_available',
]);

/** The exit code for an error that reached the top of a command. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (AsmError.isInstance(error)) {
    if (error.code === 'session_not_found' || error.code === 'run_not_found') return EXIT.notFound;
    if (CONFIG_CODES.has(error.code)) return EXIT.config;
    return EXIT.failed;
  }
  return EXIT.failed;
}
