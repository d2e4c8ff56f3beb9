import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRun, createSession, type NewEvent } from '@asm/core';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createSqliteStore, createTables } from '../src/index.js';
import { eventOf, expectAsmError, newSessionId, tempFolder } from './helpers.js';

const folder = tempFolder('store');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => join(folder.path, `db-${++counter}`, 'nested', 'store.db');

describe('createSqliteStore - opening', () => {
  it('creates the database file and its missing folders', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    expect(existsSync(path)).toBe(true);
    await store.close();
  });

  it('sets WAL, synchronous=NORMAL, foreign keys and the busy timeout on a file database', async () => {
    const store = createSqliteStore({ path: freshPath(), busyTimeoutMs: 1234 });
    const database = store.database;
    expect(database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(database.pragma('synchronous', { simple: true })).toBe(1);
    expect(database.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(database.pragma('busy_timeout', { simple: true })).toBe(1234);
    await store.close();
    expect(database.open).toBe(false);
  });

  it('opens a private in-memory database for path :memory:', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(1);
    await store.close();
  });

  it('leaves a given connection open and its pragmas unchanged', async () => {
    const database = new Database(':memory:');
    database.pragma('foreign_keys = OFF');
    const store = createSqliteStore({ database });
    expect(database.pragma('foreign_keys', { simple: true })).toBe(0);
    await store.close();
    expect(database.open).toBe(true);
    database.close();
  });

  it('creates the tables and indexes under the table prefix', async () => {
    const database = new Database(':memory:');
    const store = createSqliteStore({ database, tablePrefix: 'my_' });
    const names = database
      .prepare(
        `SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY name`,
      )
      .pluck()
      .all() as string[];
    expect(names.every((name) => name.startsWith('my_'))).toBe(true);
    expect(names).toEqual(
      expect.arrayContaining([
        'my_events',
        'my_events_session_sequence_idx',
        'my_events_run_idx',
        'my_events_session_type_idx',
        'my_migrations',
        'my_runs',
        'my_runs_session_created_idx',
        'my_session_sequences',
        'my_sessions',
        'my_sessions_agent_idx',
        'my_sessions_status_idx',
      ]),
    );
    await store.close();
    database.close();
  });

  it('keeps stores with different prefixes in one file apart', async () => {
    const path = freshPath();
    const one = createSqliteStore({ path, tablePrefix: 'one_' });
    const two = createSqliteStore({ path, tablePrefix: 'two_' });
    const sessionId = await newSessionId(one);
    await one.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
    expect(await two.getSession(sessionId)).toBeUndefined();
    expect(await two.getLatestSequence(sessionId)).toBe(0);
    await expectAsmError(two.appendEvent(eventOf(sessionId)), 'session_not_found');
    await one.close();
    await two.close();
  });

  it('rejects bad options with validation_error', async () => {
    await expectAsmError(() => createSqliteStore({ path: '' }), 'validation_error');
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), tablePrefix: 'bad-prefix' }),
      'validation_error',
    );
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), tablePrefix: '1x_' }),
      'validation_error',
    );
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), pollIntervalMs: 0 }),
      'validation_error',
    );
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), busyTimeoutMs: -1 }),
      'validation_error',
    );
    await expectAsmError(
      () => createSqliteStore({ database: {} as unknown as Database.Database }),
      'validation_error',
    );
  });

  it('exports drizzle tables that match the prefix', () => {
    const tables = createTables('x_');
    expect(Object.keys(tables).sort()).toEqual([
      'artifacts',
      'events',
      'runs',
      'sessionSequences',
      'sessions',
    ]);
  });
});

describe('createSqliteStore - events', () => {
  it('appendEvents - writes a large batch in one go with contiguous sequences', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await store.appendEvent(eventOf(sessionId));
    const batch = Array.from({ length: 5_000 }, () => eventOf(sessionId));
    const stored = await store.appendEvents(batch);
    expect(stored.map((event) => event.sequence)).toEqual(batch.map((_, index) => index + 2));
    expect(await store.getLatestSequence(sessionId)).toBe(5_001);
    await store.close();
  });

  it('appendEvents - maps duplicates inside the batch and against stored rows to the stored event', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    const old = await store.appendEvent(eventOf(sessionId));
    const a = eventOf(sessionId);
    const stored = await store.appendEvents([
      a,
      { ...eventOf(sessionId), id: old.id } as NewEvent,
      a,
      eventOf(sessionId),
    ]);
    expect(stored.map((event) => event.sequence)).toEqual([2, 1, 2, 3]);
    expect(stored[1]).toEqual(old);
    expect(stored[2]).toBe(stored[0]);
    await store.close();
  });

  it('appendEvents - an id stored in another session rolls back the whole batch', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const one = await newSessionId(store);
    const two = await newSessionId(store);
    const taken = await store.appendEvent(eventOf(one));
    // The conflict is found in the database, inside the transaction, after the first insert.
    await expectAsmError(
      store.appendEvents([eventOf(two), { ...eventOf(two), id: taken.id } as NewEvent]),
      'validation_error',
    );
    expect(await store.getLatestSequence(two)).toBe(0);
    expect(store.database.prepare('SELECT count(*) FROM asm_events').pluck().get()).toBe(1);
    await store.close();
  });

  it('persists timestamps in UTC toISOString form, so since compares correctly across offsets', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    const early = await store.appendEvent(eventOf(sessionId, { timestamp: '2024-01-01T10:00:00+02:00' }));
    const late = await store.appendEvent(eventOf(sessionId, { timestamp: '2024-01-01T09:30:00.123456Z' }));
    expect(early.timestamp).toBe('2024-01-01T08:00:00.000Z');
    expect(late.timestamp).toBe('2024-01-01T09:30:00.123Z');
    const events = await store.getEvents(sessionId);
    expect(events.map((event) => event.timestamp)).toEqual([early.timestamp, late.timestamp]);
    // 10:00+01:00 is 09:00Z: only the later event is at or after it.
    expect(
      (await store.getEvents(sessionId, { since: '2024-01-01T10:00:00+01:00' })).map(
        (event) => event.sequence,
      ),
    ).toEqual([2]);
    expect(
      (await store.getEvents(sessionId, { since: '2024-01-01T08:00:00Z' })).map((e) => e.sequence),
    ).toEqual([1, 2]);
    await store.close();
  });

  it('orders sessions and runs by their UTC time when they were saved with offsets', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const agentId = 'agent_offsets';
    const first = { ...createSession({ agentId }), createdAt: '2024-01-01T12:00:00+05:00' };
    const second = { ...createSession({ agentId }), createdAt: '2024-01-01T08:00:00.000Z' };
    await store.saveSession(second);
    const saved = await store.saveSession(first);
    expect(saved.createdAt).toBe('2024-01-01T07:00:00.000Z');
    expect((await store.listSessions({ agentId })).map((session) => session.id)).toEqual([
      first.id,
      second.id,
    ]);
    await store.close();
  });

  it('rejects a run or session timestamp that is not ISO-8601 with validation_error', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await expectAsmError(
      store.saveRun({ ...createRun({ sessionId }), startedAt: 'soon' }),
      'validation_error',
    );
    const session = (await store.getSession(sessionId))!;
    await expectAsmError(store.saveSession({ ...session, deletedAt: 'never' }), 'validation_error');
    expect(await store.listRuns(sessionId)).toEqual([]);
    await store.close();
  });

  it('getLatestSequence - never goes back after events are pruned, and new events continue after it', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await store.appendEvents([eventOf(sessionId), eventOf(sessionId), eventOf(sessionId)]);
    store.database.prepare('DELETE FROM asm_events WHERE sequence > 1').run();
    expect(await store.getLatestSequence(sessionId)).toBe(3);
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(4);
    await store.close();
  });

  it('appendEvent - rebuilds a missing sequence counter from the stored events', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await store.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
    store.database.prepare('DELETE FROM asm_session_sequences').run();
    expect((await store.appendEvent(eventOf(sessionId))).sequence).toBe(3);
    expect(await store.getLatestSequence(sessionId)).toBe(3);
    await store.close();
  });

  it('deleteSession - removes the rows of every table, the sequence counter included', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    const kept = await newSessionId(store);
    const run = createRun({ sessionId });
    await store.saveRun(run);
    await store.appendEvents([eventOf(sessionId, { runId: run.id }), eventOf(kept)]);
    await store.deleteSession(sessionId);
    const count = (table: string): unknown =>
      store.database.prepare(`SELECT count(*) FROM ${table} WHERE session_id = ?`).pluck().get(sessionId);
    expect(count('asm_events')).toBe(0);
    expect(count('asm_runs')).toBe(0);
    expect(count('asm_session_sequences')).toBe(0);
    expect(await store.getLatestSequence(kept)).toBe(1);
    await store.close();
  });

  it('deleting a session row directly cascades through the foreign keys', async () => {
    const store = createSqliteStore({ path: freshPath() });
    const sessionId = await newSessionId(store);
    await store.saveRun(createRun({ sessionId }));
    await store.appendEvent(eventOf(sessionId));
    store.database.prepare('DELETE FROM asm_sessions WHERE id = ?').run(sessionId);
    expect(store.database.prepare('SELECT count(*) FROM asm_events').pluck().get()).toBe(0);
    expect(store.database.prepare('SELECT count(*) FROM asm_runs').pluck().get()).toBe(0);
    expect(store.database.prepare('SELECT count(*) FROM asm_session_sequences').pluck().get()).toBe(0);
    await store.close();
  });

  it('runs the append and read hot path on statements prepared once', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const sessionId = await newSessionId(store);
    await store.getEvents(sessionId, { after: 0, limit: 10 });
    const prepare = vi.spyOn(store.database, 'prepare');
    for (let round = 0; round < 5; round++) {
      await store.appendEvent(eventOf(sessionId));
      await store.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
      await store.getEvents(sessionId, { after: round, limit: 10 });
      await store.getEvents(sessionId);
      await store.getLatestSequence(sessionId);
    }
    expect(prepare).not.toHaveBeenCalled();
    prepare.mockRestore();
    await store.close();
  });
});

describe('createSqliteStore - query plans', () => {
  const seeded = async (tablePrefix?: string) => {
    const store = createSqliteStore({
      path: ':memory:',
      ...(tablePrefix === undefined ? {} : { tablePrefix }),
    });
    const sessionId = await newSessionId(store);
    await store.appendEvents(Array.from({ length: 200 }, () => eventOf(sessionId)));
    store.database.exec('ANALYZE');
    return { store, sessionId };
  };

  it('getEvents({ after, limit }) searches the (session_id, sequence) index without sorting', async () => {
    const { store, sessionId } = await seeded();
    const plan = store.explainEventsQuery(sessionId, { after: 150, limit: 100 });
    expect(plan.join('\n')).toMatch(
      /SEARCH asm_events USING INDEX asm_events_session_sequence_idx \(session_id=\? AND sequence>\?\)/,
    );
    expect(plan.join('\n')).not.toMatch(/TEMP B-TREE/);
    const bounded = store.explainEventsQuery(sessionId, { after: 10, before: 20 });
    expect(bounded.join('\n')).toMatch(
      /asm_events_session_sequence_idx \(session_id=\? AND sequence>\? AND sequence<\?\)/,
    );
    await store.close();
  });

  it('a runId or a single type filter reads its own index in sequence order', async () => {
    const { store, sessionId } = await seeded();
    const byRun = store.explainEventsQuery(sessionId, { runId: 'run_x', after: 5, limit: 10 }).join('\n');
    expect(byRun).toMatch(/USING INDEX asm_events_run_idx \(run_id=\? AND sequence>\?\)/);
    const byType = store.explainEventsQuery(sessionId, { types: ['run_completed'], after: 5 }).join('\n');
    expect(byType).toMatch(
      /USING INDEX asm_events_session_type_idx \(session_id=\? AND type=\? AND sequence>\?\)/,
    );
    for (const plan of [byRun, byType]) expect(plan).not.toMatch(/TEMP B-TREE/);
    await store.close();
  });

  it('uses the prefixed index under a table prefix', async () => {
    const { store, sessionId } = await seeded('p_');
    expect(store.explainEventsQuery(sessionId, { after: 0, limit: 100 }).join('\n')).toMatch(
      /USING INDEX p_events_session_sequence_idx/,
    );
    await store.close();
  });

  it('listRuns reads the (session_id, created_at, id) index in order', async () => {
    const { store, sessionId } = await seeded();
    const plan = store.database
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM asm_runs WHERE session_id = ? ORDER BY created_at, id')
      .all(sessionId) as Array<{ detail: string }>;
    const text = plan.map((row) => row.detail).join('\n');
    expect(text).toMatch(/USING INDEX asm_runs_session_created_idx \(session_id=\?\)/);
    expect(text).not.toMatch(/TEMP B-TREE/);
    await store.close();
  });
});
