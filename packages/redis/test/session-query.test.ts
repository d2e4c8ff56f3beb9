import { testSessionQuery } from '@asm/testing';
import { afterAll } from 'vitest';
import { createRedisStore, type RedisSessionStore } from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const admin = adminClient();
afterAll(() => admin.quit());

testSessionQuery({
  name: 'redis',
  create: () => createRedisStore({ url: REDIS_URL, keyPrefix: randomPrefix() }),
  cleanup: async (store) => {
    await store.close();
    await removePrefix(admin, (store as RedisSessionStore).keyPrefix);
  },
});
