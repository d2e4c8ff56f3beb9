import { AsmError, type RunInput } from '@asm/core';

/** The structured run input of the shell provider: an executable and its arguments, run without a shell. */
export interface ShellCommandInput {
  /** The executable (looked up on `PATH` when it has no slash). */
  command: string;
  /** Its arguments, passed as they are (no shell quoting, no expansion). */
  args?: string[];
  /** Working directory; a relative path is resolved against the provider's `cwd`. */
  cwd?: string;
  /** Variables added to the environment for this command; `undefined` removes an inherited one. */
  env?: Record<string, string | undefined>;
  /** Overrides the provider's `timeoutMs` for this command. */
  timeoutMs?: number;
  /** `false` turns off the `message_streamed` deltas for this command (default: the provider's `streaming`). */
  streaming?: boolean;
}

/** A run input normalized into what the provider executes. */
export interface ShellInvocation {
  /** `shell`: a command line run with `<shell> -c`; `exec`: an executable run directly. */
  mode: 'shell' | 'exec';
  /** The command line (`shell`) or the executable (`exec`). */
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  streaming?: boolean;
}

function invalid(field: string, message: string): AsmError {
  return new AsmError('validation_error', message, { details: { field } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function commandLine(text: string, field: string): ShellInvocation {
  if (text.trim() === '') throw invalid(field, `${field} must be a non-empty command line`);
  return { mode: 'shell', command: text, args: [] };
}

/**
 * Normalizes a run input (PROV-shell-input):
 * - a string is a command line for `<shell> -c`;
 * - `{ command, args?, cwd?, env?, timeoutMs?, streaming? }` runs `command` directly with `args`;
 * - `{ messages }` joins the user messages' contents with newlines into a command line;
 * - `{ prompt }` is a command line.
 *
 * Anything else is `validation_error` naming the offending field.
 */
export function parseShellInput(input: RunInput): ShellInvocation {
  if (typeof input === 'string') return commandLine(input, 'input');
  const record: unknown = input;
  if (!isRecord(record)) throw invalid('input', 'Shell input must be a string or an object');
  if ('command' in record) return parseStructured(record);
  if (Array.isArray(record.messages)) {
    const lines: string[] = [];
    for (const message of record.messages as unknown[]) {
      if (!isRecord(message)) continue;
      const role = typeof message.role === 'string' ? message.role.toLowerCase() : 'user';
      if (role !== 'user' || typeof message.content !== 'string') continue;
      lines.push(message.content);
    }
    return commandLine(lines.join('\n'), 'input.messages');
  }
  if (typeof record.prompt === 'string') return commandLine(record.prompt, 'input.prompt');
  throw invalid(
    'input.command',
    'input.command is required (shell input is a string, { command, args }, { messages } or { prompt })',
  );
}

function parseStructured(input: Record<string, unknown>): ShellInvocation {
  const { command, args, cwd, env, timeoutMs, streaming } = input;
  if (typeof command !== 'string' || command.trim() === '') {
    throw invalid('input.command', 'input.command is required and must be a non-empty string');
  }
  const invocation: ShellInvocation = { mode: 'exec', command, args: [] };
  if (args !== undefined) {
    if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) {
      throw invalid('input.args', 'input.args must be an array of strings');
    }
    invocation.args = [...(args as string[])];
  }
  if (cwd !== undefined) {
    if (typeof cwd !== 'string' || cwd === '')
      throw invalid('input.cwd', 'input.cwd must be a non-empty string');
    invocation.cwd = cwd;
  }
  if (env !== undefined) invocation.env = parseEnv(env, 'input.env');
  if (timeoutMs !== undefined) invocation.timeoutMs = parseTimeout(timeoutMs, 'input.timeoutMs');
  if (streaming !== undefined) {
    if (typeof streaming !== 'boolean') throw invalid('input.streaming', 'input.streaming must be a boolean');
    invocation.streaming = streaming;
  }
  return invocation;
}

/** Checks an environment object: string values, or `undefined` to remove an inherited variable. */
export function parseEnv(value: unknown, field: string): Record<string, string | undefined> {
  if (!isRecord(value)) throw invalid(field, `${field} must be an object of strings`);
  const env: Record<string, string | undefined> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined && typeof item !== 'string') {
      throw invalid(`${field}.${key}`, `${field}.${key} must be a string (or undefined to remove it)`);
    }
    env[key] = item;
  }
  return env;
}

/** Checks a timeout: a positive number of milliseconds (`Infinity` means none). */
export function parseTimeout(value: unknown, field: string): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw invalid(field, `${field} must be a positive number of milliseconds`);
  }
  return value;
}

const SEPARATORS = new Set([';', '&', '|', '\n']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
/** Reserved words that prefix a command (`if cmd`, `then cmd`, `! cmd`): the next word is the command. */
const PREFIX_WORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', 'time']);
/** Reserved words whose segment runs no command of its own (`fi`, `for x in …`, `case … in`). */
const SKIP_WORDS = new Set(['fi', 'done', 'esac', '}', 'for', 'case', 'in']);

/**
 * The command names a command line starts, for allow and deny lists: the first word of each
 * segment between unquoted `;`, `&`, `|`, newlines, parentheses and backquotes (so `a && b | c`,
 * `(a)` and `$(a)` give `a`, `b`, `c`), skipping leading `NAME=value` assignments and reserved
 * words (`if`, `then`, `do`, `!`, …; segments of `for`, `case`, `fi`, `done` name none), cut at `<` or `>`,
 * reduced to its basename. Quotes and backslashes are honoured, so `echo "a;b"` is one segment.
 *
 * A heuristic guard, not a sandbox: a shell can still run anything through `eval`, a variable
 * holding a command name, or a script.
 */
export function commandNames(line: string): string[] {
  const segments: string[] = [];
  // Open substitutions and subshells: the text of the enclosing command resumes when they close.
  const open: { current: string; quote: '"' | undefined; closer: ')' | '`' }[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  const openNested = (closer: ')' | '`', outerQuote: '"' | undefined) => {
    open.push({ current, quote: outerQuote, closer });
    current = '';
    quote = undefined;
  };
  const closeNested = () => {
    segments.push(current);
    const outer = open.pop();
    current = outer?.current ?? '';
    quote = outer?.quote;
  };
  for (let index = 0; index < line.length; index++) {
    const char = line[index] as string;
    const next = line[index + 1];
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else current += char;
      continue;
    }
    if (char === '\\' && next !== undefined) {
      current += next;
      index++;
      continue;
    }
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '$' && next === '(') {
        openNested(')', '"');
        index++;
      } else if (char === '`') openNested('`', '"');
      else current += char;
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '$' && next === '(') {
      openNested(')', undefined);
      index++;
    } else if (char === '(') {
      openNested(')', undefined);
    } else if (char === '`') {
      if (open.at(-1)?.closer === '`') closeNested();
      else openNested('`', undefined);
    } else if (char === ')') {
      if (open.at(-1)?.closer === ')') closeNested();
      else {
        segments.push(current);
        current = '';
      }
    } else if (SEPARATORS.has(char)) {
      segments.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  segments.push(current);
  for (const outer of open) segments.push(outer.current);

  const names: string[] = [];
  for (const segment of segments) {
    const words = segment
      .trim()
      .split(/\s+/)
      .filter((word) => word !== '');
    const first = words.find((word) => !ASSIGNMENT.test(word) && !PREFIX_WORDS.has(word));
    if (first === undefined || SKIP_WORDS.has(first)) continue;
    const name = commandBasename(first.split(/[<>]/)[0] ?? '');
    if (name !== '' && !/^\d*$/.test(name) && name !== '$') names.push(name);
  }
  return names;
}

/** The basename of a command: `/usr/bin/rm` gives `rm`. */
export function commandBasename(command: string): string {
  const trimmed = command.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash === -1 ? trimmed : trimmed.slice(slash + 1);
}
