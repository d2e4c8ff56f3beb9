export type { RedisConnectionOptions } from './connection.js';
export { isConnectionError, toStorageError } from './errors.js';
export type { KeyLayout } from './keys.js';
export { keyLayout } from './keys.js';
export type { RedisEventBus, RedisEventBusOptions } from './redis-event-bus.js';
export { createRedisEventBus } from './redis-event-bus.js';
export type { RedisSessionStore, RedisStoreOptions, RedisStoreRetention } from './redis-store.js';
export { createRedisStore } from './redis-store.js';
