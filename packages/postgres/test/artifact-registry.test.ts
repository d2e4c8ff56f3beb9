import { AsmError, sha256Hex } from '@asm/core';
import { testArtifactRegistry } from '@asm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPostgresArtifactRegistry,
  createPostgresStore,
  type PostgresSessionStore,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

// One schema for the whole suite (its tests use random keys and session ids), dropped after.
const schema = randomSchema('registry');
afterAll(() => dropSchema(schema));

const stores = new WeakMap<object, PostgresSessionStore>();

testArtifactRegistry({
  name: 'postgres',
  create: () => {
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
    const registry = createPostgresArtifactRegistry(store);
    stores.set(registry, store);
    return registry;
  },
  cleanup: (registry) => stores.get(registry)?.close(),
  timeoutMs: 30_000,
});

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

const entry = (key: string, sessionId?: string) => ({
  key,
  byteSize: 3,
  sha256: sha256Hex('abc'),
  backend: 's3',
  reference: `s3://bucket/${key}`,
  ...(sessionId === undefined ? {} : { sessionId }),
});

describe('PostgreSQL artifact registry', () => {
  it('concurrent registrations of one key from two stores leave one row, every reply with its createdAt', async () => {
    const [left, right] = [0, 1].map(() =>
      createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 4 }),
    ) as [PostgresSessionStore, PostgresSessionStore];
    try {
      const key = `race/${Math.random().toString(16).slice(2)}`;
      const registries = [createPostgresArtifactRegistry(left), createPostgresArtifactRegistry(right)];
      const records = await Promise.all(
        Array.from({ length: 20 }, (_, index) => registries[index % 2]!.register(entry(key))),
      );
      const createdAt = new Set(records.map((record) => record.createdAt));
      const stored = await registries[0]!.lookup(key);
      expect(stored).toBeDefined();
      // Every upsert after the first met the row and kept its createdAt.
      expect([...createdAt]).toEqual([stored!.createdAt]);
      const rows = await withClient((client) =>
        client.query(`SELECT count(*)::int AS n FROM "${schema}".asm_artifacts WHERE key = $1`, [key]),
      );
      expect(rows.rows[0].n).toBe(1);
    } finally {
      await left.close();
      await right.close();
    }
  });

  it('listing by session or run and paging use the (…, created_at, key) indexes', async () => {
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
    try {
      const registry = createPostgresArtifactRegistry(store);
      const tag = Math.random().toString(16).slice(2);
      for (let index = 0; index < 40; index++)
        await registry.register(entry(`plan/${tag}/${index}`, `ses_${tag}_${index % 4}`));
      const plan = (sql: string, values: unknown[]) =>
        withClient(async (client) => {
          await client.query(`ANALYZE "${schema}".asm_artifacts`);
          await client.query('SET enable_seqscan = off');
          const result = await client.query(`EXPLAIN ${sql}`, values);
          return result.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
        });
      const bySession = await plan(
        `SELECT key FROM "${schema}".asm_artifacts WHERE session_id = $1 AND (created_at, key) > ($2::timestamptz, $3) ORDER BY created_at, key LIMIT 4`,
        [`ses_${tag}_1`, '2026-01-01T00:00:00.000Z', 'a'],
      );
      expect(bySession).toMatch(/asm_artifacts_session_idx/);
      expect(bySession).not.toMatch(/Sort/);
      const byRun = await plan(
        `SELECT key FROM "${schema}".asm_artifacts WHERE run_id = $1 ORDER BY created_at, key LIMIT 4`,
        ['run_x'],
      );
      expect(byRun).toMatch(/asm_artifacts_run_idx/);
      const stats = await registry.stats({ sessionId: `ses_${tag}_1` });
      expect(stats).toEqual({ artifactCount: 10, totalBytes: 30 });
    } finally {
      await store.close();
    }
  });

  it('a dropped table is storage_error; a closed store is storage_connection_failed', async () => {
    const brokenSchema = randomSchema('regbroken');
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema: brokenSchema, poolSize: 1 });
    try {
      const registry = createPostgresArtifactRegistry(store);
      await registry.register(entry('x/1'));
      await withClient((client) => client.query(`DROP TABLE "${brokenSchema}".asm_artifacts`));
      expect(await code(registry.lookup('x/1'))).toBe('storage_error');
      await store.close();
      expect(await code(registry.lookup('x/1'))).toBe('storage_connection_failed');
      expect(await code(registry.register(entry('x/2')))).toBe('storage_connection_failed');
    } finally {
      await store.close();
      await dropSchema(brokenSchema);
    }
  });
});
