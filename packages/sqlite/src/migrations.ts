/**
 * A small migration runner over the drizzle-kit journal shipped in `migrations/`.
 *
 * drizzle's own migrator runs the SQL as written, which would ignore a table prefix. This runner
 * rewrites the quoted `asm_` names of each statement to the store's prefix, applies the migrations
 * the database lacks inside one immediate transaction, and records each applied migration in
 * `<prefix>migrations`. A database whose record names a migration this code does not ship was
 * migrated by a newer `@asm/sqlite`: opening it fails with `migration_required`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsmError } from '@asm/core';
import type BetterSqlite3 from 'better-sqlite3';
import { DEFAULT_TABLE_PREFIX } from './schema.js';

/** One migration of the journal, with its SQL split into statements. */
export interface SqliteMigration {
  /** The drizzle-kit tag, such as `0000_initial`: the identity recorded in the database. */
  tag: string;
  /** SHA-256 of the migration's SQL file, recorded next to the tag. */
  hash: string;
  /** The statements, written with the default `asm_` prefix. */
  statements: string[];
}

/** What `applyMigrations` did. */
export interface MigrationOutcome {
  /** Tags applied by this call, in order. */
  applied: string[];
}

/** The folder of the migrations shipped with this package (`<package>/migrations`). */
export const SQLITE_MIGRATIONS_FOLDER: string = fileURLToPath(new URL('../migrations/', import.meta.url));

const loaded = new Map<string, SqliteMigration[]>();

interface JournalEntry {
  idx: number;
  tag: string;
}

/** Reads the journal and SQL files of a migrations folder (cached per folder). */
export function loadMigrations(folder: string = SQLITE_MIGRATIONS_FOLDER): SqliteMigration[] {
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
  const migrations = entries.map((entry) => {
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

/** A statement of the shipped SQL with its quoted `asm_` names rewritten to `prefix`. */
export function withTablePrefix(statement: string, prefix: string): string {
  if (prefix === DEFAULT_TABLE_PREFIX) return statement;
  return statement.replaceAll(`\`${DEFAULT_TABLE_PREFIX}`, `\`${prefix}`);
}

/**
 * Brings the database up to the given migrations. Applies what is missing, in order, in one
 * immediate transaction (a concurrent opener waits on the busy timeout, then sees them applied).
 * Throws `migration_required` when the database records a migration that is not in `migrations`.
 */
export function applyMigrations(
  database: BetterSqlite3.Database,
  prefix: string,
  migrations: readonly SqliteMigration[],
): MigrationOutcome {
  const table = `"${prefix}migrations"`;
  const run = database.transaction((): MigrationOutcome => {
    database.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (tag TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, applied_at TEXT NOT NULL)`,
    );
    const recorded = database.prepare(`SELECT tag FROM ${table}`).pluck().all() as string[];
    const known = new Set(migrations.map((migration) => migration.tag));
    const unknown = recorded.filter((tag) => !known.has(tag)).sort();
    if (unknown.length > 0) {
      throw new AsmError(
        'migration_required',
        `The database was migrated by a newer @asm/sqlite (unknown migration ${unknown.join(', ')}); upgrade @asm/sqlite to open it`,
        { details: { unknownMigrations: unknown, tablePrefix: prefix } },
      );
    }
    if (recorded.length === 0) {
      const existing = database
        .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`)
        .pluck()
        .get(`${prefix}sessions`) as string | undefined;
      if (existing !== undefined) {
        throw new AsmError(
          'migration_required',
          `Table ${existing} exists but ${prefix}migrations records no migration; the schema was not created by @asm/sqlite`,
          { details: { table: existing, tablePrefix: prefix } },
        );
      }
    }
    const done = new Set(recorded);
    const record = database.prepare(`INSERT INTO ${table} (tag, hash, applied_at) VALUES (?, ?, ?)`);
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.tag)) continue;
      for (const statement of migration.statements) database.exec(withTablePrefix(statement, prefix));
      record.run(migration.tag, migration.hash, new Date().toISOString());
      applied.push(migration.tag);
    }
    return { applied };
  });
  return run.immediate();
}
