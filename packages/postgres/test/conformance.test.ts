import { testSessionQuery, testSessionStore } from '@asm/testing';
import { afterAll } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema } from './helpers.js';

// The whole suites against the shared server, each in a schema of its own (dropped after).
const schema = randomSchema('conformance');
const querySchema = randomSchema('query');
afterAll(async () => {
  await dropSchema(schema);
  await dropSchema(querySchema);
});

testSessionStore({
  name: 'postgres',
  create: () => createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 8 }),
  cleanup: (store) => store.close(),
  timeoutMs: 30_000,
});

testSessionQuery({
  name: 'postgres',
  create: () => createPostgresStore({ connectionString: DATABASE_URL, schema: querySchema, poolSize: 4 }),
  cleanup: (store) => store.close(),
  timeoutMs: 30_000,
});
