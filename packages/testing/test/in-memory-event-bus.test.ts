import { createInMemoryEventBus, type EventBus } from '@asm/core';
import { testEventBus } from '../src/index.js';

let shared: EventBus | undefined;

testEventBus({
  name: 'in-memory',
  create: () => {
    shared ??= createInMemoryEventBus();
    return shared;
  },
  cleanup: async (bus) => {
    await bus.close();
    shared = undefined;
  },
});
