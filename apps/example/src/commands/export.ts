import { writeFile } from 'node:fs/promises';
import type { SessionExport } from '@asm/core';
import { type OptionDefinitions, parseCommandArgs, sessionArgument, stringOption } from '../args.js';
import { openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../exit-codes.js';
import { queryableStore } from '../store.js';

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
} as const satisfies OptionDefinitions;

/** Help text of `asm export`. */
export const EXPORT_HELP = `Usage: asm export <session> [--output file] [--format json|jsonl]

Writes everything stored about a session: the session, its runs and its events in order.

Options:
  -o, --output <file>   write to a file instead of stdout
      --format <f>      json (default): { session, runs, events }; jsonl: one record per line,
                        { kind: "session" | "run" | "event", value }
      --store <spec>    file path (SQLite), postgres://… or redis://…`;

/** `asm export`. */
export async function exportCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('export', args, OPTIONS, 1);
  const context = processContext(values);
  if (values.help) {
    context.out(`${EXPORT_HELP}\n`);
    return EXIT.ok;
  }
  const sessionId = sessionArgument(positionals, 'export');
  const format = stringOption(values, 'format') ?? 'json';
  if (format !== 'json' && format !== 'jsonl') throw usageError('--format must be json or jsonl', 'export');
  const output = stringOption(values, 'output');

  const opened = await openStoreFromArgs(values, context);
  try {
    const session = await opened.store.getSession(sessionId);
    if (!session)
      throw new CliError(EXIT.notFound, `Session ${sessionId} not found in ${opened.description}`);
    const queryable = queryableStore(opened.store);
    const dump: SessionExport = queryable
      ? await queryable.exportSession(sessionId)
      : {
          session,
          runs: await opened.store.listRuns(sessionId),
          events: await opened.store.getEvents(sessionId),
        };
    const text =
      format === 'json'
        ? `${JSON.stringify(dump, null, 2)}\n`
        : [
            { kind: 'session', value: dump.session },
            ...dump.runs.map((value) => ({ kind: 'run', value })),
            ...dump.events.map((value) => ({ kind: 'event', value })),
          ]
            .map((record) => `${JSON.stringify(record)}\n`)
            .join('');
    if (output) {
      await writeFile(output, text);
      context.err(
        `wrote ${dump.runs.length} runs and ${dump.events.length} events of ${sessionId} to ${output}\n`,
      );
    } else {
      context.out(text);
    }
    return EXIT.ok;
  } finally {
    await opened.close().catch(() => undefined);
  }
}
