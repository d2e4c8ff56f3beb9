import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSessionQuery, testSessionStore } from '@asm/testing';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';
import { createSqliteStore } from '../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'asm-sqlite-conformance-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

testSessionStore({
  name: 'sqlite file',
  create: () => createSqliteStore({ path: join(folder, 'file', 'store.db') }),
  cleanup: (store) => store.close(),
});

testSessionStore({
  name: 'sqlite file, inline writer',
  create: () => createSqliteStore({ path: join(folder, 'inline', 'store.db'), writer: 'inline' }),
  cleanup: (store) => store.close(),
});

testSessionStore({
  name: 'sqlite :memory: connection',
  create: () => createSqliteStore({ database: new Database(':memory:') }),
  cleanup: async (store) => {
    await store.close();
    (store as ReturnType<typeof createSqliteStore>).database.close();
  },
});

testSessionStore({
  name: 'sqlite file with a table prefix',
  create: () => createSqliteStore({ path: join(folder, 'prefixed.db'), tablePrefix: 'app_asm_' }),
  cleanup: (store) => store.close(),
});

testSessionQuery({
  name: 'sqlite file',
  create: () => createSqliteStore({ path: join(folder, 'query.db') }),
  cleanup: (store) => store.close(),
});

testSessionQuery({
  name: 'sqlite :memory: with a table prefix',
  create: () => createSqliteStore({ path: ':memory:', tablePrefix: 'q_' }),
  cleanup: (store) => store.close(),
});
