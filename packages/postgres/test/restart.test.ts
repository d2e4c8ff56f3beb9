import { AsmError, type NewEvent, type StoredEvent } from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { eventOf, newSession, sleep } from './helpers.js';
import { type PrivateCluster, startPrivateCluster } from './private-cluster.js';

// A private cluster (initdb in a temp folder, its own port): this file stops and restarts it.
let cluster: PrivateCluster;
let store: PostgresSessionStore;

beforeAll(async () => {
  cluster = await startPrivateCluster();
  store = createPostgresStore({ connectionString: cluster.url, poolSize: 3 });
  await store.ready();
}, 30_000);

afterAll(async () => {
  await store?.close();
  await cluster?.remove();
});

/** Appends a batch, retrying retryable failures (what an app or a retrying writer does). */
async function appendWithRetry(batch: NewEvent[], failures: AsmError[]): Promise<StoredEvent[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.appendEvents(batch);
    } catch (error) {
      if (!AsmError.isInstance(error) || !error.retryable || attempt > 200) throw error;
      failures.push(error);
      await sleep(25);
    }
  }
}

async function readAll(sessionId: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.getEvents(sessionId, { after, limit: 500 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1]!.sequence;
  }
}

describe('server restart (private cluster)', () => {
  it('while the server is down calls fail with storage_connection_failed; after it is back the retry stores the batch once and a parked long-poll wakes', async () => {
    const session = newSession();
    await store.saveSession(session);
    await store.appendEvents([eventOf(session.id), eventOf(session.id)]);
    const polling = store.getEvents(session.id, { after: 2, waitMs: 15_000 });
    await sleep(50);

    await cluster.stop('fast');
    const batch = [eventOf(session.id), eventOf(session.id), eventOf(session.id)];
    let error: unknown;
    try {
      await store.appendEvents(batch);
    } catch (caught) {
      error = caught;
    }
    expect(AsmError.isInstance(error)).toBe(true);
    expect((error as AsmError).code).toBe('storage_connection_failed');
    expect((error as AsmError).retryable).toBe(true);
    const read = await store.getSession(session.id).catch((caught: unknown) => caught);
    expect((read as AsmError).code).toBe('storage_connection_failed');

    await cluster.start();
    const failures: AsmError[] = [];
    const stored = await appendWithRetry(batch, failures);
    expect(stored.map((event) => event.sequence)).toEqual([3, 4, 5]);
    expect(failures.every((failure) => failure.code === 'storage_connection_failed')).toBe(true);
    // The long-poll parked before the stop wakes once its listener is back.
    expect((await polling).map((event) => event.sequence)).toEqual([3, 4, 5]);
    expect(await store.appendEvents(batch)).toEqual(stored);
    expect((await readAll(session.id)).map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
  }, 20_000);

  it('a crash and restart in the middle of a run of appends loses nothing and duplicates nothing', async () => {
    const session = newSession();
    await store.saveSession(session);
    const failures: AsmError[] = [];
    const batches = Array.from({ length: 40 }, () => Array.from({ length: 10 }, () => eventOf(session.id)));
    let written = 0;
    const writer = (async () => {
      for (const batch of batches) {
        await appendWithRetry(batch, failures);
        written++;
        await sleep(5);
      }
    })();
    while (written < 8) await sleep(5);
    await cluster.restart('immediate');
    await writer;

    const events = await readAll(session.id);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(events.map((event) => event.id)).toEqual(batches.flat().map((event) => event.id));
    expect(await store.getLatestSequence(session.id)).toBe(400);
    // The writer did run into the crash (refused connections, terminated connections, shutdown).
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((failure) => failure.code === 'storage_connection_failed')).toBe(true);
  }, 20_000);
});
