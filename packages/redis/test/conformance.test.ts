import { testEventBus, testSessionStore } from '@asm/testing';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { createRedisEventBus, createRedisStore, type RedisSessionStore } from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const admin = adminClient();
afterAll(() => admin.quit());
const cleanup = async (store: RedisSessionStore | { keyPrefix: string; close(): Promise<void> }) => {
  await store.close();
  await removePrefix(admin, store.keyPrefix);
};

// The store making its own client from a URL…
testSessionStore({
  name: 'redis (url)',
  create: () => createRedisStore({ url: REDIS_URL, keyPrefix: randomPrefix() }),
  cleanup: (store) => cleanup(store as RedisSessionStore),
});

// …and on a client the app owns (left open by close(), so the suite's cleanup quits it).
testSessionStore({
  name: 'redis (injected client)',
  create: () => createRedisStore({ client: new Redis(REDIS_URL), keyPrefix: randomPrefix() }),
  cleanup: async (store) => {
    await cleanup(store as RedisSessionStore);
    await (store as RedisSessionStore).client.quit();
  },
});

// Two buses on separate connections, as two app instances would have.
const busPrefix = randomPrefix();
testEventBus({ name: 'redis', create: () => createRedisEventBus({ url: REDIS_URL }, busPrefix) });
