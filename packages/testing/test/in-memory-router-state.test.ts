import { createInMemoryRouterState } from '@asm/core';
import { testRouterStateStore } from '../src/index.js';

testRouterStateStore({ name: 'in-process', create: () => createInMemoryRouterState() });
