import { EVENT_TYPES, type EventType, followSessionEvents, isEventType } from '@asm/core';
import { createRenderPipeline, createTtySink } from '@asm/render';
import {
  integerOption,
  listOption,
  type OptionDefinitions,
  parseCommandArgs,
  sessionArgument,
  stringOption,
} from '../args.js';
import { onInterrupt, openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../exit-codes.js';
import { createLiveRenderer, eventLine, RENDERER_NAMES, type RendererName } from '../format.js';

const OPTIONS = {
  after: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  json: { type: 'boolean' },
  run: { type: 'string' },
  type: { type: 'string', multiple: true },
  limit: { type: 'string' },
  render: { type: 'string' },
} as const satisfies OptionDefinitions;

/** Help text of `asm events`. */
export const EVENTS_HELP = `Usage: asm events <session> [--after N] [--follow] [--json]

Prints a session's event log in sequence order, one line per event:
  #seq time provider type summary

Options:
      --after <n>      start after sequence n (a cursor: the last sequence you have seen)
  -f, --follow         keep following new events live until Ctrl-C (other processes' runs included)
      --json           one stored event per line (JSONL), for scripts
      --run <id>       only the events of this run
      --type <t>       only these event types (repeatable, or comma-separated)
      --limit <n>      stop after n events
      --render <name>  draw them like a live run: studio, compact, verbose
      --store <spec>   file path (SQLite), postgres://… or redis://…`;

/** `asm events`. */
export async function eventsCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('events', args, OPTIONS, 1);
  const context = processContext(values);
  if (values.help) {
    context.out(`${EVENTS_HELP}\n`);
    return EXIT.ok;
  }
  const sessionId = sessionArgument(positionals, 'events');
  const after = integerOption(values, 'after', 'events') ?? 0;
  const limit = integerOption(values, 'limit', 'events', 1);
  const types = listOption(values, 'type');
  for (const type of types) {
    if (!isEventType(type))
      throw usageError(`Unknown event type "${type}": expected one of ${EVENT_TYPES.join(', ')}`, 'events');
  }
  const renderName = stringOption(values, 'render') as RendererName | undefined;
  if (renderName !== undefined && !RENDERER_NAMES.includes(renderName)) {
    throw usageError(`--render must be one of ${RENDERER_NAMES.join(', ')}`, 'events');
  }
  if (renderName !== undefined && values.json === true)
    throw usageError('--render and --json exclude each other', 'events');
  const runId = stringOption(values, 'run');
  const follow = values.follow === true;

  const opened = await openStoreFromArgs(values, context);
  const controller = new AbortController();
  const dispose = onInterrupt(() => controller.abort());
  try {
    if (!(await opened.store.getSession(sessionId))) {
      throw new CliError(EXIT.notFound, `Session ${sessionId} not found in ${opened.description}`);
    }
    const pipeline = renderName
      ? createRenderPipeline({
          renderer: createLiveRenderer(renderName, { color: context.color, tty: context.tty }),
          sinks: [createTtySink()],
        })
      : undefined;
    const stream = followSessionEvents(opened.store, sessionId, {
      after,
      follow,
      signal: controller.signal,
      ...(limit === undefined ? {} : { limit }),
      ...(runId ? { runId } : {}),
      ...(types.length > 0 ? { types: types as EventType[] } : {}),
    });
    for await (const event of stream) {
      if (values.json === true) context.out(`${JSON.stringify(event)}\n`);
      else if (pipeline) pipeline.push(event);
      else context.out(`${eventLine(event, context.color)}\n`);
    }
    await pipeline?.finish();
    return EXIT.ok;
  } finally {
    dispose();
    await opened.close().catch(() => undefined);
  }
}
