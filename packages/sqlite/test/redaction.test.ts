import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRET_SAMPLES, testRedaction } from '@asm/testing';
import { afterAll, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';

const folder = mkdtempSync(join(tmpdir(), 'asm-sqlite-redaction-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const path = join(folder, 'redaction.db');

testRedaction({ name: 'SQLite', create: () => createSqliteStore({ path }) });

it('the database file itself holds none of the secrets', () => {
  const bytes = [readFileSync(path), readFileSync(`${path}-wal`, { flag: 'a+' })]
    .map((buffer) => buffer.toString('latin1'))
    .join('');
  expect(bytes.length).toBeGreaterThan(0);
  for (const [category, , secret] of SECRET_SAMPLES)
    expect(bytes.includes(secret), `${category} in the file`).toBe(false);
});
