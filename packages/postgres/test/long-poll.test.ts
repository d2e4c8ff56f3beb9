import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import {
  DATABASE_URL,
  dropSchema,
  eventOf,
  newSession,
  randomSchema,
  sleep,
  spawnFixture,
  withClient,
} from './helpers.js';

const schema = randomSchema('longpoll');
let waiting: PostgresSessionStore;
let writing: PostgresSessionStore;

beforeAll(async () => {
  waiting = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
  writing = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
  await waiting.ready();
  await writing.ready();
});

afterAll(async () => {
  await waiting.close();
  await writing.close();
  await dropSchema(schema);
});

/** Terminates the LISTEN connections on this schema's channel (as an administrator would). */
async function terminateListeners(): Promise<number> {
  return withClient(async (client) => {
    const result = await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
      [`LISTEN "asm_events:${schema}"`],
    );
    return result.rowCount ?? 0;
  });
}

/** Waits (event-driven, generous) until `store` has `count` long-polls parked. */
async function parked(store: PostgresSessionStore, count: number): Promise<void> {
  await vi.waitFor(() => expect(store.activeLongPolls).toBe(count), { timeout: 15_000, interval: 10 });
}

describe('long-poll across stores and processes', () => {
  it('an append through another store (its own pool) wakes the waiter', async () => {
    const session = newSession();
    await writing.saveSession(session);
    await writing.appendEvent(eventOf(session.id));
    const polling = waiting.getEvents(session.id, { after: 1, waitMs: 30_000 });
    await parked(waiting, 1);
    const appended = await writing.appendEvents([eventOf(session.id), eventOf(session.id)]);
    expect(await polling).toEqual(appended);
    expect(waiting.activeLongPolls).toBe(0);
  });

  it('an append in a child process wakes a waiter in this one', async () => {
    const session = newSession();
    await writing.saveSession(session);
    const child = spawnFixture('append-worker.ts', [DATABASE_URL, schema, session.id, '1', 'x']);
    try {
      await child.nextLine('ready');
      const polling = waiting.getEvents(session.id, { waitMs: 30_000 });
      await parked(waiting, 1);
      child.send('go');
      const events = await polling;
      expect(events.map((event) => event.sequence)).toEqual([1]);
      expect(events[0]?.data).toEqual({ kind: 'text', delta: 'x-0' });
      expect(await child.exited).toBe(0);
    } finally {
      child.kill();
    }
  }, 30_000);

  it('filters stay in force across stores: a non-matching append keeps the waiter parked', async () => {
    const session = newSession();
    await writing.saveSession(session);
    const polling = waiting.getEvents(session.id, { types: ['run_completed'], waitMs: 30_000 });
    await parked(waiting, 1);
    await writing.appendEvent(eventOf(session.id));
    await sleep(100);
    expect(waiting.activeLongPolls).toBe(1);
    const match = await writing.appendEvent({ ...eventOf(session.id), type: 'run_completed', data: {} });
    expect(await polling).toEqual([match]);
  });

  it('the LISTEN connection reconnects after being terminated and the waiter still wakes', async () => {
    const session = newSession();
    await writing.saveSession(session);
    const polling = waiting.getEvents(session.id, { waitMs: 30_000 });
    await parked(waiting, 1);
    expect(await terminateListeners()).toBeGreaterThan(0);
    // Appended while the waiter's listener may be down: found by the re-check after reconnecting.
    const appended = await writing.appendEvent(eventOf(session.id));
    expect(await polling).toEqual([appended]);
    // And the reconnected listener hears later appends.
    const next = waiting.getEvents(session.id, { after: 1, waitMs: 30_000 });
    await parked(waiting, 1);
    const later = await writing.appendEvent(eventOf(session.id));
    expect(await next).toEqual([later]);
  }, 30_000);

  it('close() releases waiters with [] and an aborted signal ends a wait', async () => {
    const session = newSession();
    const own = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await own.saveSession(session);
    const controller = new AbortController();
    const aborted = own.getEvents(session.id, { waitMs: 30_000, signal: controller.signal });
    const released = own.getEvents(session.id, { waitMs: 30_000 });
    await parked(own, 2);
    controller.abort();
    expect(await aborted).toEqual([]);
    await own.close();
    expect(await released).toEqual([]);
    expect(own.activeLongPolls).toBe(0);
  });
});
