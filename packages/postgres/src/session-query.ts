/**
 * `SessionQuery` (cross-session reads for dashboards) in SQL on PostgreSQL: filters in WHERE clauses,
 * keyset paging on the sort key with row-value comparisons, counts in the database. The summaries
 * load only the columns they add up and reuse core's aggregation, so every store prices runs alike.
 *
 * Order keys are those of core's in-memory query (`searchSessionsIn` & co.), so paging agrees
 * across stores: times are cut to the millisecond (what `Date.parse` gives) and ids compare by code
 * point (`COLLATE "C"`). Cursor keys have the same shape: `[ms, id]` for sessions and runs,
 * `[totalTokens, id]` for `totalTokensDesc`, `[sessionId, sequence, id]` for `sequenceAsc` and
 * `[ms, sessionId, sequence, id]` for the time orders of events.
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
import { and, arrayContains, asc, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import type { QualifiedNames } from './identifiers.js';
import { EVENT_COLUMNS, type EventRow, eventFromRow, runFromRecord, sessionFromRecord } from './rows.js';
import { EVENT_MILLIS, type PostgresTables } from './schema.js';
import { type Instant, toInstant } from './timestamps.js';

/** What the query methods need from the store. */
export interface QueryContext {
  pool: pg.Pool;
  db: NodePgDatabase;
  tables: PostgresTables;
  names: QualifiedNames;
  /**
   * Runs a read: open check, lazy open, and error translation (`query_error` for database failures,
   * `storage_connection_failed` when the server is unreachable).
   */
  run<T>(operation: string, body: () => Promise<T>): Promise<T>;
  /** Every event of a session in sequence order (the store's hot-path read). */
  readEvents(sessionId: string): Promise<StoredEvent[]>;
}

/** A time column cut to the millisecond (UTC `timestamp`): the time key of every order. */
function millis(column: PgColumn): SQL {
  return sql`date_trunc('milliseconds', (${column} AT TIME ZONE 'UTC'))`;
}

/** The milliseconds since the epoch of a time column, cut like `millis` (the cursor's number). */
function epochMillis(column: PgColumn): SQL<number> {
  return sql<number>`(floor(extract(epoch from ${column}) * 1000))::float8`;
}

/** An id in code point order, as JavaScript compares the in-memory keys. */
function byCodePoint(column: PgColumn): SQL {
  return sql`${column} collate "C"`;
}

/** Builds the `SessionQuery` methods of a store. */
export function createPostgresQuery(context: QueryContext): SessionQuery {
  const { pool, db, tables, names, run } = context;
  const sessionsTable = tables.sessions;
  const runsTable = tables.runs;
  const totalTokens = sql<number>`coalesce((${runsTable.tokenUsage}->>'totalTokens')::float8, 0)`;

  function sessionNotFound(sessionId: string): AsmError {
    return new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
  }

  /** Run filters shared by the usage and cost summaries (on the run's `createdAt`, inclusive). */
  function summaryConditions(filter: SummaryFilter): SQL[] {
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
    if (since !== undefined) conditions.push(sql`${runsTable.createdAt} >= ${since.utc}::timestamptz`);
    if (until !== undefined) conditions.push(sql`${runsTable.createdAt} <= ${until.utc}::timestamptz`);
    return conditions;
  }

  async function summaryRuns(filter: SummaryFilter = {}): Promise<Run[]> {
    const conditions = summaryConditions(filter);
    const rows = await run('summary', () =>
      db
        .select({
          id: runsTable.id,
          provider: runsTable.provider,
          tokenUsage: runsTable.tokenUsage,
          costUsd: runsTable.costUsd,
          model: sql<unknown>`${runsTable.providerMetadata}->'model'`,
        })
        .from(runsTable)
        .where(and(...conditions))
        .orderBy(asc(runsTable.createdAt), byCodePoint(runsTable.id)),
    );
    // Only the fields the aggregations read.
    return rows.map((row) => {
      const partial = {
        id: row.id,
        tokenUsage: row.tokenUsage as TokenUsage,
        providerMetadata: typeof row.model === 'string' ? { model: row.model } : {},
      } as Run;
      if (row.provider !== null) partial.provider = row.provider;
      if (row.costUsd !== null) partial.costUsd = row.costUsd;
      return partial;
    });
  }

  /**
   * The WHERE clause of an event search (raw SQL on the hot-path columns), with its parameters.
   * `byCodePoint`: several sessions are matched by code point (`COLLATE "C"`, the same equality),
   * an index condition on asm_events_session_order_idx, which then returns them in sequenceAsc order.
   */
  function eventConditions(
    search: Omit<EventSearch, 'cursor' | 'limit' | 'orderBy'>,
    values: unknown[],
    byCodePoint = false,
  ): string[] {
    for (const type of search.types ?? []) {
      if (!isEventType(type)) {
        throw new AsmError('invalid_event_type', `Unknown event type: ${String(type)}`, {
          details: { type },
        });
      }
    }
    const param = (value: unknown, cast: string): string => {
      values.push(value);
      return `$${values.length}::${cast}`;
    };
    const conditions: string[] = [];
    if (search.sessionIds !== undefined) {
      const ids = checkStringList(search.sessionIds, 'sessionIds');
      // One session: an equality the (session_id, …) indexes serve.
      conditions.push(
        ids.length === 1
          ? `session_id = ${param(ids[0], 'text')}`
          : `session_id${byCodePoint ? ' COLLATE "C"' : ''} = ANY(${param(ids, 'text[]')})`,
      );
    }
    if (search.runIds !== undefined)
      conditions.push(`run_id = ANY(${param(checkStringList(search.runIds, 'runIds'), 'text[]')})`);
    if (search.types !== undefined) conditions.push(`type = ANY(${param([...search.types], 'text[]')})`);
    if (search.providers !== undefined)
      conditions.push(`provider = ANY(${param(checkStringList(search.providers, 'providers'), 'text[]')})`);
    if (search.correlationId !== undefined) {
      if (typeof search.correlationId !== 'string') {
        throw new AsmError('validation_error', 'correlationId must be a string', {
          details: { field: 'correlationId' },
        });
      }
      conditions.push(`correlation_id = ${param(search.correlationId, 'text')}`);
    }
    // Exact and inclusive on the stored instant (µs + ns); the millisecond bound next to it is
    // implied by the exact one and lets the time index narrow the scan.
    const since = bound(search.since, 'since');
    const until = bound(search.until, 'until');
    if (since !== undefined) {
      const utc = param(since.utc, 'timestamptz');
      conditions.push(
        `(occurred_at, occurred_at_ns) >= (${utc}, ${param(since.nanos, 'int2')})`,
        `${EVENT_MILLIS} >= date_trunc('milliseconds', (${utc} AT TIME ZONE 'UTC'))`,
      );
    }
    if (until !== undefined) {
      const utc = param(until.utc, 'timestamptz');
      conditions.push(
        `(occurred_at, occurred_at_ns) <= (${utc}, ${param(until.nanos, 'int2')})`,
        `${EVENT_MILLIS} <= date_trunc('milliseconds', (${utc} AT TIME ZONE 'UTC'))`,
      );
    }
    return conditions;
  }

  return {
    async searchSessions(search: SessionSearch = {}): Promise<Page<Session> & { totalCount: number }> {
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
      const tags = [...new Set(checkStringList(search.tags ?? [], 'tags'))];
      if (tags.length > 0) conditions.push(arrayContains(sessionsTable.tags, tags));
      const createdAfter = bound(search.createdAfter, 'createdAfter');
      const createdBefore = bound(search.createdBefore, 'createdBefore');
      if (createdAfter !== undefined)
        conditions.push(sql`${sessionsTable.createdAt} >= ${createdAfter.utc}::timestamptz`);
      if (createdBefore !== undefined)
        conditions.push(sql`${sessionsTable.createdAt} <= ${createdBefore.utc}::timestamptz`);
      const providers = toStringList(search.provider, 'provider');
      if (providers !== undefined) {
        conditions.push(
          sql`exists (select 1 from ${runsTable} where ${runsTable.sessionId} = ${sessionsTable.id} and ${inArray(runsTable.provider, providers)})`,
        );
      }
      const timeColumn = order === 'updatedAtDesc' ? sessionsTable.updatedAt : sessionsTable.createdAt;
      const descending = order !== 'createdAtAsc';
      const page: SQL[] = [...conditions];
      if (search.cursor !== undefined) {
        const [ms, id] = decodeQueryCursorKey(search.cursor, 'sessions', order, ['number', 'string']);
        page.push(
          keysetAfter(
            [millis(timeColumn), byCodePoint(sessionsTable.id)],
            [msTimestamp(ms as number), sql`${id}`],
            descending,
          ),
        );
      }
      const direction = descending ? sql`desc` : sql`asc`;
      const [rows, total] = await run('searchSessions', () =>
        Promise.all([
          db
            .select({ session: sessionsTable, key: epochMillis(timeColumn) })
            .from(sessionsTable)
            .where(and(...page))
            .orderBy(
              sql`${millis(timeColumn)} ${direction}`,
              sql`${byCodePoint(sessionsTable.id)} ${direction}`,
            )
            .limit(limit + 1),
          db
            .select({ total: sql<number>`count(*)::int4` })
            .from(sessionsTable)
            .where(and(...conditions)),
        ]),
      );
      const items = rows.slice(0, limit);
      const result: Page<Session> & { totalCount: number } = {
        items: items.map((row) => sessionFromRecord(row.session)),
        totalCount: total[0]?.total ?? 0,
      };
      const last = items.at(-1);
      if (rows.length > limit && last !== undefined) {
        result.nextCursor = encodeQueryCursor('sessions', order, [last.key, last.session.id]);
      }
      return result;
    },

    async searchRuns(search: RunSearch = {}): Promise<Page<Run>> {
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
      if (createdAfter !== undefined)
        conditions.push(sql`${runsTable.createdAt} >= ${createdAfter.utc}::timestamptz`);
      if (createdBefore !== undefined)
        conditions.push(sql`${runsTable.createdAt} <= ${createdBefore.utc}::timestamptz`);
      const byTokens = order === 'totalTokensDesc';
      const sortValue = byTokens ? totalTokens : millis(runsTable.createdAt);
      const keyValue = byTokens ? totalTokens : epochMillis(runsTable.createdAt);
      const descending = order !== 'createdAtAsc';
      if (search.cursor !== undefined) {
        const [value, id] = decodeQueryCursorKey(search.cursor, 'runs', order, ['number', 'string']);
        const cursorValue = byTokens ? sql`${value as number}::float8` : msTimestamp(value as number);
        conditions.push(
          keysetAfter([sortValue, byCodePoint(runsTable.id)], [cursorValue, sql`${id}`], descending),
        );
      }
      const direction = descending ? sql`desc` : sql`asc`;
      const rows = await run('searchRuns', () =>
        db
          .select({ run: runsTable, key: keyValue })
          .from(runsTable)
          .where(and(...conditions))
          .orderBy(sql`${sortValue} ${direction}`, sql`${byCodePoint(runsTable.id)} ${direction}`)
          .limit(limit + 1),
      );
      const page = rows.slice(0, limit);
      const result: Page<Run> = { items: page.map((row) => runFromRecord(row.run)) };
      const last = page.at(-1);
      if (rows.length > limit && last !== undefined) {
        result.nextCursor = encodeQueryCursor('runs', order, [last.key, last.run.id]);
      }
      return result;
    },

    async searchEvents(search: EventSearch = {}): Promise<Page<StoredEvent>> {
      const limit = checkQueryLimit(search.limit, 100);
      const order = checkQueryOrder(search.orderBy, EVENT_ORDERS, 'sequenceAsc');
      const values: unknown[] = [];
      const bySequence = order === 'sequenceAsc';
      const conditions = eventConditions(search, values, bySequence && search.types === undefined);
      const param = (value: unknown, cast: string): string => {
        values.push(value);
        return `$${values.length}::${cast}`;
      };
      const descending = order === 'timestampDesc';
      // One session: session_id is constant, so it leaves the order (the index serves the rest).
      const single = search.sessionIds?.length === 1 ? search.sessionIds[0] : undefined;
      const keyColumns = [
        ...(bySequence ? [] : [EVENT_MILLIS]),
        ...(single === undefined ? ['session_id COLLATE "C"'] : []),
        'sequence',
      ];
      // Several sessions in time order: their events are read through the session indexes and sorted,
      // never found by walking asm_events_time_idx with a filter (the planner cannot know how far
      // back the sessions lie). `+ interval '0'` is the same order, in an expression no index holds.
      const orderColumns =
        search.sessionIds !== undefined && single === undefined && !bySequence
          ? [`(${EVENT_MILLIS} + interval '0')`, ...keyColumns.slice(1)]
          : keyColumns;
      if (search.cursor !== undefined) {
        const key = bySequence
          ? decodeQueryCursorKey(search.cursor, 'events', order, ['string', 'number', 'string'])
          : decodeQueryCursorKey(search.cursor, 'events', order, ['number', 'string', 'number', 'string']);
        const ms = bySequence ? undefined : (key[0] as number);
        const sessionId = key[bySequence ? 0 : 1] as string;
        const sequence = key[bySequence ? 1 : 2] as number;
        const msValue = ms === undefined ? undefined : param(msIso(ms), 'timestamp');
        if (single !== undefined && sessionId !== single) {
          // The cursor's session sorts before or after the searched one: its rows are all after the
          // cursor's position (or all before it) once the time key is equal.
          const sessionAfter = single > sessionId !== descending;
          if (ms === undefined) {
            if (!sessionAfter) return { items: [] };
          } else {
            const operator = descending ? (sessionAfter ? '<=' : '<') : sessionAfter ? '>=' : '>';
            conditions.push(`${EVENT_MILLIS} ${operator} ${msValue}`);
          }
        } else {
          const keyValues = [
            ...(msValue === undefined ? [] : [msValue]),
            ...(single === undefined ? [param(sessionId, 'text')] : []),
            param(sequence, 'int4'),
          ];
          conditions.push(`(${keyColumns.join(', ')}) ${descending ? '<' : '>'} (${keyValues.join(', ')})`);
          // Implied by the row comparison; lets the time index start at the cursor.
          if (msValue !== undefined)
            conditions.push(`${EVENT_MILLIS} ${descending ? '<=' : '>='} ${msValue}`);
        }
      }
      const direction = descending ? ' DESC' : '';
      const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
      const text = `SELECT ${EVENT_COLUMNS}, (floor(extract(epoch from occurred_at) * 1000))::float8 FROM ${names.events}${where} ORDER BY ${orderColumns.map((column) => `${column}${direction}`).join(', ')} LIMIT ${param(limit + 1, 'int4')}`;
      const rows = await run('searchEvents', async () => {
        const result = await pool.query<[...EventRow, number]>({ text, values, rowMode: 'array' });
        return result.rows;
      });
      const page = rows.slice(0, limit);
      const result: Page<StoredEvent> = {
        items: page.map((row) => eventFromRow(row.slice(0, 11) as unknown as EventRow)),
      };
      const last = page.at(-1);
      if (rows.length > limit && last !== undefined) {
        const [id, , , sessionId] = last;
        const sequence = last[10];
        const key: CursorKey = bySequence ? [sessionId, sequence, id] : [last[11], sessionId, sequence, id];
        result.nextCursor = encodeQueryCursor('events', order, key);
      }
      return result;
    },

    async countEvents(search: Omit<EventSearch, 'cursor' | 'limit' | 'orderBy'> = {}): Promise<number> {
      const values: unknown[] = [];
      const conditions = eventConditions(search, values);
      const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
      return run('countEvents', async () => {
        const result = await pool.query<[number]>({
          text: `SELECT count(*)::int8 FROM ${names.events}${where}`,
          values,
          rowMode: 'array',
        });
        return Number(result.rows[0]?.[0] ?? 0);
      });
    },

    async getSessionStats(sessionId: string): Promise<SessionStats> {
      const { found, runs } = await run('getSessionStats', async () => {
        const [sessionResult, runResult] = await Promise.all([
          pool.query<[string, number, string | null, string | null]>({
            text: `SELECT s.id,
  (SELECT count(*)::int4 FROM ${names.events} WHERE session_id = s.id),
  (SELECT timestamp FROM ${names.events} WHERE session_id = s.id ORDER BY sequence LIMIT 1),
  (SELECT timestamp FROM ${names.events} WHERE session_id = s.id ORDER BY sequence DESC LIMIT 1)
FROM ${names.sessions} AS s WHERE s.id = $1`,
            values: [sessionId],
            rowMode: 'array',
          }),
          db
            .select({
              status: runsTable.status,
              provider: runsTable.provider,
              tokenUsage: runsTable.tokenUsage,
            })
            .from(runsTable)
            .where(eq(runsTable.sessionId, sessionId)),
        ]);
        return { found: sessionResult.rows[0], runs: runResult };
      });
      if (found === undefined) throw sessionNotFound(sessionId);
      let tokenTotals = emptyTokenUsage();
      const providers = new Set<string>();
      const runStatusCounts: Partial<Record<RunStatus, number>> = {};
      for (const row of runs) {
        const status = row.status as RunStatus;
        runStatusCounts[status] = (runStatusCounts[status] ?? 0) + 1;
        tokenTotals = addTokenUsage(tokenTotals, row.tokenUsage as TokenUsage);
        if (row.provider !== null) providers.add(row.provider);
      }
      const stats: SessionStats = {
        sessionId,
        eventCount: found[1],
        runCount: runs.length,
        tokenTotals,
        providersUsed: [...providers].sort(),
        runStatusCounts,
      };
      if (found[2] !== null) stats.firstEventAt = found[2];
      if (found[3] !== null) stats.lastEventAt = found[3];
      return stats;
    },

    async getUsageSummary(filter?: SummaryFilter): Promise<UsageSummary> {
      return usageSummaryOf(await summaryRuns(filter));
    },

    async getCostSummary(filter?: SummaryFilter & { pricingTable?: PricingTable }): Promise<CostSummary> {
      return costSummaryOf(await summaryRuns(filter), filter?.pricingTable);
    },

    async exportSession(sessionId: string): Promise<SessionExport> {
      const { record, runRecords, events } = await run('exportSession', async () => {
        const [records, runRecords, events] = await Promise.all([
          db.select().from(sessionsTable).where(eq(sessionsTable.id, sessionId)),
          db
            .select()
            .from(runsTable)
            .where(eq(runsTable.sessionId, sessionId))
            .orderBy(asc(runsTable.createdAt), byCodePoint(runsTable.id)),
          context.readEvents(sessionId),
        ]);
        return { record: records[0], runRecords, events };
      });
      if (record === undefined) throw sessionNotFound(sessionId);
      return { session: sessionFromRecord(record), runs: runRecords.map(runFromRecord), events };
    },
  };
}

/** The rows strictly after `key` in the order of `columns` (all ascending or all descending). */
function keysetAfter(columns: SQL[], key: SQL[], descending: boolean): SQL {
  const left = sql.join(columns, sql`, `);
  const right = sql.join(key, sql`, `);
  return descending ? sql`(${left}) < (${right})` : sql`(${left}) > (${right})`;
}

/** A cursor's milliseconds as UTC `timestamp` text (`validation_error` when out of range). */
function msIso(ms: number): string {
  const date = new Date(ms);
  if (!Number.isInteger(ms) || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1) {
    throw new AsmError('validation_error', 'Invalid cursor: malformed', { details: { field: 'cursor' } });
  }
  return date.toISOString().slice(0, 23);
}

function msTimestamp(ms: number): SQL {
  return sql`${msIso(ms)}::timestamp`;
}

/** An inclusive time bound (`validation_error` when it is not ISO-8601 with a zone). */
function bound(value: string | undefined, field: string): Instant | undefined {
  return value === undefined ? undefined : toInstant(value, field);
}
