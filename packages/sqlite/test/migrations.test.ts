import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, loadMigrations, SQLITE_MIGRATIONS_FOLDER } from '../src/index.js';
import { withTablePrefix } from '../src/migrations.js';
import { eventOf, expectAsmError, newSessionId, tempFolder } from './helpers.js';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const folder = tempFolder('migrations');
afterAll(() => folder.remove());
let counter = 0;
const freshPath = (): string => join(folder.path, `db-${++counter}.db`);

/** The tag of the extra migration `newerMigrationsFolder` adds after the shipped ones. */
const EXTRA_TAG = '9999_test_extra';

/** A copy of the shipped migrations plus one more (`EXTRA_TAG`), as a newer release would ship. */
function newerMigrationsFolder(): string {
  const target = join(folder.path, `migrations-${++counter}`);
  cpSync(SQLITE_MIGRATIONS_FOLDER, target, { recursive: true });
  const journalPath = join(target, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as {
    entries: Array<{ idx: number; version: string; when: number; tag: string; breakpoints: boolean }>;
  };
  const last = journal.entries[journal.entries.length - 1]!;
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1, tag: EXTRA_TAG });
  writeFileSync(journalPath, JSON.stringify(journal));
  writeFileSync(
    join(target, `${EXTRA_TAG}.sql`),
    'CREATE TABLE `asm_test_extra` (`id` text PRIMARY KEY NOT NULL, `session_id` text);\n' +
      '--> statement-breakpoint\n' +
      'CREATE INDEX `asm_test_extra_session_idx` ON `asm_test_extra` (`session_id`);\n' +
      '--> statement-breakpoint\n' +
      'ALTER TABLE `asm_sessions` ADD `archived` integer DEFAULT 0 NOT NULL;\n',
  );
  return target;
}

function tableNames(path: string): string[] {
  const database = new Database(path, { readonly: true });
  try {
    return database
      .prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name`)
      .pluck()
      .all() as string[];
  } finally {
    database.close();
  }
}

describe('migrations', () => {
  it('ships a journal whose every entry has its SQL file', () => {
    const migrations = loadMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(migrations[0]?.tag).toBe('0000_initial');
    for (const migration of migrations) {
      expect(migration.statements.length).toBeGreaterThan(0);
      expect(migration.hash).toMatch(/^[0-9a-f]{64}$/);
    }
    const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
      files: string[];
    };
    expect(manifest.files).toContain('migrations');
  });

  it('the shipped migrations match src/schema.ts (drizzle-kit finds nothing to generate)', () => {
    const copy = join(folder.path, 'drizzle-check');
    cpSync(SQLITE_MIGRATIONS_FOLDER, copy, { recursive: true });
    const result = spawnSync(
      join(packageRoot, 'node_modules', '.bin', 'drizzle-kit'),
      [
        'generate',
        '--dialect',
        'sqlite',
        '--schema',
        './src/schema.ts',
        '--out',
        relative(packageRoot, copy),
      ],
      { cwd: packageRoot, encoding: 'utf8' },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('No schema changes');
  }, 30_000);

  it('records every applied migration in <prefix>migrations', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path, tablePrefix: 'app_' });
    const tags = store.database.prepare('SELECT tag FROM app_migrations ORDER BY tag').pluck().all();
    expect(tags).toEqual(loadMigrations().map((migration) => migration.tag));
    await store.close();
    // Opening again applies nothing and keeps the data.
    const again = createSqliteStore({ path, tablePrefix: 'app_' });
    expect(again.database.prepare('SELECT count(*) FROM app_migrations').pluck().get()).toBe(tags.length);
    await again.close();
  });

  it('rewrites only quoted asm_ names to the table prefix', () => {
    const statement = 'CREATE INDEX `asm_events_run_idx` ON `asm_events` (`run_id`); -- asm_ in a comment';
    expect(withTablePrefix(statement, 'x_')).toBe(
      'CREATE INDEX `x_events_run_idx` ON `x_events` (`run_id`); -- asm_ in a comment',
    );
    expect(withTablePrefix(statement, 'asm_')).toBe(statement);
  });

  for (const tablePrefix of ['asm_', 'up_']) {
    it(`upgrades an older database on open and keeps its data (prefix ${tablePrefix})`, async () => {
      const path = freshPath();
      const old = createSqliteStore({ path, tablePrefix });
      const sessionId = await newSessionId(old);
      await old.appendEvents([eventOf(sessionId), eventOf(sessionId)]);
      await old.close();

      const upgraded = createSqliteStore({ path, tablePrefix, migrationsFolder: newerMigrationsFolder() });
      expect(
        upgraded.database.prepare(`SELECT tag FROM ${tablePrefix}migrations ORDER BY tag`).pluck().all(),
      ).toEqual([...loadMigrations().map((migration) => migration.tag), EXTRA_TAG]);
      expect(tableNames(path)).toEqual(
        expect.arrayContaining([`${tablePrefix}test_extra`, `${tablePrefix}test_extra_session_idx`]),
      );
      expect(
        upgraded.database
          .prepare(`SELECT archived FROM ${tablePrefix}sessions WHERE id = ?`)
          .pluck()
          .get(sessionId),
      ).toBe(0);
      expect(await upgraded.getLatestSequence(sessionId)).toBe(2);
      expect((await upgraded.appendEvent(eventOf(sessionId))).sequence).toBe(3);
      await upgraded.close();
    });
  }

  it('refuses a database migrated by a newer version with migration_required, and leaves it intact', async () => {
    const path = freshPath();
    const newer = createSqliteStore({ path, migrationsFolder: newerMigrationsFolder() });
    const sessionId = await newSessionId(newer);
    await newer.appendEvent(eventOf(sessionId));
    await newer.close();

    const error = await expectAsmError(() => createSqliteStore({ path }), 'migration_required');
    expect(error.details).toMatchObject({ unknownMigrations: [EXTRA_TAG] });
    expect(error.retryable).toBe(false);

    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM asm_events').pluck().get()).toBe(1);
    raw.close();
  });

  it('refuses a database whose record names an unknown migration (a row inserted by hand)', async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    store.database
      .prepare('INSERT INTO asm_migrations (tag, hash, applied_at) VALUES (?, ?, ?)')
      .run('9999_from_the_future', 'x', new Date().toISOString());
    await store.close();
    const error = await expectAsmError(() => createSqliteStore({ path }), 'migration_required');
    expect(String(error.message)).toContain('9999_from_the_future');
  });

  it('refuses tables of the same names that no migration record explains', async () => {
    const path = freshPath();
    const raw = new Database(path);
    raw.exec('CREATE TABLE asm_sessions (id text primary key)');
    raw.close();
    await expectAsmError(() => createSqliteStore({ path }), 'migration_required');
  });

  it('a missing migrations folder is storage_error', async () => {
    await expectAsmError(
      () => createSqliteStore({ path: freshPath(), migrationsFolder: join(folder.path, 'nowhere') }),
      'storage_error',
    );
  });
});
