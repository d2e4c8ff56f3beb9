import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, type SqliteSessionStore } from '../src/index.js';
import { eventOf, newSessionId, readAll, spawnFixture, tempFolder } from './helpers.js';

const folder = tempFolder('concurrency');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => join(folder.path, `db-${++counter}.db`);

describe('concurrency', () => {
  it('two stores on one file appending concurrently keep sequences gapless', async () => {
    const path = freshPath();
    const one = createSqliteStore({ path });
    const two = createSqliteStore({ path });
    const sessionId = await newSessionId(one);
    const writer = async (store: SqliteSessionStore, rounds: number): Promise<void> => {
      for (let round = 0; round < rounds; round++) {
        if (round % 3 === 0) await store.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
        else await store.appendEvent(eventOf(sessionId));
        if (round % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all([writer(one, 150), writer(two, 150), writer(one, 100), writer(two, 100)]);
    const events = await readAll(two, sessionId);
    const total = events.length;
    expect(total).toBeGreaterThan(0);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await one.getLatestSequence(sessionId)).toBe(total);
    expect(new Set(events.map((event) => event.id)).size).toBe(total);
    // 4 writers; a third of the rounds write 2 events.
    const perWriter = (rounds: number): number => rounds + Math.ceil(rounds / 3);
    expect(total).toBe(2 * perWriter(150) + 2 * perWriter(100));
    await one.close();
    await two.close();
  });

  it('writers in three processes keep one session gapless', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const sessionId = await newSessionId(store);
    const children = [
      spawnFixture('append-batches.ts', [path, sessionId, '300', '1', 'alpha']),
      spawnFixture('append-batches.ts', [path, sessionId, '300', '7', 'beta']),
    ];
    await Promise.all(children.map((child) => child.nextLine('ready')));
    for (let round = 0; round < 100; round++) {
      await store.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(await Promise.all(children.map((child) => child.exited))).toEqual([0, 0]);
    const events = await readAll(store, sessionId);
    expect(events).toHaveLength(800);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
    for (const label of ['alpha', 'beta']) {
      // Each writer's own events stay in the order it wrote them.
      const mine = events.filter((event) => event.data.label === label).map((event) => event.data.index);
      expect(mine).toEqual(Array.from({ length: 300 }, (_, i) => i));
    }
    await store.close();
  }, 60_000);
});
