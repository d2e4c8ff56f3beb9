import { SECRET_SAMPLES, testRedaction } from '@asm/testing';
import { afterAll, expect, it } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

const schema = randomSchema('redaction');
afterAll(() => dropSchema(schema));

testRedaction({
  name: 'PostgreSQL',
  create: () => createPostgresStore({ connectionString: DATABASE_URL, schema }),
  timeoutMs: 30_000,
});

it('no row of any table in the schema holds a secret', async () => {
  const text = await withClient(async (client) => {
    const tables = await client.query<{ table_name: string }>(
      'select table_name from information_schema.tables where table_schema = $1',
      [schema],
    );
    const dumps: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query(`select * from "${schema}"."${table_name}"`);
      dumps.push(JSON.stringify(rows.rows));
    }
    return dumps.join('\n');
  });
  expect(text).toContain('[REDACTED]');
  for (const [category, , secret] of SECRET_SAMPLES)
    expect(text.includes(secret), `${category} in PostgreSQL`).toBe(false);
});
