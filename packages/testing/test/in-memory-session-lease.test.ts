import { createInMemorySessionLease, type SessionLease } from '@asm/core';
import { testSessionLease } from '../src/index.js';

let shared: SessionLease | undefined;

testSessionLease({
  name: 'in-memory',
  create: () => {
    shared ??= createInMemorySessionLease();
    return shared;
  },
  cleanup: async (lease) => {
    await lease.close();
    shared = undefined;
  },
});
