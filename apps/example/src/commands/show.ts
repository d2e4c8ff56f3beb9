import type { Run, Session, SessionQuery, SessionStats, SessionStore } from '@asm/core';
import { preview } from '@asm/render';
import { type OptionDefinitions, parseCommandArgs, sessionArgument } from '../args.js';
import { openStoreFromArgs, processContext } from '../context.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { formatDuration, formatTokens, painter, runDurationMs, table } from '../format.js';
import { queryableStore } from '../store.js';

const OPTIONS = { json: { type: 'boolean' } } as const satisfies OptionDefinitions;

/** Help text of `asm show`. */
export const SHOW_HELP = `Usage: asm show <session> [--json]

Shows a session: its status, agent and tags, every run (status, provider, model, tokens, cost,
duration, error), the totals, and the extent of its event log.

Options:
      --json          JSON: { session, runs, stats, totals }
      --store <spec>  file path (SQLite), postgres://… or redis://…`;

/** Everything `asm show` prints about a session. */
export interface SessionReport {
  session: Session;
  runs: Run[];
  stats: SessionStats;
  totals: { costUsd: number; unpricedRuns: number; durationMs: number };
}

/** Loads a session's report; `undefined` when the session does not exist. */
export async function loadSessionReport(
  store: SessionStore & Partial<SessionQuery>,
  sessionId: string,
): Promise<SessionReport | undefined> {
  const session = await store.getSession(sessionId);
  if (!session) return undefined;
  const runs = await store.listRuns(sessionId);
  const queryable = queryableStore(store);
  const stats: SessionStats = queryable
    ? await queryable.getSessionStats(sessionId)
    : await statsWithoutQuery(store, sessionId, runs);
  let costUsd = 0;
  let unpricedRuns = 0;
  let durationMs = 0;
  for (const run of runs) {
    if (run.costUsd !== undefined) costUsd += run.costUsd;
    else if (run.tokenUsage.totalTokens > 0) unpricedRuns++;
    durationMs += runDurationMs(run) ?? 0;
  }
  return { session, runs, stats, totals: { costUsd, unpricedRuns, durationMs } };
}

async function statsWithoutQuery(store: SessionStore, sessionId: string, runs: Run[]): Promise<SessionStats> {
  const events = await store.getEvents(sessionId);
  const { addTokenUsage, emptyTokenUsage } = await import('@asm/core');
  const runStatusCounts: SessionStats['runStatusCounts'] = {};
  for (const run of runs) runStatusCounts[run.status] = (runStatusCounts[run.status] ?? 0) + 1;
  return {
    sessionId,
    eventCount: events.length,
    runCount: runs.length,
    tokenTotals: runs.reduce((total, run) => addTokenUsage(total, run.tokenUsage), emptyTokenUsage()),
    providersUsed: [...new Set(runs.map((run) => run.provider).filter((name): name is string => !!name))],
    ...(events[0] ? { firstEventAt: events[0].timestamp } : {}),
    ...(events.length > 0 ? { lastEventAt: events[events.length - 1]!.timestamp } : {}),
    runStatusCounts,
  };
}

/** The report as text. */
export function formatSessionReport(report: SessionReport, color: boolean): string {
  const paint = painter(color);
  const { session, runs, stats, totals } = report;
  const lines: string[] = [];
  lines.push(`${paint('1', `session ${session.id}`)}`);
  lines.push(`  status    ${session.status}`);
  lines.push(`  agent     ${session.agentId}`);
  if (session.tags.length > 0) lines.push(`  tags      ${session.tags.join(', ')}`);
  lines.push(`  created   ${session.createdAt}`);
  lines.push(`  updated   ${session.updatedAt}`);
  const providerSessions = session.metadata.providerSessions as
    | Record<string, { providerSessionId?: string }>
    | undefined;
  if (providerSessions && Object.keys(providerSessions).length > 0) {
    lines.push(
      `  resumes   ${Object.entries(providerSessions)
        .map(([provider, record]) => `${provider} ${record.providerSessionId ?? ''}`.trim())
        .join(', ')}`,
    );
  }
  lines.push('');
  lines.push(paint('1', `runs (${runs.length})`));
  if (runs.length > 0) {
    const rows = runs.map((run) => [
      run.id,
      run.status,
      run.provider ?? '-',
      typeof run.providerMetadata.model === 'string' ? run.providerMetadata.model : '-',
      `${run.tokenUsage.inputTokens}/${run.tokenUsage.outputTokens}`,
      run.costUsd === undefined ? '-' : `$${run.costUsd.toFixed(6)}`,
      formatDuration(runDurationMs(run)),
      run.error ? preview(`${run.error.code}: ${run.error.message}`, 70) : '',
    ]);
    lines.push(
      table(['RUN', 'STATUS', 'PROVIDER', 'MODEL', 'TOKENS IN/OUT', 'COST', 'DURATION', 'ERROR'], rows)
        .split('\n')
        .map((line) => `  ${line}`)
        .join('\n'),
    );
  }
  lines.push('');
  lines.push(paint('1', 'totals'));
  lines.push(`  tokens    ${formatTokens(stats.tokenTotals)}`);
  lines.push(
    `  cost      $${totals.costUsd.toFixed(6)}${totals.unpricedRuns > 0 ? ` (+ ${totals.unpricedRuns} run(s) without a price)` : ''}`,
  );
  lines.push(`  time      ${formatDuration(totals.durationMs)} across runs`);
  lines.push(`  providers ${stats.providersUsed.length > 0 ? stats.providersUsed.join(', ') : '-'}`);
  lines.push(
    `  events    ${stats.eventCount}${stats.firstEventAt ? ` (${stats.firstEventAt} … ${stats.lastEventAt})` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** `asm show`. */
export async function showCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('show', args, OPTIONS, 1);
  const context = processContext(values);
  if (values.help) {
    context.out(`${SHOW_HELP}\n`);
    return EXIT.ok;
  }
  const sessionId = sessionArgument(positionals, 'show');
  const opened = await openStoreFromArgs(values, context);
  try {
    const report = await loadSessionReport(opened.store, sessionId);
    if (!report) throw new CliError(EXIT.notFound, `Session ${sessionId} not found in ${opened.description}`);
    context.out(
      values.json === true
        ? `${JSON.stringify(report, null, 2)}\n`
        : formatSessionReport(report, context.color),
    );
    return EXIT.ok;
  } finally {
    await opened.close().catch(() => undefined);
  }
}
