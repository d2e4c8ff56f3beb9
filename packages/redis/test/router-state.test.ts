import { testRouterStateStore } from '@asm/testing';
import { afterAll } from 'vitest';
import { createRedisRouterState } from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const prefix = randomPrefix();
const admin = adminClient();
afterAll(async () => {
  await removePrefix(admin, prefix);
  admin.disconnect();
});

testRouterStateStore({
  name: 'redis',
  create: () => createRedisRouterState({ url: REDIS_URL, keyPrefix: prefix }),
  cleanup: (store) => store.close(),
});
