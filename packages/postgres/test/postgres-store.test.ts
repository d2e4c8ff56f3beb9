import { AsmError, createRun, createSession, type NewEvent, type SessionStore } from '@asm/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, eventOf, newSession, randomSchema, sleep, withClient } from './helpers.js';

const schema = randomSchema('store');
const otherSchema = `${randomSchema('odd')} "quoted" Ünï`;
let pool: pg.Pool;
let store: PostgresSessionStore;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  store = createPostgresStore({ pool, schema });
  await store.ready();
});

afterAll(async () => {
  await store.close();
  await pool.end();
  await dropSchema(schema);
  await dropSchema(otherSchema);
});

async function expectCode(promise: Promise<unknown>, code: string): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected AsmError ${code}, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code).toBe(code);
  return error as AsmError;
}

describe('createPostgresStore - options', () => {
  it('rejects missing options, bad schema names and pool sizes with validation_error', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { connectionString: '' },
      { connectionString: DATABASE_URL, schema: '' },
      { connectionString: DATABASE_URL, schema: 'pg_mine' },
      { connectionString: DATABASE_URL, schema: 'x'.repeat(64) },
      { connectionString: DATABASE_URL, schema: 'a\u0000b' },
      { connectionString: DATABASE_URL, poolSize: 0 },
      { connectionString: DATABASE_URL, migrate: 'yes' },
      { pool: {} },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        createPostgresStore(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(AsmError.isInstance(thrown), JSON.stringify(options)).toBe(true);
      expect((thrown as AsmError).code).toBe('validation_error');
    }
  });

  it('does no I/O in the factory and uses the asm schema by default', async () => {
    const lazy = createPostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    expect(lazy.schema).toBe('asm');
    expect(lazy.specificationVersion).toBe('v1');
    expect(lazy.supportsLongPoll).toBe(true);
    const error = await expectCode(lazy.getSession('ses_x'), 'storage_connection_failed');
    expect(error.retryable).toBe(true);
    await lazy.close();
  });

  it('leaves an injected pool open on close and rejects calls afterwards', async () => {
    const own = createPostgresStore({ pool, schema });
    await own.ready();
    await own.close();
    await own.close();
    expect(own.closed).toBe(true);
    const error = await expectCode(own.getSession('ses_x'), 'storage_connection_failed');
    expect(error.retryable).toBe(false);
    await expectCode(own.ready(), 'storage_connection_failed');
    expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
  });
});

describe('schemas', () => {
  it('keeps stores of different schemas apart, whatever characters the name holds', async () => {
    const other = createPostgresStore({ pool, schema: otherSchema });
    try {
      const session = newSession();
      await other.saveSession(session);
      await other.appendEvent(eventOf(session.id));
      expect(await other.getLatestSequence(session.id)).toBe(1);
      expect(await store.getSession(session.id)).toBeUndefined();
      expect(await store.getLatestSequence(session.id)).toBe(0);
      const tables = await pool.query(
        'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
        [otherSchema],
      );
      expect(tables.rows.map((row: { table_name: string }) => row.table_name)).toEqual([
        'asm_artifacts',
        'asm_events',
        'asm_migrations',
        'asm_runs',
        'asm_session_sequences',
        'asm_sessions',
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('timestamps', () => {
  it('returns event timestamps byte for byte as given', async () => {
    const session = newSession();
    await store.saveSession(session);
    const stamps = [
      '2024-01-01T00:00:00Z',
      '2024-01-01T02:00:00.5+02:00',
      '2024-01-01T00:00:00.123456789Z',
      '2023-12-31T19:00:00.000001-05:00',
      '2024-06-30T12:00:00.120Z',
    ];
    const events = stamps.map((timestamp) => eventOf(session.id, { timestamp }));
    await store.appendEvents(events);
    const read = await store.getEvents(session.id);
    expect(read.map((event) => event.timestamp)).toEqual(stamps);
  });

  it('since is inclusive and exact below the millisecond, across zones', async () => {
    const session = newSession();
    await store.saveSession(session);
    const stamps = [
      '2024-01-01T00:00:00.000000001Z',
      '2024-01-01T00:00:00.000000002Z',
      '2024-01-01T00:00:00.000001Z',
      '2024-01-01T01:00:00.0000015+01:00',
      '2024-01-01T00:00:00.001Z',
    ];
    await store.appendEvents(stamps.map((timestamp) => eventOf(session.id, { timestamp })));
    const since = async (value: string): Promise<number[]> =>
      (await store.getEvents(session.id, { since: value })).map((event) => event.sequence);
    expect(await since('2024-01-01T00:00:00Z')).toEqual([1, 2, 3, 4, 5]);
    expect(await since('2024-01-01T00:00:00.000000002Z')).toEqual([2, 3, 4, 5]);
    expect(await since('2024-01-01T00:00:00.000000003Z')).toEqual([3, 4, 5]);
    expect(await since('2024-01-01T00:00:00.000001Z')).toEqual([3, 4, 5]);
    expect(await since('2024-01-01T00:00:00.0000015Z')).toEqual([4, 5]);
    expect(await since('2023-12-31T19:00:00.0000016-05:00')).toEqual([5]);
    expect(await since('2024-01-01T00:00:00.001000001Z')).toEqual([]);
  });

  it('orders sessions and runs by instant, not by the text of their timestamps', async () => {
    const agentId = `agent_${Date.now()}`;
    const late = { ...createSession({ agentId }), createdAt: '2024-01-01T00:00:00Z' };
    const early = { ...createSession({ agentId }), createdAt: '2024-01-01T01:00:00+02:00' };
    await store.saveSession(late);
    await store.saveSession(early);
    const listed = await store.listSessions({ agentId });
    expect(listed.map((session) => session.id)).toEqual([early.id, late.id]);
    expect(listed.map((session) => session.createdAt)).toEqual([early.createdAt, late.createdAt]);

    const runLate = { ...createRun({ sessionId: late.id }), createdAt: '2024-01-01T00:00:00.000002Z' };
    const runEarly = { ...createRun({ sessionId: late.id }), createdAt: '2024-01-01T00:00:00.000001Z' };
    await store.saveRun(runLate);
    await store.saveRun(runEarly);
    expect((await store.listRuns(late.id)).map((run) => run.id)).toEqual([runEarly.id, runLate.id]);
  });

  it('rejects timestamps PostgreSQL cannot hold with validation_error and stores nothing', async () => {
    const session = newSession();
    await store.saveSession(session);
    await expectCode(
      store.appendEvents([eventOf(session.id), eventOf(session.id, { timestamp: '0000-06-01T00:00:00Z' })]),
      'validation_error',
    );
    expect(await store.getLatestSequence(session.id)).toBe(0);
  });
});

describe('appendEvents', () => {
  /** The statements a spied `pool.query` ran, as their SQL text. */
  const statementsOf = (spy: { mock: { calls: unknown[][] } }): string[] =>
    spy.mock.calls.map(([config]) =>
      typeof config === 'string' ? config : String((config as { text?: string }).text),
    );

  it('writes a batch of 100 events with one statement (NOTIFY inside it with notify: in-transaction)', async () => {
    const strict = createPostgresStore({ pool, schema, notify: 'in-transaction' });
    const session = newSession();
    await strict.saveSession(session);
    const spy = vi.spyOn(pool, 'query');
    try {
      const stored = await strict.appendEvents(Array.from({ length: 100 }, () => eventOf(session.id)));
      expect(stored.map((event) => event.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      // One pool.query is one statement: the counter update, the INSERT and the NOTIFY together.
      expect(statementsOf(spy)).toHaveLength(1);
      expect(statementsOf(spy)[0]).toMatch(/pg_notify/);
      spy.mockClear();
      await strict.appendEvent(eventOf(session.id));
      expect(statementsOf(spy)).toHaveLength(1);
    } finally {
      spy.mockRestore();
      await strict.close();
    }
  });

  it('by default writes a batch with one pool statement and notifies after it on the listener connection', async () => {
    const session = newSession();
    await store.saveSession(session);
    const watcher = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    const spy = vi.spyOn(pool, 'query');
    try {
      const polling = watcher.getEvents(session.id, { waitMs: 30_000 });
      await sleep(50);
      const stored = await store.appendEvents(Array.from({ length: 100 }, () => eventOf(session.id)));
      expect(await polling).toEqual(stored);
      const statements = statementsOf(spy);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatch(/INSERT INTO/);
      expect(statements[0]).not.toMatch(/pg_notify/);
    } finally {
      spy.mockRestore();
      await watcher.close();
    }
  });

  it('a retried batch costs a duplicate lookup and keeps the original sequences', async () => {
    const session = newSession();
    await store.saveSession(session);
    const batch = Array.from({ length: 5 }, () => eventOf(session.id));
    const first = await store.appendEvents(batch);
    const spy = vi.spyOn(pool, 'query');
    try {
      const fresh = eventOf(session.id);
      const second = await store.appendEvents([...batch, fresh]);
      expect(second.slice(0, 5)).toEqual(first);
      expect(second[5]?.sequence).toBe(6);
      // The failed optimistic insert, the lookup, the insert of what is new.
      const writes = statementsOf(spy);
      expect(writes).toHaveLength(3);
      expect(writes[1]).toMatch(/WHERE id = ANY/);
    } finally {
      spy.mockRestore();
    }
    expect(await store.getLatestSequence(session.id)).toBe(6);
  });

  it('groups concurrent appends to one session into shared statements, each call still all or nothing', async () => {
    const session = newSession();
    await store.saveSession(session);
    const calls = Array.from({ length: 12 }, () => [eventOf(session.id), eventOf(session.id)]);
    const spy = vi.spyOn(pool, 'query');
    let results: Awaited<ReturnType<typeof store.appendEvents>>[];
    try {
      results = await Promise.all(calls.map((batch) => store.appendEvents(batch)));
      const writes = statementsOf(spy).filter((text) => text.includes('INSERT INTO'));
      expect(writes.length).toBeLessThan(calls.length);
    } finally {
      spy.mockRestore();
    }
    // Each call's events are contiguous and in its order; together they are 1..24.
    for (const stored of results) expect(stored[1]!.sequence).toBe(stored[0]!.sequence + 1);
    expect(
      results
        .flat()
        .map((event) => event.sequence)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    // A refused value in one grouped call does not fail the others.
    const good = Array.from({ length: 3 }, () => [eventOf(session.id)]);
    const bad = [eventOf(session.id, { data: { role: 'user', content: 'nul \u0000' } } as Partial<NewEvent>)];
    const outcomes = await Promise.all(
      [good[0]!, bad, good[1]!, good[2]!].map((batch) =>
        store.appendEvents(batch).then(
          (stored) => stored[0]!.sequence,
          (error: unknown) => (error as AsmError).code,
        ),
      ),
    );
    expect(outcomes[1]).toBe('validation_error');
    expect([outcomes[0], outcomes[2], outcomes[3]].sort()).toEqual([25, 26, 27]);
  });

  it('keeps concurrent multi-session batches free of deadlocks and gaps', async () => {
    const sessions = Array.from({ length: 4 }, () => newSession());
    for (const session of sessions) await store.saveSession(session);
    const batches = Array.from({ length: 24 }, (_, index) => {
      const order = index % 2 === 0 ? sessions : [...sessions].reverse();
      return order.flatMap((session) => [eventOf(session.id), eventOf(session.id)]);
    });
    await Promise.all(batches.map((batch) => store.appendEvents(batch)));
    for (const session of sessions) {
      const events = await store.getEvents(session.id);
      expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
    }
  });

  it('rejects JSON text PostgreSQL cannot store (NUL) with validation_error and stores nothing', async () => {
    const session = newSession();
    await store.saveSession(session);
    const bad = eventOf(session.id, { data: { role: 'user', content: 'a\u0000b' } } as Partial<NewEvent>);
    await expectCode(store.appendEvents([eventOf(session.id), bad]), 'validation_error');
    expect(await store.getLatestSequence(session.id)).toBe(0);
  });

  it('rejects data that is not JSON (BigInt) with validation_error', async () => {
    const session = newSession();
    await store.saveSession(session);
    const bad = eventOf(session.id, { data: { big: 1n } } as unknown as Partial<NewEvent>);
    await expectCode(store.appendEvent(bad), 'validation_error');
    await expectCode(
      store.saveSession({ ...newSession(), metadata: { big: 1n } } as never),
      'validation_error',
    );
  });
});

describe('deleteSession', () => {
  it('cascades in one transaction even while appends are in flight', async () => {
    const session = newSession();
    await store.saveSession(session);
    const run = createRun({ sessionId: session.id });
    await store.saveRun(run);
    const appends = Array.from({ length: 20 }, () =>
      store.appendEvents([eventOf(session.id), eventOf(session.id)]).then(
        () => 'stored',
        (error: unknown) => (error as AsmError).code,
      ),
    );
    await store.deleteSession(session.id);
    const outcomes = await Promise.all(appends);
    expect(outcomes.every((outcome) => outcome === 'stored' || outcome === 'session_not_found')).toBe(true);
    const counts = await withClient(async (client) => {
      const result = await client.query(
        `SELECT (SELECT count(*) FROM "${schema}".asm_events WHERE session_id = $1)::int AS events,
                (SELECT count(*) FROM "${schema}".asm_runs WHERE session_id = $1)::int AS runs,
                (SELECT count(*) FROM "${schema}".asm_session_sequences WHERE session_id = $1)::int AS counters`,
        [session.id],
      );
      return result.rows[0] as { events: number; runs: number; counters: number };
    });
    expect(counts).toEqual({ events: 0, runs: 0, counters: 0 });
    await expectCode(store.saveRun(run), 'session_not_found');
    await expectCode(store.appendEvent(eventOf(session.id)), 'session_not_found');
  });
});

describe('store as a SessionStore', () => {
  it('satisfies the port checks of core', async () => {
    const { assertSessionStore } = await import('@asm/core');
    expect(() => assertSessionStore(store as SessionStore)).not.toThrow();
  });
});
