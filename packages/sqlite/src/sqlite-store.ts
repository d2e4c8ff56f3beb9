import { mkdirSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  AsmError,
  type EventQuery,
  isIsoTimestamp,
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
import Database from 'better-sqlite3';
import { and, asc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import {
  type AppendOutcome,
  AppendRejection,
  createBatchAppender,
  idInOtherSession,
  ROW_WIDTH,
} from './append-batch.js';
import { type ChangeFeed, type ChangeListener, joinChangeFeed } from './change-feed.js';
import { closedStoreError, type OperationKind, toStorageError } from './errors.js';
import { applyMigrations, loadMigrations, SQLITE_MIGRATIONS_FOLDER } from './migrations.js';
import {
  EVENT_COLUMNS,
  type EventRow,
  eventFromRow,
  runFromRow,
  runToRow,
  sessionFromRow,
  sessionToRow,
  toJson,
  toUtcIso,
} from './rows.js';
import { createTables, DEFAULT_TABLE_PREFIX, type SqliteTables } from './schema.js';
import { createSqliteQuery } from './session-query.js';
import { STORE_AUTO_CHECKPOINT_PAGES } from './writer-protocol.js';
import {
  openThreadWriter,
  type ThreadWriter,
  WriterFailure,
  writerThreadAvailable,
} from './writer-thread.js';

/** The longest delay `setTimeout` accepts (about 24.8 days); longer waits are capped to it. */
const MAX_TIMER_MS = 2_147_483_647;
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;
const DEFAULT_POLL_INTERVAL_MS = 50;
const TABLE_PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,39}$/;

/** Options shared by both ways of opening a store. */
export interface SqliteStoreCommonOptions {
  /**
   * Prefix of every table and index name (default `asm_`): letters, digits and `_`, not starting with
   * a digit. Stores with different prefixes can share one database file.
   */
  tablePrefix?: string;
  /**
   * How often a parked long-poll checks the database for commits made by other processes, in
   * milliseconds (default 50). Commits made through any store of this process wake it at once.
   */
  pollIntervalMs?: number;
  /** Upper bound on a long-poll wait (`EventQuery.waitMs`), in milliseconds. Default: the timer limit. */
  maxWaitMs?: number;
  /**
   * Folder holding the drizzle-kit migrations (`meta/_journal.json` and the `.sql` files). Default: the
   * `migrations` folder shipped in this package. Only needed when bundling moves the package's files.
   */
  migrationsFolder?: string;
}

/** Open (and create, with its folder) the database file at `path`. */
export interface SqliteStorePathOptions extends SqliteStoreCommonOptions {
  /** The database file, created with its folder when missing. `':memory:'` opens a private in-memory database. */
  path: string;
  /** How long a write waits for another connection's lock before failing, in milliseconds (default 5,000). */
  busyTimeoutMs?: number;
  /**
   * Where event appends run. `'thread'` (the default for a database file): on a writer thread that
   * the stores of the process share, each with its own connection, so the inserts of a streaming run
   * do not block the event loop. `'inline'`: on this store's connection, in the calling thread.
   * `':memory:'` databases always write inline, and so does `'thread'` when the package's
   * `dist/append-worker.js` is missing (a bundler that copied only `index.js`).
   */
  writer?: 'thread' | 'inline';
  database?: never;
}

/** Use a better-sqlite3 connection the application already has. */
export interface SqliteStoreDatabaseOptions extends SqliteStoreCommonOptions {
  /**
   * An open better-sqlite3 connection. The store leaves its pragmas (journal mode, synchronous, busy
   * timeout, foreign keys) as they are and does not close it.
   */
  database: Database.Database;
  path?: never;
}

/** Options of `createSqliteStore`: a file path, or an existing connection. */
export type SqliteStoreOptions = SqliteStorePathOptions | SqliteStoreDatabaseOptions;

/** The SQLite `SessionStore`, which also answers `SessionQuery` (search, stats, summaries, export). */
export interface SqliteSessionStore extends SessionStore, SessionQuery {
  readonly specificationVersion: 'v1';
  /** Always true: in-process appends wake a long-poll at once, other processes' within `pollIntervalMs`. */
  readonly supportsLongPoll: true;
  /**
   * Always true: appends run in call order (on the writer thread's queue, or inline), so the session
   * manager sends a run's next batch while the previous one is being written.
   */
  readonly orderedConcurrentAppends: true;
  /** The better-sqlite3 connection (for diagnostics and your own read queries). */
  readonly database: Database.Database;
  /** The prefix of this store's table names. */
  readonly tablePrefix: string;
  /** Where this store's event appends run: on the shared writer thread, or on its own connection. */
  readonly writer: 'thread' | 'inline';
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /** How many `getEvents` long-polls are parked right now. */
  readonly activeLongPolls: number;
  /**
   * The SQLite query plan (`EXPLAIN QUERY PLAN`, one line per step) of the statement `getEvents` runs
   * for this query: a diagnostic that shows which index serves it.
   */
  explainEventsQuery(sessionId: string, query?: EventQuery): string[];
}

/** An `EventQuery` checked and turned into bind values. */
interface NormalizedQuery {
  after: number;
  /** `undefined` when unbounded. */
  before: number | undefined;
  /** -1 when unbounded (SQLite's "no limit"). */
  limit: number;
  runId: string | undefined;
  types: readonly string[] | undefined;
  /** JSON text of `types`, bound to `json_each`. */
  typesJson: string | undefined;
  /** The `since` bound in UTC `toISOString()` form. */
  since: string | undefined;
}

/** A parked long-poll. */
interface Waiter {
  readonly sessionId: string;
  readonly query: NormalizedQuery;
  /** `PRAGMA data_version` when the waiter last looked at the database. */
  version: number;
  settle(events: StoredEvent[]): void;
  fail(error: unknown): void;
}

const UNBOUNDED_QUERY: NormalizedQuery = {
  after: 0,
  before: undefined,
  limit: -1,
  runId: undefined,
  types: undefined,
  typesJson: undefined,
  since: undefined,
};

/**
 * Creates a `SessionStore` on SQLite (better-sqlite3), the embedded default: zero infrastructure,
 * one file.
 *
 * - Opens synchronously (better-sqlite3 is synchronous): the file and its folder are created when
 *   missing, a file database gets WAL, `synchronous=NORMAL`, a busy timeout and foreign keys, and the
 *   shipped migrations are applied. A database written by a newer version of this package is refused
 *   with `migration_required`; any other failure to open is `storage_error`.
 * - Sequence assignment, duplicate detection and the insert happen in one immediate transaction, so
 *   sequences stay gapless with several connections and processes on one file. `appendEvents` writes
 *   the whole batch in one transaction.
 * - The append and read paths run on statements prepared once; drizzle-orm builds the schema, the
 *   migrations and the session and run queries.
 * - `getEvents` long-polls (`waitMs`): appends through any store of this process on the same database
 *   wake it at once; appends from other processes are noticed within `pollIntervalMs`.
 * - Timestamps are persisted in UTC `toISOString()` form: a timestamp given with an offset or with
 *   more than millisecond precision is read back normalized.
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteSessionStore {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError('validation_error', 'createSqliteStore needs { path } or { database }');
  }
  const prefix = options.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  if (typeof prefix !== 'string' || !TABLE_PREFIX_PATTERN.test(prefix)) {
    throw new AsmError(
      'validation_error',
      'tablePrefix must be letters, digits and _ (not starting with a digit), at most 40 characters',
      { details: { field: 'tablePrefix', value: prefix } },
    );
  }
  const pollIntervalMs = checkDuration(options.pollIntervalMs, 'pollIntervalMs', DEFAULT_POLL_INTERVAL_MS, 1);
  const maxWaitMs = Math.min(checkDuration(options.maxWaitMs, 'maxWaitMs', MAX_TIMER_MS, 0), MAX_TIMER_MS);
  const migrations = loadMigrations(options.migrationsFolder ?? SQLITE_MIGRATIONS_FOLDER);

  const { database, owned, feedKey, threadTarget } = openDatabase(options);
  try {
    applyMigrations(database, prefix, migrations);
  } catch (error) {
    if (owned) database.close();
    throw toStorageError(error, 'migrate', 'open');
  }
  try {
    return buildStore(database, owned, feedKey, prefix, pollIntervalMs, maxWaitMs, threadTarget);
  } catch (error) {
    if (owned) database.close();
    throw toStorageError(error, 'open', 'open');
  }
}

function openDatabase(options: SqliteStoreOptions): {
  database: Database.Database;
  owned: boolean;
  feedKey: unknown;
  /** Set when the writer thread appends: the file it opens and the busy timeout it uses. */
  threadTarget?: { path: string; busyTimeoutMs: number };
} {
  if (options.database !== undefined) {
    const database = options.database;
    if (
      typeof database !== 'object' ||
      database === null ||
      typeof database.prepare !== 'function' ||
      typeof database.transaction !== 'function'
    ) {
      throw new AsmError('validation_error', 'database must be a better-sqlite3 Database', {
        details: { field: 'database' },
      });
    }
    if (!database.open) {
      throw new AsmError('storage_connection_failed', 'The better-sqlite3 database is closed', {
        retryable: false,
        details: { field: 'database' },
      });
    }
    return { database, owned: false, feedKey: database.memory ? database : feedKeyOf(database.name) };
  }

  const path = options.path;
  if (typeof path !== 'string' || path === '') {
    throw new AsmError('validation_error', 'path must be a non-empty string', { details: { field: 'path' } });
  }
  const busyTimeoutMs = checkDuration(
    (options as SqliteStorePathOptions).busyTimeoutMs,
    'busyTimeoutMs',
    DEFAULT_BUSY_TIMEOUT_MS,
    0,
  );
  const writer = (options as SqliteStorePathOptions).writer ?? 'thread';
  if (writer !== 'thread' && writer !== 'inline') {
    throw new AsmError('validation_error', "writer must be 'thread' or 'inline'", {
      details: { field: 'writer', value: writer },
    });
  }
  const memory = path === ':memory:';
  if (!memory) {
    try {
      mkdirSync(dirname(resolve(path)), { recursive: true });
    } catch (error) {
      throw new AsmError('storage_error', `Cannot create the folder of the SQLite database ${path}`, {
        details: { path, operation: 'open' },
        cause: error,
      });
    }
  }
  let database: Database.Database;
  try {
    database = new Database(path, { timeout: Math.min(busyTimeoutMs, MAX_TIMER_MS) });
  } catch (error) {
    throw withPath(toStorageError(error, 'open', 'open'), path);
  }
  try {
    if (!memory) database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.pragma(`busy_timeout = ${Math.min(busyTimeoutMs, MAX_TIMER_MS)}`);
  } catch (error) {
    database.close();
    throw withPath(toStorageError(error, 'open', 'open'), path);
  }
  if (memory) return { database, owned: true, feedKey: database };
  const feedKey = feedKeyOf(path);
  if (writer === 'inline' || !writerThreadAvailable()) return { database, owned: true, feedKey };
  try {
    database.pragma(`wal_autocheckpoint = ${STORE_AUTO_CHECKPOINT_PAGES}`);
  } catch (error) {
    database.close();
    throw withPath(toStorageError(error, 'open', 'open'), path);
  }
  const threadTarget = { path: feedKey, busyTimeoutMs: Math.min(busyTimeoutMs, MAX_TIMER_MS) };
  return { database, owned: true, feedKey, threadTarget };
}

function withPath(error: AsmError, path: string): AsmError {
  if (error.details !== undefined && typeof error.details === 'object') {
    (error.details as Record<string, unknown>).path = path;
  }
  return error;
}

/** The in-process change feed of a file is keyed by its real path. */
function feedKeyOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function buildStore(
  database: Database.Database,
  owned: boolean,
  feedKey: unknown,
  prefix: string,
  pollIntervalMs: number,
  maxWaitMs: number,
  threadTarget: { path: string; busyTimeoutMs: number } | undefined,
): SqliteSessionStore {
  const tables: SqliteTables = createTables(prefix);
  const db: BetterSQLite3Database = drizzle({ client: database });
  const eventsTable = `"${prefix}events"`;
  const sessionsTable = `"${prefix}sessions"`;
  const runsTable = `"${prefix}runs"`;
  const sequencesTable = `"${prefix}session_sequences"`;
  const eventsName = `${prefix}events`;
  const sessionsName = `${prefix}sessions`;
  const runsName = `${prefix}runs`;

  // The hot path: statements prepared once, run by the driver itself.
  const selectCounter = database
    .prepare(`SELECT last_sequence FROM ${sequencesTable} WHERE session_id = ?`)
    .pluck();
  const createCounter = database.prepare(
    `INSERT INTO ${sequencesTable} (session_id, last_sequence)` +
      ` VALUES (?, (SELECT COALESCE(MAX(sequence), 0) FROM ${eventsTable} WHERE session_id = ?))` +
      ' ON CONFLICT (session_id) DO NOTHING',
  );
  const sessionExists = database.prepare(`SELECT 1 FROM ${sessionsTable} WHERE id = ?`).pluck();
  /** Event appends run on the writer thread when it serves this store, else on this connection. */
  const threadWriter: ThreadWriter | undefined =
    threadTarget === undefined ? undefined : openThreadWriter({ ...threadTarget, prefix });
  const appendInline = threadWriter === undefined ? createBatchAppender(database, prefix) : undefined;
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  const deleteEvents = database.prepare(`DELETE FROM ${eventsTable} WHERE session_id = ?`);
  const deleteRuns = database.prepare(`DELETE FROM ${runsTable} WHERE session_id = ?`);
  const deleteCounter = database.prepare(`DELETE FROM ${sequencesTable} WHERE session_id = ?`);
  const deleteSessionRow = database.prepare(`DELETE FROM ${sessionsTable} WHERE id = ?`);

  /**
   * `getEvents` statements by filter shape: bit 1 before, 2 runId, 4 several types, 8 since, 16 one
   * type (`type = ?` lets SQLite use the (session_id, type, sequence) index in order).
   */
  const eventQueries = new Map<number, Database.Statement>();
  function eventQuery(shape: number): Database.Statement {
    let statement = eventQueries.get(shape);
    if (statement === undefined) {
      let text = `SELECT ${EVENT_COLUMNS} FROM ${eventsTable} WHERE session_id = ? AND sequence > ?`;
      if (shape & 1) text += ' AND sequence < ?';
      if (shape & 2) text += ' AND run_id = ?';
      if (shape & 4) text += ' AND type IN (SELECT value FROM json_each(?))';
      if (shape & 8) text += ' AND timestamp >= ?';
      if (shape & 16) text += ' AND type = ?';
      text += ' ORDER BY sequence LIMIT ?';
      statement = database.prepare(text).raw();
      eventQueries.set(shape, statement);
    }
    return statement;
  }
  const tailQuery = eventQuery(0);

  /** The statement and bind values `getEvents` uses for a query. */
  function planEvents(
    sessionId: string,
    query: NormalizedQuery,
  ): { statement: Database.Statement; params: unknown[] } {
    const params: unknown[] = [sessionId, query.after];
    let shape = 0;
    if (query.before !== undefined) {
      shape |= 1;
      params.push(query.before);
    }
    if (query.runId !== undefined) {
      shape |= 2;
      params.push(query.runId);
    }
    if (query.types !== undefined && query.types.length !== 1) {
      shape |= 4;
      params.push(query.typesJson);
    }
    if (query.since !== undefined) {
      shape |= 8;
      params.push(query.since);
    }
    if (query.types?.length === 1) {
      shape |= 16;
      params.push(query.types[0]);
    }
    params.push(query.limit);
    return { statement: shape === 0 ? tailQuery : eventQuery(shape), params };
  }

  function selectEvents(sessionId: string, query: NormalizedQuery): StoredEvent[] {
    let rows: EventRow[];
    if (query === UNBOUNDED_QUERY) {
      rows = tailQuery.all(sessionId, 0, -1) as EventRow[];
    } else {
      const { statement, params } = planEvents(sessionId, query);
      rows = statement.all(...params) as EventRow[];
    }
    const events: StoredEvent[] = new Array(rows.length);
    for (let index = 0; index < rows.length; index++) events[index] = eventFromRow(rows[index]!, eventsName);
    return events;
  }

  const waiters = new Set<Waiter>();
  let pollTimer: ReturnType<typeof setInterval> | undefined;
  let closed = false;

  const listener: ChangeListener = {
    get waiting(): boolean {
      return waiters.size > 0;
    },
    onAppended(events: readonly StoredEvent[]): void {
      for (const waiter of [...waiters]) {
        if (events.some((event) => event.sessionId === waiter.sessionId && matches(event, waiter.query))) {
          recheck(waiter);
        }
      }
    },
  };
  const feed: ChangeFeed = joinChangeFeed(feedKey, listener);

  function recheck(waiter: Waiter): void {
    let found: StoredEvent[];
    try {
      found = selectEvents(waiter.sessionId, waiter.query);
    } catch (error) {
      waiter.fail(error);
      return;
    }
    if (found.length > 0) waiter.settle(found);
  }

  function poll(): void {
    if (closed || waiters.size === 0) {
      stopPolling();
      return;
    }
    let version: number;
    try {
      version = dataVersion.get() as number;
    } catch {
      return;
    }
    for (const waiter of [...waiters]) {
      if (waiter.version !== version) {
        waiter.version = version;
        recheck(waiter);
      }
    }
  }

  function startPolling(): void {
    if (pollTimer !== undefined) return;
    pollTimer = setInterval(poll, pollIntervalMs);
    pollTimer.unref();
  }

  function stopPolling(): void {
    if (pollTimer === undefined) return;
    clearInterval(pollTimer);
    pollTimer = undefined;
  }

  function ensureOpen(): void {
    if (closed || !database.open) throw closedStoreError();
  }

  /** Runs a synchronous database operation, turning failures into storage errors. */
  function guarded<T>(operation: string, kind: OperationKind, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw toStorageError(error, operation, kind);
    }
  }

  /** Checks an event and writes its column values into `rows` at `at` (see `ROW_WIDTH`). */
  function serialize(event: NewEvent, rows: unknown[], at: number): void {
    validateNewEvent(event);
    rows[at] = event.id;
    rows[at + 1] = event.sessionId;
    rows[at + 2] = event.type;
    rows[at + 3] = toUtcIso(event.timestamp, 'timestamp');
    rows[at + 4] = event.runId ?? null;
    rows[at + 5] = toJson(event.data, 'event', 'data');
    rows[at + 6] = event.metadata === undefined ? '{}' : toJson(event.metadata, 'event', 'metadata');
    rows[at + 7] = event.schemaVersion;
    rows[at + 8] = event.provider ?? null;
    rows[at + 9] = event.correlationId ?? null;
  }

  /**
   * Runs the append transaction (on the writer thread or this connection) and builds the stored
   * events: an id stored before is answered with the stored event, a repeat inside the batch with the
   * same object as its first occurrence. Newly stored events wake this process's long-polls.
   */
  async function appendRows(events: NewEvent[], rows: unknown[], operation: string): Promise<StoredEvent[]> {
    let outcome: AppendOutcome;
    try {
      outcome = threadWriter === undefined ? appendInline!.append(rows) : await threadWriter.append(rows);
    } catch (error) {
      throw appendError(error, operation);
    }
    const { sequences, duplicates } = outcome;
    const stored: StoredEvent[] = new Array(events.length);
    for (let index = 0; index < events.length; index++) {
      const sequence = sequences[index]!;
      if (sequence === 0) continue;
      const event = toStoredEvent(events[index]!, sequence);
      const timestamp = rows[index * ROW_WIDTH + 3] as string;
      if (event.timestamp !== timestamp) event.timestamp = timestamp;
      stored[index] = event;
    }
    if (feed.hasWaiters) {
      const fresh = duplicates === undefined ? stored : stored.filter((event) => event !== undefined);
      if (fresh.length > 0) feed.publish(fresh);
    }
    if (duplicates !== undefined) {
      for (const [index, found] of duplicates) {
        stored[index] = typeof found === 'number' ? stored[found]! : eventFromRow(found, eventsName);
      }
    }
    return stored;
  }

  const query = createSqliteQuery({
    db,
    tables,
    names: { sessions: sessionsName, runs: runsName, events: eventsName },
    ensureOpen,
    guarded: (operation, body) => guarded(operation, 'query', body),
    readEvents: (sessionId) => selectEvents(sessionId, UNBOUNDED_QUERY),
  });

  const store = {
    ...query,
    specificationVersion: 'v1' as const,
    supportsLongPoll: true as const,
    orderedConcurrentAppends: true as const,
    database,
    tablePrefix: prefix,
    writer: threadWriter === undefined ? ('inline' as const) : ('thread' as const),

    get closed(): boolean {
      return closed;
    },

    get activeLongPolls(): number {
      return waiters.size;
    },

    async saveSession(session: Session): Promise<Session> {
      ensureOpen();
      const row = sessionToRow(sessionFromJSON(session));
      const { id: _id, ...changes } = row;
      guarded('saveSession', 'write', () =>
        db.transaction(
          (tx) => {
            tx.insert(tables.sessions)
              .values(row)
              .onConflictDoUpdate({ target: tables.sessions.id, set: changes })
              .run();
            createCounter.run(row.id, row.id);
          },
          { behavior: 'immediate' },
        ),
      );
      return sessionFromRow(row, sessionsName);
    },

    async getSession(sessionId: string): Promise<Session | undefined> {
      ensureOpen();
      const row = guarded('getSession', 'read', () =>
        db.select().from(tables.sessions).where(eq(tables.sessions.id, sessionId)).get(),
      );
      return row === undefined ? undefined : sessionFromRow(row, sessionsName);
    },

    async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const offset = checkOffset(filter.offset);
      const conditions: SQL[] = [];
      const statuses = toList(filter.status, 'status');
      if (statuses !== undefined) conditions.push(inArray(tables.sessions.status, statuses));
      if (filter.agentId !== undefined) conditions.push(eq(tables.sessions.agentId, filter.agentId));
      if (filter.tags !== undefined) {
        if (!Array.isArray(filter.tags) || !filter.tags.every((tag) => typeof tag === 'string')) {
          throw new AsmError('validation_error', 'tags must be an array of strings', {
            details: { field: 'tags' },
          });
        }
        for (const tag of new Set(filter.tags)) {
          conditions.push(
            sql`exists (select 1 from json_each(${tables.sessions.tags}) where value = ${tag})`,
          );
        }
      }
      const rows = guarded('listSessions', 'read', () => {
        const query = db
          .select()
          .from(tables.sessions)
          .where(and(...conditions))
          .orderBy(asc(tables.sessions.createdAt), asc(tables.sessions.id))
          .limit(limit ?? Number.MAX_SAFE_INTEGER);
        return (offset > 0 ? query.offset(offset) : query).all();
      });
      return rows.map((row) => sessionFromRow(row, sessionsName));
    },

    async deleteSession(sessionId: string): Promise<void> {
      ensureOpen();
      guarded('deleteSession', 'write', () =>
        database
          .transaction(() => {
            deleteEvents.run(sessionId);
            deleteRuns.run(sessionId);
            deleteCounter.run(sessionId);
            deleteSessionRow.run(sessionId);
          })
          .immediate(),
      );
      for (const waiter of [...waiters]) if (waiter.sessionId === sessionId) waiter.settle([]);
    },

    async saveRun(run: Run): Promise<Run> {
      ensureOpen();
      const row = runToRow(runFromJSON(run));
      const { id: _id, ...changes } = row;
      guarded('saveRun', 'write', () =>
        db.transaction(
          (tx) => {
            if (sessionExists.get(row.sessionId) === undefined) throw sessionNotFound(row.sessionId);
            tx.insert(tables.runs)
              .values(row)
              .onConflictDoUpdate({ target: tables.runs.id, set: changes })
              .run();
          },
          { behavior: 'immediate' },
        ),
      );
      return runFromRow(row, runsName);
    },

    async getRun(runId: string): Promise<Run | undefined> {
      ensureOpen();
      const row = guarded('getRun', 'read', () =>
        db.select().from(tables.runs).where(eq(tables.runs.id, runId)).get(),
      );
      return row === undefined ? undefined : runFromRow(row, runsName);
    },

    async listRuns(sessionId: string, filter: RunFilter = {}): Promise<Run[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const conditions: SQL[] = [eq(tables.runs.sessionId, sessionId)];
      const statuses = toList(filter.status, 'status');
      if (statuses !== undefined) conditions.push(inArray(tables.runs.status, statuses));
      const rows = guarded('listRuns', 'read', () => {
        const query = db
          .select()
          .from(tables.runs)
          .where(and(...conditions))
          .orderBy(asc(tables.runs.createdAt), asc(tables.runs.id));
        return (limit === undefined ? query : query.limit(limit)).all();
      });
      return rows.map((row) => runFromRow(row, runsName));
    },

    async appendEvent(event: NewEvent): Promise<StoredEvent> {
      ensureOpen();
      const rows: unknown[] = new Array(ROW_WIDTH);
      serialize(event, rows, 0);
      return (await appendRows([event], rows, 'appendEvent'))[0]!;
    },

    async appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      ensureOpen();
      if (!Array.isArray(events)) {
        throw new AsmError('validation_error', 'events must be an array', { details: { field: 'events' } });
      }
      const count = events.length;
      if (count === 0) return [];
      // Check and serialize the whole batch first: nothing is written unless every event passes.
      const rows: unknown[] = new Array(count * ROW_WIDTH);
      const firstSessionId = events[0]?.sessionId;
      let mixedSessions = false;
      for (let index = 0; index < count; index++) {
        const event = events[index]!;
        serialize(event, rows, index * ROW_WIDTH);
        if (event.sessionId !== firstSessionId) mixedSessions = true;
      }
      if (mixedSessions) {
        const sessionOfId = new Map<string, string>();
        for (const event of events) {
          const seen = sessionOfId.get(event.id);
          if (seen !== undefined && seen !== event.sessionId)
            throw toAsmError(idInOtherSession(event.id, seen));
          sessionOfId.set(event.id, event.sessionId);
        }
      }
      return appendRows(events, rows, 'appendEvents');
    },

    async getEvents(sessionId: string, query?: EventQuery): Promise<StoredEvent[]> {
      ensureOpen();
      const normalized = query === undefined ? UNBOUNDED_QUERY : normalizeQuery(query);
      const waitMs = query?.waitMs;
      const signal = query?.signal;
      const wantsWait = typeof waitMs === 'number' && waitMs > 0 && signal?.aborted !== true;
      // Read the commit counter before the query, so a commit landing in between is not missed.
      const version = wantsWait ? guarded('getEvents', 'read', () => dataVersion.get() as number) : 0;
      const found = guarded('getEvents', 'read', () => selectEvents(sessionId, normalized));
      if (found.length > 0 || !wantsWait) return found;

      return new Promise<StoredEvent[]>((resolvePoll, rejectPoll) => {
        let done = false;
        const finish = (): void => {
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          waiters.delete(waiter);
          if (waiters.size === 0) stopPolling();
        };
        /** Answers with what matches now (the deadline and an abort end the wait this way). */
        const answerNow = (): void => {
          if (closed || !database.open) {
            waiter.settle([]);
            return;
          }
          try {
            waiter.settle(selectEvents(sessionId, normalized));
          } catch (error) {
            waiter.fail(error);
          }
        };
        const onAbort = (): void => answerNow();
        const timer = setTimeout(answerNow, Math.min(waitMs, maxWaitMs));
        const waiter: Waiter = {
          sessionId,
          query: normalized,
          version,
          settle(events: StoredEvent[]): void {
            if (done) return;
            finish();
            resolvePoll(events);
          },
          fail(error: unknown): void {
            if (done) return;
            finish();
            rejectPoll(toStorageError(error, 'getEvents', 'read'));
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiters.add(waiter);
        startPolling();
      });
    },

    async getLatestSequence(sessionId: string): Promise<number> {
      ensureOpen();
      return guarded(
        'getLatestSequence',
        'read',
        () => (selectCounter.get(sessionId) as number | undefined) ?? 0,
      );
    },

    explainEventsQuery(sessionId: string, query?: EventQuery): string[] {
      ensureOpen();
      const { statement, params } = planEvents(
        sessionId,
        query === undefined ? UNBOUNDED_QUERY : normalizeQuery(query),
      );
      return guarded('explainEventsQuery', 'read', () => {
        const rows = database.prepare(`EXPLAIN QUERY PLAN ${statement.source}`).all(...params) as Array<{
          detail: string;
        }>;
        return rows.map((row) => row.detail);
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const waiter of [...waiters]) waiter.settle([]);
      waiters.clear();
      stopPolling();
      feed.leave(listener);
      // Appends already sent finish first: the writer thread answers in order.
      await threadWriter?.close();
      if (owned && database.open) {
        try {
          database.close();
        } catch {
          // Closing releases the file either way; nothing committed depends on it.
        }
      }
    },
  } satisfies SqliteSessionStore;

  return store;
}

/** True when a freshly stored event satisfies a parked query. */
function matches(event: StoredEvent, query: NormalizedQuery): boolean {
  if (!(event.sequence > query.after)) return false;
  if (query.before !== undefined && !(event.sequence < query.before)) return false;
  if (query.runId !== undefined && event.runId !== query.runId) return false;
  if (query.types !== undefined && !query.types.includes(event.type)) return false;
  if (query.since !== undefined && !(event.timestamp >= query.since)) return false;
  return true;
}

function normalizeQuery(query: EventQuery): NormalizedQuery {
  if (typeof query !== 'object' || query === null) {
    throw new AsmError('validation_error', 'query must be an object', { details: { field: 'query' } });
  }
  const { after, before, runId, types, since } = query;
  if (
    after === undefined &&
    before === undefined &&
    query.limit === undefined &&
    runId === undefined &&
    types === undefined &&
    since === undefined
  ) {
    return UNBOUNDED_QUERY;
  }
  if (after !== undefined && !(Number.isInteger(after) && after >= 0)) {
    throw new AsmError('validation_error', 'after must be a non-negative integer', {
      details: { field: 'after', value: after },
    });
  }
  if (before !== undefined && !(Number.isInteger(before) && before >= 0)) {
    throw new AsmError('validation_error', 'before must be a non-negative integer', {
      details: { field: 'before', value: before },
    });
  }
  const limit = checkLimit(query.limit);
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
    after: after ?? 0,
    before,
    limit: limit ?? -1,
    runId,
    types,
    typesJson: types === undefined ? undefined : JSON.stringify(types),
    since: since === undefined ? undefined : toUtcIso(since, 'since'),
  };
}

/** A positive integer, or `undefined` when absent. */
function checkLimit(limit: unknown): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit === 'number' && Number.isInteger(limit) && limit > 0) return limit;
  throw new AsmError('validation_error', 'limit must be a positive integer', {
    details: { field: 'limit', value: limit },
  });
}

/** A non-negative integer, 0 when absent. */
function checkOffset(offset: unknown): number {
  if (offset === undefined) return 0;
  if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  throw new AsmError('validation_error', 'offset must be a non-negative integer', {
    details: { field: 'offset', value: offset },
  });
}

function checkDuration(value: unknown, field: string, fallback: number, minimum: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && !Number.isNaN(value) && value >= minimum) return value;
  throw new AsmError('validation_error', `${field} must be a number >= ${minimum}`, {
    details: { field, value },
  });
}

function toList(value: string | string[] | undefined, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((item) => typeof item === 'string')) {
    throw new AsmError('validation_error', `${field} must be a string or an array of strings`, {
      details: { field },
    });
  }
  return list;
}

function sessionNotFound(sessionId: string): AsmError {
  return new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
}

/** An `AppendRejection` as the `AsmError` callers get. */
function toAsmError(rejection: AppendRejection): AsmError {
  return new AsmError(rejection.code, rejection.message, { details: rejection.details });
}

/**
 * What a failed append becomes: a broken rule keeps its code (`session_not_found`,
 * `validation_error`), a database failure gets a storage code as on every other path, and a writer
 * thread that stopped mid-request is `storage_write_failed`.
 */
function appendError(error: unknown, operation: string): AsmError {
  if (error instanceof AppendRejection) return toAsmError(error);
  if (!(error instanceof WriterFailure)) return toStorageError(error, operation, 'write');
  const { rejection, sqliteCode, message, details } = error.failure;
  if (rejection !== undefined) return new AsmError(rejection, message, { details: details ?? {} });
  if (sqliteCode !== undefined) {
    return toStorageError(Object.assign(new Error(message), { code: sqliteCode }), operation, 'write');
  }
  return new AsmError('storage_write_failed', `SQLite ${operation} failed: ${message}`, {
    details: { operation, ...details },
  });
}
