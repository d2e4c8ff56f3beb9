import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AsmError,
  createEvent,
  createInMemoryStore,
  createSession,
  type EventQuery,
  type EventType,
  type FollowEventsOptions,
  followSessionEvents,
  type InMemorySessionStore,
  isTerminalRunEventType,
  type NewEvent,
  type SessionStore,
  type StoredEvent,
} from '../src/index.js';

/** Polls often so waiting for a condition costs milliseconds, not the default 50 ms steps. */
const WAIT = { interval: 1, timeout: 1_500 };

let store: InMemorySessionStore;
let sessionId: string;

beforeEach(async () => {
  store = createInMemoryStore();
  const session = await store.saveSession(createSession({ agentId: 'follower' }));
  sessionId = session.id;
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
});

function event(type: EventType = 'message_streamed', runId = 'run_a'): NewEvent {
  const data = type === 'message_streamed' ? { kind: 'text', delta: 'x' } : {};
  return createEvent({ type, sessionId, runId, data } as never) as NewEvent;
}

async function append(count: number, type: EventType = 'message_streamed', runId = 'run_a'): Promise<void> {
  for (let i = 0; i < count; i++) await store.appendEvent(event(type, runId));
}

/** Collects events until the iteration ends or `until` says stop (then breaks out of the loop). */
async function collect(
  target: SessionStore,
  options: FollowEventsOptions,
  until: (seen: StoredEvent[]) => boolean = () => false,
): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  for await (const stored of followSessionEvents(target, sessionId, options)) {
    seen.push(stored);
    if (until(seen)) break;
  }
  return seen;
}

const sequences = (events: StoredEvent[]): number[] => events.map((stored) => stored.sequence);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason,
  );
}

/** The in-memory store behind an object that cannot long-poll; records every getEvents query. */
function withoutLongPoll(inner: InMemorySessionStore): { store: SessionStore; queries: EventQuery[] } {
  const queries: EventQuery[] = [];
  const wrapper: SessionStore = {
    specificationVersion: 'v1',
    supportsLongPoll: false,
    saveSession: (session) => inner.saveSession(session),
    getSession: (id) => inner.getSession(id),
    listSessions: (filter) => inner.listSessions(filter),
    deleteSession: (id) => inner.deleteSession(id),
    saveRun: (run) => inner.saveRun(run),
    getRun: (id) => inner.getRun(id),
    listRuns: (id, filter) => inner.listRuns(id, filter),
    appendEvent: (newEvent) => inner.appendEvent(newEvent),
    appendEvents: (newEvents) => inner.appendEvents(newEvents),
    getEvents: (id, query) => {
      queries.push({ ...query });
      // A store without long-poll answers at once, whatever it is asked.
      const { waitMs: _ignored, ...rest } = query ?? {};
      return inner.getEvents(id, rest);
    },
    getLatestSequence: (id) => inner.getLatestSequence(id),
    close: () => inner.close(),
  };
  return { store: wrapper, queries };
}

describe('followSessionEvents', () => {
  it('backfills from `after`, then follows live events with no gap and no duplicate', async () => {
    await append(5);
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const stored of followSessionEvents(store, sessionId, { after: 2, pageSize: 2 })) {
        seen.push(stored);
        // Grow the log while the backfill is still being read: 5 events become 11.
        if (stored.sequence <= 8) void store.appendEvent(event());
        if (stored.sequence === 18) break;
      }
    })();
    const caughtUpTo = async (sequence: number) => {
      await vi.waitFor(() => {
        expect(seen.at(-1)?.sequence).toBe(sequence);
        expect(store.activeLongPolls).toBe(1);
      }, WAIT);
    };
    // Once caught up, the reader parks in a long-poll; then new events arrive one by one and in a batch.
    await caughtUpTo(11);
    await append(2);
    await caughtUpTo(13);
    await store.appendEvents([event(), event(), event()]);
    await caughtUpTo(16);
    await append(2);
    await reading;
    expect(sequences(seen)).toEqual(range(3, 18));
    expect(new Set(seen.map((stored) => stored.id)).size).toBe(seen.length);
    expect(store.activeLongPolls).toBe(0);
  });

  it('starts from the first event by default', async () => {
    await append(3);
    expect(sequences(await collect(store, { follow: false }))).toEqual([1, 2, 3]);
  });

  it('follow: false stops at the current end', async () => {
    await append(4);
    const seen = await collect(store, { after: 1, follow: false, pageSize: 2 });
    expect(sequences(seen)).toEqual([2, 3, 4]);
    expect(store.activeLongPolls).toBe(0);
    await append(1);
    expect(sequences(await collect(store, { after: 4, follow: false }))).toEqual([5]);
  });

  it('follow: false on an empty log or past the end yields nothing', async () => {
    expect(await collect(store, { follow: false })).toEqual([]);
    await append(2);
    expect(await collect(store, { after: 2, follow: false })).toEqual([]);
    expect(await collect(store, { after: 50, follow: false })).toEqual([]);
  });

  it('follow: false never asks the store to long-poll', async () => {
    await append(2);
    const spy = vi.spyOn(store, 'getEvents');
    await collect(store, { follow: false });
    expect(spy).toHaveBeenCalled();
    for (const [, query] of spy.mock.calls) expect(query?.waitMs).toBeUndefined();
  });

  it('stopWhen ends the iteration after the matching backfilled event', async () => {
    await append(1, 'run_started');
    await append(2);
    await append(1, 'run_completed');
    await append(3);
    const seen = await collect(store, { stopWhen: (stored) => isTerminalRunEventType(stored.type) });
    expect(seen.map((stored) => stored.type)).toEqual([
      'run_started',
      'message_streamed',
      'message_streamed',
      'run_completed',
    ]);
  });

  it('stopWhen ends the iteration on a live event', async () => {
    await append(2);
    const reading = collect(store, { stopWhen: (stored) => stored.type === 'run_failed' });
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(1), WAIT);
    await append(1);
    await append(1, 'run_failed');
    await append(1);
    const seen = await reading;
    expect(sequences(seen)).toEqual([1, 2, 3, 4]);
    expect(seen.at(-1)?.type).toBe('run_failed');
  });

  it('types filters backfilled and live events', async () => {
    await append(1, 'run_started');
    await append(2);
    await append(1, 'tool_call_started');
    await append(1);
    const reading = collect(
      store,
      { types: ['run_started', 'tool_call_started'] },
      (seen) => seen.length === 4,
    );
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(1), WAIT);
    await append(3); // not followed: must not end the wait
    await append(1, 'tool_call_started');
    await append(1);
    await append(1, 'run_started');
    const seen = await reading;
    expect(seen.map((stored) => stored.type)).toEqual([
      'run_started',
      'tool_call_started',
      'tool_call_started',
      'run_started',
    ]);
    expect(sequences(seen)).toEqual([1, 4, 9, 11]);
  });

  it('runId filters backfilled and live events', async () => {
    await append(2, 'message_streamed', 'run_a');
    await append(2, 'message_streamed', 'run_b');
    const reading = collect(store, { runId: 'run_b' }, (seen) => seen.length === 4);
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(1), WAIT);
    await append(2, 'message_streamed', 'run_a');
    await append(2, 'message_streamed', 'run_b');
    const seen = await reading;
    expect(seen.every((stored) => stored.runId === 'run_b')).toBe(true);
    expect(sequences(seen)).toEqual([3, 4, 7, 8]);
  });

  it('breaking out of the loop releases the long-poll and stops reading', async () => {
    await append(1);
    const spy = vi.spyOn(store, 'getEvents');
    const reading = collect(store, {}, (seen) => seen.length === 2);
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(1), WAIT);
    await append(1);
    expect(sequences(await reading)).toEqual([1, 2]);
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(0), WAIT);
    const reads = spy.mock.calls.length;
    await append(3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(spy.mock.calls.length).toBe(reads);
    expect(store.activeLongPolls).toBe(0);
  });

  it('aborting the signal during a long-poll ends the iteration without throwing', async () => {
    await append(2);
    const controller = new AbortController();
    const iterator = followSessionEvents(store, sessionId, { signal: controller.signal });
    expect((await iterator.next()).value?.sequence).toBe(1);
    expect((await iterator.next()).value?.sequence).toBe(2);
    const pending = iterator.next();
    await vi.waitFor(() => expect(store.activeLongPolls).toBe(1), WAIT);
    controller.abort();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    expect(store.activeLongPolls).toBe(0);
  }, 2_000);

  it('an already aborted signal yields nothing', async () => {
    await append(3);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    expect(await collect(store, { signal: controller.signal })).toEqual([]);
    expect(store.activeLongPolls).toBe(0);
  });

  it('aborting mid-page ends the iteration at the next step', async () => {
    await append(10);
    const controller = new AbortController();
    const seen = await collect(store, { signal: controller.signal }, (events) => {
      if (events.length === 3) controller.abort();
      return false;
    });
    expect(sequences(seen)).toEqual([1, 2, 3]);
  }, 2_000);

  it('a store without long-poll is polled every pollIntervalMs', async () => {
    vi.useFakeTimers();
    const polling = withoutLongPoll(store);
    const iterator = followSessionEvents(polling.store, sessionId, { pollIntervalMs: 1_000 });
    let result: IteratorResult<StoredEvent> | undefined;
    void iterator.next().then((value) => {
      result = value;
    });

    await vi.advanceTimersByTimeAsync(0);
    expect(polling.queries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(polling.queries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(polling.queries).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(3_000);
    expect(polling.queries).toHaveLength(5);
    expect(result).toBeUndefined();

    await append(2);
    expect(result).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(result).toMatchObject({ done: false, value: { sequence: 1 } });
    expect((await iterator.next()).value?.sequence).toBe(2);
    for (const query of polling.queries) expect(query.waitMs).toBeUndefined();
    await iterator.return(undefined);
  });

  it('polling picks up live events after the backfill with no gap and no duplicate', async () => {
    await append(3);
    const polling = withoutLongPoll(store);
    const reading = collect(polling.store, { after: 1, pollIntervalMs: 2, pageSize: 2 }, (seen) => {
      return seen.length === 6;
    });
    await vi.waitFor(() => expect(polling.queries.length).toBeGreaterThan(3), WAIT);
    await append(2);
    await store.appendEvents([event(), event()]);
    expect(sequences(await reading)).toEqual(range(2, 7));
    expect(store.activeLongPolls).toBe(0);
  });

  it('aborting while polling ends the iteration promptly', async () => {
    const polling = withoutLongPoll(store);
    const controller = new AbortController();
    const reading = collect(polling.store, { pollIntervalMs: 60_000, signal: controller.signal });
    await vi.waitFor(() => expect(polling.queries).toHaveLength(1), WAIT);
    controller.abort();
    expect(await reading).toEqual([]);
  }, 2_000);

  it.each([0, -1, 1.5, Number.NaN, '10'])('pageSize %s is validation_error', async (pageSize) => {
    const iterator = followSessionEvents(store, sessionId, { pageSize: pageSize as number });
    const error = await rejection(iterator.next());
    expect(AsmError.isInstance(error)).toBe(true);
    expect((error as AsmError).code).toBe('validation_error');
  });
});
