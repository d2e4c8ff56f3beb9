import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsmError } from './errors.js';

/** One migration of a drizzle-kit folder, with its SQL split into statements. */
export interface SqlMigration {
  /** The drizzle-kit tag, such as `0000_initial`: the identity a store records in its database. */
  tag: string;
  /** SHA-256 of the migration's SQL file. */
  hash: string;
  /** The statements, in file order. */
  statements: string[];
}

const loaded = new Map<string, SqlMigration[]>();

/**
 * Reads the migrations a store package ships, in the drizzle-kit layout (`meta/_journal.json` plus
 * one `<tag>.sql` per entry, statements separated by `--> statement-breakpoint`), in journal order.
 * Cached per folder. A missing or unreadable journal or file is `storage_error`.
 */
export function readSqlMigrations(folder: string): SqlMigration[] {
  const cached = loaded.get(folder);
  if (cached !== undefined) return cached;
  const journalPath = join(folder, 'meta', '_journal.json');
  if (!existsSync(journalPath)) {
    throw new AsmError('storage_error', `No migration journal at ${journalPath}`, {
      details: { migrationsFolder: folder },
    });
  }
  let entries: { idx: number; tag: string }[];
  try {
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as {
      entries?: { idx: number; tag: string }[];
    };
    if (!Array.isArray(journal.entries)) throw new Error('the journal has no entries array');
    entries = [...journal.entries].sort((left, right) => left.idx - right.idx);
  } catch (error) {
    throw new AsmError('storage_error', `Cannot read the migration journal ${journalPath}`, {
      details: { migrationsFolder: folder },
      cause: error,
    });
  }
  const migrations = entries.map((entry): SqlMigration => {
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
