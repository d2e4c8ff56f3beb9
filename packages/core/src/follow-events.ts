import { AsmError } from './errors.js';
import type { EventType, StoredEvent } from './event.js';
import type { EventBus } from './ports/event-bus.js';
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
  /**
   * Live delivery from an `EventBus` (events stored by other processes arrive as they are
   * published) instead of long-polling the store. The store stays the source of truth: the reader
   * subscribes first, backfills from the store, and re-reads the store whenever the bus skips a
   * sequence number, falls too far behind, or stays silent for `waitMs`.
   */
  bus?: EventBus;
  /** With a bus: most live events buffered for a slow consumer before it falls back to the store. Default 1,000. */
  maxBufferedEvents?: number;
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
  if (follow && options.bus) {
    yield* followWithBus(store, sessionId, options.bus, {
      ...options,
      after: cursor,
      pageSize,
      limit,
      waitMs,
    });
    return;
  }

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

interface BusFollowSettings extends FollowEventsOptions {
  after: number;
  pageSize: number;
  limit: number;
  waitMs: number;
}

/**
 * The bus-driven reader. `cursor` is the highest sequence of the session known to be handled,
 * matching or not, so a jump in the live sequence numbers is recognized as a gap.
 */
async function* followWithBus(
  store: SessionStore,
  sessionId: string,
  bus: EventBus,
  settings: BusFollowSettings,
): AsyncGenerator<StoredEvent, void, undefined> {
  const { signal, limit } = settings;
  const maxBuffered = settings.maxBufferedEvents ?? 1_000;
  const types = settings.types ? new Set<string>(settings.types) : undefined;
  const matches = (event: StoredEvent) =>
    (settings.runId === undefined || event.runId === settings.runId) && (!types || types.has(event.type));

  let live: StoredEvent[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const subscription = await bus.subscribe(sessionId, (event) => {
    if (live.length >= maxBuffered) {
      overflowed = true;
      live = [];
    } else {
      live.push(event);
    }
    notify();
  });
  signal?.addEventListener('abort', notify, { once: true });

  let cursor = settings.after;
  let yielded = 0;
  try {
    let needBackfill = true;
    while (!signal?.aborted) {
      if (needBackfill || overflowed) {
        needBackfill = false;
        overflowed = false;
        // Everything up to `latest` is handled once these pages are read.
        const latest = await store.getLatestSequence(sessionId);
        while (cursor < latest && !signal?.aborted) {
          const page = await store.getEvents(sessionId, {
            after: cursor,
            before: latest + 1,
            limit: settings.pageSize,
            ...(settings.runId === undefined ? {} : { runId: settings.runId }),
            ...(settings.types === undefined ? {} : { types: settings.types }),
          });
          for (const event of page) {
            if (signal?.aborted) return;
            cursor = event.sequence;
            yield event;
            yielded++;
            if (yielded >= limit || settings.stopWhen?.(event)) return;
          }
          if (page.length < settings.pageSize) break;
        }
        cursor = Math.max(cursor, latest);
      }
      while (live.length > 0 && !overflowed) {
        if (signal?.aborted) return;
        const event = live.shift()!;
        if (event.sequence <= cursor) continue;
        if (event.sequence > cursor + 1) {
          // The bus skipped something (or we subscribed late): the store has it.
          live.unshift(event);
          needBackfill = true;
          break;
        }
        cursor = event.sequence;
        if (!matches(event)) continue;
        yield event;
        yielded++;
        if (yielded >= limit || settings.stopWhen?.(event)) return;
      }
      if (needBackfill || overflowed || live.length > 0 || signal?.aborted) continue;
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          wake = undefined;
          resolve(false);
        }, settings.waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      // A silent bus may have lost a message: check the store now and then.
      if (!woke) needBackfill = true;
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    await subscription.unsubscribe();
  }
}
