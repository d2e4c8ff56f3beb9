import { AsmError } from '../errors.js';
import type { EventType, NewEvent, StoredEvent } from '../event.js';
import type { Run, RunStatus } from '../run.js';
import type { Session, SessionStatus } from '../session.js';

/** Filters of `listSessions`. */
export interface SessionFilter {
  status?: SessionStatus | SessionStatus[];
  agentId?: string;
  /** Sessions that carry every one of these tags. */
  tags?: string[];
  /** At most this many sessions (positive integer). */
  limit?: number;
  /** Skip this many sessions first (after ordering by `createdAt`). */
  offset?: number;
}

/** Filters of `listRuns`. */
export interface RunFilter {
  status?: RunStatus | RunStatus[];
  limit?: number;
}

/**
 * Cursor query of `getEvents`. Filters combine with AND; `limit` applies last.
 */
export interface EventQuery {
  /** Only events with `sequence > after` (strict). */
  after?: number;
  /** Only events with `sequence < before` (strict). */
  before?: number;
  /** At most this many events (positive integer). */
  limit?: number;
  runId?: string;
  /** Only these types. */
  types?: EventType[];
  /** Only events with `timestamp >= since` (inclusive, ISO-8601). */
  since?: string;
  /**
   * Long-poll: when nothing matches, wait up to this many milliseconds for a matching event to be
   * appended, then answer with what matches (possibly nothing). Stores with
   * `supportsLongPoll: false` ignore it and answer at once; core then polls.
   */
  waitMs?: number;
  /** Ends a long-poll early; the call then resolves with what matches at that moment. */
  signal?: AbortSignal;
}

/**
 * The persistence port. A store keeps sessions, runs and each session's ordered event log.
 *
 * **The sequence contract** (every store proves it with `testSessionStore` from `@asm/testing`):
 * - per session, sequence numbers start at 1 and grow by exactly 1 for every new event: no gap and no
 *   duplicate, even with many concurrent writers in many processes;
 * - appending an event whose `id` is already stored stores nothing and returns the stored event, with
 *   its original sequence number (appends are idempotent on id, so a retried write is safe);
 * - `appendEvents` is all or nothing, returns events in input order, gives new events contiguous
 *   sequence numbers in input order, and maps a repeated id inside the batch to the same stored event;
 * - `getEvents` returns events in ascending sequence order.
 *
 * Failures are `AsmError`s with a storage code (`storage_error`, `storage_write_failed`,
 * `storage_read_failed`, `storage_connection_failed`); a call on a closed store rejects with
 * `storage_connection_failed`; bad input is `validation_error` and writes nothing.
 */
export interface SessionStore {
  /** The port version this store implements. Core refuses stores of an unknown version. */
  readonly specificationVersion: 'v1';
  /** True when `getEvents` honours `waitMs` (wakes as soon as a matching event is appended). */
  readonly supportsLongPoll: boolean;
  /**
   * True when appends are applied in the order they are called even while earlier ones are still in
   * flight (one ordered queue to the database): the session manager then sends a run's next batch
   * before the previous one has resolved, so writing overlaps with streaming. Leave it unset when
   * concurrent calls may commit out of order (a connection pool).
   */
  readonly orderedConcurrentAppends?: boolean;

  /** Inserts or replaces the session with this id (upsert: saving twice never duplicates). */
  saveSession(session: Session): Promise<Session>;
  /** The session, or `undefined`. */
  getSession(sessionId: string): Promise<Session | undefined>;
  /** Sessions matching the filter, ordered by `createdAt` then id. */
  listSessions(filter?: SessionFilter): Promise<Session[]>;
  /** Deletes the session with its runs and events. Idempotent: deleting a missing session is fine. */
  deleteSession(sessionId: string): Promise<void>;

  /** Inserts or replaces the run with this id. Its session must exist (`session_not_found`). */
  saveRun(run: Run): Promise<Run>;
  /** The run, or `undefined`. */
  getRun(runId: string): Promise<Run | undefined>;
  /** Runs of a session ordered by `createdAt` then id (the durable FIFO relies on this order). */
  listRuns(sessionId: string, filter?: RunFilter): Promise<Run[]>;

  /** Appends one event, assigning the next sequence number of its session (see the contract). */
  appendEvent(event: NewEvent): Promise<StoredEvent>;
  /** Appends a batch atomically (see the contract). An empty batch returns `[]`. */
  appendEvents(events: NewEvent[]): Promise<StoredEvent[]>;
  /** Events of a session matching the query, in sequence order. */
  getEvents(sessionId: string, query?: EventQuery): Promise<StoredEvent[]>;
  /** The highest sequence number of the session, 0 when it has no events. */
  getLatestSequence(sessionId: string): Promise<number>;

  /** Releases connections and wakes long-polls (they answer `[]`). Idempotent. */
  close(): Promise<void>;
}

/**
 * Checks that an object implements a port version this core understands. Called once, when a store
 * is handed to the manager.
 */
export function assertSessionStore(store: unknown): asserts store is SessionStore {
  const candidate = store as Partial<SessionStore> | undefined;
  if (!candidate || typeof candidate !== 'object') {
    throw new AsmError('validation_error', 'A SessionStore is required');
  }
  if (candidate.specificationVersion !== 'v1') {
    throw new AsmError(
      'validation_error',
      `Unsupported SessionStore specificationVersion ${JSON.stringify(candidate.specificationVersion)}; this @asm/core supports 'v1'`,
      { details: { specificationVersion: candidate.specificationVersion } },
    );
  }
  if (typeof candidate.supportsLongPoll !== 'boolean') {
    throw new AsmError('validation_error', 'SessionStore must declare supportsLongPoll (boolean)');
  }
  const methods = [
    'saveSession',
    'getSession',
    'listSessions',
    'deleteSession',
    'saveRun',
    'getRun',
    'listRuns',
    'appendEvent',
    'appendEvents',
    'getEvents',
    'getLatestSequence',
    'close',
  ] as const;
  for (const method of methods) {
    if (typeof candidate[method] !== 'function') {
      throw new AsmError('validation_error', `SessionStore is missing ${method}()`);
    }
  }
}
