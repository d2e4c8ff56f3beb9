import { testSessionLease } from '@asm/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresSessionLease } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

const schema = randomSchema('lease');
afterAll(() => dropSchema(schema));

// Two handles with their own pools, as two app instances would have.
testSessionLease({
  name: 'postgres',
  create: () => createPostgresSessionLease({ connectionString: DATABASE_URL, schema }),
});

describe('createPostgresSessionLease', () => {
  it('works on the app pool (left open), keeps one row per session, and purges expired rows', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    const lease = createPostgresSessionLease({ pool, schema });
    try {
      await lease.ready();
      const grant = await lease.acquire('ses_pool', 'host:7', 60_000);
      await lease.acquire('ses_pool', 'host:7', 60_000);
      const rows = await withClient((client) =>
        client.query(
          `SELECT holder_id, token FROM "${schema}".asm_session_leases WHERE session_id = 'ses_pool'`,
        ),
      );
      expect(rows.rows).toEqual([{ holder_id: 'host:7', token: String(grant!.token) }]);
      await lease.acquire('ses_short', 'host:7', 1);
      await withClient((client) => client.query('SELECT pg_sleep(0.05)'));
      expect(await lease.purgeExpired()).toBeGreaterThanOrEqual(1);
      expect(await lease.holder('ses_pool')).toMatchObject({ holderId: 'host:7' });
      await lease.close();
      expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
      const error = await lease.holder('ses_pool').then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: 'storage_connection_failed' });
    } finally {
      await pool.end();
    }
  });

  it('reports an unreachable server as storage_connection_failed (retryable)', async () => {
    const lease = createPostgresSessionLease({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      schema,
    });
    try {
      const error = await lease.acquire('ses_x', 'a', 1_000).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toMatchObject({ code: 'storage_connection_failed', retryable: true });
    } finally {
      await lease.close();
    }
  });

  it('validates its options', () => {
    expect(() => createPostgresSessionLease({ connectionString: '' } as never)).toThrow(/connectionString/);
    expect(() => createPostgresSessionLease({ connectionString: DATABASE_URL, schema: 'pg_bad' })).toThrow(
      /reserved/,
    );
  });
});
