import { createCompositeArtifactStore, createInMemoryArtifactStore } from '@asm/core';
import { testArtifactStore } from '../src/index.js';

testArtifactStore({
  name: 'composite (primary + secondaries)',
  create: () =>
    createCompositeArtifactStore({
      primary: createInMemoryArtifactStore(),
      secondaries: [createInMemoryArtifactStore(), createInMemoryArtifactStore()],
    }),
});

testArtifactStore({
  name: 'composite (every suite key routed by prefix)',
  create: () =>
    createCompositeArtifactStore({
      primary: createInMemoryArtifactStore(),
      routes: [{ prefix: 'suite/', store: createInMemoryArtifactStore() }],
    }),
});
