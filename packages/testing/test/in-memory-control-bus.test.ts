import { type ControlBus, createInMemoryControlBus } from '@asm/core';
import { testControlBus } from '../src/index.js';

let shared: ControlBus | undefined;

testControlBus({
  name: 'in-memory',
  create: () => {
    shared ??= createInMemoryControlBus();
    return shared;
  },
  cleanup: async (bus) => {
    await bus.close();
    shared = undefined;
  },
});
