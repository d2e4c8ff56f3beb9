import { createHmac, timingSafeEqual } from 'node:crypto';
import { calculateCost, DEFAULT_PRICING_TABLE, type PricingTable } from './cost.js';
import { AsmError } from './errors.js';
import { isEventType, type StoredEvent } from './event.js';
import { isIsoTimestamp } from './ids.js';
import type {
  CostSummary,
  EventOrder,
  EventSearch,
  Page,
  RunOrder,
  RunSearch,
  SessionOrder,
  SessionSearch,
  SessionStats,
  SummaryFilter,
  UsageSummary,
} from './ports/session-query.js';
import { isRunStatus, type Run, type RunStatus } from './run.js';
import { isSessionStatus, type Session } from './session.js';
import { addTokenUsage, emptyTokenUsage } from './token-usage.js';

/** The resources a cursor can belong to. */
export type CursorResource = 'sessions' | 'runs' | 'events' | 'artifacts';

/** A position in an ordered result: the sort values of the last item, then its id. */
export type CursorKey = (string | number)[];

const DEFAULT_CURSOR_SECRET = 'asm-query-cursor-v1';

function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url').slice(0, 22);
}

/**
 * An opaque keyset cursor: base64url JSON of `{ r: resource, o: order, k: key }` plus an HMAC, so a
 * cursor cannot be edited or reused for another resource or order. Instances that share a store
 * must share `secret` (the default is the same everywhere: it detects tampering, it does not keep
 * secrets).
 */
export function encodeQueryCursor(
  resource: CursorResource,
  order: string,
  key: CursorKey,
  secret = DEFAULT_CURSOR_SECRET,
): string {
  const payload = Buffer.from(JSON.stringify({ r: resource, o: order, k: key })).toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

/** Reads a cursor back; anything else than what `encodeQueryCursor` made for this order is `validation_error`. */
export function decodeQueryCursor(
  cursor: string,
  resource: CursorResource,
  order: string,
  secret = DEFAULT_CURSOR_SECRET,
): CursorKey {
  const invalid = (reason: string) =>
    new AsmError('validation_error', `Invalid cursor: ${reason}`, { details: { field: 'cursor' } });
  if (typeof cursor !== 'string' || !cursor.includes('.')) throw invalid('malformed');
  const [payload = '', signature = ''] = cursor.split('.');
  const expected = Buffer.from(sign(payload, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    throw invalid('signature mismatch');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed');
  }
  const record = decoded as { r?: unknown; o?: unknown; k?: unknown };
  if (record.r !== resource) throw invalid(`it belongs to ${String(record.r)}, not ${resource}`);
  if (record.o !== order) throw invalid(`it was made for order ${String(record.o)}, not ${order}`);
  if (
    !Array.isArray(record.k) ||
    !record.k.every((part) => typeof part === 'string' || typeof part === 'number')
  ) {
    throw invalid('malformed');
  }
  return record.k as CursorKey;
}

/** Checks a page size: a positive integer up to `max` (1,000). */
export function checkQueryLimit(limit: number | undefined, fallback: number, max = 1_000): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AsmError('validation_error', 'limit must be a positive integer', {
      details: { field: 'limit' },
    });
  }
  if (limit > max)
    throw new AsmError('validation_error', `limit must be <= ${max}`, { details: { field: 'limit' } });
  return limit;
}

function toList<T>(value: T | T[] | undefined): T[] | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value : [value];
}

function checkTime(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (!isIsoTimestamp(value)) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 timestamp`, { details: { field } });
  }
  return Date.parse(value);
}

function within(value: string | undefined, after: number | undefined, before: number | undefined): boolean {
  if (after === undefined && before === undefined) return true;
  if (value === undefined) return false;
  const time = Date.parse(value);
  return (after === undefined || time >= after) && (before === undefined || time <= before);
}

function compareKeys(left: CursorKey, right: CursorKey, descending: boolean[]): number {
  for (let index = 0; index < left.length; index++) {
    const a = left[index]!;
    const b = right[index]!;
    if (a === b) continue;
    const ascending = a < b ? -1 : 1;
    return descending[index] ? -ascending : ascending;
  }
  return 0;
}

/** Sorts by `keyOf`, starts after the cursor's key, and cuts a page (shared by stores that query in memory). */
function pageOf<T>(
  items: T[],
  keyOf: (item: T) => CursorKey,
  descending: boolean[],
  resource: CursorResource,
  order: string,
  limit: number,
  cursor: string | undefined,
): Page<T> {
  const keyed = items.map((item) => ({ item, key: keyOf(item) }));
  keyed.sort((left, right) => compareKeys(left.key, right.key, descending));
  let start = 0;
  if (cursor !== undefined) {
    const after = decodeQueryCursor(cursor, resource, order);
    start = keyed.findIndex((entry) => compareKeys(entry.key, after, descending) > 0);
    if (start < 0) start = keyed.length;
  }
  const slice = keyed.slice(start, start + limit);
  const page: Page<T> = { items: slice.map((entry) => entry.item) };
  const last = slice.at(-1);
  if (last && start + limit < keyed.length) page.nextCursor = encodeQueryCursor(resource, order, last.key);
  return page;
}

function timeKey(value: string | undefined): number {
  return value === undefined ? 0 : Date.parse(value);
}

/** Answers `searchSessions` over arrays (for stores that keep everything at hand). */
export function searchSessionsIn(
  sessions: Session[],
  runsOf: (sessionId: string) => Run[],
  search: SessionSearch = {},
): Page<Session> & { totalCount: number } {
  const limit = checkQueryLimit(search.limit, 50);
  const statuses = toList(search.status);
  for (const status of statuses ?? []) {
    if (!isSessionStatus(status))
      throw new AsmError('validation_error', `Unknown session status: ${String(status)}`);
  }
  const order = checkQueryOrder(search.orderBy, SESSION_ORDERS, 'updatedAtDesc');
  const providers = toList(search.provider);
  const after = checkTime(search.createdAfter, 'createdAfter');
  const before = checkTime(search.createdBefore, 'createdBefore');
  const matching = sessions.filter(
    (session) =>
      session.deletedAt === undefined &&
      (search.agentId === undefined || session.agentId === search.agentId) &&
      (statuses === undefined || statuses.includes(session.status)) &&
      (search.tags === undefined || search.tags.every((tag) => session.tags.includes(tag))) &&
      within(session.createdAt, after, before) &&
      (providers === undefined ||
        runsOf(session.id).some((run) => run.provider !== undefined && providers.includes(run.provider))),
  );
  const keyOf = (session: Session): CursorKey =>
    order === 'updatedAtDesc'
      ? [timeKey(session.updatedAt), session.id]
      : [timeKey(session.createdAt), session.id];
  const descending = order === 'createdAtAsc' ? [false, false] : [true, true];
  return {
    ...pageOf(matching, keyOf, descending, 'sessions', order, limit, search.cursor),
    totalCount: matching.length,
  };
}

/** Answers `searchRuns` over arrays. */
export function searchRunsIn(runs: Run[], search: RunSearch = {}): Page<Run> {
  const limit = checkQueryLimit(search.limit, 50);
  const statuses = toList(search.status);
  for (const status of statuses ?? []) {
    if (!isRunStatus(status)) throw new AsmError('validation_error', `Unknown run status: ${String(status)}`);
  }
  const order = checkQueryOrder(search.orderBy, RUN_ORDERS, 'createdAtDesc');
  if (search.minTokens !== undefined && (!Number.isInteger(search.minTokens) || search.minTokens < 0)) {
    throw new AsmError('validation_error', 'minTokens must be a non-negative integer', {
      details: { field: 'minTokens' },
    });
  }
  const providers = toList(search.provider);
  const after = checkTime(search.createdAfter, 'createdAfter');
  const before = checkTime(search.createdBefore, 'createdBefore');
  const matching = runs.filter(
    (run) =>
      (search.sessionId === undefined || run.sessionId === search.sessionId) &&
      (statuses === undefined || statuses.includes(run.status)) &&
      (providers === undefined || (run.provider !== undefined && providers.includes(run.provider))) &&
      (search.minTokens === undefined || run.tokenUsage.totalTokens >= search.minTokens) &&
      within(run.createdAt, after, before),
  );
  const keyOf = (run: Run): CursorKey =>
    order === 'totalTokensDesc' ? [run.tokenUsage.totalTokens, run.id] : [timeKey(run.createdAt), run.id];
  const descending = order === 'createdAtAsc' ? [false, false] : [true, true];
  return pageOf(matching, keyOf, descending, 'runs', order, limit, search.cursor);
}

function filterEvents(events: StoredEvent[], search: EventSearch): StoredEvent[] {
  for (const type of search.types ?? []) {
    if (!isEventType(type)) throw new AsmError('invalid_event_type', `Unknown event type: ${String(type)}`);
  }
  const since = checkTime(search.since, 'since');
  const until = checkTime(search.until, 'until');
  const types = search.types ? new Set<string>(search.types) : undefined;
  return events.filter(
    (event) =>
      (search.sessionIds === undefined || search.sessionIds.includes(event.sessionId)) &&
      (search.runIds === undefined || (event.runId !== undefined && search.runIds.includes(event.runId))) &&
      (types === undefined || types.has(event.type)) &&
      (search.providers === undefined ||
        (event.provider !== undefined && search.providers.includes(event.provider))) &&
      (search.correlationId === undefined || event.correlationId === search.correlationId) &&
      within(event.timestamp, since, until),
  );
}

/** Answers `searchEvents` over arrays. */
export function searchEventsIn(events: StoredEvent[], search: EventSearch = {}): Page<StoredEvent> {
  const limit = checkQueryLimit(search.limit, 100);
  const order = checkQueryOrder(search.orderBy, EVENT_ORDERS, 'sequenceAsc');
  const matching = filterEvents(events, search);
  const keyOf = (event: StoredEvent): CursorKey =>
    order === 'sequenceAsc'
      ? [event.sessionId, event.sequence, event.id]
      : [timeKey(event.timestamp), event.sessionId, event.sequence, event.id];
  const descending = order === 'timestampDesc' ? [true, true, true, true] : [false, false, false, false];
  return pageOf(matching, keyOf, descending, 'events', order, limit, search.cursor);
}

/** Answers `countEvents` over arrays. */
export function countEventsIn(events: StoredEvent[], search: EventSearch = {}): number {
  return filterEvents(events, search).length;
}

/** Counts of one session from its runs and events. */
export function sessionStatsOf(session: Session, runs: Run[], events: StoredEvent[]): SessionStats {
  const runStatusCounts: Partial<Record<RunStatus, number>> = {};
  let tokenTotals = emptyTokenUsage();
  const providers = new Set<string>();
  for (const run of runs) {
    runStatusCounts[run.status] = (runStatusCounts[run.status] ?? 0) + 1;
    tokenTotals = addTokenUsage(tokenTotals, run.tokenUsage);
    if (run.provider !== undefined) providers.add(run.provider);
  }
  const stats: SessionStats = {
    sessionId: session.id,
    eventCount: events.length,
    runCount: runs.length,
    tokenTotals,
    providersUsed: [...providers].sort(),
    runStatusCounts,
  };
  if (events[0]) stats.firstEventAt = events[0].timestamp;
  if (events.at(-1)) stats.lastEventAt = events.at(-1)!.timestamp;
  return stats;
}

/** Runs matching a summary filter (`agentId` needs the sessions). */
export function runsForSummary(
  runs: Run[],
  sessionsById: Map<string, Session>,
  filter: SummaryFilter = {},
): Run[] {
  const since = checkTime(filter.since, 'since');
  const until = checkTime(filter.until, 'until');
  return runs.filter(
    (run) =>
      (filter.sessionId === undefined || run.sessionId === filter.sessionId) &&
      (filter.provider === undefined || run.provider === filter.provider) &&
      (filter.agentId === undefined || sessionsById.get(run.sessionId)?.agentId === filter.agentId) &&
      within(run.createdAt, since, until),
  );
}

/** Token totals of runs, overall and per provider (`unknown` when a run has none). */
export function usageSummaryOf(runs: Run[]): UsageSummary {
  const summary: UsageSummary = { runCount: 0, tokens: emptyTokenUsage(), byProvider: {} };
  for (const run of runs) {
    summary.runCount++;
    summary.tokens = addTokenUsage(summary.tokens, run.tokenUsage);
    const key = run.provider ?? 'unknown';
    const entry = summary.byProvider[key] ?? { runCount: 0, tokens: emptyTokenUsage() };
    entry.runCount++;
    entry.tokens = addTokenUsage(entry.tokens, run.tokenUsage);
    summary.byProvider[key] = entry;
  }
  return summary;
}

/** Spend of runs: stored cost first, else priced now from the table; runs without a price are counted. */
export function costSummaryOf(runs: Run[], pricingTable: PricingTable = DEFAULT_PRICING_TABLE): CostSummary {
  const summary: CostSummary = { totalCostUsd: 0, runCount: 0, byProvider: {}, byModel: {}, unpricedRuns: 0 };
  for (const run of runs) {
    summary.runCount++;
    const model = typeof run.providerMetadata.model === 'string' ? run.providerMetadata.model : undefined;
    const cost = run.costUsd ?? calculateCost(run.tokenUsage, run.provider, model, pricingTable);
    if (cost === undefined) {
      if (run.tokenUsage.totalTokens > 0) summary.unpricedRuns++;
      continue;
    }
    summary.totalCostUsd += cost;
    const provider = summary.byProvider[run.provider ?? 'unknown'] ?? { costUsd: 0, runCount: 0 };
    provider.costUsd += cost;
    provider.runCount++;
    summary.byProvider[run.provider ?? 'unknown'] = provider;
    const byModel = summary.byModel[model ?? 'unknown'] ?? {
      costUsd: 0,
      runCount: 0,
      inputTokens: 0,
      outputTokens: 0,
    };
    byModel.costUsd += cost;
    byModel.runCount++;
    byModel.inputTokens += run.tokenUsage.inputTokens;
    byModel.outputTokens += run.tokenUsage.outputTokens;
    summary.byModel[model ?? 'unknown'] = byModel;
  }
  return summary;
}

/** An `EventQuery` checked by `checkEventQuery`: bounds as numbers, deduplicated types. */
export interface CheckedEventQuery {
  /** Events with `sequence > after`. */
  after: number;
  /** Events with `sequence < before`; `Infinity` when unbounded. */
  before: number;
  /** `Infinity` when unbounded. */
  limit: number;
  runId: string | undefined;
  types: string[] | undefined;
  sinceMs: number | undefined;
  /** True when `runId`, `types` or `since` is set. */
  filtered: boolean;
}

/**
 * Checks the cursor query of `SessionStore.getEvents` the same way for every store: `after` and
 * `before` non-negative integers, `limit` a positive integer, `runId` a string, `types` an array of
 * strings, `since` ISO-8601; anything else is `validation_error` naming the field.
 */
export function checkEventQuery(query: {
  after?: unknown;
  before?: unknown;
  limit?: unknown;
  runId?: unknown;
  types?: unknown;
  since?: unknown;
}): CheckedEventQuery {
  if (typeof query !== 'object' || query === null) {
    throw new AsmError('validation_error', 'query must be an object', { details: { field: 'query' } });
  }
  const { after, before, runId, types, since, limit } = query;
  for (const [field, value] of [
    ['after', after],
    ['before', before],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) {
      throw new AsmError('validation_error', `${field} must be a non-negative integer`, {
        details: { field, value },
      });
    }
  }
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) > 0)) {
    throw new AsmError('validation_error', 'limit must be a positive integer', {
      details: { field: 'limit', value: limit },
    });
  }
  if (runId !== undefined && typeof runId !== 'string') {
    throw new AsmError('validation_error', 'runId must be a string', { details: { field: 'runId' } });
  }
  if (types !== undefined && !(Array.isArray(types) && types.every((type) => typeof type === 'string'))) {
    throw new AsmError('validation_error', 'types must be an array of event types', {
      details: { field: 'types' },
    });
  }
  if (since !== undefined && !isIsoTimestamp(since)) {
    throw new AsmError('validation_error', 'since must be an ISO-8601 timestamp', {
      details: { field: 'since', value: since },
    });
  }
  return {
    after: (after as number | undefined) ?? 0,
    before: (before as number | undefined) ?? Number.POSITIVE_INFINITY,
    limit: (limit as number | undefined) ?? Number.POSITIVE_INFINITY,
    runId: runId as string | undefined,
    types: types === undefined ? undefined : [...new Set(types as string[])],
    sinceMs: since === undefined ? undefined : Date.parse(since as string),
    filtered: runId !== undefined || types !== undefined || since !== undefined,
  };
}

/** The orders `searchSessions` accepts, the default first. */
export const SESSION_ORDERS: readonly SessionOrder[] = ['updatedAtDesc', 'createdAtAsc', 'createdAtDesc'];
/** The orders `searchRuns` accepts, the default first. */
export const RUN_ORDERS: readonly RunOrder[] = ['createdAtDesc', 'createdAtAsc', 'totalTokensDesc'];
/** The orders `searchEvents` accepts, the default first. */
export const EVENT_ORDERS: readonly EventOrder[] = ['sequenceAsc', 'timestampAsc', 'timestampDesc'];

/** `value`, or `fallback` when absent; an order not in `allowed` is `validation_error`. */
export function checkQueryOrder<T extends string>(
  value: T | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new AsmError('validation_error', `Unknown orderBy: ${String(value)}`, {
      details: { field: 'orderBy' },
    });
  }
  return value;
}

/** A copy of a list of strings; anything else is `validation_error` naming the field. */
export function checkStringList<T extends string>(value: readonly T[], field: string): T[] {
  const list: readonly unknown[] = value;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    throw new AsmError('validation_error', `${field} must be an array of strings`, { details: { field } });
  }
  return value.slice();
}

/** One string or a list of them, as a list (`undefined` when absent). */
export function toStringList<T extends string>(value: T | T[] | undefined, field: string): T[] | undefined {
  if (value === undefined) return undefined;
  return checkStringList(Array.isArray(value) ? value : [value], field);
}

/** Decodes a cursor and checks its key has the expected shape (`validation_error` otherwise). */
export function decodeQueryCursorKey(
  cursor: string,
  resource: CursorResource,
  order: string,
  kinds: ReadonlyArray<'string' | 'number'>,
): CursorKey {
  const key = decodeQueryCursor(cursor, resource, order);
  if (key.length !== kinds.length || key.some((part, index) => typeof part !== kinds[index])) {
    throw new AsmError('validation_error', 'Invalid cursor: malformed', { details: { field: 'cursor' } });
  }
  return key;
}
