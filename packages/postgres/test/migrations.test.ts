import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { AsmError } from '@asm/core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applyMigrations,
  createPostgresStore,
  loadMigrations,
  POSTGRES_MIGRATIONS_FOLDER,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, newSession, randomSchema, withClient } from './helpers.js';

const schemas: string[] = [];
function schemaForTest(label: string): string {
  const schema = randomSchema(label);
  schemas.push(schema);
  return schema;
}
afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

async function appliedTags(schema: string): Promise<string[]> {
  return withClient(async (client) => {
    const result = await client.query(`SELECT tag FROM "${schema}".asm_migrations ORDER BY tag`);
    return result.rows.map((row: { tag: string }) => row.tag);
  });
}

async function rejection(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

describe('migrations', () => {
  it('ships the drizzle-kit journal and SQL', () => {
    const migrations = loadMigrations();
    expect(migrations.map((migration) => migration.tag)).toEqual([
      '0000_initial',
      '0001_query',
      '0002_artifact_registry',
      '0003_query_indexes',
    ]);
    expect(
      migrations[0]?.statements.some((statement) => statement.startsWith('CREATE TABLE "asm_events"')),
    ).toBe(true);
    // Schema-free SQL: the runner decides the schema.
    expect(migrations[0]?.statements.join('\n')).not.toMatch(/"public"\./);
  });

  it('six stores opening a fresh schema at once apply each migration exactly once', async () => {
    const schema = schemaForTest('race');
    const stores = Array.from({ length: 6 }, () =>
      createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 }),
    );
    try {
      await Promise.all(stores.map((store) => store.ready()));
      expect(await appliedTags(schema)).toEqual(loadMigrations().map((migration) => migration.tag));
      // Every store works on the same tables.
      const session = newSession();
      await stores[0]!.saveSession(session);
      for (const store of stores) expect(await store.getSession(session.id)).toEqual(session);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('fails with migration_required when the schema has a migration this code does not know', async () => {
    const schema = schemaForTest('newer');
    const first = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await first.ready();
    await first.close();
    await withClient((client) =>
      client.query(`INSERT INTO "${schema}".asm_migrations (tag, hash) VALUES ('9999_from_the_future', 'x')`),
    );
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    try {
      const error = await rejection(store.ready());
      expect(error.code).toBe('migration_required');
      expect(error.details.unknownMigrations).toEqual(['9999_from_the_future']);
      // Every call reports it (and tries again: it is not cached as a success).
      expect((await rejection(store.getSession('ses_x'))).code).toBe('migration_required');
    } finally {
      await store.close();
    }
  });

  it('migrate: false refuses a schema that lacks migrations and opens a migrated one', async () => {
    const schema = schemaForTest('verify');
    const verifying = createPostgresStore({
      connectionString: DATABASE_URL,
      schema,
      migrate: false,
      poolSize: 1,
    });
    const error = await rejection(verifying.ready());
    expect(error.code).toBe('migration_required');
    expect(error.details.missingMigrations).toEqual([
      '0000_initial',
      '0001_query',
      '0002_artifact_registry',
      '0003_query_indexes',
    ]);
    const migrating = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await migrating.ready();
    await migrating.close();
    await verifying.ready();
    expect(await verifying.getLatestSequence('ses_x')).toBe(0);
    await verifying.close();
  });

  it('applyMigrations migrates ahead of time (a deploy step); it is idempotent', async () => {
    const schema = schemaForTest('deploy');
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    try {
      expect(await applyMigrations(pool, { schema })).toEqual({
        applied: ['0000_initial', '0001_query', '0002_artifact_registry', '0003_query_indexes'],
        alreadyApplied: [],
      });
      expect(await applyMigrations(pool, { schema })).toEqual({
        applied: [],
        alreadyApplied: ['0000_initial', '0001_query', '0002_artifact_registry', '0003_query_indexes'],
      });
      expect((await rejection(applyMigrations(pool, { schema: 'pg_nope' }))).code).toBe('validation_error');
      const store = createPostgresStore({ pool, schema, migrate: false });
      await store.ready();
      await store.close();
    } finally {
      await pool.end();
    }
  });

  it('uses a schema an administrator created beforehand', async () => {
    const schema = schemaForTest('precreated');
    await withClient((client) => client.query(`CREATE SCHEMA "${schema}"`));
    const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    try {
      await store.ready();
      expect(await appliedTags(schema)).toEqual([
        '0000_initial',
        '0001_query',
        '0002_artifact_registry',
        '0003_query_indexes',
      ]);
    } finally {
      await store.close();
    }
  });

  it('the shipped migrations match src/schema.ts (drizzle-kit finds nothing to generate)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'asm-pg-migrations-'));
    try {
      cpSync(POSTGRES_MIGRATIONS_FOLDER, out, { recursive: true });
      const packageDir = join(POSTGRES_MIGRATIONS_FOLDER, '..');
      const { stdout } = await promisify(execFile)(
        join(packageDir, 'node_modules', '.bin', 'drizzle-kit'),
        // drizzle-kit prefixes `--out` with './': give it a relative path.
        [
          'generate',
          '--dialect=postgresql',
          '--schema=./src/schema.ts',
          `--out=${relative(packageDir, out)}`,
        ],
        { cwd: packageDir, timeout: 30_000 },
      );
      expect(stdout).toMatch(/No schema changes/);
      expect(readdirSync(out).filter((name) => name.endsWith('.sql'))).toEqual([
        '0000_initial.sql',
        '0001_query.sql',
        '0002_artifact_registry.sql',
        '0003_query_indexes.sql',
      ]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 40_000);
});
