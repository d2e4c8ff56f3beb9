import { AsmError } from './errors.js';
import type { EventType, StoredEvent } from './event.js';
import type { SessionStore } from './ports/session-store.js';

/** Options of `followSessionEvents`. */
export interface FollowEventsOptions {
  /** Start after this sequence number (exclusive). Default 0: from the first event. */
  after?: number;
  /** Only events below this sequence number (exclusive); with it, the iteration reads what is stored and ends. */
  before?: number;
  /** Yield at most this many events, then stop. */
  limit?: number;
  runId?: string;
  types?: EventType[];
  /** Page size of each store read. Default 100. */
  pageSize?: number;
  /** Keep following new events after the backfill. Default true; false stops at the current end. */
  follow?: boolean;
  /** Stop after yielding an event for which this returns true (for example a run's terminal event). */
  stopWhen?: (event: StoredEvent) => boolean;
  /** Polling interval when the store cannot long-poll. Default 250 ms. */
  pollIntervalMs?: number;
  /** Longest single long-poll wait on stores that support it. Default 25,000 ms. */
  waitMs?: number;
  /** Ends the iteration (it returns normally, it does not throw). */
  signal?: AbortSignal;
}

/**
 * Reads a session's events from a cursor, then follows new ones as they are appended: backfill
 * from the store, then live, with no gap and no duplicate at the seam (the cursor is the last
 * sequence yielded). Uses the store's long-poll when it has one, polling otherwise.
 *
 * The iterator cleans up when the consumer breaks out or the signal aborts.
 */
export async function* followSessionEvents(
  store: SessionStore,
  sessionId: string,
  options: FollowEventsOptions = {},
): AsyncGenerator<StoredEvent, void, undefined> {
  const pageSize = options.pageSize ?? 100;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new AsmError('validation_error', 'pageSize must be a positive integer', {
      details: { field: 'pageSize' },
    });
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit > 0)) {
    throw new AsmError('validation_error', 'limit must be a positive integer', {
      details: { field: 'limit' },
    });
  }
  const before = options.before;
  const follow = (options.follow ?? true) && before === undefined;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const waitMs = options.waitMs ?? 25_000;
  const signal = options.signal;
  let cursor = options.after ?? 0;
  let yielded = 0;

  while (!signal?.aborted) {
    const page = await store.getEvents(sessionId, {
      after: cursor,
      limit: Math.min(pageSize, limit - yielded),
      ...(before === undefined ? {} : { before }),
      ...(options.runId === undefined ? {} : { runId: options.runId }),
      ...(options.types === undefined ? {} : { types: options.types }),
      ...(follow && store.supportsLongPoll ? { waitMs } : {}),
      ...(signal === undefined ? {} : { signal }),
    });
    for (const event of page) {
      if (signal?.aborted) return;
      if (event.sequence <= cursor) continue;
      cursor = event.sequence;
      yield event;
      yielded++;
      if (yielded >= limit || options.stopWhen?.(event)) return;
    }
    if (page.length >= Math.min(pageSize, limit)) continue;
    if (!follow) return;
    if (!store.supportsLongPoll) await sleep(pollIntervalMs, signal);
  }
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
