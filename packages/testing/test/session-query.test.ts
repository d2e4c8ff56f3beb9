import { createInMemoryStore } from '@asm/core';
import { testSessionQuery } from '../src/index.js';

testSessionQuery({ name: 'in-memory', create: () => createInMemoryStore() });
