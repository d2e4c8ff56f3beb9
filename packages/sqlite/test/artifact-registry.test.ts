import { join } from 'node:path';
import { sha256Hex } from '@asm/core';
import { testArtifactRegistry } from '@asm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteArtifactRegistry, createSqliteStore, type SqliteSessionStore } from '../src/index.js';
import { expectAsmError, tempFolder } from './helpers.js';

const folder = tempFolder('registry');
afterAll(() => folder.remove());

const stores = new WeakMap<object, SqliteSessionStore>();

testArtifactRegistry({
  name: 'sqlite file',
  create: () => {
    const store = createSqliteStore({ path: join(folder.path, 'registry.db') });
    const registry = createSqliteArtifactRegistry(store);
    stores.set(registry, store);
    return registry;
  },
  cleanup: (registry) => stores.get(registry)?.close(),
});

testArtifactRegistry({
  name: 'sqlite :memory: with a table prefix',
  create: () => {
    const store = createSqliteStore({ path: ':memory:', tablePrefix: 'reg_' });
    const registry = createSqliteArtifactRegistry(store);
    stores.set(registry, store);
    return registry;
  },
  cleanup: (registry) => stores.get(registry)?.close(),
});

const entry = (key: string, sessionId?: string) => ({
  key,
  byteSize: 3,
  sha256: sha256Hex('abc'),
  backend: 'file',
  reference: key,
  ...(sessionId === undefined ? {} : { sessionId }),
});

describe('SQLite artifact registry', () => {
  it('lives in <prefix>artifacts, created by migration 0001_artifact_registry, and survives a reopen', async () => {
    const path = join(folder.path, 'reopen.db');
    const store = createSqliteStore({ path, tablePrefix: 'app_' });
    const tags = store.database.prepare('SELECT tag FROM app_migrations ORDER BY tag').pluck().all();
    expect(tags).toEqual(['0000_initial', '0001_artifact_registry', '0002_query_indexes']);
    await createSqliteArtifactRegistry(store).register(entry('kept/one', 'ses_1'));
    await store.close();
    const reopened = createSqliteStore({ path, tablePrefix: 'app_' });
    expect((await createSqliteArtifactRegistry(reopened).lookup('kept/one'))?.sessionId).toBe('ses_1');
    await reopened.close();
  });

  it('listing by session or run and paging read an index, not the whole table', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const registry = createSqliteArtifactRegistry(store);
    for (let index = 0; index < 50; index++) await registry.register(entry(`k/${index}`, `ses_${index % 5}`));
    const plan = (sql: string, ...values: unknown[]) =>
      (store.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...values) as Array<{ detail: string }>)
        .map((row) => row.detail)
        .join('\n');
    const bySession = plan(
      'SELECT * FROM asm_artifacts WHERE session_id = ? AND (created_at, key) > (?, ?) ORDER BY created_at, key LIMIT 4',
      'ses_1',
      '2026-01-01T00:00:00.000Z',
      'k',
    );
    expect(bySession).toMatch(/USING INDEX asm_artifacts_session_idx/);
    expect(bySession).not.toMatch(/TEMP B-TREE/);
    const byRun = plan(
      'SELECT * FROM asm_artifacts WHERE run_id = ? ORDER BY created_at, key LIMIT 4',
      'run_1',
    );
    expect(byRun).toMatch(/USING INDEX asm_artifacts_run_idx/);
    const all = plan('SELECT * FROM asm_artifacts ORDER BY created_at, key LIMIT 4');
    expect(all).toMatch(/USING INDEX asm_artifacts_created_idx/);
    await store.close();
  });

  it('a corrupt metadata cell is storage_read_failed; a closed store is storage_connection_failed', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const registry = createSqliteArtifactRegistry(store);
    await registry.register(entry('bad/meta'));
    store.database.prepare(`UPDATE asm_artifacts SET metadata = '{oops' WHERE key = 'bad/meta'`).run();
    const error = await expectAsmError(registry.lookup('bad/meta'), 'storage_read_failed');
    expect(error.details).toMatchObject({ table: 'asm_artifacts', column: 'metadata', id: 'bad/meta' });
    store.database.exec('DROP TABLE asm_artifacts');
    await expectAsmError(registry.list(), 'query_error');
    await expectAsmError(registry.register(entry('x/y')), 'storage_write_failed');
    await store.close();
    await expectAsmError(registry.lookup('bad/meta'), 'storage_connection_failed');
    await expectAsmError(registry.register(entry('x/y')), 'storage_connection_failed');
  });
});
