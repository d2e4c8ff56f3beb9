import type { StoredEvent } from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import {
  DATABASE_URL,
  dropSchema,
  eventOf,
  type Fixture,
  newSession,
  randomSchema,
  spawnFixture,
} from './helpers.js';

const schema = randomSchema('concurrency');
let store: PostgresSessionStore;

beforeAll(async () => {
  store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 4 });
  await store.ready();
});

afterAll(async () => {
  await store.close();
  await dropSchema(schema);
});

async function readAll(sessionId: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.getEvents(sessionId, { after, limit: 400 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1]!.sequence;
  }
}

describe('sequences across processes', () => {
  it('4 child processes x 250 appends to one session leave sequences exactly 1..1000', async () => {
    const session = newSession();
    await store.saveSession(session);
    const children: Fixture[] = ['a', 'b', 'c', 'd'].map((label) =>
      spawnFixture('append-worker.ts', [DATABASE_URL, schema, session.id, '250', label]),
    );
    try {
      await Promise.all(children.map((child) => child.nextLine('ready')));
      for (const child of children) child.send('go');
      const reports = await Promise.all(children.map((child) => child.nextLine('done ')));
      expect(await Promise.all(children.map((child) => child.exited))).toEqual([0, 0, 0, 0]);

      const events = await readAll(session.id);
      expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(await store.getLatestSequence(session.id)).toBe(1000);
      // Every sequence a writer was given is the one stored for its id; every id is stored once.
      const stored = new Map(events.map((event) => [event.id, event.sequence]));
      let reported = 0;
      for (const report of reports) {
        const sequences = JSON.parse(report.slice('done '.length)) as Record<string, number>;
        for (const [id, sequence] of Object.entries(sequences)) {
          expect(stored.get(id)).toBe(sequence);
          reported++;
        }
      }
      expect(reported).toBe(1000);
      // Each writer's own events keep its order.
      for (const label of ['a', 'b', 'c', 'd']) {
        const mine = events
          .filter((event) => (event.data as { delta: string }).delta.startsWith(`${label}-`))
          .map((event) => Number((event.data as { delta: string }).delta.slice(2)));
        expect(mine).toEqual(Array.from({ length: 250 }, (_, i) => i));
      }
    } finally {
      for (const child of children) child.kill();
    }
  }, 60_000);

  it('two stores (two pools) writing batches and single events to one session stay gapless', async () => {
    const session = newSession();
    await store.saveSession(session);
    const second = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 4 });
    try {
      const writer = async (target: PostgresSessionStore, rounds: number): Promise<void> => {
        for (let round = 0; round < rounds; round++) {
          if (round % 3 === 0) await target.appendEvents([eventOf(session.id), eventOf(session.id)]);
          else await target.appendEvent(eventOf(session.id));
        }
      };
      await Promise.all([writer(store, 60), writer(second, 60), writer(store, 40), writer(second, 40)]);
      const total = 2 * (60 + 20) + 2 * (40 + 14);
      const events = await readAll(session.id);
      expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    } finally {
      await second.close();
    }
  }, 30_000);
});
