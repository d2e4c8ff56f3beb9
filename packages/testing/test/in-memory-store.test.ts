import { createInMemoryStore } from '@asm/core';
import { testSessionStore } from '../src/index.js';

testSessionStore({
  name: 'in-memory',
  create: () => createInMemoryStore(),
  cleanup: (store) => store.close(),
});
