import { createInMemoryStore } from '@asm/core';
import { testRedaction } from '../src/index.js';

testRedaction({ name: 'the in-memory store', create: () => createInMemoryStore() });
