import {
  AsmError,
  type Run,
  type RunStatus,
  type SessionStore,
  supportsSessionQuery,
  type TokenUsage,
} from '@asm/core';

/** Tokens and cost of a group of runs (one provider, one model, or one provider and model). */
export interface UsageEntry {
  runs: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  totalTokens: number;
  /** Sum of the stored run costs (runs without a price add nothing; see `unpricedRuns`). */
  costUsd: number;
  /** Runs with tokens but no stored cost (no price known for their model). */
  unpricedRuns: number;
}

/** Usage of one provider and model pair. */
export interface ProviderModelUsage extends UsageEntry {
  provider: string;
  model: string;
}

/** Token and cost totals over runs, overall, per provider, per model and per provider and model. */
export interface UsageReport extends UsageEntry {
  byProvider: Record<string, UsageEntry>;
  byModel: Record<string, UsageEntry>;
  /** One row per provider and model, most expensive first (then most tokens). */
  byProviderModel: ProviderModelUsage[];
}

/** What the sessions list shows of each session with `include=summary`. */
export interface SessionSummary extends UsageEntry {
  /** Runs per status. */
  runStatusCounts: Partial<Record<RunStatus, number>>;
  /** Providers that executed its runs (the concrete ones, behind a router), in order of first use. */
  providers: string[];
  /** Models its runs reported, in order of first use. */
  models: string[];
  /** The newest run, if any. */
  lastRun: { id: string; status: RunStatus; createdAt: string; endedAt?: string } | null;
  /** Runs that are `pending` or `running` now. */
  activeRuns: number;
}

function emptyEntry(): UsageEntry {
  return {
    runs: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    unpricedRuns: 0,
  };
}

function addRun(entry: UsageEntry, run: Run): void {
  const usage: TokenUsage = run.tokenUsage;
  entry.runs++;
  entry.inputTokens += usage.inputTokens;
  entry.outputTokens += usage.outputTokens;
  entry.cacheReadTokens += usage.cacheReadTokens;
  entry.cacheWriteTokens += usage.cacheWriteTokens;
  entry.totalTokens += usage.totalTokens;
  if (run.costUsd === undefined) {
    if (usage.totalTokens > 0) entry.unpricedRuns++;
  } else {
    entry.costUsd += run.costUsd;
  }
}

/** The model a run reported, or `unknown`. */
export function modelOf(run: Run): string {
  return typeof run.providerMetadata.model === 'string' ? run.providerMetadata.model : 'unknown';
}

/** Accumulates runs into a `UsageReport`. */
export class UsageAccumulator {
  private readonly total = emptyEntry();
  private readonly byProvider: Record<string, UsageEntry> = {};
  private readonly byModel: Record<string, UsageEntry> = {};
  private readonly pairs = new Map<string, ProviderModelUsage>();

  /** Counts one run. */
  add(run: Run): void {
    const provider = run.provider ?? 'unknown';
    const model = modelOf(run);
    addRun(this.total, run);
    this.byProvider[provider] ??= emptyEntry();
    addRun(this.byProvider[provider], run);
    this.byModel[model] ??= emptyEntry();
    addRun(this.byModel[model], run);
    const key = JSON.stringify([provider, model]);
    let pair = this.pairs.get(key);
    if (!pair) {
      pair = { provider, model, ...emptyEntry() };
      this.pairs.set(key, pair);
    }
    addRun(pair, run);
  }

  /** The report so far. */
  report(): UsageReport {
    const byProviderModel = [...this.pairs.values()].sort(
      (left, right) => right.costUsd - left.costUsd || right.totalTokens - left.totalTokens,
    );
    return { ...this.total, byProvider: this.byProvider, byModel: this.byModel, byProviderModel };
  }
}

/** Token and cost totals of a list of runs. */
export function usageOfRuns(runs: Iterable<Run>): UsageReport {
  const accumulator = new UsageAccumulator();
  for (const run of runs) accumulator.add(run);
  return accumulator.report();
}

/** The summary of one session's runs (oldest first, as `listRuns` returns them). */
export function summarizeSession(runs: Run[], fallbackProvider?: string): SessionSummary {
  const usage = emptyEntry();
  const runStatusCounts: Partial<Record<RunStatus, number>> = {};
  const providers: string[] = [];
  const models: string[] = [];
  let activeRuns = 0;
  for (const run of runs) {
    addRun(usage, run);
    runStatusCounts[run.status] = (runStatusCounts[run.status] ?? 0) + 1;
    if (run.status === 'pending' || run.status === 'running') activeRuns++;
    if (run.provider !== undefined && !providers.includes(run.provider)) providers.push(run.provider);
    const model = modelOf(run);
    if (model !== 'unknown' && !models.includes(model)) models.push(model);
  }
  if (providers.length === 0 && fallbackProvider !== undefined) providers.push(fallbackProvider);
  const last = runs.at(-1);
  return {
    ...usage,
    runStatusCounts,
    providers,
    models,
    activeRuns,
    lastRun: last
      ? {
          id: last.id,
          status: last.status,
          createdAt: last.createdAt,
          ...(last.endedAt === undefined ? {} : { endedAt: last.endedAt }),
        }
      : null,
  };
}

/** Filters of `usageOfStore`: on the run's `createdAt` (inclusive ISO-8601 bounds) and the session's agent. */
export interface UsageFilter {
  since?: string;
  until?: string;
  agentId?: string;
}

/** Most runs `usageOfStore` reads; past it the report says `truncated`. */
export const MAX_USAGE_RUNS = 200_000;

/**
 * Usage and cost over every run of a store (optionally in a time window or for one agent), per
 * provider, per model and per provider and model. Pages through `searchRuns` when the store has the
 * `SessionQuery` capability, and through `listSessions` / `listRuns` otherwise.
 */
export async function usageOfStore(
  store: SessionStore,
  filter: UsageFilter = {},
): Promise<UsageReport & { truncated: boolean }> {
  const accumulator = new UsageAccumulator();
  let seen = 0;
  const sinceMs = filter.since === undefined ? undefined : Date.parse(filter.since);
  const untilMs = filter.until === undefined ? undefined : Date.parse(filter.until);
  const inWindow = (run: Run) => {
    const created = Date.parse(run.createdAt);
    return (sinceMs === undefined || created >= sinceMs) && (untilMs === undefined || created <= untilMs);
  };
  if (supportsSessionQuery(store) && filter.agentId === undefined) {
    let cursor: string | undefined;
    do {
      const page = await store.searchRuns({
        orderBy: 'createdAtAsc',
        limit: 1_000,
        ...(filter.since === undefined ? {} : { createdAfter: filter.since }),
        ...(filter.until === undefined ? {} : { createdBefore: filter.until }),
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const run of page.items) {
        if (seen >= MAX_USAGE_RUNS) return { ...accumulator.report(), truncated: true };
        seen++;
        accumulator.add(run);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { ...accumulator.report(), truncated: false };
  }
  const pageSize = 500;
  for (let offset = 0; ; offset += pageSize) {
    const sessions = await store.listSessions({
      limit: pageSize,
      offset,
      ...(filter.agentId === undefined ? {} : { agentId: filter.agentId }),
    });
    for (const session of sessions) {
      for (const run of await store.listRuns(session.id)) {
        if (!inWindow(run)) continue;
        if (seen >= MAX_USAGE_RUNS) return { ...accumulator.report(), truncated: true };
        seen++;
        accumulator.add(run);
      }
    }
    if (sessions.length < pageSize) break;
  }
  return { ...accumulator.report(), truncated: false };
}

/** Checks an optional ISO-8601 query bound. */
export function isoParam(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (Number.isNaN(Date.parse(value))) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 time`, { details: { field } });
  }
  return value;
}
