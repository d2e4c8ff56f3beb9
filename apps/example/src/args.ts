import { type ParseArgsConfig, parseArgs } from 'node:util';
import { usageError } from './exit-codes.js';

/** Option definitions in `node:util` `parseArgs` form. */
export type OptionDefinitions = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  store: { type: 'string' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionDefinitions;

/** What `parseCommandArgs` returns. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments strictly: an unknown flag, a flag without its value or a stray
 * positional is a usage error (exit code 2) naming the command.
 */
export function parseCommandArgs(
  command: string,
  args: string[],
  options: OptionDefinitions,
  maxPositionals: number,
): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw usageError(message, command);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw usageError(`Unexpected argument: ${parsed.positionals[maxPositionals]}`, command);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

/** A string option's value, or undefined. */
export function stringOption(values: ParsedArgs['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable string option's values (`--tag a --tag b`, or `--tag a,b`). */
export function listOption(values: ParsedArgs['values'], name: string): string[] {
  const value = values[name];
  const raw = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return raw
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** A non-negative integer option (`--after 12`), or undefined; anything else is a usage error. */
export function integerOption(
  values: ParsedArgs['values'],
  name: string,
  command: string,
  minimum = 0,
): number | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < minimum) {
    throw usageError(`--${name} must be an integer ≥ ${minimum}, got "${value}"`, command);
  }
  return Number(value);
}

/**
 * A point in time for `--since`: an ISO-8601 date or time, or an age such as `30m`, `12h`, `7d`
 * (that long ago).
 */
export function timeOption(
  values: ParsedArgs['values'],
  name: string,
  command: string,
  now = Date.now(),
): string | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  const age = /^(\d+)(s|m|h|d)$/.exec(value);
  if (age) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(age[1]) * unit).toISOString();
  }
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw usageError(
      `--${name} must be an ISO-8601 time or an age like 30m, 12h, 7d; got "${value}"`,
      command,
    );
  }
  return new Date(parsed).toISOString();
}

/** The session id positional of `show`, `events` and `export`. */
export function sessionArgument(positionals: string[], command: string): string {
  const sessionId = positionals[0];
  if (sessionId === undefined || sessionId.trim() === '') {
    throw usageError(`asm ${command} needs a session id (see \`asm sessions\`)`, command);
  }
  return sessionId;
}
