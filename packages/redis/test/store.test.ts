import {
  AsmError,
  createEvent,
  createRun,
  createSession,
  type NewEvent,
  type Session,
  type StoredEvent,
} from '@asm/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createRedisStore, keyLayout, type RedisSessionStore } from '../src/index.js';
import { APPEND_EVENTS } from '../src/scripts.js';
import { adminClient, keysUnder, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const admin = adminClient();
const opened: RedisSessionStore[] = [];
const extraClients: Redis[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) {
    await store.close();
    await removePrefix(admin, store.keyPrefix);
  }
  for (const client of extraClients.splice(0)) client.disconnect();
});
afterAll(() => admin.quit());

function newStore(keyPrefix = randomPrefix()): RedisSessionStore {
  const store = createRedisStore({ url: REDIS_URL, keyPrefix });
  opened.push(store);
  return store;
}

async function newSession(store: RedisSessionStore, overrides: Partial<Session> = {}): Promise<Session> {
  return store.saveSession({ ...createSession({ agentId: 'agent_test' }), ...overrides });
}

function eventOf(sessionId: string, overrides: Record<string, unknown> = {}): NewEvent {
  return createEvent({
    type: 'message_sent',
    sessionId,
    data: { role: 'user', content: 'hello' },
    ...overrides,
  } as never) as NewEvent;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected AsmError ${code}, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code).toBe(code);
  return error as AsmError;
}

describe('createRedisStore - options', () => {
  it('rejects missing, conflicting or malformed connection options with validation_error', () => {
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    extraClients.push(client);
    const attempts: unknown[] = [
      undefined,
      {},
      { url: 'http://localhost' },
      { url: 42 },
      { client: {} },
      { client, url: REDIS_URL },
      { url: REDIS_URL, keyPrefix: 3 },
      { url: REDIS_URL, retention: { ttlSeconds: 0 } },
      { url: REDIS_URL, retention: { ttlSeconds: Number.NaN } },
      { url: REDIS_URL, retention: {} },
    ];
    for (const options of attempts) {
      let caught: unknown;
      try {
        createRedisStore(options as never);
      } catch (error) {
        caught = error;
      }
      expect(AsmError.isInstance(caught), JSON.stringify(options)).toBe(true);
      expect((caught as AsmError).code).toBe('validation_error');
    }
  });

  it('does no I/O in the factory: a URL store connects on its first call', async () => {
    const store = newStore();
    expect(store.client.status).toBe('wait');
    expect(await store.getSession('ses_missing')).toBeUndefined();
    expect(store.client.status).toBe('ready');
  });
});

describe('createRedisStore - key layout', () => {
  it('keeps every key under the prefix and deleteSession removes all of them', async () => {
    const prefix = randomPrefix();
    const store = newStore(prefix);
    const keys = keyLayout(prefix);
    const session = await newSession(store, { tags: ['red', 'blue'] });
    const run = await store.saveRun(createRun({ sessionId: session.id, input: 'hi' }));
    const [first, second] = await store.appendEvents([
      eventOf(session.id, { runId: run.id }),
      eventOf(session.id, { runId: run.id }),
    ]);
    expect(await keysUnder(admin, prefix)).toEqual(
      [
        keys.session(session.id),
        keys.runs(session.id),
        keys.run(run.id),
        keys.events(session.id),
        keys.eventIds(session.id),
        keys.event(first!.id),
        keys.event(second!.id),
        keys.indexAll(),
        keys.indexStatus('pending'),
        keys.indexAgent('agent_test'),
        keys.indexTag('red'),
        keys.indexTag('blue'),
      ].sort(),
    );
    expect(await admin.xlen(keys.events(session.id))).toBe(2);
    expect(await admin.hgetall(keys.eventIds(session.id))).toEqual({ [first!.id]: '1', [second!.id]: '2' });
    await store.deleteSession(session.id);
    expect(await keysUnder(admin, prefix)).toEqual([]);
  });

  it('moves a session between status, agent and tag indexes on save', async () => {
    const prefix = randomPrefix();
    const store = newStore(prefix);
    const keys = keyLayout(prefix);
    const session = await newSession(store, { tags: ['a'] });
    await store.saveSession({ ...session, status: 'active', agentId: 'agent_other', tags: ['b'] });
    expect(await admin.zrange(keys.indexStatus('pending'), '0', '-1')).toEqual([]);
    expect(await admin.zrange(keys.indexStatus('active'), '0', '-1')).toEqual([session.id]);
    expect(await admin.zrange(keys.indexAgent('agent_test'), '0', '-1')).toEqual([]);
    expect(await admin.zrange(keys.indexAgent('agent_other'), '0', '-1')).toEqual([session.id]);
    expect(await admin.zrange(keys.indexTag('a'), '0', '-1')).toEqual([]);
    expect(await admin.zrange(keys.indexTag('b'), '0', '-1')).toEqual([session.id]);
  });

  it('moves a run to its new session when it is saved under another one', async () => {
    const store = newStore();
    const one = await newSession(store);
    const two = await newSession(store);
    const run = await store.saveRun(createRun({ sessionId: one.id }));
    await store.saveRun({ ...run, sessionId: two.id });
    expect(await store.listRuns(one.id)).toEqual([]);
    expect((await store.listRuns(two.id)).map((item) => item.id)).toEqual([run.id]);
  });
});

describe('createRedisStore - reads', () => {
  it('getEvents - a filtered read over a log longer than one scan budget finds every match', async () => {
    const store = newStore();
    const session = await newSession(store);
    const runA = await store.saveRun(createRun({ sessionId: session.id }));
    const runB = await store.saveRun(createRun({ sessionId: session.id }));
    const markers: StoredEvent[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const events = Array.from({ length: 500 }, (_, index) =>
        eventOf(session.id, { runId: index === 499 ? runB.id : runA.id }),
      );
      const stored = await store.appendEvents(events);
      markers.push(stored[499]!);
    }
    const found = await store.getEvents(session.id, { runId: runB.id });
    expect(found.map((event) => event.sequence)).toEqual(markers.map((event) => event.sequence));
    expect(found).toEqual(markers);
    const limited = await store.getEvents(session.id, { runId: runB.id, after: 600, limit: 3 });
    expect(limited.map((event) => event.sequence)).toEqual([1000, 1500, 2000]);
    expect(await store.getEvents(session.id, { runId: runB.id, before: 500 })).toEqual([]);
  });

  it('listSessions - pages correctly across index chunks', async () => {
    const store = newStore();
    const agentId = 'agent_many';
    const sessions = await Promise.all(
      Array.from({ length: 1_200 }, (_, index) =>
        store.saveSession({
          ...createSession({ agentId, tags: index % 2 === 0 ? ['even'] : [] }),
          createdAt: new Date(Date.UTC(2024, 0, 1) + index * 1000).toISOString(),
        }),
      ),
    );
    const ids = sessions.map((session) => session.id);
    expect((await store.listSessions({ agentId })).map((session) => session.id)).toEqual(ids);
    expect((await store.listSessions({ agentId, offset: 1_100, limit: 50 })).map((s) => s.id)).toEqual(
      ids.slice(1_100, 1_150),
    );
    const even = ids.filter((_, index) => index % 2 === 0);
    expect((await store.listSessions({ tags: ['even'], agentId, offset: 550 })).map((s) => s.id)).toEqual(
      even.slice(550),
    );
  });

  it('getLatestSequence - reads one counter, not the log', async () => {
    const store = newStore();
    const session = await newSession(store);
    await store.appendEvents(Array.from({ length: 5 }, () => eventOf(session.id)));
    expect(await store.getLatestSequence(session.id)).toBe(5);
  });
});

describe('createRedisStore - atomicity', () => {
  it('appendEvents - one script call per batch (EVALSHA)', async () => {
    const store = newStore();
    const session = await newSession(store);
    await store.appendEvent(eventOf(session.id)); // loads the script
    const monitor = new Redis(REDIS_URL);
    extraClients.push(monitor);
    const calls: string[] = [];
    const feed = await monitor.monitor();
    feed.on('monitor', (_time: string, args: string[]) => {
      // Only this store's calls: other test files share the server and the script.
      const ours = args.slice(2).some((arg) => arg.startsWith(store.keyPrefix));
      if (args[0]?.toLowerCase().startsWith('eval') && args[1] === APPEND_EVENTS.sha && ours)
        calls.push(args[0]);
    });
    await store.appendEvents(Array.from({ length: 50 }, () => eventOf(session.id)));
    await store.getSession(session.id); // a round trip after, so the monitor has seen the batch
    await new Promise((resolve) => setTimeout(resolve, 50));
    feed.disconnect();
    expect(calls).toEqual(['evalsha']);
  });
});

describe('createRedisStore - long-poll', () => {
  it('wakes a long-poll of one store on an append through another connection', async () => {
    const prefix = randomPrefix();
    const reader = newStore(prefix);
    const writer = newStore(prefix);
    const session = await newSession(writer);
    const polling = reader.getEvents(session.id, { after: 0, waitMs: 30_000 });
    await vi.waitFor(() => expect(reader.activeLongPolls).toBe(1), { timeout: 15_000, interval: 10 });
    const stored = await writer.appendEvent(eventOf(session.id));
    expect(await polling).toEqual([stored]);
    expect(reader.activeLongPolls).toBe(0);
  });

  it('answers with what matches when the wait times out', async () => {
    const store = newStore();
    const session = await newSession(store);
    expect(await store.getEvents(session.id, { after: 0, waitMs: 30 })).toEqual([]);
    expect(store.activeLongPolls).toBe(0);
  });

  it('serves many concurrent long-polls of one session on one subscriber connection', async () => {
    const prefix = randomPrefix();
    const store = newStore(prefix);
    const session = await newSession(store);
    const polls = Array.from({ length: 20 }, (_, index) =>
      store.getEvents(session.id, {
        after: 0,
        waitMs: 30_000,
        types: index % 2 ? ['run_completed'] : undefined,
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [sent, done] = await store.appendEvents([
      eventOf(session.id),
      eventOf(session.id, { type: 'run_completed', data: {} }),
    ]);
    const results = await Promise.all(polls);
    results.forEach((events, index) => {
      expect(events).toEqual(index % 2 ? [done] : [sent, done]);
    });
    const channel = keyLayout(prefix).notifyChannel(session.id);
    const [, subscribers] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
    expect(subscribers).toBe(0);
  });
});

describe('createRedisStore - close', () => {
  it('leaves an injected client open but rejects every call (storage_connection_failed, not retryable)', async () => {
    const client = new Redis(REDIS_URL);
    extraClients.push(client);
    const store = createRedisStore({ client, keyPrefix: randomPrefix() });
    const session = await store.saveSession(createSession({ agentId: 'agent_test' }));
    await store.close();
    const error = await expectCode(store.getSession(session.id), 'storage_connection_failed');
    expect(error.retryable).toBe(false);
    expect(await client.ping()).toBe('PONG');
    await removePrefix(admin, store.keyPrefix);
  });

  it('quits the client it made from a URL', async () => {
    const store = createRedisStore({ url: REDIS_URL, keyPrefix: randomPrefix() });
    await store.getSession('ses_x');
    await store.close();
    expect(store.client.status).toBe('end');
  });
});
