import { fileURLToPath } from 'node:url';
import { AsmError, readSqlMigrations, type SqlMigration } from '@asm/core';
import type pg from 'pg';
import { toStorageError } from './errors.js';
import { type QualifiedNames, qualifiedNames, validateSchemaName } from './identifiers.js';
import { DEFAULT_SCHEMA } from './schema.js';

/** One migration of the journal, with its SQL split into statements. */
export type PostgresMigration = SqlMigration;

/** What `applyMigrations` found and did. */
export interface MigrationOutcome {
  /** Tags applied by this call, in order. */
  applied: string[];
  /** Tags that were already recorded. */
  alreadyApplied: string[];
}

/** The folder of the migrations shipped with this package (`<package>/migrations`). */
export const POSTGRES_MIGRATIONS_FOLDER: string = fileURLToPath(new URL('../migrations/', import.meta.url));

/** First key of the advisory lock (`'asm\0'`); the second is `hashtext(schema)`. */
const LOCK_CLASS = 0x61_73_6d_00;

/** Reads the journal and SQL files of a migrations folder (cached per folder; core's `readSqlMigrations`). */
export function loadMigrations(folder: string = POSTGRES_MIGRATIONS_FOLDER): PostgresMigration[] {
  return readSqlMigrations(folder);
}

/** Options of `applyMigrations`. */
export interface ApplyMigrationsOptions {
  /** The schema to migrate (default `asm`). */
  schema?: string;
  /** The migrations to apply (default: the shipped ones). */
  migrations?: readonly PostgresMigration[];
  /** `false`: apply nothing, and fail with `migration_required` when a migration is missing. */
  apply?: boolean;
}

/**
 * Brings a schema up to the given migrations, under an advisory lock (see the module comment). Stores
 * call it on open; a deploy script can call it ahead of time (then open the stores with
 * `migrate: false`). Throws `migration_required` when the schema records a migration that is not in
 * `migrations`, or (with `apply: false`) lacks one that is.
 */
export async function applyMigrations(
  pool: pg.Pool,
  options: ApplyMigrationsOptions,
): Promise<MigrationOutcome> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const migrations = options.migrations ?? loadMigrations();
  const names = qualifiedNames(schema);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStorageError(error, 'connect', 'storage_connection_failed');
  }
  let release: boolean | Error = false;
  try {
    await client.query('BEGIN');
    try {
      const outcome = await migrateLocked(client, names, schema, migrations, options.apply !== false);
      await client.query('COMMIT');
      return outcome;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } catch (error) {
    if (!AsmError.isInstance(error)) release = error instanceof Error ? error : new Error(String(error));
    throw toStorageError(error, 'migrate', 'storage_error');
  } finally {
    client.release(release);
  }
}

async function migrateLocked(
  client: pg.PoolClient,
  names: QualifiedNames,
  schema: string,
  migrations: readonly PostgresMigration[],
  apply: boolean,
): Promise<MigrationOutcome> {
  await client.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [LOCK_CLASS, schema]);
  const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  const schemaExists = (found.rowCount ?? 0) > 0;
  if (!schemaExists && !apply)
    throw missingMigrations(
      schema,
      migrations.map((migration) => migration.tag),
    );
  // CREATE SCHEMA needs the CREATE privilege on the database, even with IF NOT EXISTS: only ask for it
  // when the schema is really missing, so a schema prepared by an administrator is enough.
  if (!schemaExists) await client.query(`CREATE SCHEMA ${names.schema}`);

  const tableFound = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [names.migrations]);
  const tableExists = (tableFound.rows[0] as { present: boolean } | undefined)?.present === true;
  if (!tableExists) {
    if (!apply)
      throw missingMigrations(
        schema,
        migrations.map((migration) => migration.tag),
      );
    await client.query(
      `CREATE TABLE ${names.migrations} (tag text PRIMARY KEY, hash text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
  }
  const recorded = tableExists
    ? ((await client.query(`SELECT tag FROM ${names.migrations}`)).rows as { tag: string }[]).map(
        (row) => row.tag,
      )
    : [];
  const known = new Set(migrations.map((migration) => migration.tag));
  const unknown = recorded.filter((tag) => !known.has(tag)).sort();
  if (unknown.length > 0) {
    throw new AsmError(
      'migration_required',
      `Schema "${schema}" was migrated by a newer @asm/postgres (unknown migration ${unknown.join(', ')}); upgrade @asm/postgres to open it`,
      { details: { schema, unknownMigrations: unknown } },
    );
  }
  const done = new Set(recorded);
  const missing = migrations.filter((migration) => !done.has(migration.tag));
  if (missing.length > 0 && !apply)
    throw missingMigrations(
      schema,
      missing.map((migration) => migration.tag),
    );
  if (missing.length > 0) {
    await client.query(`SET LOCAL search_path TO ${names.schema}`);
    for (const migration of missing) {
      for (const statement of migration.statements) await client.query(statement);
      await client.query(`INSERT INTO ${names.migrations} (tag, hash) VALUES ($1, $2)`, [
        migration.tag,
        migration.hash,
      ]);
    }
  }
  return { applied: missing.map((migration) => migration.tag), alreadyApplied: recorded };
}

function missingMigrations(schema: string, tags: string[]): AsmError {
  return new AsmError(
    'migration_required',
    `Schema "${schema}" lacks migrations ${tags.join(', ')} and the store was opened with migrate: false`,
    { details: { schema, missingMigrations: tags } },
  );
}
