import { describe, expect, it } from 'vitest';
import {
  createEvent,
  createInMemoryEventBus,
  createInMemoryStore,
  createSession,
  followSessionEvents,
  type InMemoryEventBus,
  type InMemorySessionStore,
  type NewEvent,
  type SessionStore,
  type StoredEvent,
} from '../src/index.js';

async function setup() {
  const store = createInMemoryStore();
  const bus = createInMemoryEventBus();
  const session = createSession({ agentId: 'bus' });
  await store.saveSession(session);
  return { store, bus, sessionId: session.id };
}

/** A store that cannot long-poll and must not be polled: only the bus can wake the reader. */
function noLongPoll(store: InMemorySessionStore): SessionStore {
  return {
    ...store,
    supportsLongPoll: false,
    getEvents: (sessionId, query) => store.getEvents(sessionId, { ...query, waitMs: 0 }),
  } as SessionStore;
}

function newEvent(
  sessionId: string,
  index: number,
  type: 'message_streamed' | 'tool_call_started' = 'message_streamed',
) {
  return createEvent(
    type === 'message_streamed'
      ? { type, sessionId, runId: 'run_1', data: { kind: 'text', delta: `d${index}` } }
      : { type, sessionId, runId: 'run_1', data: { toolCallId: `t${index}`, toolName: 'bash' } },
  ) as NewEvent;
}

async function appendAndPublish(
  store: SessionStore,
  bus: InMemoryEventBus,
  events: NewEvent[],
  publish = true,
) {
  const stored = await store.appendEvents(events);
  if (publish) await bus.publish(stored);
  return stored;
}

async function collect(iterable: AsyncIterable<StoredEvent>, count: number): Promise<StoredEvent[]> {
  const seen: StoredEvent[] = [];
  for await (const event of iterable) {
    seen.push(event);
    if (seen.length === count) break;
  }
  return seen;
}

describe('followSessionEvents with a bus', () => {
  it('backfills from the store, then follows published events with no gap or duplicate', async () => {
    const { store, bus, sessionId } = await setup();
    await appendAndPublish(
      store,
      bus,
      [0, 1, 2].map((index) => newEvent(sessionId, index)),
    );
    const reading = collect(followSessionEvents(noLongPoll(store), sessionId, { bus, waitMs: 60_000 }), 8);
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (let index = 3; index < 8; index++) await appendAndPublish(store, bus, [newEvent(sessionId, index)]);
    const seen = await reading;
    expect(seen.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(bus.subscriberCount).toBe(0);
  });

  it('fills a gap the bus left from the store', async () => {
    const { store, bus, sessionId } = await setup();
    const reading = collect(followSessionEvents(noLongPoll(store), sessionId, { bus, waitMs: 60_000 }), 4);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await appendAndPublish(store, bus, [newEvent(sessionId, 0)]);
    await appendAndPublish(store, bus, [newEvent(sessionId, 1), newEvent(sessionId, 2)], false);
    await appendAndPublish(store, bus, [newEvent(sessionId, 3)]);
    const seen = await reading;
    expect(seen.map((event) => event.sequence)).toEqual([1, 2, 3, 4]);
  });

  it('falls back to the store when a slow consumer overflows the live buffer', async () => {
    const { store, bus, sessionId } = await setup();
    const iterator = followSessionEvents(noLongPoll(store), sessionId, {
      bus,
      maxBufferedEvents: 5,
      waitMs: 60_000,
    });
    const first = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (let index = 0; index < 40; index++) await appendAndPublish(store, bus, [newEvent(sessionId, index)]);
    const seen = [(await first).value as StoredEvent];
    while (seen.length < 40) seen.push((await iterator.next()).value as StoredEvent);
    await iterator.return(undefined);
    expect(seen.map((event) => event.sequence)).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
  });

  it('re-reads the store when the bus stays silent for waitMs', async () => {
    const { store, bus, sessionId } = await setup();
    const reading = collect(followSessionEvents(noLongPoll(store), sessionId, { bus, waitMs: 30 }), 2);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await appendAndPublish(store, bus, [newEvent(sessionId, 0), newEvent(sessionId, 1)], false);
    expect((await reading).map((event) => event.sequence)).toEqual([1, 2]);
  });

  it('applies type filters to live events while tracking every sequence', async () => {
    const { store, bus, sessionId } = await setup();
    const reading = collect(
      followSessionEvents(noLongPoll(store), sessionId, {
        bus,
        types: ['tool_call_started'],
        waitMs: 60_000,
      }),
      2,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    await appendAndPublish(store, bus, [newEvent(sessionId, 0), newEvent(sessionId, 1, 'tool_call_started')]);
    await appendAndPublish(store, bus, [newEvent(sessionId, 2), newEvent(sessionId, 3, 'tool_call_started')]);
    const seen = await reading;
    expect(seen.map((event) => [event.sequence, event.type])).toEqual([
      [2, 'tool_call_started'],
      [4, 'tool_call_started'],
    ]);
  });

  it('ends without throwing when the signal aborts, and unsubscribes', async () => {
    const { store, bus, sessionId } = await setup();
    const controller = new AbortController();
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const event of followSessionEvents(noLongPoll(store), sessionId, {
        bus,
        signal: controller.signal,
        waitMs: 60_000,
      })) {
        seen.push(event);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await reading;
    expect(seen).toEqual([]);
    expect(bus.subscriberCount).toBe(0);
  });
});
