import { testSessionStore } from '@asm/testing';
import { afterAll } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema } from './helpers.js';

// The whole suite against the shared server, in a schema of this file's own (dropped after).
const schema = randomSchema('conformance');
afterAll(() => dropSchema(schema));

testSessionStore({
  name: 'postgres',
  create: () => createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 8 }),
  cleanup: (store) => store.close(),
  timeoutMs: 30_000,
});
