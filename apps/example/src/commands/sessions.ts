import {
  isSessionStatus,
  SESSION_STATUSES,
  type Session,
  type SessionSearch,
  type SessionStatus,
} from '@asm/core';
import {
  integerOption,
  listOption,
  type OptionDefinitions,
  parseCommandArgs,
  stringOption,
  timeOption,
} from '../args.js';
import { openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode, usageError } from '../exit-codes.js';
import { table } from '../format.js';
import { queryableStore } from '../store.js';

const OPTIONS = {
  status: { type: 'string', multiple: true },
  agent: { type: 'string' },
  provider: { type: 'string' },
  tag: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean' },
} as const satisfies OptionDefinitions;

/** Help text of `asm sessions`. */
export const SESSIONS_HELP = `Usage: asm sessions [filters]

Lists sessions, most recently updated first, with their runs.

Filters:
      --status <s>       ${SESSION_STATUSES.join(', ')} (repeatable, or comma-separated)
      --agent <id>       agent id
      --provider <name>  sessions with a run by this provider (claude, codex, amp, shell)
      --tag <tag>        sessions carrying every given tag (repeatable)
      --since <time>     created at or after: ISO-8601, or an age like 30m, 12h, 7d
      --until <time>     created at or before
      --limit <n>        at most n sessions (default 20, at most 1000)
      --cursor <c>       the next page (printed under a full page)
      --json             JSON: { sessions, nextCursor, totalCount }
      --store <spec>     file path (SQLite), postgres://… or redis://…`;

/** `asm sessions`. */
export async function sessionsCommand(args: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('sessions', args, OPTIONS, 0);
  const context = processContext(values);
  if (values.help) {
    context.out(`${SESSIONS_HELP}\n`);
    return EXIT.ok;
  }
  const statuses = listOption(values, 'status');
  for (const status of statuses) {
    if (!isSessionStatus(status)) {
      throw usageError(
        `Unknown status "${status}": expected one of ${SESSION_STATUSES.join(', ')}`,
        'sessions',
      );
    }
  }
  const limit = integerOption(values, 'limit', 'sessions', 1) ?? 20;
  if (limit > 1000) throw usageError('--limit is at most 1000', 'sessions');
  const search: SessionSearch = { limit, orderBy: 'updatedAtDesc' };
  if (statuses.length > 0) search.status = statuses as SessionStatus[];
  const agent = stringOption(values, 'agent');
  if (agent) search.agentId = agent;
  const provider = stringOption(values, 'provider');
  if (provider) search.provider = provider;
  const tags = listOption(values, 'tag');
  if (tags.length > 0) search.tags = tags;
  const since = timeOption(values, 'since', 'sessions');
  if (since) search.createdAfter = since;
  const until = timeOption(values, 'until', 'sessions');
  if (until) search.createdBefore = until;
  const cursor = stringOption(values, 'cursor');
  if (cursor) search.cursor = cursor;

  const opened = await openStoreFromArgs(values, context);
  try {
    const store = queryableStore(opened.store);
    if (!store) throw new CliError(EXIT.config, `The store ${opened.description} cannot search sessions`);
    const page = await store.searchSessions(search);
    const rows = await Promise.all(
      page.items.map(async (session) => ({ session, runs: await store.listRuns(session.id) })),
    );
    if (values.json === true) {
      context.out(
        `${JSON.stringify(
          {
            sessions: rows.map(({ session, runs }) => ({
              ...session,
              runCount: runs.length,
              lastRun: lastRunOf(runs),
            })),
            nextCursor: page.nextCursor ?? null,
            totalCount: page.totalCount,
          },
          null,
          2,
        )}\n`,
      );
      return EXIT.ok;
    }
    if (rows.length === 0) {
      context.out(`No sessions match in ${opened.description}.\n`);
      return EXIT.ok;
    }
    context.out(
      `${table(
        ['SESSION', 'STATUS', 'AGENT', 'RUNS', 'LAST RUN', 'UPDATED', 'TAGS'],
        rows.map(({ session, runs }) => sessionRow(session, runs)),
      )}\n`,
    );
    context.out(
      `${rows.length} of ${page.totalCount} session${page.totalCount === 1 ? '' : 's'} in ${opened.description}\n`,
    );
    if (page.nextCursor) context.out(`next page: asm sessions --cursor ${page.nextCursor}\n`);
    return EXIT.ok;
  } finally {
    await opened.close().catch(() => undefined);
  }
}

function lastRunOf(
  runs: { id: string; status: string; provider?: string }[],
): Record<string, unknown> | null {
  const last = runs[runs.length - 1];
  return last ? { id: last.id, status: last.status, provider: last.provider ?? null } : null;
}

function sessionRow(session: Session, runs: { status: string; provider?: string }[]): string[] {
  const last = runs[runs.length - 1];
  return [
    session.id,
    session.status,
    session.agentId,
    String(runs.length),
    last ? `${last.status}${last.provider ? ` (${last.provider})` : ''}` : '-',
    session.updatedAt.replace('T', ' ').slice(0, 19),
    session.tags.join(','),
  ];
}
