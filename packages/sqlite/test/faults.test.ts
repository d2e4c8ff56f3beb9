import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession } from '@asm/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { eventOf, expectAsmError, newSessionId, readAll, spawnFixture, tempFolder } from './helpers.js';

const folder = tempFolder('faults');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => join(folder.path, `db-${++counter}.db`);

describe('faults - opening', () => {
  it('a path whose folder cannot be created is storage_error', async () => {
    const blocker = join(folder.path, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const error = await expectAsmError(
      () => createSqliteStore({ path: join(blocker, 'sub', 'store.db') }),
      'storage_error',
    );
    expect(error.details).toMatchObject({ path: join(blocker, 'sub', 'store.db') });
  });

  it('a path that is a folder is storage_error', async () => {
    const directory = join(folder.path, 'a-folder.db');
    mkdirSync(directory);
    await expectAsmError(() => createSqliteStore({ path: directory }), 'storage_error');
  });

  it('a corrupt file is storage_error and is left as it was', async () => {
    const path = freshPath();
    const garbage = randomBytes(16_384);
    writeFileSync(path, garbage);
    const error = await expectAsmError(() => createSqliteStore({ path }), 'storage_error');
    expect(error.details).toMatchObject({ sqliteCode: 'SQLITE_NOTADB', corrupt: true });
    expect(error.retryable).toBe(false);
    expect(readFileSync(path).equals(garbage)).toBe(true);
  });

  it('a read-only connection fails writes with storage_write_failed and keeps serving reads', async () => {
    const path = freshPath();
    const writer = createSqliteStore({ path });
    const sessionId = await newSessionId(writer);
    await writer.appendEvent(eventOf(sessionId));
    await writer.close();

    const database = new Database(path, { readonly: true });
    const store = createSqliteStore({ database });
    await expectAsmError(store.appendEvent(eventOf(sessionId)), 'storage_write_failed');
    await expectAsmError(store.saveSession(createSession({ agentId: 'x' })), 'storage_write_failed');
    expect(await store.getLatestSequence(sessionId)).toBe(1);
    expect(await store.getEvents(sessionId)).toHaveLength(1);
    await store.close();
    database.close();
  });
});

describe('faults - at run time', () => {
  it('a row whose JSON does not parse is storage_read_failed; the other rows and writes still work', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const sessionId = await newSessionId(store);
    const stored = await store.appendEvents([eventOf(sessionId), eventOf(sessionId), eventOf(sessionId)]);
    store.database.prepare(`UPDATE asm_events SET data = '{"broken' WHERE id = ?`).run(stored[1]!.id);

    const error = await expectAsmError(store.getEvents(sessionId), 'storage_read_failed');
    expect(error.details).toMatchObject({ table: 'asm_events', column: 'data', id: stored[1]!.id });
    expect(await store.getEvents(sessionId, { before: 2 })).toEqual([stored[0]]);
    expect(await store.getEvents(sessionId, { after: 2 })).toEqual([stored[2]]);
    const next = await store.appendEvent(eventOf(sessionId));
    expect(next.sequence).toBe(4);
    expect(await store.getLatestSequence(sessionId)).toBe(4);
    await store.close();
  });

  it('a session or run row whose JSON does not parse is storage_read_failed', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store, 'agent_corrupt');
    store.database.prepare(`UPDATE asm_sessions SET metadata = 'nope' WHERE id = ?`).run(sessionId);
    const error = await expectAsmError(store.getSession(sessionId), 'storage_read_failed');
    expect(error.details).toMatchObject({ table: 'asm_sessions', column: 'metadata', id: sessionId });
    await expectAsmError(store.listSessions({ agentId: 'agent_corrupt' }), 'storage_read_failed');
    await store.close();
  });

  it('a long-poll woken onto a corrupt row rejects with storage_read_failed', async () => {
    const path = freshPath();
    const watcher = createSqliteStore({ path, pollIntervalMs: 3_600_000 });
    const writer = createSqliteStore({ path });
    const sessionId = await newSessionId(writer);
    writer.database.exec(`CREATE TRIGGER corrupt AFTER INSERT ON asm_events BEGIN
      UPDATE asm_events SET metadata = 'x' WHERE id = NEW.id; END`);
    const polling = watcher.getEvents(sessionId, { waitMs: 60_000 });
    await writer.appendEvent(eventOf(sessionId));
    await expectAsmError(polling, 'storage_read_failed');
    await watcher.close();
    await writer.close();
  });

  it('a write blocked past the busy timeout is storage_write_failed, retryable, and writes nothing', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, busyTimeoutMs: 20 });
    const sessionId = await newSessionId(store);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    const error = await expectAsmError(store.appendEvent(eventOf(sessionId)), 'storage_write_failed');
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ sqliteCode: 'SQLITE_BUSY' });
    blocker.exec('ROLLBACK');
    blocker.close();
    expect(await store.getLatestSequence(sessionId)).toBe(0);
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(1);
    await store.close();
  });

  it('a value JSON cannot hold is validation_error and writes nothing', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await expectAsmError(
      store.appendEvents([eventOf(sessionId), eventOf(sessionId, { data: { big: 1n } })]),
      'validation_error',
    );
    expect(await store.getLatestSequence(sessionId)).toBe(0);
    await store.close();
  });

  it('a closed store rejects with storage_connection_failed, not retryable; the data stays on disk', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const sessionId = await newSessionId(store);
    await store.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
    await store.close();
    const error = await expectAsmError(store.appendEvent(eventOf(sessionId)), 'storage_connection_failed');
    expect(error.retryable).toBe(false);
    expect(() => store.explainEventsQuery(sessionId)).toThrow();
    const reopened = createSqliteStore({ path });
    expect(await reopened.getLatestSequence(sessionId)).toBe(2);
    await reopened.close();
  });

  it('a connection closed by its owner makes the store reject with storage_connection_failed', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database });
    database.close();
    await expectAsmError(store.getLatestSequence('ses_x'), 'storage_connection_failed');
    await store.close();
  });
});

describe('faults - a process killed in the middle of a batch', () => {
  it('leaves whole batches only: sequences 1..N without a gap, every batch complete', async () => {
    const path = freshPath();
    const setup = createSqliteStore({ path });
    const sessionId = await newSessionId(setup);
    await setup.close();

    const batchSize = 2_000;
    const child = spawnFixture('append-loop.ts', [path, sessionId, String(batchSize)]);
    let walCommitted: Buffer;
    let walInside: Buffer;
    let inside: string;
    try {
      // Three batches commit; the writer then pauses halfway through the next one, inside its transaction.
      await child.nextLine('committed 2');
      walCommitted = readFileSync(`${path}-wal`);
      inside = await child.nextLine('inside ');
      walInside = readFileSync(`${path}-wal`);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await child.exited).toBe('SIGKILL');
    const killedDuring = Number(inside.split(' ')[1]);
    expect(killedDuring).toBe(3);

    const store = createSqliteStore({ path });
    expect(store.database.pragma('integrity_check', { simple: true })).toBe('ok');
    const events = await readAll(store, sessionId);
    const total = events.length;
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(await store.getLatestSequence(sessionId)).toBe(total);
    // The three committed batches are all there; none of the interrupted one is, although the open
    // transaction had already spilled part of it into the WAL file.
    expect(walInside.equals(walCommitted)).toBe(false);
    expect(total).toBe(killedDuring * batchSize);
    events.forEach((event, index) => {
      expect(event.data).toMatchObject({ batch: Math.floor(index / batchSize), index: index % batchSize });
    });
    // The log goes on from where it stopped.
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(total + 1);
    await store.close();
  }, 60_000);

  it('on the writer thread, a kill while batches stream also leaves whole batches only', async () => {
    const path = freshPath();
    const setup = createSqliteStore({ path });
    const sessionId = await newSessionId(setup);
    await setup.close();

    const batchSize = 2_000;
    const child = spawnFixture('append-loop.ts', [path, sessionId, String(batchSize), 'thread']);
    try {
      expect(await child.nextLine('writer ')).toBe('writer thread');
      // Batch 3 is posted to the writer thread right after this line; the kill lands during it or just after.
      await child.nextLine('committed 2');
    } finally {
      child.kill('SIGKILL');
    }
    expect(await child.exited).toBe('SIGKILL');

    const store = createSqliteStore({ path });
    expect(store.database.pragma('integrity_check', { simple: true })).toBe('ok');
    const events = await readAll(store, sessionId);
    const total = events.length;
    expect(total).toBeGreaterThanOrEqual(3 * batchSize);
    expect(total % batchSize).toBe(0);
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    events.forEach((event, index) => {
      expect(event.data).toMatchObject({ batch: Math.floor(index / batchSize), index: index % batchSize });
    });
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(total + 1);
    await store.close();
  }, 60_000);
});
