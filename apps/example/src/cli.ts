/**
 * `asm`: drive and inspect Agent Session Manager sessions from a terminal.
 *
 *   asm demo                      an offline tour, no key needed
 *   asm run "<prompt>"            a run through the configured providers
 *   asm sessions | show | events | export | serve
 *
 * Exit codes: see `EXIT` in exit-codes.ts (0 ok, 1 run failed, 2 usage, 3 config/connection,
 * 4 not found, 130 interrupted).
 */
import { AsmError } from '@asm/core';
import { demoCommand } from './commands/demo.js';
import { eventsCommand } from './commands/events.js';
import { exportCommand } from './commands/export.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { sessionsCommand } from './commands/sessions.js';
import { showCommand } from './commands/show.js';
import { CliError, EXIT, type ExitCode, exitCodeFor, usageError } from './exit-codes.js';

/** The commands of `asm`, with the one-line summary `asm --help` shows. */
export const COMMANDS: Record<string, { summary: string; run: (args: string[]) => Promise<ExitCode> }> = {
  demo: {
    summary: 'offline tour: failover, policy, cancel, continuation, the log read back',
    run: demoCommand,
  },
  run: { summary: 'run a prompt through the configured providers, rendered live', run: runCommand },
  sessions: {
    summary: 'list sessions (filters: --status --agent --provider --tag --since)',
    run: sessionsCommand,
  },
  show: { summary: 'a session: runs, usage, cost', run: showCommand },
  events: { summary: "a session's event log (--after N, --follow, --json)", run: eventsCommand },
  export: { summary: 'a session, its runs and events as JSON or JSONL', run: exportCommand },
  serve: { summary: 'HTTP API, SSE and the /ui dashboard over the store', run: serveCommand },
};

/** `asm --help`. */
export const MAIN_HELP = `asm: drive and inspect agent sessions (Agent Session Manager)

Usage: asm <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`)
  .join('\n')}

Every command takes --store <spec>: a file path (SQLite), postgres://…[?schema=name] or
redis://…[?prefix=app:]. Default: $ASM_STORE, else $XDG_DATA_HOME/asm/asm.db
(~/.local/share/asm/asm.db). \`asm <command> --help\` for the options of a command.

Providers: claude (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL), codex (CODEX_API_KEY or OPENAI_API_KEY
or \`codex login\`, plus the codex binary), amp (AMP_API_KEY plus the amp CLI).

Exit codes: 0 ok · 1 run failed · 2 usage error · 3 configuration or connection error (no provider,
missing key, unreachable store, bad policy file) · 4 session not found · 130 interrupted (Ctrl-C)`;

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. */
export async function main(argv: string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic !== undefined && COMMANDS[topic]) return COMMANDS[topic].run(['--help']);
    process.stdout.write(`${MAIN_HELP}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) throw usageError(`Unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}`);
  return command.run(rest);
}

/** Prints an error the way the CLI reports it: one line, a hint, no stack trace (unless ASM_DEBUG). */
export function reportError(error: unknown): ExitCode {
  const code = exitCodeFor(error);
  if (error instanceof CliError) {
    process.stderr.write(`asm: ${error.message}\n`);
    if (error.hint) process.stderr.write(`${error.hint}\n`);
  } else if (AsmError.isInstance(error)) {
    process.stderr.write(`asm: ${error.message} (${error.code})\n`);
    if (error.code === 'provider_authentication_failed') {
      process.stderr.write(
        'Check the API key of the provider (ANTHROPIC_API_KEY, OPENAI_API_KEY, AMP_API_KEY).\n',
      );
    }
  } else {
    process.stderr.write(`asm: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  if (process.env.ASM_DEBUG && error instanceof Error && error.stack)
    process.stderr.write(`${error.stack}\n`);
  return code;
}

// stdout closed early (`asm events … | head`): stop writing, and stop the way Ctrl-C does (a run
// in progress is cancelled and stored as such, a follow ends); with nothing to stop, exit at once.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  if (process.listenerCount('SIGINT') > 0) process.emit('SIGINT', 'SIGINT');
  else process.exit(EXIT.ok);
});

let exitCode: ExitCode;
try {
  exitCode = await main(process.argv.slice(2));
} catch (error) {
  exitCode = reportError(error);
}
// Open handles (a pool, a timer in a dependency) must not keep a finished command alive.
process.exitCode = exitCode;
setImmediate(() => process.exit(exitCode)).unref();
