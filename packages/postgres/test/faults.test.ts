import { AsmError, type NewEvent } from '@asm/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, eventOf, newSession, randomSchema, sleep, withClient } from './helpers.js';

// Faults on the shared server that leave it alone: killing this test's own connections and timing
// out its own statements. Restarting a server is in restart.test.ts, on a private cluster.
const schema = randomSchema('faults');
const applicationName = `asm_faults_${schema.slice(-12)}`;
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
});

afterAll(async () => {
  await admin.end();
  await dropSchema(schema);
});

async function rejection(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

/** Holds the row lock of a session's counter in another connection until `release()`. */
async function lockCounter(sessionId: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM "${schema}".asm_session_sequences WHERE session_id = $1 FOR UPDATE`, [
    sessionId,
  ]);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Waits until a backend of this test's application waits on a lock, and returns its pid. */
async function blockedBackend(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const result = await admin.query(
      `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
      [applicationName],
    );
    const row = result.rows[0] as { pid: number } | undefined;
    if (row !== undefined) return row.pid;
    await sleep(10);
  }
  throw new Error('no backend of this test is waiting on a lock');
}

function storeWith(config: pg.PoolConfig): { store: PostgresSessionStore; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, application_name: applicationName, ...config });
  pool.on('error', () => undefined);
  return { store: createPostgresStore({ pool, schema }), pool };
}

function batchOf(sessionId: string, size: number): NewEvent[] {
  return Array.from({ length: size }, () => eventOf(sessionId));
}

describe('faults', () => {
  it('a connection terminated in the middle of an append: storage_connection_failed, and the retry stores the batch once', async () => {
    const { store, pool } = storeWith({ max: 2 });
    try {
      const session = newSession();
      await store.saveSession(session);
      await store.appendEvents(batchOf(session.id, 3));
      const batch = batchOf(session.id, 5);
      const lock = await lockCounter(session.id);
      // The handler is attached at once: the rejection lands while this test is still busy.
      const pending = rejection(store.appendEvents(batch));
      const pid = await blockedBackend();
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const error = await pending;
      expect(error.code).toBe('storage_connection_failed');
      expect(error.retryable).toBe(true);
      await lock.release();

      const stored = await store.appendEvents(batch);
      expect(stored.map((event) => event.sequence)).toEqual([4, 5, 6, 7, 8]);
      expect(await store.appendEvents(batch)).toEqual(stored);
      expect((await store.getEvents(session.id)).map((event) => event.sequence)).toEqual([
        1, 2, 3, 4, 5, 6, 7, 8,
      ]);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('idle connections killed by the server are replaced: the next calls work (at most one retry)', async () => {
    const { store, pool } = storeWith({ max: 3 });
    try {
      const session = newSession();
      await store.saveSession(session);
      await Promise.all([store.appendEvent(eventOf(session.id)), store.getEvents(session.id)]);
      const killed = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      const event = eventOf(session.id);
      let stored: Awaited<ReturnType<typeof store.appendEvent>> | undefined;
      for (let attempt = 0; attempt < 3 && stored === undefined; attempt++) {
        try {
          stored = await store.appendEvent(event);
        } catch (error) {
          expect((error as AsmError).code).toBe('storage_connection_failed');
          expect((error as AsmError).retryable).toBe(true);
        }
      }
      expect(stored?.sequence).toBe(2);
      expect(await store.getLatestSequence(session.id)).toBe(2);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('a statement timeout: storage_connection_failed (retryable), nothing half-written, the retry works', async () => {
    const { store, pool } = storeWith({ max: 2, statement_timeout: 300 });
    try {
      const session = newSession();
      await store.saveSession(session);
      const batch = batchOf(session.id, 4);
      const lock = await lockCounter(session.id);
      const error = await rejection(store.appendEvents(batch));
      expect(error.code).toBe('storage_connection_failed');
      expect(error.retryable).toBe(true);
      expect(error.details).toMatchObject({ sqlState: '57014', reason: 'query_canceled' });
      await lock.release();
      expect(await store.getLatestSequence(session.id)).toBe(0);
      const stored = await store.appendEvents(batch);
      expect(stored.map((event) => event.sequence)).toEqual([1, 2, 3, 4]);
      expect(await store.appendEvents(batch)).toEqual(stored);
      expect(await store.getLatestSequence(session.id)).toBe(4);
    } finally {
      await store.close();
      await pool.end();
    }
  });

  it('an unreachable server: storage_connection_failed (retryable) from every kind of call', async () => {
    const store = createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema });
    try {
      for (const call of [
        () => store.ready(),
        () => store.getSession('ses_x'),
        () => store.appendEvent(eventOf('ses_x')),
      ]) {
        const error = await rejection(call());
        expect(error.code).toBe('storage_connection_failed');
        expect(error.retryable).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('a schema dropped under an open store: storage_error, not a crash', async () => {
    const dropped = randomSchema('dropped');
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema: dropped, poolSize: 1 });
    try {
      await store.ready();
      await withClient((client) => client.query(`DROP SCHEMA "${dropped}" CASCADE`));
      const error = await rejection(store.getSession('ses_x'));
      expect(error.code).toBe('storage_error');
    } finally {
      await store.close();
      await dropSchema(dropped);
    }
  });
});
