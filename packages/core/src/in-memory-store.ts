import { AsmError } from './errors.js';
import { type NewEvent, type StoredEvent, toStoredEvent, validateNewEvent } from './event.js';
import { registerOwnedAppend } from './owned-append.js';
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
  /**
   * Event log per session id, in sequence order. Present iff the session is. Until maintenance prunes
   * it, the event with sequence `n` is at index `n - 1`.
   */
  const logs = new Map<string, StoredEvent[]>();
  /** The latest sequence of the sessions whose log was pruned (theirs is no longer the log length). */
  const prunedTops = new Map<string, number>();
  /** Every stored event by id (ids are unique across sessions). */
  const eventsById = new EventIndex();
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

  /**
   * Stores a validated event whose session exists and whose id is not stored yet. With `adopt`, the
   * event object itself becomes the stored event (see `appendOwned`).
   */
  function write(event: NewEvent, log: StoredEvent[], adopt = false): StoredEvent {
    const top = prunedTops.size === 0 ? undefined : prunedTops.get(event.sessionId);
    const sequence = top === undefined ? log.length + 1 : top + 1;
    if (top !== undefined) prunedTops.set(event.sessionId, sequence);
    if (adopt) {
      const stored = adoptAsStored(event, sequence);
      eventsById.defer(log, log.push(stored) - 1);
      return stored;
    }
    const stored = toStoredEvent(event, sequence);
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
      prunedTops.delete(sessionId);
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
      return prunedTops.get(sessionId) ?? logs.get(sessionId)?.length ?? 0;
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
      prunedTops.clear();
      eventsById.clear();
    },
  } satisfies InMemorySessionStore;

  /**
   * The session manager's append (`OwnedAppend`): the events become the stored events (`sequence`
   * is set on them). Only the events in `supplied` (an adapter's id, or an invalid field) are
   * validated and looked up for duplicates; the others are valid, with ids the manager just made.
   */
  function appendOwned(events: NewEvent[], supplied: ReadonlySet<NewEvent> | undefined): StoredEvent[] {
    ensureOpen();
    const count = events.length;
    if (count === 0) return [];
    const sessionId = events[0]!.sessionId;
    const log = logs.get(sessionId);
    if (log === undefined) throw sessionNotFound(sessionId);
    const result: StoredEvent[] = new Array(count);
    const checked = supplied !== undefined && supplied.size > 0;
    // Phase 1: check the supplied events; nothing is written until every event has passed.
    if (checked) {
      for (let index = 0; index < count; index++) {
        const event = events[index]!;
        if (!supplied.has(event)) continue;
        validateNewEvent(event);
        const existing = eventsById.get(event.id);
        if (existing === undefined) continue;
        if (existing.sessionId !== sessionId) throw idInOtherSession(event.id, existing.sessionId);
        result[index] = existing;
      }
    }
    // Phase 2: write. Nothing below can fail, so the batch is all or nothing.
    const fresh: StoredEvent[] | undefined = waiterCount > 0 ? [] : undefined;
    for (let index = 0; index < count; index++) {
      if (result[index] !== undefined) continue;
      const event = events[index]!;
      // A supplied id may repeat inside the batch: the later copy is the earlier one's duplicate.
      const earlier = checked && supplied.has(event) ? eventsById.get(event.id) : undefined;
      if (earlier !== undefined) {
        result[index] = earlier;
        continue;
      }
      const stored = write(event, log, true);
      result[index] = stored;
      fresh?.push(stored);
    }
    if (fresh !== undefined && fresh.length > 0) wakeSession(sessionId, fresh);
    return result;
  }
  registerOwnedAppend(store, appendOwned);

  internalsByStore.set(store, {
    sessions,
    logs,
    ensureOpen,
    removeEvents(sessionId, ids) {
      const log = logs.get(sessionId);
      if (log === undefined || ids.size === 0) return 0;
      const top = prunedTops.get(sessionId) ?? log.length;
      const kept = log.filter((event) => !ids.has(event.id));
      for (const event of log) if (ids.has(event.id)) eventsById.delete(event.id);
      logs.set(sessionId, kept);
      prunedTops.set(sessionId, top);
      return log.length - kept.length;
    },
  });
  return store;
}

/** What `createInMemoryMaintenance` reaches inside an in-memory store (not part of the public API). */
export interface InMemoryStoreInternals {
  readonly sessions: Map<string, Session>;
  readonly logs: Map<string, StoredEvent[]>;
  ensureOpen(): void;
  /** Deletes these events of a session; sequences are never reused. Returns how many were removed. */
  removeEvents(sessionId: string, ids: ReadonlySet<string>): number;
}

const internalsByStore = new WeakMap<object, InMemoryStoreInternals>();

/** The internals of a store made by `createInMemoryStore`, or `undefined` for any other object. */
export function inMemoryStoreInternals(store: object): InMemoryStoreInternals | undefined {
  return internalsByStore.get(store);
}

/**
 * Stored events by id, for duplicate detection. Events the session manager appends carry ids it
 * has just generated, which no lookup can be looking for yet, so they are indexed lazily: `defer`
 * only notes from where a log holds unindexed events, and the first lookup or removal indexes them.
 * A store that only the manager writes to never pays for the index.
 */
class EventIndex {
  private readonly byId = new Map<string, StoredEvent>();
  /** Logs holding events not indexed yet, each with the position of its first such event. */
  private readonly deferred = new Map<StoredEvent[], number>();
  /** The log `defer` saw last (already in `deferred`): the common case skips the map. */
  private lastDeferred: StoredEvent[] | undefined;

  /** Queues the event at `position` of `log`, whose id no stored event has. */
  defer(log: StoredEvent[], position: number): void {
    if (log === this.lastDeferred) return;
    if (!this.deferred.has(log)) this.deferred.set(log, position);
    this.lastDeferred = log;
  }

  get(id: string): StoredEvent | undefined {
    if (this.deferred.size > 0) this.sync();
    return this.byId.get(id);
  }

  set(id: string, event: StoredEvent): void {
    this.byId.set(id, event);
  }

  delete(id: string): boolean {
    if (this.deferred.size > 0) this.sync();
    return this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
    this.deferred.clear();
    this.lastDeferred = undefined;
  }

  /**
   * Indexes the queued events. Runs before any lookup or removal, so a log that maintenance or a
   * delete is about to change is indexed while it still holds what was queued.
   */
  private sync(): void {
    for (const [log, position] of this.deferred) {
      for (let index = position; index < log.length; index++) {
        const event = log[index]!;
        this.byId.set(event.id, event);
      }
    }
    this.deferred.clear();
    this.lastDeferred = undefined;
  }
}

/** Turns an event the store adopts into its stored form, in place. */
function adoptAsStored(event: NewEvent, sequence: number): StoredEvent {
  const stored = event as StoredEvent;
  stored.sequence = sequence;
  return stored;
}

/** Events of `log` that match `query`, in sequence order, at most `query.limit` of them. */
function selectEvents(log: readonly StoredEvent[] | undefined, query: NormalizedQuery): StoredEvent[] {
  if (log === undefined) return [];
  // A log is dense (sequence n at index n - 1) unless maintenance pruned it.
  const dense = log.length === 0 || log[log.length - 1]!.sequence === log.length;
  const start = dense ? query.after : firstIndexAbove(log, query.after);
  const end = dense ? Math.min(log.length, query.before - 1) : firstIndexAbove(log, query.before - 1);
  if (start >= end) return [];
  if (!query.filtered) return log.slice(start, Math.min(end, start + query.limit));
  const result: StoredEvent[] = [];
  for (let index = start; index < end && result.length < query.limit; index++) {
    const event = log[index]!;
    if (matchesFilters(event, query)) result.push(event);
  }
  return result;
}

/** The index of the first event of `log` whose sequence is above `sequence` (binary search). */
function firstIndexAbove(log: readonly StoredEvent[], sequence: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (log[middle]!.sequence > sequence) high = middle;
    else low = middle + 1;
  }
  return low;
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

/** Returned by `clonePlain` for a value it leaves to `structuredClone`. */
const NOT_PLAIN: unique symbol = Symbol('not plain');

/**
 * A deep copy of JSON-like data (plain objects, dense arrays, primitives) several times faster than
 * `structuredClone`, which sessions and runs are copied with on every save and read. Anything else
 * (a Date, a Map, a class instance, a shared or cyclic reference, a function) gives `NOT_PLAIN`, and
 * the caller falls back to `structuredClone`, so the result is always what `structuredClone` gives.
 */
function clonePlain(value: unknown, seen: Set<object>, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    return typeof value === 'function' || typeof value === 'symbol' ? NOT_PLAIN : value;
  }
  if (depth > 64 || seen.has(value)) return NOT_PLAIN;
  seen.add(value);
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return NOT_PLAIN;
    const copy: unknown[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) {
      if (!(index in value)) return NOT_PLAIN;
      const item = clonePlain(value[index], seen, depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[index] = item;
    }
    return Object.keys(value).length === value.length ? copy : NOT_PLAIN;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(record)) {
    if (key === '__proto__') return NOT_PLAIN;
    const item = clonePlain(record[key], seen, depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = item;
  }
  return copy;
}

function cloneRecord<T>(record: T, what: 'session' | 'run'): T {
  let copy: unknown;
  try {
    copy = clonePlain(record, new Set(), 0);
  } catch {
    copy = NOT_PLAIN; // a throwing getter: structuredClone reports it below
  }
  if (copy !== NOT_PLAIN) return copy as T;
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
