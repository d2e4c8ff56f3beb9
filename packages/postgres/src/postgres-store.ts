import {
  AsmError,
  type EventQuery,
  type NewEvent,
  type Run,
  type RunFilter,
  runFromJSON,
  type Session,
  type SessionFilter,
  type SessionQuery,
  type SessionStore,
  type StoredEvent,
  sessionFromJSON,
  toStoredEvent,
  validateNewEvent,
} from '@asm/core';
import { and, arrayContains, asc, eq, getTableColumns, inArray, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { ANY_SESSION, ChangeListener, payloadSuffix } from './change-listener.js';
import { closedError, errorCode, isTransient, toStorageError } from './errors.js';
import {
  checkLimit,
  checkOffset,
  MAX_SEQUENCE,
  type NormalizedQuery,
  normalizeQuery,
} from './event-query.js';
import { notifyChannel, qualifiedNames, statementPrefix, validateSchemaName } from './identifiers.js';
import { applyMigrations } from './migrations.js';
import {
  type EventRow,
  eventFromRow,
  runFromRecord,
  runToRow,
  sessionFromRecord,
  sessionToRow,
} from './rows.js';
import { createTables, DEFAULT_SCHEMA, type PostgresTables } from './schema.js';
import { createPostgresQuery } from './session-query.js';
import { eventsJson, preparedStatements } from './statements.js';
import { toInstant } from './timestamps.js';

/** Options shared by both ways of creating a store. */
export interface PostgresStoreCommonOptions {
  /**
   * The PostgreSQL schema holding the store's tables (default `asm`). Each schema is an independent
   * store with its own migrations, so one database can host several apps or tenants. Created on open
   * when missing (which needs the CREATE privilege on the database).
   */
  schema?: string;
  /**
   * `true` (default): apply the shipped migrations on open. `false`: apply nothing and fail with
   * `migration_required` when the schema lacks one (for deployments that migrate separately).
   */
  migrate?: boolean;
  /**
   * How an append wakes long-polls in other processes (LISTEN/NOTIFY):
   * - `'after-commit'` (default): right after the append commits, the store sends the NOTIFY in a
   *   short transaction of its own (coalesced per session, `synchronous_commit = off`). PostgreSQL
   *   serializes the commits of every transaction that notifies (a database-wide lock held through
   *   the commit's WAL flush), so notifying from the append itself would serialize all appends of the
   *   database; this keeps appends to different sessions parallel.
   * - `'in-transaction'`: the NOTIFY is part of the append's own statement, delivered if and only if
   *   it commits. Strictly atomic, but appends of the whole database then commit one at a time.
   */
  notify?: 'after-commit' | 'in-transaction';
}

/** Options of `createPostgresStore` with a pool the app owns. */
export interface PostgresPoolOptions extends PostgresStoreCommonOptions {
  /** The app's `pg` pool. The store never ends it; attach your own `'error'` listener to it. */
  pool: pg.Pool;
}

/** Options of `createPostgresStore` with a connection string: the store owns its pool. */
export interface PostgresConnectionOptions extends PostgresStoreCommonOptions {
  /** `postgres://user:password@host:port/database`. */
  connectionString: string;
  /** Connections in the store's pool (default 10). The LISTEN connection comes on top. */
  poolSize?: number;
}

/** Options of `createPostgresStore`. */
export type PostgresStoreOptions = PostgresPoolOptions | PostgresConnectionOptions;

/** A `SessionStore` on PostgreSQL, with the `SessionQuery` capability (cross-session reads). */
export interface PostgresSessionStore extends SessionStore, SessionQuery {
  readonly specificationVersion: 'v1';
  readonly supportsLongPoll: true;
  /** The schema holding the store's tables. */
  readonly schema: string;
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /** How many `getEvents` long-polls are parked right now (for diagnostics and leak tests). */
  readonly activeLongPolls: number;
  /**
   * Opens the store now: connects and applies migrations. Every other method does this on first use;
   * call it at startup to fail fast (`migration_required`, `storage_connection_failed`).
   */
  ready(): Promise<void>;
}

/** What companions of a store (maintenance) reach through it: not part of the public API. */
export interface StoreInternals {
  pool: pg.Pool;
  names: ReturnType<typeof qualifiedNames>;
  /** Throws `storage_connection_failed` once the store is closed. */
  ensureOpen(): void;
}

const internals = new WeakMap<object, StoreInternals>();

/** The internals of a store made by `createPostgresStore` (`undefined` for anything else). */
export function storeInternals(store: object): StoreInternals | undefined {
  return internals.get(store);
}

/** The longest delay `setTimeout` accepts; longer waits are capped to it. */
const MAX_TIMER_MS = 2_147_483_647;
/** Attempts of an append that keeps meeting concurrent writers of the same ids or a deadlock. */
const MAX_APPEND_ATTEMPTS = 8;

/** Delay before a long-poll re-check that failed on a transient error is tried again. */
const RECHECK_RETRY_MS = 250;
/** How long close() waits for notifications of committed appends to go out. */
const CLOSE_FLUSH_MS = 2_000;
/** Most events one grouped append statement carries (see `appendToOneSession`). */
const MAX_GROUP_EVENTS = 2_000;

/** A call waiting for its session's append in flight. */
interface PendingAppend {
  events: NewEvent[];
  resolve(stored: Map<string, StoredEvent>): void;
  reject(error: unknown): void;
}

/** A parked long-poll. */
interface Waiter {
  readonly sessionId: string;
  readonly query: NormalizedQuery;
  /** Re-runs the query (coalescing calls made while one is in flight). */
  recheck(): void;
  /** Resolves the caller with `events` (at most once). */
  settle(events: StoredEvent[]): void;
}

/**
 * Creates a `SessionStore` on PostgreSQL.
 *
 * ```ts
 * const store = createPostgresStore({ connectionString: process.env.DATABASE_URL!, schema: 'asm' });
 * // or with the app's pool: createPostgresStore({ pool, schema: 'tenant_42' })
 * ```
 *
 * - Opening (on first use, or `ready()`) applies the shipped migrations to the schema under an
 *   advisory lock; a schema migrated by a newer version is `migration_required`.
 * - Sequences hold across processes: an append bumps the session's counter row (a row lock) and
 *   inserts the batch in the same statement, one multi-row INSERT per batch. Appends are idempotent on
 *   event id: a duplicate returns the stored event with its original sequence.
 * - `getEvents` long-polls across processes: appends NOTIFY on commit, and the store's LISTEN
 *   connection wakes the waiters of that session.
 * - Connection loss, a server restart and statement timeouts are `storage_connection_failed`
 *   (retryable); retrying an append never duplicates events.
 * - A pool the store created is ended by `close()`; an injected pool is left open.
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresSessionStore {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError('validation_error', 'createPostgresStore needs { pool } or { connectionString }');
  }
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const migrate = options.migrate ?? true;
  if (typeof migrate !== 'boolean') {
    throw new AsmError('validation_error', 'migrate must be a boolean', { details: { field: 'migrate' } });
  }
  const notifyMode = options.notify ?? 'after-commit';
  if (notifyMode !== 'after-commit' && notifyMode !== 'in-transaction') {
    throw new AsmError('validation_error', "notify must be 'after-commit' or 'in-transaction'", {
      details: { field: 'notify', value: notifyMode },
    });
  }
  const notifyInTransaction = notifyMode === 'in-transaction';

  let pool: pg.Pool;
  let listenerConfig: pg.ClientConfig;
  let ownsPool: boolean;
  if ('pool' in options && options.pool !== undefined) {
    if (typeof options.pool?.query !== 'function' || typeof options.pool.connect !== 'function') {
      throw new AsmError('validation_error', 'pool must be a pg.Pool', { details: { field: 'pool' } });
    }
    pool = options.pool;
    listenerConfig = { ...pool.options, keepAlive: true };
    ownsPool = false;
  } else if ('connectionString' in options && typeof options.connectionString === 'string') {
    if (options.connectionString === '') {
      throw new AsmError('validation_error', 'connectionString must not be empty', {
        details: { field: 'connectionString' },
      });
    }
    const poolSize = options.poolSize ?? 10;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new AsmError('validation_error', 'poolSize must be a positive integer', {
        details: { field: 'poolSize', value: poolSize },
      });
    }
    listenerConfig = { connectionString: options.connectionString, keepAlive: true };
    pool = new pg.Pool({ connectionString: options.connectionString, max: poolSize });
    // An idle connection that the server closes (restart, pg_terminate_backend) emits 'error' on the
    // pool, which removes it; without a listener Node.js would treat that as a crash.
    pool.on('error', () => undefined);
    ownsPool = true;
  } else {
    throw new AsmError('validation_error', 'createPostgresStore needs { pool } or { connectionString }', {
      details: { field: 'pool' },
    });
  }

  const names = qualifiedNames(schema);
  const tables = createTables(schema);
  const db = drizzle({ client: pool });
  const channel = notifyChannel(schema);
  const statements = preparedStatements(names, statementPrefix(schema), notifyInTransaction);

  let closed = false;
  let closing: Promise<void> | undefined;
  let opened = false;
  let opening: Promise<void> | undefined;

  /** Parked long-polls per session id. */
  const waiters = new Map<string, Set<Waiter>>();
  let waiterCount = 0;

  /** Makes the waiters of `sessionId` (all waiters for `ANY_SESSION`) look again. */
  function wake(sessionId: string, sequence: number): void {
    if (waiterCount === 0) return;
    if (sessionId === ANY_SESSION) {
      for (const set of waiters.values()) for (const waiter of set) waiter.recheck();
      return;
    }
    const set = waiters.get(sessionId);
    if (set === undefined) return;
    for (const waiter of set) {
      if (sequence > waiter.query.after) waiter.recheck();
    }
  }

  const listener = new ChangeListener(listenerConfig, channel, {
    onChange: wake,
    onReconnect() {
      for (const set of waiters.values()) for (const waiter of set) waiter.recheck();
    },
    wanted: () => waiterCount > 0,
  });

  function ensureOpen(): void {
    if (closed) throw closedError();
  }

  function ready(): Promise<void> {
    if (closed) return Promise.reject(closedError());
    if (opened) return Promise.resolve();
    if (opening === undefined) {
      const attempt = applyMigrations(pool, { schema, apply: migrate }).then(() => {
        opened = true;
      });
      opening = attempt;
      // A failed open (server down, migration_required) is retried by the next call.
      attempt.catch(() => {
        if (opening === attempt) opening = undefined;
      });
    }
    return opening;
  }

  /** Runs a store operation: open check, lazy open, error translation. */
  async function operation<T>(
    name: string,
    fallback: 'storage_write_failed' | 'storage_read_failed' | 'storage_error' | 'query_error',
    body: () => Promise<T>,
  ): Promise<T> {
    ensureOpen();
    if (!opened) await ready();
    try {
      return await body();
    } catch (error) {
      if (closed && !AsmError.isInstance(error)) throw closedError();
      throw toStorageError(error, name, fallback);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Events: the hot path, on `pg` with prepared statements.

  /**
   * Inserts new events of ONE session in one statement: the counter row is bumped (row lock) and the
   * batch inserted, with sequences `last + 1 …` (and, in `in-transaction` mode, NOTIFY queued for
   * the commit). Returns `undefined`
   * when the session does not exist. A duplicate id fails the whole statement (23505), which rolls
   * the counter back too.
   */
  async function insertSingleSession(sessionId: string, fresh: NewEvent[]): Promise<number | undefined> {
    const result = await pool.query<[number, number]>({
      name: statements.appendName,
      text: statements.append,
      values: notifyInTransaction
        ? [sessionId, fresh.length, eventsJson(fresh, undefined), channel, payloadSuffix(sessionId)]
        : [sessionId, fresh.length, eventsJson(fresh, undefined)],
      rowMode: 'array',
    });
    const row = result.rows[0];
    if (row === undefined) return undefined;
    if (row[1] !== fresh.length) {
      throw new AsmError('storage_write_failed', `Inserted ${row[1]} of ${fresh.length} events`, {
        details: { sessionId },
      });
    }
    return row[0];
  }

  /** Latest sequence per session still to be NOTIFYed (after-commit mode). */
  const unsent = new Map<string, number>();
  /** The notification sender at work, if any (close() waits for it). */
  let sending: Promise<void> | undefined;

  /** An append committed: wake this store's waiters now and tell the other processes. */
  function announce(sessionId: string, sequence: number): void {
    wake(sessionId, sequence);
    if (notifyInTransaction) return;
    const previous = unsent.get(sessionId);
    if (previous === undefined || sequence > previous) unsent.set(sessionId, sequence);
    sending ??= sendNotifications().finally(() => {
      sending = undefined;
    });
  }

  /**
   * Sends the queued notifications on the listener's connection, one short transaction at a time
   * (what piles up meanwhile goes out together). Best effort: the appends are committed already; a waiter elsewhere that misses a
   * notification answers on its timeout, and re-checks when its listener reconnects.
   */
  async function sendNotifications(): Promise<void> {
    while (unsent.size > 0) {
      const payloads: string[] = [];
      for (const [sessionId, sequence] of unsent) payloads.push(`${sequence}${payloadSuffix(sessionId)}`);
      unsent.clear();
      await listener.send(statements.notify, [channel, payloads]).catch(() => undefined);
    }
  }

  /** Appends to one session waiting for the one in flight, per session id (see `appendToOneSession`). */
  const lanes = new Map<string, PendingAppend[]>();

  /**
   * Appends events of one session. Concurrent calls for the same session in this store do not race
   * for its counter row: while one statement is in flight, later calls queue and then go together in
   * one statement (group commit), each still all or nothing.
   */
  async function appendToOneSession(
    sessionId: string,
    unique: NewEvent[],
  ): Promise<Map<string, StoredEvent>> {
    const queue = lanes.get(sessionId);
    if (queue !== undefined) {
      return new Promise((resolve, reject) => queue.push({ events: unique, resolve, reject }));
    }
    lanes.set(sessionId, []);
    try {
      return await writeOneSession(sessionId, unique);
    } finally {
      drainLane(sessionId);
    }
  }

  /** Writes what queued up behind the statement that just finished, as one statement. */
  function drainLane(sessionId: string): void {
    const queue = lanes.get(sessionId);
    if (queue === undefined || queue.length === 0) {
      lanes.delete(sessionId);
      return;
    }
    const group: PendingAppend[] = [];
    let size = 0;
    while (queue.length > 0 && (group.length === 0 || size + queue[0]!.events.length <= MAX_GROUP_EVENTS)) {
      const next = queue.shift()!;
      group.push(next);
      size += next.events.length;
    }
    const merged: NewEvent[] = [];
    const ids = new Set<string>();
    for (const pending of group) {
      for (const event of pending.events) {
        if (ids.has(event.id)) continue;
        ids.add(event.id);
        merged.push(event);
      }
    }
    writeOneSession(sessionId, merged)
      .then(
        (stored) => {
          for (const pending of group) pending.resolve(stored);
        },
        async (error: unknown) => {
          if (group.length === 1 || !AsmError.isInstance(error) || error.code !== 'validation_error') {
            for (const pending of group) pending.reject(error);
            return;
          }
          // One caller's data was refused by the server: do not fail the others with it.
          for (const pending of group) {
            await writeOneSession(sessionId, pending.events).then(pending.resolve, pending.reject);
          }
        },
      )
      .finally(() => drainLane(sessionId));
  }

  /** Stored events with these ids, by id. */
  async function lookupEvents(
    queryable: Pick<pg.Pool, 'query'>,
    ids: string[],
  ): Promise<Map<string, StoredEvent>> {
    const result = await queryable.query<EventRow>({
      name: statements.lookupName,
      text: statements.lookup,
      values: [ids],
      rowMode: 'array',
    });
    const found = new Map<string, StoredEvent>();
    for (const row of result.rows) found.set(row[0], eventFromRow(row));
    return found;
  }

  /** Throws `validation_error` if one of `events` is stored under another session. */
  function checkSameSession(events: readonly NewEvent[], stored: Map<string, StoredEvent>): void {
    for (const event of events) {
      const existing = stored.get(event.id);
      if (existing !== undefined && existing.sessionId !== event.sessionId) {
        throw idInOtherSession(event.id, existing.sessionId);
      }
    }
  }

  /** Writes events of one session (validated, ids unique within `unique`) and announces them. */
  async function writeOneSession(sessionId: string, unique: NewEvent[]): Promise<Map<string, StoredEvent>> {
    try {
      const { stored, latest } = await insertWithRetries(sessionId, unique);
      if (latest > 0) announce(sessionId, latest);
      return stored;
    } catch (error) {
      throw toStorageError(error, 'appendEvents', 'storage_write_failed');
    }
  }

  /**
   * Inserts `unique`, skipping ids stored already (found when the optimistic insert hits one).
   * `latest` is the highest sequence written, 0 when every id was stored already.
   */
  async function insertWithRetries(
    sessionId: string,
    unique: NewEvent[],
  ): Promise<{ stored: Map<string, StoredEvent>; latest: number }> {
    const stored = new Map<string, StoredEvent>();
    let pending = unique;
    for (let attempt = 1; ; attempt++) {
      let base: number | undefined;
      try {
        base = await insertSingleSession(sessionId, pending);
      } catch (error) {
        if (!isIdConflict(error) || attempt >= MAX_APPEND_ATTEMPTS) throw duplicateSequence(error);
        // Some ids are stored already (a retry, or a concurrent writer): find them and write the rest.
        const found = await lookupEvents(
          pool,
          pending.map((event) => event.id),
        );
        checkSameSession(pending, found);
        for (const [id, event] of found) stored.set(id, event);
        pending = pending.filter((event) => !found.has(event.id));
        if (pending.length === 0) return { stored, latest: 0 };
        continue;
      }
      if (base === undefined) throw sessionNotFound(sessionId);
      pending.forEach((event, index) => {
        stored.set(event.id, toStoredEvent(event, base + index + 1));
      });
      return { stored, latest: base + pending.length };
    }
  }

  /**
   * Appends events of several sessions in one transaction: counters locked in id order (no deadlock
   * between two such batches), duplicates looked up under the lock, one INSERT, counters updated,
   * then NOTIFY per session (in the transaction or after it, per the `notify` option).
   */
  async function appendToManySessions(
    sessionIds: string[],
    unique: NewEvent[],
  ): Promise<Map<string, StoredEvent>> {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          const { stored, latest } = await appendLocked(client, sessionIds, unique);
          await client.query('COMMIT');
          for (const [sessionId, sequence] of latest) announce(sessionId, sequence);
          return stored;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      } catch (error) {
        if (!AsmError.isInstance(error) && isTransient(error)) broken = error as Error;
        if ((isIdConflict(error) || errorCode(error) === '40P01') && attempt < MAX_APPEND_ATTEMPTS) continue;
        throw duplicateSequence(error);
      } finally {
        client.release(broken);
      }
    }
  }

  async function appendLocked(
    client: pg.PoolClient,
    sessionIds: string[],
    unique: NewEvent[],
  ): Promise<{ stored: Map<string, StoredEvent>; latest: Map<string, number> }> {
    const sorted = [...sessionIds].sort(compareStrings);
    const locked = await client.query<{ session_id: string; last_sequence: number }>(
      statements.lockCounters,
      [sorted],
    );
    const last = new Map<string, number>();
    for (const row of locked.rows) last.set(row.session_id, row.last_sequence);
    for (const sessionId of sessionIds) if (!last.has(sessionId)) throw sessionNotFound(sessionId);

    const stored = await lookupEvents(
      client,
      unique.map((event) => event.id),
    );
    checkSameSession(unique, stored);
    const fresh = unique.filter((event) => !stored.has(event.id));
    if (fresh.length === 0) return { stored, latest: new Map() };
    const sequences: number[] = [];
    for (const event of fresh) {
      const next = last.get(event.sessionId)! + 1;
      last.set(event.sessionId, next);
      sequences.push(next);
      stored.set(event.id, toStoredEvent(event, next));
    }
    await client.query(statements.insertMany, [eventsJson(fresh, sequences)]);
    const touched = [...new Set(fresh.map((event) => event.sessionId))];
    const latest = new Map(touched.map((sessionId) => [sessionId, last.get(sessionId)!]));
    await client.query(statements.setCounters, [touched, touched.map((sessionId) => latest.get(sessionId)!)]);
    if (notifyInTransaction) {
      await client.query(statements.notifyInTransaction, [
        channel,
        touched.map((sessionId) => `${latest.get(sessionId)!}${payloadSuffix(sessionId)}`),
      ]);
    }
    return { stored, latest };
  }

  async function append(events: NewEvent[]): Promise<StoredEvent[]> {
    // Check the whole batch before writing anything.
    const sessionIds = new Set<string>();
    const sessionOfId = new Map<string, string>();
    const unique: NewEvent[] = [];
    for (const event of events) {
      validateNewEvent(event);
      toInstant(event.timestamp, 'timestamp');
      const seen = sessionOfId.get(event.id);
      if (seen !== undefined) {
        if (seen !== event.sessionId) throw idInOtherSession(event.id, seen);
        continue;
      }
      sessionOfId.set(event.id, event.sessionId);
      unique.push(event);
      sessionIds.add(event.sessionId);
    }
    const stored =
      sessionIds.size === 1
        ? await appendToOneSession(unique[0]!.sessionId, unique)
        : await appendToManySessions([...sessionIds], unique);
    return events.map((event) => stored.get(event.id)!);
  }

  async function selectEvents(sessionId: string, query: NormalizedQuery): Promise<StoredEvent[]> {
    if (query.after >= MAX_SEQUENCE || (query.before !== undefined && query.before <= query.after + 1)) {
      return [];
    }
    const { text, name, values } = statements.selectEvents(sessionId, query);
    const result = await pool.query<EventRow>({ name, text, values, rowMode: 'array' });
    return result.rows.map(eventFromRow);
  }

  // ---------------------------------------------------------------------------------------------
  // Long-poll.

  function addWaiter(waiter: Waiter): void {
    let set = waiters.get(waiter.sessionId);
    if (set === undefined) {
      set = new Set();
      waiters.set(waiter.sessionId, set);
    }
    set.add(waiter);
    waiterCount++;
  }

  function removeWaiter(waiter: Waiter): void {
    const set = waiters.get(waiter.sessionId);
    if (set?.delete(waiter)) {
      waiterCount--;
      if (set.size === 0) waiters.delete(waiter.sessionId);
    }
  }

  /** Parks a long-poll until a matching event is appended (in any process), the timeout, abort or close. */
  async function waitForEvents(
    sessionId: string,
    query: NormalizedQuery,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<StoredEvent[]> {
    // close() releases parked callers with [], including one still getting its listener ready.
    if (closed) return [];
    try {
      await listener.start();
    } catch (error) {
      if (closed) return [];
      throw error;
    }
    if (closed || signal?.aborted) return [];
    return new Promise<StoredEvent[]>((resolve, reject) => {
      let done = false;
      let querying = false;
      let again = false;
      let retryTimer: NodeJS.Timeout | undefined;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        clearTimeout(timer);
        clearTimeout(retryTimer);
        signal?.removeEventListener('abort', onAbort);
        removeWaiter(waiter);
        return true;
      };
      const onAbort = (): void => {
        if (!finish()) return;
        // Answer with what matches at this moment.
        selectEvents(sessionId, query).then(resolve, () => resolve([]));
      };
      const timer = setTimeout(() => waiter.settle([]), Math.min(waitMs, MAX_TIMER_MS));
      const waiter: Waiter = {
        sessionId,
        query,
        settle(events) {
          if (finish()) resolve(events);
        },
        recheck() {
          if (done) return;
          if (querying) {
            again = true;
            return;
          }
          querying = true;
          selectEvents(sessionId, query).then(
            (events) => {
              querying = false;
              if (events.length > 0) waiter.settle(events);
              else if (again) {
                again = false;
                waiter.recheck();
              }
            },
            (error: unknown) => {
              querying = false;
              if (done) return;
              if (isTransient(error) && !closed) {
                // The database is briefly unreachable (a restart): stay parked and look again soon;
                // the listener's reconnect triggers a re-check too.
                retryTimer ??= setTimeout(() => {
                  retryTimer = undefined;
                  waiter.recheck();
                }, RECHECK_RETRY_MS);
                return;
              }
              if (finish()) reject(toStorageError(error, 'getEvents', 'storage_read_failed'));
            },
          );
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      addWaiter(waiter);
      // An append may have committed between the first read and LISTEN: look once more.
      waiter.recheck();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions and runs: cold paths, on drizzle.

  const query = createPostgresQuery({
    pool,
    db,
    tables,
    names,
    run: (name, body) =>
      operation(name, 'query_error', body).catch((error: AsmError) => {
        // A missing table under a running store is a failed query here too.
        if (error.code !== 'storage_error') throw error;
        throw new AsmError('query_error', error.message, { details: error.details, cause: error.cause });
      }),
    readEvents: (sessionId) => selectEvents(sessionId, normalizeQuery(undefined)),
  });

  const store = {
    ...query,
    specificationVersion: 'v1' as const,
    supportsLongPoll: true as const,
    schema,

    get closed(): boolean {
      return closed;
    },

    get activeLongPolls(): number {
      return waiterCount;
    },

    ready,

    async saveSession(session: Session): Promise<Session> {
      ensureOpen();
      const checked = sessionFromJSON(session);
      const row = sessionToRow(checked);
      return operation('saveSession', 'storage_write_failed', async () => {
        await db.transaction(async (tx) => {
          await tx
            .insert(tables.sessions)
            .values(row)
            .onConflictDoUpdate({ target: tables.sessions.id, set: excludedColumns(tables.sessions) });
          await tx.insert(tables.sessionSequences).values({ sessionId: row.id }).onConflictDoNothing();
        });
        return sessionFromRecord(row as Parameters<typeof sessionFromRecord>[0]);
      });
    },

    async getSession(sessionId: string): Promise<Session | undefined> {
      return operation('getSession', 'storage_read_failed', async () => {
        const [record] = await db.select().from(tables.sessions).where(eq(tables.sessions.id, sessionId));
        return record === undefined ? undefined : sessionFromRecord(record);
      });
    },

    async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const offset = checkOffset(filter.offset);
      const conditions: SQL[] = [];
      const statuses = toList(filter.status);
      if (statuses !== undefined) conditions.push(inArray(tables.sessions.status, statuses));
      if (filter.agentId !== undefined) conditions.push(eq(tables.sessions.agentId, filter.agentId));
      if (filter.tags !== undefined) {
        if (!Array.isArray(filter.tags) || !filter.tags.every((tag) => typeof tag === 'string')) {
          throw new AsmError('validation_error', 'tags must be an array of strings', {
            details: { field: 'tags' },
          });
        }
        if (filter.tags.length > 0) conditions.push(arrayContains(tables.sessions.tags, filter.tags));
      }
      return operation('listSessions', 'storage_read_failed', async () => {
        let query = db
          .select()
          .from(tables.sessions)
          .where(and(...conditions))
          .orderBy(asc(tables.sessions.createdAt), byteOrder(tables.sessions.id))
          .$dynamic();
        if (limit !== undefined) query = query.limit(limit);
        if (offset > 0) query = query.offset(offset);
        return (await query).map(sessionFromRecord);
      });
    },

    async deleteSession(sessionId: string): Promise<void> {
      return operation('deleteSession', 'storage_write_failed', async () => {
        await db.transaction(async (tx) => {
          // The counter row first: its lock waits for appends in flight and keeps new ones out.
          await tx.delete(tables.sessionSequences).where(eq(tables.sessionSequences.sessionId, sessionId));
          await tx.delete(tables.events).where(eq(tables.events.sessionId, sessionId));
          await tx.delete(tables.runs).where(eq(tables.runs.sessionId, sessionId));
          await tx.delete(tables.sessions).where(eq(tables.sessions.id, sessionId));
        });
        const set = waiters.get(sessionId);
        if (set !== undefined) for (const waiter of [...set]) waiter.settle([]);
      });
    },

    async saveRun(run: Run): Promise<Run> {
      ensureOpen();
      const checked = runFromJSON(run);
      const row = runToRow(checked);
      return operation('saveRun', 'storage_write_failed', async () => {
        await db.transaction(async (tx) => {
          // A key-share lock on the counter: the session cannot be deleted under us, appends go on.
          const found = await tx
            .select({ sessionId: tables.sessionSequences.sessionId })
            .from(tables.sessionSequences)
            .where(eq(tables.sessionSequences.sessionId, row.sessionId))
            .for('key share');
          if (found.length === 0) throw sessionNotFound(row.sessionId);
          await tx
            .insert(tables.runs)
            .values(row)
            .onConflictDoUpdate({ target: tables.runs.id, set: excludedColumns(tables.runs) });
        });
        return runFromRecord(row as Parameters<typeof runFromRecord>[0]);
      });
    },

    async getRun(runId: string): Promise<Run | undefined> {
      return operation('getRun', 'storage_read_failed', async () => {
        const [record] = await db.select().from(tables.runs).where(eq(tables.runs.id, runId));
        return record === undefined ? undefined : runFromRecord(record);
      });
    },

    async listRuns(sessionId: string, filter: RunFilter = {}): Promise<Run[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const conditions: SQL[] = [eq(tables.runs.sessionId, sessionId)];
      const statuses = toList(filter.status);
      if (statuses !== undefined) conditions.push(inArray(tables.runs.status, statuses));
      return operation('listRuns', 'storage_read_failed', async () => {
        let query = db
          .select()
          .from(tables.runs)
          .where(and(...conditions))
          .orderBy(asc(tables.runs.createdAt), byteOrder(tables.runs.id))
          .$dynamic();
        if (limit !== undefined) query = query.limit(limit);
        return (await query).map(runFromRecord);
      });
    },

    async appendEvent(event: NewEvent): Promise<StoredEvent> {
      ensureOpen();
      return operation('appendEvent', 'storage_write_failed', async () => (await append([event]))[0]!);
    },

    async appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      ensureOpen();
      if (!Array.isArray(events)) {
        throw new AsmError('validation_error', 'events must be an array', { details: { field: 'events' } });
      }
      if (events.length === 0) return [];
      return operation('appendEvents', 'storage_write_failed', () => append(events));
    },

    async getEvents(sessionId: string, query?: EventQuery): Promise<StoredEvent[]> {
      ensureOpen();
      const normalized = normalizeQuery(query);
      return operation('getEvents', 'storage_read_failed', async () => {
        const found = await selectEvents(sessionId, normalized);
        const waitMs = query?.waitMs;
        if (found.length > 0 || typeof waitMs !== 'number' || !(waitMs > 0)) return found;
        if (query?.signal?.aborted) return found;
        return waitForEvents(sessionId, normalized, waitMs, query?.signal);
      });
    },

    async getLatestSequence(sessionId: string): Promise<number> {
      return operation('getLatestSequence', 'storage_read_failed', async () => {
        const result = await pool.query<[number]>({
          name: statements.latestName,
          text: statements.latest,
          values: [sessionId],
          rowMode: 'array',
        });
        return result.rows[0]?.[0] ?? 0;
      });
    },

    async close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.settle([]);
        waiters.clear();
        waiterCount = 0;
        // Appends that committed before close() still tell the other processes (bounded: a dead
        // connection must not hold close() up).
        if (sending !== undefined) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            sending,
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, CLOSE_FLUSH_MS);
            }),
          ]);
          clearTimeout(timer);
        }
        await listener.close();
        if (ownsPool) await pool.end().catch(() => undefined);
      })();
      return closing;
    },
  } satisfies PostgresSessionStore;

  internals.set(store, { pool, names, ensureOpen });
  return store;
}

/** `SET col = excluded.col` for every column but the primary key `id`. */
function excludedColumns(table: PgTable): Record<string, SQL> {
  const set: Record<string, SQL> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    if (key === 'id') continue;
    set[key] = sql.raw(`excluded."${(column as PgColumn).name}"`);
  }
  return set;
}

/** Ascending order by the bytes of a text column (code point order, whatever the collation). */
function byteOrder(column: PgColumn): SQL {
  return sql`${column} collate "C" asc`;
}

function toList<T extends string>(value: T | T[] | undefined): T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : [value];
}

function compareStrings(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function sessionNotFound(sessionId: string): AsmError {
  return new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
}

function idInOtherSession(eventId: string, sessionId: string): AsmError {
  return new AsmError(
    'validation_error',
    `Event ${eventId} is already stored in another session (${sessionId})`,
    { details: { eventId, sessionId } },
  );
}

/** A unique violation on the events' primary key: the id is stored already. */
function isIdConflict(error: unknown): boolean {
  return errorCode(error) === '23505' && (error as { constraint?: string }).constraint === 'asm_events_pkey';
}

/**
 * A unique violation that is not explained by a stored id: the (session, sequence) index refused a
 * number, which means the counter row was changed behind the store's back.
 */
function duplicateSequence(error: unknown): unknown {
  if (errorCode(error) !== '23505' || isIdConflict(error)) return error;
  return new AsmError(
    'storage_write_failed',
    'PostgreSQL refused a sequence number that is already taken: the session counter is out of step with its events',
    { details: { constraint: (error as { constraint?: string }).constraint }, cause: error },
  );
}

export type { PostgresTables };
