import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { eventOf, newSessionId, spawnFixture, tempFolder } from './helpers.js';

const folder = tempFolder('long-poll');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => join(folder.path, `db-${++counter}.db`);

/** A poll interval far longer than any test: only an in-process notification can wake these waiters. */
const NO_POLLING = { pollIntervalMs: 3_600_000 };

describe('getEvents long-poll', () => {
  it('wakes on an append made through another store of this process on the same file', async () => {
    const path = freshPath();
    const watcher = createSqliteStore({ path, ...NO_POLLING });
    const writer = createSqliteStore({ path, ...NO_POLLING });
    const sessionId = await newSessionId(writer);
    const polling = watcher.getEvents(sessionId, { after: 0, waitMs: 60_000 });
    expect(watcher.activeLongPolls).toBe(1);
    const [stored] = await writer.appendEvents([eventOf(sessionId)]);
    expect(await polling).toEqual([stored]);
    expect(watcher.activeLongPolls).toBe(0);
    await watcher.close();
    await writer.close();
  });

  it('wakes on an append through another store sharing the same connection object', async () => {
    const database = new Database(':memory:');
    const watcher = createSqliteStore({ database, ...NO_POLLING });
    const writer = createSqliteStore({ database, ...NO_POLLING });
    const sessionId = await newSessionId(writer);
    const polling = watcher.getEvents(sessionId, { types: ['run_completed'], waitMs: 60_000 });
    await writer.appendEvent(eventOf(sessionId));
    const match = await writer.appendEvent(eventOf(sessionId, { type: 'run_completed' }));
    expect(await polling).toEqual([match]);
    await watcher.close();
    await writer.close();
    database.close();
  });

  it('wakes on an append made by another process (polling the commit counter)', async () => {
    const path = freshPath();
    const watcher = createSqliteStore({ path, pollIntervalMs: 20 });
    const sessionId = await newSessionId(watcher);
    const polling = watcher.getEvents(sessionId, { after: 0, waitMs: 60_000 });
    const child = spawnFixture('append-batches.ts', [path, sessionId, '3', '3', 'other-process']);
    const events = await polling;
    expect(events.length).toBeGreaterThan(0);
    expect(events.map((event) => event.data.content)).toEqual(
      ['other-process 0', 'other-process 1', 'other-process 2'].slice(0, events.length),
    );
    expect(await child.exited).toBe(0);
    expect(watcher.activeLongPolls).toBe(0);
    await watcher.close();
  }, 30_000);

  it('answers with what matches when the deadline passes, [] when nothing does', async () => {
    const store = createSqliteStore({ path: freshPath(), pollIntervalMs: 10 });
    const sessionId = await newSessionId(store);
    expect(await store.getEvents(sessionId, { after: 0, waitMs: 30 })).toEqual([]);
    expect(store.activeLongPolls).toBe(0);
    await store.close();
  });

  it('an abort answers with what matches at that moment and detaches the waiter', async () => {
    const store = createSqliteStore({ path: freshPath(), ...NO_POLLING });
    const sessionId = await newSessionId(store);
    const controller = new AbortController();
    const polling = store.getEvents(sessionId, { waitMs: 60_000, signal: controller.signal });
    expect(store.activeLongPolls).toBe(1);
    controller.abort();
    expect(await polling).toEqual([]);
    expect(store.activeLongPolls).toBe(0);
    await store.close();
  });

  it('close() releases every parked caller with [] and stops listening', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, ...NO_POLLING });
    const writer = createSqliteStore({ path, ...NO_POLLING });
    const sessionId = await newSessionId(store);
    const pollings = [
      store.getEvents(sessionId, { waitMs: 60_000 }),
      store.getEvents(sessionId, { after: 5, waitMs: 60_000 }),
    ];
    await store.close();
    expect(await Promise.all(pollings)).toEqual([[], []]);
    expect(store.activeLongPolls).toBe(0);
    // The closed store no longer hears the other store's appends.
    await writer.appendEvent(eventOf(sessionId));
    await writer.close();
  });

  it('deleteSession releases the waiters of that session with []', async () => {
    const store = createSqliteStore({ path: ':memory:', ...NO_POLLING });
    const sessionId = await newSessionId(store);
    const polling = store.getEvents(sessionId, { waitMs: 60_000 });
    await store.deleteSession(sessionId);
    expect(await polling).toEqual([]);
    await store.close();
  });
});
