/**
 * `SessionQuery` (cross-session reads for dashboards) in SQL: filters in WHERE clauses, keyset paging
 * on the sort columns with row-value comparisons, counts in the database. The summaries load only the
 * columns they add up and reuse core's aggregation, so every store prices runs the same way.
 */
import {
  AsmError,
  addTokenUsage,
  type CostSummary,
  type CursorKey,
  checkQueryLimit,
  checkQueryOrder,
  checkStringList,
  costSummaryOf,
  decodeQueryCursorKey,
  EVENT_ORDERS,
  type EventSearch,
  emptyTokenUsage,
  encodeQueryCursor,
  isEventType,
  isIsoTimestamp,
  isRunStatus,
  isSessionStatus,
  type Page,
  type PricingTable,
  RUN_ORDERS,
  type Run,
  type RunSearch,
  type RunStatus,
  SESSION_ORDERS,
  type Session,
  type SessionExport,
  type SessionQuery,
  type SessionSearch,
  type SessionStats,
  type StoredEvent,
  type SummaryFilter,
  type TokenUsage,
  toStringList,
  type UsageSummary,
  usageSummaryOf,
} from '@asm/core';
import { and, asc, count, desc, eq, gte, inArray, isNull, lte, type SQL, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { SQLiteColumn } from 'drizzle-orm/sqlite-core';
import { type EventRow, eventFromRow, parseJson, runFromRow, sessionFromRow, toUtcIso } from './rows.js';
import type { SqliteTables } from './schema.js';

/** What the query methods need from the store. */
export interface QueryContext {
  db: BetterSQLite3Database;
  tables: SqliteTables;
  names: { sessions: string; runs: string; events: string };
  /** Throws `storage_connection_failed` when the store is closed. */
  ensureOpen(): void;
  /** Runs a query, turning database failures into `query_error`. */
  guarded<T>(operation: string, body: () => T): T;
  /** Every event of a session in sequence order (the store's prepared statement). */
  readEvents(sessionId: string): StoredEvent[];
}

/** Builds the `SessionQuery` methods of a store. */
export function createSqliteQuery(context: QueryContext): SessionQuery {
  const { db, tables, names, ensureOpen, guarded } = context;
  const sessionsTable = tables.sessions;
  const runsTable = tables.runs;
  const eventsTable = tables.events;
  const totalTokens = sql<number>`coalesce(json_extract(${runsTable.tokenUsage}, '$.totalTokens'), 0)`;

  function sessionNotFound(sessionId: string): AsmError {
    return new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
  }

  function sessionRowExists(sessionId: string): boolean {
    return (
      guarded('sessionExists', () =>
        db.select({ id: sessionsTable.id }).from(sessionsTable).where(eq(sessionsTable.id, sessionId)).get(),
      ) !== undefined
    );
  }

  /** Run filters shared by the usage and cost summaries (on the run's `createdAt`, inclusive). */
  function summaryRuns(filter: SummaryFilter = {}): Run[] {
    const conditions: SQL[] = [];
    if (filter.sessionId !== undefined) conditions.push(eq(runsTable.sessionId, filter.sessionId));
    if (filter.provider !== undefined) conditions.push(eq(runsTable.provider, filter.provider));
    if (filter.agentId !== undefined) {
      conditions.push(
        sql`exists (select 1 from ${sessionsTable} where ${sessionsTable.id} = ${runsTable.sessionId} and ${sessionsTable.agentId} = ${filter.agentId})`,
      );
    }
    const since = bound(filter.since, 'since');
    const until = bound(filter.until, 'until');
    if (since !== undefined) conditions.push(gte(runsTable.createdAt, since));
    if (until !== undefined) conditions.push(lte(runsTable.createdAt, until));
    const rows = guarded('summary', () =>
      db
        .select({
          id: runsTable.id,
          provider: runsTable.provider,
          tokenUsage: runsTable.tokenUsage,
          costUsd: runsTable.costUsd,
          model: sql<unknown>`json_extract(${runsTable.providerMetadata}, '$.model')`,
        })
        .from(runsTable)
        .where(and(...conditions))
        .orderBy(asc(runsTable.createdAt), asc(runsTable.id))
        .all(),
    );
    // Only the fields the aggregations read.
    return rows.map((row) => {
      const run = {
        id: row.id,
        tokenUsage: parseJson(row.tokenUsage, names.runs, 'token_usage', row.id) as TokenUsage,
        providerMetadata: typeof row.model === 'string' ? { model: row.model } : {},
      } as Run;
      if (row.provider !== null) run.provider = row.provider;
      if (row.costUsd !== null) run.costUsd = row.costUsd;
      return run;
    });
  }

  /**
   * The WHERE terms of an event search. `timeOrdered`: the search pages in time order; without a
   * session the type filter then stays off the indexes (unary `+`), so SQLite walks
   * `asm_events_time_idx` and stops at the limit instead of reading every event of the types through
   * `asm_events_session_type_idx` and sorting them (see the README, "Indexes and query plans").
   */
  function eventConditions(
    search: Omit<EventSearch, 'cursor' | 'limit' | 'orderBy'>,
    timeOrdered = false,
  ): SQL[] {
    for (const type of search.types ?? []) {
      if (!isEventType(type)) {
        throw new AsmError('invalid_event_type', `Unknown event type: ${String(type)}`, {
          details: { type },
        });
      }
    }
    const conditions: SQL[] = [];
    if (search.sessionIds !== undefined)
      conditions.push(inArray(eventsTable.sessionId, checkStringList(search.sessionIds, 'sessionIds')));
    if (search.runIds !== undefined)
      conditions.push(inArray(eventsTable.runId, checkStringList(search.runIds, 'runIds')));
    if (search.types !== undefined) {
      conditions.push(
        timeOrdered && search.sessionIds === undefined
          ? inArray(sql`+${eventsTable.type}`, search.types)
          : inArray(eventsTable.type, search.types),
      );
    }
    if (search.providers !== undefined)
      conditions.push(inArray(eventsTable.provider, checkStringList(search.providers, 'providers')));
    if (search.correlationId !== undefined)
      conditions.push(eq(eventsTable.correlationId, search.correlationId));
    const since = bound(search.since, 'since');
    const until = bound(search.until, 'until');
    if (since !== undefined) conditions.push(gte(eventsTable.timestamp, since));
    if (until !== undefined) conditions.push(lte(eventsTable.timestamp, until));
    return conditions;
  }

  return {
    async searchSessions(search: SessionSearch = {}): Promise<Page<Session> & { totalCount: number }> {
      ensureOpen();
      const limit = checkQueryLimit(search.limit, 50);
      const order = checkQueryOrder(search.orderBy, SESSION_ORDERS, 'updatedAtDesc');
      const statuses = toStringList(search.status, 'status');
      for (const status of statuses ?? []) {
        if (!isSessionStatus(status)) {
          throw new AsmError('validation_error', `Unknown session status: ${String(status)}`, {
            details: { field: 'status' },
          });
        }
      }
      const conditions: SQL[] = [isNull(sessionsTable.deletedAt)];
      if (search.agentId !== undefined) conditions.push(eq(sessionsTable.agentId, search.agentId));
      if (statuses !== undefined) conditions.push(inArray(sessionsTable.status, statuses));
      for (const tag of new Set(checkStringList(search.tags ?? [], 'tags'))) {
        conditions.push(sql`exists (select 1 from json_each(${sessionsTable.tags}) where value = ${tag})`);
      }
      const createdAfter = bound(search.createdAfter, 'createdAfter');
      const createdBefore = bound(search.createdBefore, 'createdBefore');
      if (createdAfter !== undefined) conditions.push(gte(sessionsTable.createdAt, createdAfter));
      if (createdBefore !== undefined) conditions.push(lte(sessionsTable.createdAt, createdBefore));
      const providers = toStringList(search.provider, 'provider');
      if (providers !== undefined) {
        conditions.push(
          sql`exists (select 1 from ${runsTable} where ${runsTable.sessionId} = ${sessionsTable.id} and ${inArray(runsTable.provider, providers)})`,
        );
      }
      const sortColumn = order === 'updatedAtDesc' ? sessionsTable.updatedAt : sessionsTable.createdAt;
      const descending = order !== 'createdAtAsc';
      const page: SQL[] = [...conditions];
      if (search.cursor !== undefined) {
        const key = decodeQueryCursorKey(search.cursor, 'sessions', order, ['string', 'string']);
        page.push(keysetAfter([sortColumn, sessionsTable.id], key, descending));
      }
      const direction = descending ? desc : asc;
      const { rows, total } = guarded('searchSessions', () => ({
        rows: db
          .select()
          .from(sessionsTable)
          .where(and(...page))
          .orderBy(direction(sortColumn), direction(sessionsTable.id))
          .limit(limit + 1)
          .all(),
        total:
          db
            .select({ total: count() })
            .from(sessionsTable)
            .where(and(...conditions))
            .get()?.total ?? 0,
      }));
      const items = rows.slice(0, limit).map((row) => sessionFromRow(row, names.sessions));
      const result: Page<Session> & { totalCount: number } = { items, totalCount: total };
      const last = items.at(-1);
      if (rows.length > limit && last !== undefined) {
        const time = order === 'updatedAtDesc' ? last.updatedAt : last.createdAt;
        result.nextCursor = encodeQueryCursor('sessions', order, [time, last.id]);
      }
      return result;
    },

    async searchRuns(search: RunSearch = {}): Promise<Page<Run>> {
      ensureOpen();
      const limit = checkQueryLimit(search.limit, 50);
      const order = checkQueryOrder(search.orderBy, RUN_ORDERS, 'createdAtDesc');
      const statuses = toStringList(search.status, 'status');
      for (const status of statuses ?? []) {
        if (!isRunStatus(status)) {
          throw new AsmError('validation_error', `Unknown run status: ${String(status)}`, {
            details: { field: 'status' },
          });
        }
      }
      if (search.minTokens !== undefined && (!Number.isInteger(search.minTokens) || search.minTokens < 0)) {
        throw new AsmError('validation_error', 'minTokens must be a non-negative integer', {
          details: { field: 'minTokens' },
        });
      }
      const conditions: SQL[] = [];
      if (search.sessionId !== undefined) conditions.push(eq(runsTable.sessionId, search.sessionId));
      if (statuses !== undefined) conditions.push(inArray(runsTable.status, statuses as RunStatus[]));
      const providers = toStringList(search.provider, 'provider');
      if (providers !== undefined) conditions.push(inArray(runsTable.provider, providers));
      if (search.minTokens !== undefined) conditions.push(sql`${totalTokens} >= ${search.minTokens}`);
      const createdAfter = bound(search.createdAfter, 'createdAfter');
      const createdBefore = bound(search.createdBefore, 'createdBefore');
      if (createdAfter !== undefined) conditions.push(gte(runsTable.createdAt, createdAfter));
      if (createdBefore !== undefined) conditions.push(lte(runsTable.createdAt, createdBefore));
      const byTokens = order === 'totalTokensDesc';
      const sortValue: SQL | SQLiteColumn = byTokens ? totalTokens : runsTable.createdAt;
      const descending = order !== 'createdAtAsc';
      if (search.cursor !== undefined) {
        const key = decodeQueryCursorKey(search.cursor, 'runs', order, [
          byTokens ? 'number' : 'string',
          'string',
        ]);
        conditions.push(keysetAfter([sortValue, runsTable.id], key, descending));
      }
      const direction = descending ? desc : asc;
      const rows = guarded('searchRuns', () =>
        db
          .select({ run: runsTable, sortValue: sql<string | number>`${sortValue}` })
          .from(runsTable)
          .where(and(...conditions))
          .orderBy(direction(sortValue), direction(runsTable.id))
          .limit(limit + 1)
          .all(),
      );
      const page = rows.slice(0, limit);
      const result: Page<Run> = { items: page.map((row) => runFromRow(row.run, names.runs)) };
      const last = page.at(-1);
      if (rows.length > limit && last !== undefined) {
        result.nextCursor = encodeQueryCursor('runs', order, [last.sortValue, last.run.id]);
      }
      return result;
    },

    async searchEvents(search: EventSearch = {}): Promise<Page<StoredEvent>> {
      ensureOpen();
      const limit = checkQueryLimit(search.limit, 100);
      const order = checkQueryOrder(search.orderBy, EVENT_ORDERS, 'sequenceAsc');
      const bySequence = order === 'sequenceAsc';
      const conditions = eventConditions(search, !bySequence);
      const descending = order === 'timestampDesc';
      const keyColumns = bySequence
        ? [eventsTable.sessionId, eventsTable.sequence]
        : [eventsTable.timestamp, eventsTable.sessionId, eventsTable.sequence];
      if (search.cursor !== undefined) {
        const kinds = bySequence
          ? (['string', 'number'] as const)
          : (['string', 'string', 'number'] as const);
        conditions.push(
          keysetAfter(keyColumns, decodeQueryCursorKey(search.cursor, 'events', order, kinds), descending),
        );
      }
      const direction = descending ? desc : asc;
      const rows = guarded('searchEvents', () =>
        db
          .select()
          .from(eventsTable)
          .where(and(...conditions))
          .orderBy(...keyColumns.map((column) => direction(column)))
          .limit(limit + 1)
          .all(),
      );
      const page = rows.slice(0, limit);
      const result: Page<StoredEvent> = {
        items: page.map((row) =>
          eventFromRow(
            [
              row.id,
              row.type,
              row.timestamp,
              row.sessionId,
              row.runId,
              row.data,
              row.metadata,
              row.schemaVersion,
              row.provider,
              row.correlationId,
              row.sequence,
            ] satisfies EventRow,
            names.events,
          ),
        ),
      };
      const last = page.at(-1);
      if (rows.length > limit && last !== undefined) {
        const key: CursorKey = bySequence
          ? [last.sessionId, last.sequence]
          : [last.timestamp, last.sessionId, last.sequence];
        result.nextCursor = encodeQueryCursor('events', order, key);
      }
      return result;
    },

    async countEvents(search: Omit<EventSearch, 'cursor' | 'limit' | 'orderBy'> = {}): Promise<number> {
      ensureOpen();
      const conditions = eventConditions(search);
      return guarded(
        'countEvents',
        () =>
          db
            .select({ total: count() })
            .from(eventsTable)
            .where(and(...conditions))
            .get()?.total ?? 0,
      );
    },

    async getSessionStats(sessionId: string): Promise<SessionStats> {
      ensureOpen();
      if (!sessionRowExists(sessionId)) throw sessionNotFound(sessionId);
      const { eventCount, first, last, runs } = guarded('getSessionStats', () => ({
        eventCount:
          db.select({ total: count() }).from(eventsTable).where(eq(eventsTable.sessionId, sessionId)).get()
            ?.total ?? 0,
        first: db
          .select({ timestamp: eventsTable.timestamp })
          .from(eventsTable)
          .where(eq(eventsTable.sessionId, sessionId))
          .orderBy(asc(eventsTable.sequence))
          .limit(1)
          .get(),
        last: db
          .select({ timestamp: eventsTable.timestamp })
          .from(eventsTable)
          .where(eq(eventsTable.sessionId, sessionId))
          .orderBy(desc(eventsTable.sequence))
          .limit(1)
          .get(),
        runs: db
          .select({
            id: runsTable.id,
            status: runsTable.status,
            provider: runsTable.provider,
            tokenUsage: runsTable.tokenUsage,
          })
          .from(runsTable)
          .where(eq(runsTable.sessionId, sessionId))
          .all(),
      }));
      let tokenTotals = emptyTokenUsage();
      const providers = new Set<string>();
      const runStatusCounts: Partial<Record<RunStatus, number>> = {};
      for (const run of runs) {
        const status = run.status as RunStatus;
        runStatusCounts[status] = (runStatusCounts[status] ?? 0) + 1;
        tokenTotals = addTokenUsage(
          tokenTotals,
          parseJson(run.tokenUsage, names.runs, 'token_usage', run.id) as TokenUsage,
        );
        if (run.provider !== null) providers.add(run.provider);
      }
      const stats: SessionStats = {
        sessionId,
        eventCount,
        runCount: runs.length,
        tokenTotals,
        providersUsed: [...providers].sort(),
        runStatusCounts,
      };
      if (first !== undefined) stats.firstEventAt = first.timestamp;
      if (last !== undefined) stats.lastEventAt = last.timestamp;
      return stats;
    },

    async getUsageSummary(filter?: SummaryFilter): Promise<UsageSummary> {
      ensureOpen();
      return usageSummaryOf(summaryRuns(filter));
    },

    async getCostSummary(filter?: SummaryFilter & { pricingTable?: PricingTable }): Promise<CostSummary> {
      ensureOpen();
      return costSummaryOf(summaryRuns(filter), filter?.pricingTable);
    },

    async exportSession(sessionId: string): Promise<SessionExport> {
      ensureOpen();
      const { sessionRow, runRows, events } = guarded('exportSession', () => ({
        sessionRow: db.select().from(sessionsTable).where(eq(sessionsTable.id, sessionId)).get(),
        runRows: db
          .select()
          .from(runsTable)
          .where(eq(runsTable.sessionId, sessionId))
          .orderBy(asc(runsTable.createdAt), asc(runsTable.id))
          .all(),
        events: context.readEvents(sessionId),
      }));
      if (sessionRow === undefined) throw sessionNotFound(sessionId);
      return {
        session: sessionFromRow(sessionRow, names.sessions),
        runs: runRows.map((row) => runFromRow(row, names.runs)),
        events,
      };
    },
  };
}

/**
 * The rows strictly after `key` in the order of `columns` (all ascending or all descending), as one
 * row-value comparison that SQLite can serve from an index.
 */
function keysetAfter(columns: Array<SQL | SQLiteColumn>, key: CursorKey, descending: boolean): SQL {
  const left = sql.join(
    columns.map((column) => sql`${column}`),
    sql`, `,
  );
  const right = sql.join(
    key.map((value) => sql`${value}`),
    sql`, `,
  );
  return descending ? sql`(${left}) < (${right})` : sql`(${left}) > (${right})`;
}

/** An inclusive time bound in the persisted UTC form. */
function bound(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isIsoTimestamp(value)) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 timestamp`, { details: { field } });
  }
  return toUtcIso(value, field);
}
