import { createEvent, createRun, createSession, type NewEvent, type Session } from '@asm/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisStore, keyLayout, type RedisSessionStore } from '../src/index.js';
import { adminClient, keysUnder, REDIS_URL, randomPrefix, removePrefix, waitUntil } from './helpers.js';

const admin = adminClient();
const opened: RedisSessionStore[] = [];

afterEach(async () => {
  for (const store of opened.splice(0)) {
    await store.close();
    await removePrefix(admin, store.keyPrefix);
  }
});
afterAll(() => admin.quit());

function newStore(ttlSeconds: number): RedisSessionStore {
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: randomPrefix(), retention: { ttlSeconds } });
  opened.push(store);
  return store;
}

function eventOf(sessionId: string, runId?: string): NewEvent {
  return createEvent({
    type: 'message_sent',
    sessionId,
    ...(runId === undefined ? {} : { runId }),
    data: { role: 'user', content: 'hello' },
  }) as NewEvent;
}

/** A session with a run and two events. */
async function seed(store: RedisSessionStore, agentId = 'agent_retention'): Promise<Session> {
  const session = await store.saveSession({
    ...createSession({ agentId, tags: ['kept'] }),
    status: 'active',
  });
  const run = await store.saveRun(createRun({ sessionId: session.id }));
  await store.appendEvents([eventOf(session.id, run.id), eventOf(session.id, run.id)]);
  return session;
}

/** The TTL (ms) of every data key of the prefix (index keys excluded). */
async function dataKeyTtls(store: RedisSessionStore): Promise<Map<string, number>> {
  const index = `${keyLayout(store.keyPrefix).base}index:`;
  const ttls = new Map<string, number>();
  for (const key of await keysUnder(admin, store.keyPrefix)) {
    if (!key.startsWith(index)) ttls.set(key, await admin.pttl(key));
  }
  return ttls;
}

describe('createRedisStore - retention', () => {
  it('never expires a session that is not finished', async () => {
    const store = newStore(60);
    await seed(store);
    const ttls = await dataKeyTtls(store);
    expect(ttls.size).toBe(7); // session, runs, run, events, event ids, 2 event keys
    for (const ttl of ttls.values()) expect(ttl).toBe(-1);
  });

  it('gives every key of a finished session the TTL, and it expires with its runs and events', async () => {
    const store = newStore(0.3);
    const session = await seed(store);
    const [run] = await store.listRuns(session.id);
    await store.saveSession({ ...session, status: 'completed' });
    for (const ttl of (await dataKeyTtls(store)).values()) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(300);
    }
    await waitUntil(async () => (await store.getSession(session.id)) === undefined);
    expect(await store.getRun(run!.id)).toBeUndefined();
    expect(await store.getEvents(session.id)).toEqual([]);
    expect(await store.getLatestSequence(session.id)).toBe(0);
    await waitUntil(async () => (await dataKeyTtls(store)).size === 0);
  });

  it('cleans expired ids out of the index it lists from', async () => {
    const store = newStore(0.2);
    const keys = keyLayout(store.keyPrefix);
    const kept = await seed(store, 'agent_a');
    const doomed = await seed(store, 'agent_a');
    await store.saveSession({ ...doomed, status: 'failed' });
    await waitUntil(async () => (await store.getSession(doomed.id)) === undefined);
    expect(await admin.zrange(keys.indexAgent('agent_a'), '0', '-1')).toContain(doomed.id);
    expect((await store.listSessions({ agentId: 'agent_a' })).map((session) => session.id)).toEqual([
      kept.id,
    ]);
    expect(await admin.zrange(keys.indexAgent('agent_a'), '0', '-1')).toEqual([kept.id]);
    expect((await store.listSessions()).map((session) => session.id)).toEqual([kept.id]);
    expect(await admin.zrange(keys.indexAll(), '0', '-1')).toEqual([kept.id]);
    expect((await store.listSessions({ tags: ['kept'] })).map((session) => session.id)).toEqual([kept.id]);
    expect(await admin.zrange(keys.indexTag('kept'), '0', '-1')).toEqual([kept.id]);
  });

  it('refreshes the TTL of the whole session on activity', async () => {
    const store = newStore(60);
    const keys = keyLayout(store.keyPrefix);
    const session = await seed(store);
    await store.saveSession({ ...session, status: 'completed' });
    // Pretend most of the TTL has passed.
    for (const key of (await dataKeyTtls(store)).keys()) await admin.pexpire(key, 1_000);
    const late = await store.appendEvent(eventOf(session.id));
    const ttls = await dataKeyTtls(store);
    expect(ttls.has(keys.event(late.id))).toBe(true);
    for (const ttl of ttls.values()) expect(ttl).toBeGreaterThan(50_000);
  });

  it('gives keys written shortly after a refresh the same deadline without touching the others', async () => {
    const store = newStore(60);
    const keys = keyLayout(store.keyPrefix);
    const session = await seed(store);
    await store.saveSession({ ...session, status: 'cancelled' });
    const run = await store.saveRun(createRun({ sessionId: session.id }));
    const late = await store.appendEvent(eventOf(session.id, run.id));
    const ttls = await dataKeyTtls(store);
    expect(ttls.get(keys.run(run.id))).toBeGreaterThan(50_000);
    expect(ttls.get(keys.event(late.id))).toBeGreaterThan(50_000);
    for (const ttl of ttls.values()) expect(ttl).toBeGreaterThan(50_000);
  });

  it('removes the TTL when a completed session is reopened', async () => {
    const store = newStore(60);
    const session = await seed(store);
    await store.saveSession({ ...session, status: 'completed' });
    await store.saveSession({ ...session, status: 'active' });
    for (const ttl of (await dataKeyTtls(store)).values()) expect(ttl).toBe(-1);
  });
});
