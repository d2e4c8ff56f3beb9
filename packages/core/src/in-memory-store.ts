import { AsmError } from './errors.js';
import { type NewEvent, type StoredEvent, toStoredEvent, validateNewEvent } from './event.js';
import type { SessionQuery } from './ports/session-query.js';
import type { EventQuery, RunFilter, SessionFilter, SessionStore } from './ports/session-store.js';
import {
  checkEventQuery,
  costSummaryOf,
  countEventsIn,
  runsForSummary,
  searchEventsIn,
  searchRunsIn,
  searchSessionsIn,
  sessionStatsOf,
  usageSummaryOf,
} from './query.js';
import { type Run, runFromJSON } from './run.js';
import { type Session, sessionFromJSON } from './session.js';

/** The longest delay `setTimeout` accepts (about 24.8 days); longer waits are capped to it. */
const MAX_TIMER_MS = 2_147_483_647;

/** Options of `createInMemoryStore`. */
export interface InMemoryStoreOptions {
  /**
   * Upper bound, in milliseconds, on a long-poll wait (`EventQuery.waitMs`). A larger `waitMs` is
   * capped to it. Default and maximum: 2,147,483,647 (the timer limit of Node.js).
   */
  maxWaitMs?: number;
}

/**
 * The reference `SessionStore`: everything lives in this process's memory and is gone when it exits.
 *
 * It is the default store of core and of the tests, and the yardstick the other stores are measured
 * against. It implements the whole port, long-poll included.
 *
 * **Events are shared, not copied.** To keep appends cheap, a stored event is a shallow copy of the
 * appended envelope with `sequence` added; its `data` and `metadata` objects are the caller's own,
 * kept by reference, and `appendEvent` / `getEvents` hand out the store's own event objects. Treat
 * events (and their `data` and `metadata`) as immutable once appended or read. Sessions and runs, by
 * contrast, are deep-copied on save and on every read, so mutating one never changes the store.
 */
export interface InMemorySessionStore extends SessionStore, SessionQuery {
  readonly specificationVersion: 'v1';
  readonly supportsLongPoll: true;
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /** How many `getEvents` long-polls are parked right now (for diagnostics and leak tests). */
  readonly activeLongPolls: number;
}

/** An `EventQuery` checked and turned into the bounds `selectEvents` works with. */
interface NormalizedQuery {
  /** Events with `sequence > after`; also the array index of the first candidate. */
  after: number;
  /** Events with `sequence < before`; `Infinity` when unbounded. */
  before: number;
  /** `Infinity` when unbounded. */
  limit: number;
  runId: string | undefined;
  types: ReadonlySet<string> | undefined;
  sinceMs: number | undefined;
  /** True when `runId`, `types` or `since` is set, so each candidate must be inspected. */
  filtered: boolean;
}

/** A parked long-poll. */
interface Waiter {
  readonly sessionId: string;
  readonly query: NormalizedQuery;
  /** Removes the waiter, clears its timer and listener, and resolves the caller. Runs at most once. */
  settle(events: StoredEvent[]): void;
}

const UNBOUNDED_QUERY: NormalizedQuery = {
  after: 0,
  before: Number.POSITIVE_INFINITY,
  limit: Number.POSITIVE_INFINITY,
  runId: undefined,
  types: undefined,
  sinceMs: undefined,
  filtered: false,
};

/**
 * Creates an empty in-memory `SessionStore`.
 *
 * - Sequence numbers are per session, from 1, with no gap or duplicate: every append runs to the end
 *   without yielding, so concurrent callers are serialized by the event loop.
 * - `appendEvents` validates the whole batch (`validateNewEvent`, the session exists, no id stored
 *   under another session) before writing anything, so a bad event leaves the store untouched.
 * - Appending to a session that does not exist, or saving a run of one, is `session_not_found`.
 * - Reading the tail of a long log is O(limit): the sequence of an event is its array index + 1.
 * - `getEvents` honours `waitMs` (long-poll) and `signal`.
 * - After `close()`, every method rejects with `storage_connection_failed`.
 *
 * See `InMemorySessionStore` for what is copied and what is shared.
 */
export function createInMemoryStore(options: InMemoryStoreOptions = {}): InMemorySessionStore {
  const maxWaitMs = resolveMaxWait(options.maxWaitMs);

  const sessions = new Map<string, Session>();
  const runs = new Map<string, Run>();
  /** Run ids per session id. */
  const runsBySession = new Map<string, Set<string>>();
  /** Event log per session id: the event with sequence `n` is at index `n - 1`. Present iff the session is. */
  const logs = new Map<string, StoredEvent[]>();
  /** Every stored event by id (ids are unique across sessions). */
  const eventsById = new Map<string, StoredEvent>();
  /** Parked long-polls per session id. */
  const waiters = new Map<string, Set<Waiter>>();
  let waiterCount = 0;
  let closed = false;

  function ensureOpen(): void {
    if (closed) {
      throw new AsmError('storage_connection_failed', 'The store is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  }

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

  /** Wakes the waiters of `sessionId` that one of `fresh` (new events of that session) satisfies. */
  function wakeSession(sessionId: string, fresh: readonly StoredEvent[]): void {
    const set = waiters.get(sessionId);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      if (fresh.some((event) => matchesCursor(event, waiter.query) && matchesFilters(event, waiter.query))) {
        waiter.settle(selectEvents(logs.get(sessionId), waiter.query));
      }
    }
  }

  /** Wakes the waiters a set of new events (of any sessions) satisfies. */
  function wake(fresh: readonly StoredEvent[]): void {
    const first = fresh[0];
    if (first === undefined) return;
    if (fresh.every((event) => event.sessionId === first.sessionId)) {
      wakeSession(first.sessionId, fresh);
      return;
    }
    const bySession = new Map<string, StoredEvent[]>();
    for (const event of fresh) {
      const list = bySession.get(event.sessionId);
      if (list === undefined) bySession.set(event.sessionId, [event]);
      else list.push(event);
    }
    for (const [sessionId, list] of bySession) wakeSession(sessionId, list);
  }

  /** Stores a validated event whose session exists and whose id is not stored yet. */
  function write(event: NewEvent, log: StoredEvent[]): StoredEvent {
    const stored = toStoredEvent(event, log.length + 1);
    log.push(stored);
    eventsById.set(stored.id, stored);
    return stored;
  }

  /** Runs of a session, oldest first. */
  function runsOfSession(sessionId: string): Run[] {
    const ids = runsBySession.get(sessionId);
    if (!ids) return [];
    return [...ids]
      .map((id) => runs.get(id)!)
      .sort(
        (left, right) => left.createdAt.localeCompare(right.createdAt) || left.id.localeCompare(right.id),
      );
  }

  /** Events of some sessions (all when `sessionIds` is undefined). */
  function allEvents(sessionIds: string[] | undefined): StoredEvent[] {
    if (sessionIds) return sessionIds.flatMap((id) => logs.get(id) ?? []);
    return [...logs.values()].flat();
  }

  const store = {
    specificationVersion: 'v1' as const,
    supportsLongPoll: true as const,

    get closed(): boolean {
      return closed;
    },

    get activeLongPolls(): number {
      return waiterCount;
    },

    async saveSession(session: Session): Promise<Session> {
      ensureOpen();
      const copy = cloneRecord(sessionFromJSON(session), 'session');
      sessions.set(copy.id, copy);
      if (!logs.has(copy.id)) logs.set(copy.id, []);
      return cloneRecord(copy, 'session');
    },

    async getSession(sessionId: string): Promise<Session | undefined> {
      ensureOpen();
      const session = sessions.get(sessionId);
      return session === undefined ? undefined : cloneRecord(session, 'session');
    },

    async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit, 'limit');
      const offset = checkOffset(filter.offset);
      const statuses = toSet(filter.status);
      const tags = filter.tags;
      if (tags !== undefined && !Array.isArray(tags)) {
        throw new AsmError('validation_error', 'tags must be an array of strings', {
          details: { field: 'tags' },
        });
      }
      const matching: Session[] = [];
      for (const session of sessions.values()) {
        if (statuses !== undefined && !statuses.has(session.status)) continue;
        if (filter.agentId !== undefined && session.agentId !== filter.agentId) continue;
        if (tags !== undefined && !tags.every((tag) => session.tags.includes(tag))) continue;
        matching.push(session);
      }
      return sortByCreatedAt(matching)
        .slice(offset, offset + limit)
        .map((session) => cloneRecord(session, 'session'));
    },

    async deleteSession(sessionId: string): Promise<void> {
      ensureOpen();
      sessions.delete(sessionId);
      const runIds = runsBySession.get(sessionId);
      if (runIds !== undefined) {
        for (const runId of runIds) runs.delete(runId);
        runsBySession.delete(sessionId);
      }
      const log = logs.get(sessionId);
      if (log !== undefined) {
        for (const event of log) eventsById.delete(event.id);
        logs.delete(sessionId);
      }
      const set = waiters.get(sessionId);
      if (set !== undefined) for (const waiter of [...set]) waiter.settle([]);
    },

    async saveRun(run: Run): Promise<Run> {
      ensureOpen();
      const copy = cloneRecord(runFromJSON(run), 'run');
      if (!sessions.has(copy.sessionId)) throw sessionNotFound(copy.sessionId);
      const previous = runs.get(copy.id);
      if (previous !== undefined && previous.sessionId !== copy.sessionId) {
        runsBySession.get(previous.sessionId)?.delete(copy.id);
      }
      runs.set(copy.id, copy);
      let ids = runsBySession.get(copy.sessionId);
      if (ids === undefined) {
        ids = new Set();
        runsBySession.set(copy.sessionId, ids);
      }
      ids.add(copy.id);
      return cloneRecord(copy, 'run');
    },

    async getRun(runId: string): Promise<Run | undefined> {
      ensureOpen();
      const run = runs.get(runId);
      return run === undefined ? undefined : cloneRecord(run, 'run');
    },

    async listRuns(sessionId: string, filter: RunFilter = {}): Promise<Run[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit, 'limit');
      const statuses = toSet(filter.status);
      const matching: Run[] = [];
      for (const runId of runsBySession.get(sessionId) ?? []) {
        const run = runs.get(runId);
        if (run === undefined) continue;
        if (statuses !== undefined && !statuses.has(run.status)) continue;
        matching.push(run);
      }
      return sortByCreatedAt(matching)
        .slice(0, limit)
        .map((run) => cloneRecord(run, 'run'));
    },

    async appendEvent(event: NewEvent): Promise<StoredEvent> {
      ensureOpen();
      validateNewEvent(event);
      const log = logs.get(event.sessionId);
      if (log === undefined) throw sessionNotFound(event.sessionId);
      const existing = eventsById.get(event.id);
      if (existing !== undefined) {
        if (existing.sessionId !== event.sessionId) throw idInOtherSession(event.id, existing.sessionId);
        return existing;
      }
      const stored = write(event, log);
      if (waiterCount > 0) wakeSession(stored.sessionId, [stored]);
      return stored;
    },

    async appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      ensureOpen();
      if (!Array.isArray(events)) {
        throw new AsmError('validation_error', 'events must be an array', { details: { field: 'events' } });
      }
      const count = events.length;
      if (count === 0) return [];

      // Phase 1: check the whole batch. Nothing is written until every event has passed.
      let firstSessionId: string | undefined;
      let mixedSessions = false;
      for (const event of events) {
        validateNewEvent(event);
        if (!logs.has(event.sessionId)) throw sessionNotFound(event.sessionId);
        const existing = eventsById.get(event.id);
        if (existing !== undefined && existing.sessionId !== event.sessionId) {
          throw idInOtherSession(event.id, existing.sessionId);
        }
        if (firstSessionId === undefined) firstSessionId = event.sessionId;
        else if (event.sessionId !== firstSessionId) mixedSessions = true;
      }
      if (mixedSessions) {
        // One id under two sessions inside the batch would make the second copy unwritable.
        const sessionOfId = new Map<string, string>();
        for (const event of events) {
          const seen = sessionOfId.get(event.id);
          if (seen !== undefined && seen !== event.sessionId) throw idInOtherSession(event.id, seen);
          sessionOfId.set(event.id, event.sessionId);
        }
      }

      // Phase 2: write. Nothing below can fail, so the batch is all or nothing.
      const result: StoredEvent[] = [];
      const fresh: StoredEvent[] | undefined = waiterCount > 0 ? [] : undefined;
      for (const event of events) {
        const existing = eventsById.get(event.id);
        if (existing !== undefined) {
          result.push(existing);
          continue;
        }
        const stored = write(event, logs.get(event.sessionId)!);
        result.push(stored);
        fresh?.push(stored);
      }
      if (fresh !== undefined && fresh.length > 0) wake(fresh);
      return result;
    },

    async getEvents(sessionId: string, query?: EventQuery): Promise<StoredEvent[]> {
      ensureOpen();
      const normalized = query === undefined ? UNBOUNDED_QUERY : normalizeQuery(query);
      const found = selectEvents(logs.get(sessionId), normalized);
      const waitMs = query?.waitMs;
      if (found.length > 0 || typeof waitMs !== 'number' || !(waitMs > 0)) return found;
      const signal = query?.signal;
      if (signal?.aborted) return found;

      return new Promise<StoredEvent[]>((resolve) => {
        let done = false;
        const onAbort = (): void => {
          waiter.settle(selectEvents(logs.get(sessionId), normalized));
        };
        const timer = setTimeout(() => waiter.settle([]), Math.min(waitMs, maxWaitMs));
        const waiter: Waiter = {
          sessionId,
          query: normalized,
          settle(events: StoredEvent[]): void {
            if (done) return;
            done = true;
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            removeWaiter(waiter);
            resolve(events);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        addWaiter(waiter);
      });
    },

    async getLatestSequence(sessionId: string): Promise<number> {
      ensureOpen();
      return logs.get(sessionId)?.length ?? 0;
    },

    // SessionQuery: every read works on copies, like getSession/getRun.
    async searchSessions(search) {
      ensureOpen();
      const page = searchSessionsIn([...sessions.values()], runsOfSession, search);
      return { ...page, items: page.items.map((session) => cloneRecord(session, 'session')) };
    },

    async searchRuns(search) {
      ensureOpen();
      const page = searchRunsIn([...runs.values()], search);
      return { ...page, items: page.items.map((run) => cloneRecord(run, 'run')) };
    },

    async searchEvents(search) {
      ensureOpen();
      return searchEventsIn(allEvents(search?.sessionIds), search);
    },

    async countEvents(search) {
      ensureOpen();
      return countEventsIn(allEvents(search?.sessionIds), search);
    },

    async getSessionStats(sessionId) {
      ensureOpen();
      const session = sessions.get(sessionId);
      if (!session) throw sessionNotFound(sessionId);
      return sessionStatsOf(session, runsOfSession(sessionId), logs.get(sessionId) ?? []);
    },

    async getUsageSummary(filter) {
      ensureOpen();
      return usageSummaryOf(runsForSummary([...runs.values()], sessions, filter));
    },

    async getCostSummary(filter) {
      ensureOpen();
      return costSummaryOf(runsForSummary([...runs.values()], sessions, filter), filter?.pricingTable);
    },

    async exportSession(sessionId) {
      ensureOpen();
      const session = sessions.get(sessionId);
      if (!session) throw sessionNotFound(sessionId);
      return {
        session: cloneRecord(session, 'session'),
        runs: runsOfSession(sessionId).map((run) => cloneRecord(run, 'run')),
        events: [...(logs.get(sessionId) ?? [])],
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const set of [...waiters.values()]) {
        for (const waiter of [...set]) waiter.settle([]);
      }
      waiters.clear();
      waiterCount = 0;
      sessions.clear();
      runs.clear();
      runsBySession.clear();
      logs.clear();
      eventsById.clear();
    },
  } satisfies InMemorySessionStore;

  return store;
}

/** Events of `log` that match `query`, in sequence order, at most `query.limit` of them. */
function selectEvents(log: readonly StoredEvent[] | undefined, query: NormalizedQuery): StoredEvent[] {
  if (log === undefined) return [];
  const start = query.after;
  const end = Math.min(log.length, query.before - 1);
  if (start >= end) return [];
  if (!query.filtered) return log.slice(start, Math.min(end, start + query.limit));
  const result: StoredEvent[] = [];
  for (let index = start; index < end && result.length < query.limit; index++) {
    const event = log[index]!;
    if (matchesFilters(event, query)) result.push(event);
  }
  return result;
}

/** True when the event lies inside the query's `after` / `before` window. */
function matchesCursor(event: StoredEvent, query: NormalizedQuery): boolean {
  return event.sequence > query.after && event.sequence < query.before;
}

/** True when the event passes the query's `runId`, `types` and `since` filters. */
function matchesFilters(event: StoredEvent, query: NormalizedQuery): boolean {
  if (!query.filtered) return true;
  if (query.runId !== undefined && event.runId !== query.runId) return false;
  if (query.types !== undefined && !query.types.has(event.type)) return false;
  if (query.sinceMs !== undefined && !(Date.parse(event.timestamp) >= query.sinceMs)) return false;
  return true;
}

function normalizeQuery(query: EventQuery): NormalizedQuery {
  const checked = checkEventQuery(query);
  return { ...checked, types: checked.types === undefined ? undefined : new Set(checked.types) };
}

/** A positive integer, or `Infinity` when absent. */
function checkLimit(limit: unknown, field: string): number {
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  if (typeof limit === 'number' && Number.isInteger(limit) && limit > 0) return limit;
  throw new AsmError('validation_error', `${field} must be a positive integer`, {
    details: { field, value: limit },
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

function toSet<T extends string>(value: T | T[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  return new Set<string>(Array.isArray(value) ? value : [value]);
}

/** Sorts (a new array) by `createdAt`, then by id. */
function sortByCreatedAt<T extends { id: string; createdAt: string }>(records: T[]): T[] {
  return records
    .map((record) => ({ record, time: Date.parse(record.createdAt) }))
    .sort((a, b) => a.time - b.time || compareStrings(a.record.id, b.record.id))
    .map((entry) => entry.record);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cloneRecord<T>(record: T, what: 'session' | 'run'): T {
  try {
    return structuredClone(record);
  } catch (error) {
    throw new AsmError(
      'validation_error',
      `The ${what} holds a value that cannot be stored (functions, symbols…)`,
      {
        cause: error,
      },
    );
  }
}

function sessionNotFound(sessionId: string): AsmError {
  return new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
}

function idInOtherSession(eventId: string, sessionId: string): AsmError {
  return new AsmError(
    'validation_error',
    `Event ${eventId} is already stored in another session (${sessionId})`,
    {
      details: { eventId, sessionId },
    },
  );
}

function resolveMaxWait(value: number | undefined): number {
  if (value === undefined) return MAX_TIMER_MS;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new AsmError('validation_error', 'maxWaitMs must be a non-negative number', {
      details: { field: 'maxWaitMs', value },
    });
  }
  return Math.min(value, MAX_TIMER_MS);
}
