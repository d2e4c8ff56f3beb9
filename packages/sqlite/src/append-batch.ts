/**
 * The event append transaction, shared by the store's own connection and the writer thread
 * (`append-worker.ts`). It imports nothing but the driver's types, so the writer thread loads it
 * without `@asm/core`: failures are thrown as `AppendRejection` (or the driver's own `SqliteError`)
 * and turned into `AsmError`s on the store's side by `appendFailure`.
 */
import type Database from 'better-sqlite3';

/**
 * The columns the hot path reads, in this order (`raw()` rows are arrays): keep `EVENT_COLUMNS` and
 * `eventFromRow` (rows.ts) in step.
 */
export const EVENT_COLUMNS =
  'id, type, timestamp, session_id, run_id, data, metadata, schema_version, provider, correlation_id, sequence';

/** An event row in `EVENT_COLUMNS` order. */
export type EventRow = [
  id: string,
  type: string,
  timestamp: string,
  sessionId: string,
  runId: string | null,
  data: string,
  metadata: string,
  schemaVersion: number,
  provider: string | null,
  correlationId: string | null,
  sequence: number,
];

/**
 * How many values one event takes in a flat batch: id, session id, type, timestamp, run id, data,
 * metadata, schema version, provider, correlation id (the persisted column values, serialized).
 */
export const ROW_WIDTH = 10;

/** What an append transaction stored. */
export interface AppendOutcome {
  /** The sequence of each event of the batch; 0 for an event whose id was stored already. */
  sequences: number[];
  /**
   * The events whose id was stored already: `[index, row]` for one stored before this batch,
   * `[index, earlierIndex]` for a repeat of an earlier event of the same batch.
   */
  duplicates?: Array<[index: number, stored: EventRow | number]>;
}

/** A rule the append broke, thrown as is; the store turns it into an `AsmError` with this code. */
export class AppendRejection extends Error {
  constructor(
    readonly code: 'session_not_found' | 'validation_error' | 'storage_write_failed',
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppendRejection';
  }
}

/**
 * Prepares the append statements of a store on `database` and returns the append: one immediate
 * transaction per batch (all or nothing, input order kept). Sequences are taken from the per-session
 * counter inside the transaction, so they stay gapless with several connections and processes on
 * one file. An id stored before, or earlier in the same batch, inserts nothing (`ON CONFLICT DO
 * NOTHING`) and is answered with the stored event. The batch is a flat array of `ROW_WIDTH` values
 * per event. `appendGroup` commits several batches at once (the writer thread uses it for the
 * batches that queued up while it was busy).
 */
export function createBatchAppender(database: Database.Database, prefix: string): BatchAppender {
  const eventsTable = `"${prefix}events"`;
  const sequencesTable = `"${prefix}session_sequences"`;
  const insertEvent = database.prepare(
    `INSERT INTO ${eventsTable} (id, session_id, type, timestamp, run_id, data, metadata, schema_version, provider, correlation_id, sequence)` +
      ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
  );
  const selectEventById = database.prepare(`SELECT ${EVENT_COLUMNS} FROM ${eventsTable} WHERE id = ?`).raw();
  const selectCounter = database
    .prepare(`SELECT last_sequence FROM ${sequencesTable} WHERE session_id = ?`)
    .pluck();
  const updateCounter = database.prepare(
    `UPDATE ${sequencesTable} SET last_sequence = ? WHERE session_id = ?`,
  );
  const createCounter = database.prepare(
    `INSERT INTO ${sequencesTable} (session_id, last_sequence)` +
      ` VALUES (?, (SELECT COALESCE(MAX(sequence), 0) FROM ${eventsTable} WHERE session_id = ?))` +
      ' ON CONFLICT (session_id) DO NOTHING',
  );
  const sessionExists = database.prepare(`SELECT 1 FROM "${prefix}sessions" WHERE id = ?`).pluck();
  const insertChunk = database.prepare(
    `INSERT INTO ${eventsTable} (id, session_id, type, timestamp, run_id, data, metadata, schema_version, provider, correlation_id, sequence) VALUES ` +
      Array.from({ length: CHUNK_ROWS }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ') +
      ' ON CONFLICT (id) DO NOTHING',
  );
  /** Bind values of one chunk, reused. */
  const chunkParams: unknown[] = new Array(CHUNK_ROWS * (ROW_WIDTH + 1));
  /**
   * Inserts `CHUNK_ROWS` events of one session in one statement, in a savepoint: when an id among
   * them was stored already, the savepoint rolls back and the caller inserts them one by one.
   */
  const chunkInserted = database.transaction(
    (rows: readonly unknown[], at: number, first: number): boolean => {
      for (let row = 0, source = at, target = 0; row < CHUNK_ROWS; row++) {
        for (let column = 0; column < ROW_WIDTH; column++) chunkParams[target++] = rows[source++];
        chunkParams[target++] = first + row;
      }
      if (insertChunk.run(chunkParams).changes === CHUNK_ROWS) return true;
      throw CHUNK_CONFLICT;
    },
  );

  /** The last sequence of a session inside the transaction; creates a missing counter row. */
  function currentSequence(sessionId: string): number {
    const last = selectCounter.get(sessionId) as number | undefined;
    if (last !== undefined) return last;
    if (sessionExists.get(sessionId) === undefined) {
      throw new AppendRejection('session_not_found', `Session not found: ${sessionId}`, { sessionId });
    }
    createCounter.run(sessionId, sessionId);
    return selectCounter.get(sessionId) as number;
  }

  /** The row behind an id that `ON CONFLICT` skipped. */
  function storedRow(eventId: string, sessionId: string): EventRow {
    const row = selectEventById.get(eventId) as EventRow | undefined;
    if (row === undefined) {
      // The conflict says the row exists; reaching this means the database changed under us.
      throw new AppendRejection(
        'storage_write_failed',
        `Event ${eventId} conflicted but cannot be read back`,
        {
          eventId,
        },
      );
    }
    if (row[3] !== sessionId) throw idInOtherSession(eventId, row[3]);
    return row;
  }

  const append = database.transaction((rows: readonly unknown[]): AppendOutcome => {
    const count = rows.length / ROW_WIDTH;
    const sequences: number[] = new Array(count);
    let duplicates: AppendOutcome['duplicates'];
    let sessionId = '';
    let last = 0;
    /** The last sequences of the other sessions of a mixed batch. */
    let others: Map<string, number> | undefined;
    /** Index in the batch of each id, built at the first duplicate. */
    let indexOfId: Map<string, number> | undefined;
    for (let index = 0, at = 0; index < count; index++, at += ROW_WIDTH) {
      const rowSession = rows[at + 1] as string;
      if (rowSession !== sessionId) {
        if (index > 0) {
          others ??= new Map();
          others.set(sessionId, last);
        }
        sessionId = rowSession;
        last = others?.get(sessionId) ?? currentSequence(sessionId);
      }
      // The common case: a run of new events of one session goes in chunks of one statement each.
      if (indexOfId === undefined && index + CHUNK_ROWS <= count && sameSession(rows, at, rowSession)) {
        let inserted = false;
        try {
          inserted = chunkInserted(rows, at, last + 1);
        } catch (error) {
          if (error !== CHUNK_CONFLICT) throw error;
        }
        if (inserted) {
          for (let row = 0; row < CHUNK_ROWS; row++) sequences[index + row] = last + 1 + row;
          last += CHUNK_ROWS;
          index += CHUNK_ROWS - 1;
          at += (CHUNK_ROWS - 1) * ROW_WIDTH;
          continue;
        }
      }
      const inserted =
        insertEvent.run(
          rows[at],
          rowSession,
          rows[at + 2],
          rows[at + 3],
          rows[at + 4],
          rows[at + 5],
          rows[at + 6],
          rows[at + 7],
          rows[at + 8],
          rows[at + 9],
          last + 1,
        ).changes === 1;
      const eventId = rows[at] as string;
      if (inserted) {
        last += 1;
        sequences[index] = last;
        indexOfId?.set(eventId, index);
        continue;
      }
      if (indexOfId === undefined) {
        indexOfId = new Map();
        for (let earlier = 0; earlier < index; earlier++) {
          const earlierId = rows[earlier * ROW_WIDTH] as string;
          if (!indexOfId.has(earlierId)) indexOfId.set(earlierId, earlier);
        }
      }
      sequences[index] = 0;
      duplicates ??= [];
      const earlier = indexOfId.get(eventId);
      if (earlier === undefined) {
        duplicates.push([index, storedRow(eventId, rowSession)]);
        indexOfId.set(eventId, index);
      } else {
        const earlierSession = rows[earlier * ROW_WIDTH + 1] as string;
        if (earlierSession !== rowSession) throw idInOtherSession(eventId, earlierSession);
        duplicates.push([index, earlier]);
      }
    }
    if (count > 0) updateCounter.run(last, sessionId);
    if (others !== undefined) {
      for (const [otherSessionId, otherLast] of others) {
        if (otherSessionId !== sessionId) updateCounter.run(otherLast, otherSessionId);
      }
    }
    return duplicates === undefined ? { sequences } : { sequences, duplicates };
  });

  /** Each batch in a savepoint of one transaction: a failing batch rolls back alone. */
  const appendGroup = database.transaction((batches: ReadonlyArray<readonly unknown[]>) =>
    batches.map((rows): AppendOutcome | unknown => {
      try {
        return { outcome: append(rows) };
      } catch (error) {
        return { error };
      }
    }),
  );

  return {
    append: (rows) => append.immediate(rows),
    appendGroup: (batches) =>
      appendGroup.immediate(batches) as Array<{ outcome: AppendOutcome } | { error: unknown }>,
  };
}

/** The appends of one store's connection. */
export interface BatchAppender {
  /** One batch in one immediate transaction; throws `AppendRejection` or the driver's error. */
  append(rows: readonly unknown[]): AppendOutcome;
  /**
   * Several batches in one immediate transaction (one commit: group commit), each in its own
   * savepoint, so a batch that breaks a rule rolls back alone and the others still commit. Throws
   * only when the transaction as a whole fails (the lock, the commit), and then nothing is stored.
   */
  appendGroup(
    batches: ReadonlyArray<readonly unknown[]>,
  ): Array<{ outcome: AppendOutcome } | { error: unknown }>;
}

/** Events inserted by one multi-row statement (11 bind values each, far below SQLite's limit). */
const CHUNK_ROWS = 32;

/** Thrown inside a chunk's savepoint to roll it back when an id in it was stored already. */
const CHUNK_CONFLICT = new Error('chunk conflict');

/** True when the `CHUNK_ROWS` events from `at` all belong to `sessionId`. */
function sameSession(rows: readonly unknown[], at: number, sessionId: string): boolean {
  for (let row = 1; row < CHUNK_ROWS; row++) {
    if (rows[at + row * ROW_WIDTH + 1] !== sessionId) return false;
  }
  return true;
}

/** The rejection of an id already stored in another session. */
export function idInOtherSession(eventId: string, sessionId: string): AppendRejection {
  return new AppendRejection(
    'validation_error',
    `Event ${eventId} is already stored in another session (${sessionId})`,
    { eventId, sessionId },
  );
}
