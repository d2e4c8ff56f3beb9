import { createInMemoryArtifactRegistry } from '@asm/core';
import { testArtifactRegistry } from '../src/index.js';

testArtifactRegistry({ name: 'in-memory', create: () => createInMemoryArtifactRegistry() });
