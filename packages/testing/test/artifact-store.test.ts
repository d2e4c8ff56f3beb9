import { createInMemoryArtifactStore } from '@asm/core';
import { testArtifactStore } from '../src/index.js';

testArtifactStore({ name: 'in-memory', create: () => createInMemoryArtifactStore() });
