import { createConcurrencyLimiter } from '@asm/core';
import { testConcurrencyLimiter } from '../src/index.js';

testConcurrencyLimiter({ name: 'in-process', create: (limits) => createConcurrencyLimiter(limits) });
