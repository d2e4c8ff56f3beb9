/**
 * The migration runner: applies the drizzle-kit migrations shipped in `migrations/` to one schema.
 *
 * drizzle's own migrator records migrations in a fixed schema and cannot tell that the database is
 * newer than the code, so the store runs its own, over the same journal and SQL files:
 *
 * 1. one transaction takes `pg_advisory_xact_lock` keyed by the schema, so stores opening together
 *    (in one process or many) apply each migration exactly once and wait for each other;
 * 2. it creates the schema when it is missing and `<schema>.asm_migrations`, which records the tag
 *    and SHA-256 of every applied migration;
 * 3. a recorded tag the code does not ship means a newer `@asm/postgres` migrated this schema:
 *    `migration_required`, nothing changes;
 * 4. the missing migrations run in journal order with `search_path` set to the schema (the shipped
 *    SQL is schema-free), and the transaction commits them all or none.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsmError } from '@asm/core';
import type pg from 'pg';
import { toStorageError } from './errors.js';
import { type QualifiedNames, qualifiedNames, validateSchemaName } from './identifiers.js';
import { DEFAULT_SCHEMA } from './schema.js';

/** One migration of the journal, with its SQL split into statements. */
export interface PostgresMigration {
  /** The drizzle-kit tag, such as `0000_initial`: the identity recorded in the database. */
  tag: string;
  /** SHA-256 of the migration's SQL file, recorded next to the tag. */
  hash: string;
  /** The statements, schema-free. */
  statements: string[];
}

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

const loaded = new Map<string, PostgresMigration[]>();

interface JournalEntry {
  idx: number;
  tag: string;
}

/** Reads the journal and SQL files of a migrations folder (cached per folder). */
export function loadMigrations(folder: string = POSTGRES_MIGRATIONS_FOLDER): PostgresMigration[] {
  const cached = loaded.get(folder);
  if (cached !== undefined) return cached;
  const journalPath = join(folder, 'meta', '_journal.json');
  if (!existsSync(journalPath)) {
    throw new AsmError('storage_error', `No migration journal at ${journalPath}`, {
      details: { migrationsFolder: folder },
    });
  }
  let entries: JournalEntry[];
  try {
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries?: JournalEntry[] };
    if (!Array.isArray(journal.entries)) throw new Error('the journal has no entries array');
    entries = [...journal.entries].sort((left, right) => left.idx - right.idx);
  } catch (error) {
    throw new AsmError('storage_error', `Cannot read the migration journal ${journalPath}`, {
      details: { migrationsFolder: folder },
      cause: error,
    });
  }
  const migrations = entries.map((entry): PostgresMigration => {
    const file = join(folder, `${entry.tag}.sql`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new AsmError('storage_error', `Cannot read migration ${file}`, {
        details: { migrationsFolder: folder, tag: entry.tag },
        cause: error,
      });
    }
    return {
      tag: entry.tag,
      hash: createHash('sha256').update(text).digest('hex'),
      statements: text
        .split('--> statement-breakpoint')
        .map((statement) => statement.trim())
        .filter((statement) => statement !== ''),
    };
  });
  loaded.set(folder, migrations);
  return migrations;
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
