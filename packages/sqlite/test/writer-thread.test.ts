import { createEvent, type NewEvent } from '@asm/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { packRows, unpackRows } from '../src/writer-protocol.js';
import { terminateWriterThread } from '../src/writer-thread.js';
import { eventOf, expectAsmError, newSessionId, readAll, tempFolder } from './helpers.js';

const folder = tempFolder('writer');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => `${folder.path}/db-${++counter}.db`;

function deltas(sessionId: string, count: number, batch = 0): NewEvent[] {
  return Array.from(
    { length: count },
    (_, index) =>
      createEvent({
        type: 'message_streamed',
        sessionId,
        data: { kind: 'text', delta: 'abcd', batch, index },
      }) as NewEvent,
  );
}

describe('the writer thread', () => {
  it('serves file stores by default; memory, a given connection and writer: inline append inline', async () => {
    const file = createSqliteStore({ path: freshPath() });
    const inline = createSqliteStore({ path: freshPath(), writer: 'inline' });
    const memory = createSqliteStore({ path: ':memory:' });
    const connection = new Database(':memory:');
    const given = createSqliteStore({ database: connection });
    expect([file.writer, inline.writer, memory.writer, given.writer]).toEqual([
      'thread',
      'inline',
      'inline',
      'inline',
    ]);
    for (const store of [file, inline, memory, given]) {
      const sessionId = await newSessionId(store);
      const stored = await store.appendEvents(deltas(sessionId, 3));
      expect(stored.map((event) => event.sequence)).toEqual([1, 2, 3]);
      await store.close();
    }
    connection.close();
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), writer: 'fast' as never }),
      'validation_error',
    );
  });

  it('does not hold the event loop while a large batch is written', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const sessionId = await newSessionId(store);
    await store.appendEvent(eventOf(sessionId));
    let ticked = false;
    setImmediate(() => {
      ticked = true;
    });
    const appended = store.appendEvents(deltas(sessionId, 20_000));
    // An inline append would have finished inside the call; this one is still on the thread.
    const tickedFirst = await Promise.race([
      appended.then(() => ticked),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(ticked))),
    ]);
    expect(tickedFirst).toBe(true);
    const stored = await appended;
    expect(stored[0]!.sequence).toBe(2);
    expect(stored.at(-1)!.sequence).toBe(20_001);
    await store.close();
  });

  it('passes the rules through: unknown session, an id stored in another session, repeats', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const first = await newSessionId(store);
    const second = await newSessionId(store);
    await expectAsmError(
      store.appendEvents(deltas('ses_00000000000000000000000000000000', 2)),
      'session_not_found',
    );
    const [event] = deltas(first, 1);
    const stored = await store.appendEvent(event!);
    const moved = { ...event!, sessionId: second } as NewEvent;
    const error = await expectAsmError(store.appendEvents([moved]), 'validation_error');
    expect(error.details).toMatchObject({ eventId: event!.id, sessionId: first });
    // A repeat of a stored id and a repeat inside the batch answer with the stored events.
    const [fresh] = deltas(first, 1);
    const answer = await store.appendEvents([event!, fresh!, fresh!]);
    expect(answer[0]).toEqual(stored);
    expect(answer[1]!.sequence).toBe(2);
    expect(answer[2]).toBe(answer[1]);
    expect(await store.getLatestSequence(first)).toBe(2);
    await store.close();
  });

  it('a writer that waits past busyTimeoutMs fails retryable and writes nothing', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, busyTimeoutMs: 50 });
    const sessionId = await newSessionId(store);
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const error = await expectAsmError(store.appendEvents(deltas(sessionId, 5)), 'storage_write_failed');
      expect(error.retryable).toBe(true);
      expect(error.details).toMatchObject({ sqliteCode: 'SQLITE_BUSY' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(await store.getLatestSequence(sessionId)).toBe(0);
    expect((await store.appendEvents(deltas(sessionId, 2))).map((event) => event.sequence)).toEqual([1, 2]);
    await store.close();
  });

  it('a thread that dies fails its pending append; the next append starts a new one, gapless', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const sessionId = await newSessionId(store);
    await store.appendEvents(deltas(sessionId, 10));
    const pending = store.appendEvents(deltas(sessionId, 20_000, 1));
    await terminateWriterThread();
    const error = await expectAsmError(pending, 'storage_write_failed');
    expect(error.details).toMatchObject({ writerThread: 'stopped' });
    const after = await store.appendEvents(deltas(sessionId, 5, 2));
    const events = await readAll(store, sessionId);
    // The batch in flight committed whole or not at all.
    expect([15, 20_015]).toContain(events.length);
    expect(events.map((event) => event.sequence)).toEqual(
      Array.from({ length: events.length }, (_, i) => i + 1),
    );
    expect(after.at(-1)!.sequence).toBe(events.length);
    await store.close();
  });

  it('close() lets appends already sent finish, then releases the file', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const sessionId = await newSessionId(store);
    const appended = store.appendEvents(deltas(sessionId, 5_000));
    await store.close();
    expect((await appended).length).toBe(5_000);
    await expectAsmError(store.appendEvents(deltas(sessionId, 1)), 'storage_connection_failed');
    const reopened = createSqliteStore({ path });
    expect(await reopened.getLatestSequence(sessionId)).toBe(5_000);
    await reopened.close();
  });

  it('two stores on one file share the thread and keep one gapless log', async () => {
    const path = freshPath();
    const left = createSqliteStore({ path });
    const right = createSqliteStore({ path });
    const sessionId = await newSessionId(left);
    await Promise.all([
      left.appendEvents(deltas(sessionId, 300, 1)),
      right.appendEvents(deltas(sessionId, 300, 2)),
      left.appendEvents(deltas(sessionId, 300, 3)),
    ]);
    const events = await readAll(right, sessionId);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 900 }, (_, i) => i + 1));
    await left.close();
    await right.close();
  });

  it('packs a batch into one string and back: nulls, empty strings, numbers, JSON text', () => {
    const rows = [
      'evt_1',
      'ses_1',
      'message_streamed',
      '2026-01-01T00:00:00.000Z',
      null,
      '{"a":"\\u0001"}',
      '{}',
      1,
      '',
      null,
    ];
    const packed = packRows(rows);
    expect(typeof packed).toBe('string');
    expect(unpackRows(packed!, 10, [7])).toEqual(rows);
    // A value holding the separator or the null marker is not packed: the batch goes as an array.
    expect(packRows(['evt_1', 'a\u0001b'])).toBeUndefined();
    expect(packRows(['evt_1', '\u0000'])).toBeUndefined();
  });

  it('stores values that cannot be packed, through the array form, unchanged', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const sessionId = await newSessionId(store);
    const odd = createEvent({
      type: 'message_streamed',
      sessionId,
      provider: 'weird\u0001provider',
      correlationId: '\u0000',
      data: { kind: 'text', delta: 'x\u0001y\u0000z' },
    }) as NewEvent;
    const [plain] = deltas(sessionId, 1);
    const stored = await store.appendEvents([odd, plain!]);
    expect(stored.map((event) => event.sequence)).toEqual([1, 2]);
    const [readBack] = await store.getEvents(sessionId, { limit: 1 });
    expect(readBack).toMatchObject({
      provider: 'weird\u0001provider',
      correlationId: '\u0000',
      data: { kind: 'text', delta: 'x\u0001y\u0000z' },
    });
    await store.close();
  });

  it('long batches go in multi-row chunks; a repeated id inside a chunk still answers with the stored event', async () => {
    for (const writer of ['thread', 'inline'] as const) {
      const store = createSqliteStore({ path: freshPath(), writer });
      const sessionId = await newSessionId(store);
      const [early] = await store.appendEvents(deltas(sessionId, 1));
      const batch = deltas(sessionId, 100, 1);
      batch[40] = { ...early!, sequence: undefined } as unknown as NewEvent;
      batch[70] = batch[10]!;
      const stored = await store.appendEvents(batch);
      expect(stored[40]).toEqual(early);
      expect(stored[70]).toBe(stored[10]);
      const fresh = stored.filter((_, index) => index !== 40 && index !== 70);
      expect(fresh.map((event) => event.sequence)).toEqual(Array.from({ length: 98 }, (_, i) => i + 2));
      const all = await readAll(store, sessionId);
      expect(all.map((event) => event.id)).toEqual([early!.id, ...fresh.map((event) => event.id)]);
      expect(await store.getLatestSequence(sessionId)).toBe(99);
      await store.close();
    }
  });
});
