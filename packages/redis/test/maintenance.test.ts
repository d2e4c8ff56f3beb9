import { AsmError, createEvent, createRun, createSession, type NewEvent } from '@asm/core';
import { testStoreMaintenance } from '@asm/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisMaintenance, createRedisStore, keyLayout, type RedisSessionStore } from '../src/index.js';
import { adminClient, keysUnder, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const admin = adminClient();
afterAll(() => admin.quit());

// The shared suite, each store under a key prefix of its own (maintenance works prefix-wide).
testStoreMaintenance({
  name: 'redis',
  create: ({ now, artifacts }) => {
    const store = createRedisStore({ url: REDIS_URL, keyPrefix: randomPrefix() });
    return { store, maintenance: createRedisMaintenance(store, { now, artifacts }) };
  },
  cleanup: async ({ store }) => {
    await store.close();
    await removePrefix(admin, (store as RedisSessionStore).keyPrefix);
  },
});

const opened: RedisSessionStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) {
    await store.close();
    await removePrefix(admin, store.keyPrefix);
  }
});

function newStore(keyPrefix = randomPrefix()): RedisSessionStore {
  const store = createRedisStore({ url: REDIS_URL, keyPrefix });
  opened.push(store);
  return store;
}

const streamed = (sessionId: string, count: number): NewEvent[] =>
  Array.from({ length: count }, () => createEvent({ type: 'message_streamed', sessionId }) as NewEvent);

describe('Redis maintenance: what the suite cannot set up', () => {
  it('removes what a vanished session left behind (counter, log, runs, event owners) and counts its counter', async () => {
    const store = newStore();
    const maintenance = createRedisMaintenance(store);
    const keys = keyLayout(store.keyPrefix);
    const kept = createSession({ agentId: 'agent_orphans' });
    const vanished = createSession({ agentId: 'agent_orphans' });
    for (const session of [kept, vanished]) {
      await store.saveSession(session);
      await store.saveRun(createRun({ sessionId: session.id }));
      await store.appendEvents(streamed(session.id, 3));
    }
    // As if the session hash alone had expired or been deleted by hand.
    await admin.del(keys.session(vanished.id));
    const issues = await maintenance.healthCheck();
    expect(issues).toContain('3 events reference non-existent sessions');
    expect(issues).toContain('1 runs reference non-existent sessions');

    const report = await maintenance.runMaintenance();
    expect(report.orphanedSequencesCleaned).toBe(1);
    expect(report.errors).toEqual([]);
    const left = await keysUnder(admin, store.keyPrefix);
    expect(left.filter((key) => key.includes(vanished.id))).toEqual([]);
    expect(left.some((key) => key.includes(kept.id))).toBe(true);
    expect(await store.getEvents(kept.id)).toHaveLength(3);
    expect(await maintenance.healthCheck()).toEqual([]);
  });

  it('healthCheck reports a counter behind the log', async () => {
    const store = newStore();
    const maintenance = createRedisMaintenance(store);
    const session = createSession({ agentId: 'agent_health' });
    await store.saveSession(session);
    const stored = await store.appendEvents(streamed(session.id, 4));
    await admin.hdel(keyLayout(store.keyPrefix).eventIds(session.id), stored[3]!.id, stored[2]!.id);
    expect(await maintenance.healthCheck()).toEqual([
      `Sequence mismatch for ${session.id}: counter=2, max_sequence=4`,
    ]);
  });

  it('a pruned event id appended again returns its original sequence and takes no new number', async () => {
    const store = newStore();
    const maintenance = createRedisMaintenance(store);
    const session = createSession({ agentId: 'agent_prune' });
    await store.saveSession(session);
    const events = streamed(session.id, 5);
    await store.appendEvents(events);
    expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 2 })).toBe(3);
    const again = await store.appendEvent(events[0]!);
    expect(again.sequence).toBe(1);
    expect(await store.getLatestSequence(session.id)).toBe(5);
    expect((await store.getEvents(session.id)).map((event) => event.sequence)).toEqual([4, 5]);
  });

  it('key prefixes with glob characters are matched literally', async () => {
    const weird = `${randomPrefix()}[*?]\\:`;
    const store = newStore(weird);
    const neighbour = newStore(`${weird.slice(0, -6)}x*?]\\:`);
    const maintenance = createRedisMaintenance(store);
    const other = createSession({ agentId: 'neighbour' });
    await neighbour.saveSession(other);
    await neighbour.appendEvents(streamed(other.id, 1));
    await admin.del(keyLayout(neighbour.keyPrefix).session(other.id));
    // The neighbour's orphan is not this store's business.
    expect(await maintenance.runMaintenance()).toMatchObject({ orphanedSequencesCleaned: 0, errors: [] });
    expect(await maintenance.healthCheck()).toEqual([]);
    expect(await admin.exists(keyLayout(neighbour.keyPrefix).eventIds(other.id))).toBe(1);
  });

  it('a lost connection fails the steps: reported by runMaintenance, storage_connection_failed from a single step', async () => {
    const store = createRedisStore({
      url: 'redis://127.0.0.1:1',
      keyPrefix: randomPrefix(),
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true },
    });
    try {
      const maintenance = createRedisMaintenance(store);
      const report = await maintenance.runMaintenance({ maxEventsPerSession: 10 });
      // Every step that talks to Redis failed (no artifact registry is configured here).
      expect(report.errors.map((line) => line.split(':')[0])).toEqual([
        'softDeleteExpiredSessions',
        'hardDeleteExpiredSessions',
        'pruneSessionEvents',
        'cleanOrphanedSequences',
      ]);
      expect(report.errors[0]).toMatch(/Redis connection failed/);
      const error = await maintenance.healthCheck().catch((caught: unknown) => caught);
      expect(AsmError.isInstance(error) && error.code).toBe('storage_connection_failed');
    } finally {
      await store.close();
    }
  });
});
