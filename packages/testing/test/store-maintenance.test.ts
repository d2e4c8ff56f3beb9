import { createInMemoryMaintenance, createInMemoryStore } from '@asm/core';
import { testStoreMaintenance } from '../src/index.js';

testStoreMaintenance({
  name: 'in-memory',
  create: ({ now, artifacts }) => {
    const store = createInMemoryStore();
    return { store, maintenance: createInMemoryMaintenance(store, { now, artifacts }) };
  },
});
