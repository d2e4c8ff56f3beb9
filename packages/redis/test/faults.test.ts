/**
 * Faults against a private `redis-server` started on a free port for this file (the shared Redis is
 * never restarted or flushed): a restart, dropped connections, a lost reply, a flushed script cache.
 */
import {
  AsmError,
  createEvent,
  createSession,
  type NewEvent,
  type StoredEvent,
  toStoredEvent,
} from '@asm/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isConnectionError, toStorageError } from '../src/errors.js';
import { createRedisEventBus, createRedisStore, type RedisSessionStore } from '../src/index.js';
import { APPEND_EVENTS } from '../src/scripts.js';
import { randomPrefix, waitUntil } from './helpers.js';
import { DroppingProxy, PrivateRedis } from './private-redis.js';

let server: PrivateRedis;
let admin: Redis;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  server = await PrivateRedis.start();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  admin.on('error', () => undefined);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  admin.disconnect();
  await server.stop();
});

function newStore(url = server.url, redisOptions: Record<string, unknown> = {}): RedisSessionStore {
  const store = createRedisStore({ url, keyPrefix: randomPrefix(), redisOptions });
  cleanups.push(() => store.close());
  return store;
}

function eventOf(sessionId: string): NewEvent {
  return createEvent({ type: 'message_sent', sessionId, data: { role: 'user', content: 'hi' } }) as NewEvent;
}

async function rejection(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

async function sequencesOf(store: RedisSessionStore, sessionId: string): Promise<number[]> {
  return (await store.getEvents(sessionId)).map((event) => event.sequence);
}

describe('faults - flushed scripts', () => {
  it('reloads a script flushed from the server cache (SCRIPT FLUSH) transparently', async () => {
    const store = newStore();
    const session = await store.saveSession(createSession({ agentId: 'agent_faults' }));
    await store.appendEvent(eventOf(session.id));
    expect(await admin.script('EXISTS', APPEND_EVENTS.sha)).toEqual([1]);
    await admin.script('FLUSH');
    expect(await admin.script('EXISTS', APPEND_EVENTS.sha)).toEqual([0]);
    const stored = await store.appendEvents([eventOf(session.id), eventOf(session.id)]);
    expect(stored.map((event) => event.sequence)).toEqual([2, 3]);
    expect(await admin.script('EXISTS', APPEND_EVENTS.sha)).toEqual([1]);
  });
});

describe('faults - dropped connections', () => {
  it('reconnects after CLIENT KILL and keeps the sequence going', async () => {
    const store = newStore();
    const session = await store.saveSession(createSession({ agentId: 'agent_faults' }));
    await store.appendEvent(eventOf(session.id));
    const id = await store.client.client('ID');
    await admin.call('CLIENT', 'KILL', 'ID', String(id));
    const stored = await store.appendEvent(eventOf(session.id));
    expect(stored.sequence).toBe(2);
    expect(await store.client.client('ID')).not.toBe(id);
    expect(await sequencesOf(store, session.id)).toEqual([1, 2]);
  });

  it('a reply lost after the append ran: the resent script returns the original sequences, nothing twice', async () => {
    const proxy = await DroppingProxy.start(server.port);
    cleanups.push(() => proxy.close());
    const store = newStore(proxy.url);
    const session = await store.saveSession(createSession({ agentId: 'agent_faults' }));
    await store.appendEvent(eventOf(session.id)); // loads the script, so the lost reply is the append's
    const batch = [eventOf(session.id), eventOf(session.id), eventOf(session.id)];
    proxy.dropNextReply();
    const stored = await store.appendEvents(batch);
    expect(proxy.dropped).toBe(1);
    expect(stored.map((event) => event.sequence)).toEqual([2, 3, 4]);
    expect(await sequencesOf(store, session.id)).toEqual([1, 2, 3, 4]);
    expect(await store.getLatestSequence(session.id)).toBe(4);
  });

  it('a reply lost with no automatic resend: storage_connection_failed (retryable); the retry stores nothing twice', async () => {
    const proxy = await DroppingProxy.start(server.port);
    cleanups.push(() => proxy.close());
    const store = newStore(proxy.url, { maxRetriesPerRequest: 0 });
    const session = await store.saveSession(createSession({ agentId: 'agent_faults' }));
    await store.appendEvent(eventOf(session.id));
    const batch = [eventOf(session.id), eventOf(session.id)];
    proxy.dropNextReply();
    const error = await rejection(store.appendEvents(batch));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.retryable).toBe(true);
    // The script did run: the caller cannot know, so it retries with the same ids.
    let retried: StoredEvent[] | undefined;
    await waitUntil(async () => {
      retried = await store.appendEvents(batch).catch(() => undefined);
      return retried !== undefined;
    });
    expect(retried!.map((event) => event.sequence)).toEqual([2, 3]);
    expect(await sequencesOf(store, session.id)).toEqual([1, 2, 3]);
  });

  it('a parked long-poll still wakes when its wake-up came while the subscriber was reconnecting', async () => {
    const prefix = randomPrefix();
    const reader = createRedisStore({ url: server.url, keyPrefix: prefix });
    const writer = createRedisStore({ url: server.url, keyPrefix: prefix });
    cleanups.push(
      () => reader.close(),
      () => writer.close(),
    );
    const session = await writer.saveSession(createSession({ agentId: 'agent_faults' }));
    const polling = reader.getEvents(session.id, { after: 0, waitMs: 30_000 });
    await waitUntil(async () => pubsubClients().then((count) => count === 1));
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Published while the subscriber is away: Redis drops the wake-up, the re-check finds the event.
    const stored = await writer.appendEvent(eventOf(session.id));
    expect(await polling).toEqual([stored]);
  });

  it('the event bus resubscribes after its subscriber connection is killed', async () => {
    const prefix = randomPrefix();
    const publisher = createRedisEventBus({ url: server.url }, prefix);
    const subscriber = createRedisEventBus({ url: server.url }, prefix);
    cleanups.push(
      () => publisher.close(),
      () => subscriber.close(),
    );
    const sessionId = `ses_${Date.now()}`;
    const received: StoredEvent[] = [];
    await subscriber.subscribe(sessionId, (event) => received.push(event));
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await waitUntil(async () => {
      const [, count] = (await admin.pubsub('NUMSUB', subscriber.channelOf(sessionId))) as [string, number];
      return count === 1;
    });
    const event = toStoredEvent(eventOf(sessionId), 1);
    await publisher.publish([event]);
    await waitUntil(() => received.length === 1);
    expect(received[0]?.id).toBe(event.id);
  });
});

describe('faults - Redis restarting', () => {
  it('fails calls with retryable storage_connection_failed while down, and recovers after the restart', async () => {
    const store = newStore();
    const session = await store.saveSession(createSession({ agentId: 'agent_faults' }));
    await store.appendEvent(eventOf(session.id));
    const polling = store.getEvents(session.id, { after: 1, waitMs: 30_000 });

    await server.stop();
    for (const call of [() => store.appendEvent(eventOf(session.id)), () => store.getSession(session.id)]) {
      const error = await rejection(call());
      expect(error.code).toBe('storage_connection_failed');
      expect(error.retryable).toBe(true);
    }

    await server.start(); // empty: no persistence, no scripts in the cache
    await waitUntil(async () => {
      try {
        await store.saveSession(session);
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    expect(await admin.script('EXISTS', APPEND_EVENTS.sha)).toEqual([0]);
    const first = await store.appendEvent(eventOf(session.id));
    expect(first.sequence).toBe(1);
    const second = await store.appendEvent(eventOf(session.id));
    // The long-poll parked before the outage wakes (resubscribed, or re-checked after it).
    expect(await polling).toEqual([second]);
  }, 30_000);

  it('the event bus fails publish and subscribe with retryable storage_connection_failed while down, then works', async () => {
    const prefix = randomPrefix();
    const publisher = createRedisEventBus({ url: server.url }, prefix);
    const subscriber = createRedisEventBus({ url: server.url }, prefix);
    cleanups.push(
      () => publisher.close(),
      () => subscriber.close(),
    );
    const sessionId = `ses_${Date.now()}`;
    await publisher.publish([toStoredEvent(eventOf(sessionId), 1)]);
    await server.stop();
    for (const call of [
      () => publisher.publish([toStoredEvent(eventOf(sessionId), 2)]),
      () => subscriber.subscribe(sessionId, () => undefined),
    ]) {
      const error = await rejection(call());
      expect([error.code, error.retryable]).toEqual(['storage_connection_failed', true]);
    }
    await server.start();
    const received: StoredEvent[] = [];
    await waitUntil(async () => {
      try {
        await subscriber.subscribe(sessionId, (event) => received.push(event));
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    expect(subscriber.subscriberCount).toBe(1);
    await waitUntil(async () => {
      try {
        await publisher.publish([toStoredEvent(eventOf(sessionId), 3)]);
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    await waitUntil(() => received.length === 1);
    expect(received[0]?.sequence).toBe(3);
  }, 30_000);
});

describe('error mapping', () => {
  it('maps connection faults to storage_connection_failed (retryable) and other failures by operation', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const maxRetries = Object.assign(new Error('Reached the max retries per request limit'), {
      name: 'MaxRetriesPerRequestError',
    });
    for (const error of [refused, maxRetries, new Error('Connection is closed.')]) {
      expect(isConnectionError(error)).toBe(true);
      const mapped = toStorageError(error, 'appendEvents', 'write');
      expect([mapped.code, mapped.retryable]).toEqual(['storage_connection_failed', true]);
    }
    const loading = toStorageError(
      new Error('LOADING Redis is loading the dataset in memory'),
      'getEvents',
      'read',
    );
    expect([loading.code, loading.retryable]).toEqual(['storage_connection_failed', true]);
    const oom = toStorageError(new Error('OOM command not allowed'), 'appendEvents', 'write');
    expect([oom.code, oom.retryable]).toEqual(['storage_write_failed', false]);
    expect(toStorageError(new Error('WRONGTYPE'), 'getEvents', 'read').code).toBe('storage_read_failed');
    const scripted = toStorageError(new Error('ASM session_not_found ["ses_a b"]'), 'appendEvents', 'write');
    expect([scripted.code, scripted.details.sessionId]).toEqual(['session_not_found', 'ses_a b']);
  });
});

async function pubsubClients(): Promise<number> {
  const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
  return list.split('\n').filter((line) => line.trim() !== '').length;
}
