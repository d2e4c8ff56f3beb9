import { fileURLToPath } from 'node:url';
import { AsmError, readSqlMigrations, type SqlMigration } from '@asm/core';
import type BetterSqlite3 from 'better-sqlite3';
import { DEFAULT_TABLE_PREFIX } from './schema.js';

/** One migration of the journal, with its SQL split into statements. */
export type SqliteMigration = SqlMigration;

/** What `applyMigrations` did. */
export interface MigrationOutcome {
  /** Tags applied by this call, in order. */
  applied: string[];
}

/** The folder of the migrations shipped with this package (`<package>/migrations`). */
export const SQLITE_MIGRATIONS_FOLDER: string = fileURLToPath(new URL('../migrations/', import.meta.url));

/** Reads the journal and SQL files of a migrations folder (cached per folder; core's `readSqlMigrations`). */
export function loadMigrations(folder: string = SQLITE_MIGRATIONS_FOLDER): SqliteMigration[] {
  return readSqlMigrations(folder);
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
