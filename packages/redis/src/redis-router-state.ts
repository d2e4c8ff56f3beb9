import { AsmError, type ProviderHealthState, type RouterStateStore, type StickyBinding } from '@asm/core';
import type { Redis } from 'ioredis';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { guardedCalls } from './errors.js';
import { NAMESPACE } from './keys.js';

/** Options of `createRedisRouterState`. */
export type RedisRouterStateOptions = RedisConnectionOptions & {
  /** Prepended to every key (share it with the store to keep one app's keys together). */
  keyPrefix?: string;
  /** Most compare-and-set attempts of one update under contention. Default 50. */
  maxUpdateAttempts?: number;
};

/** The Redis router state, with its client. */
export interface RedisRouterState extends RouterStateStore {
  readonly client: Redis;
}

/** Sets KEYS[1] to ARGV[2] only if it still holds ARGV[1] ('' meaning absent). */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/**
 * A `RouterStateStore` on Redis, so every router instance shares one view of provider health,
 * circuit breakers and sticky sessions. Updates are optimistic compare-and-set (a small Lua
 * script), retried with the fresher value: concurrent updates from any number of processes never
 * lose one another. Sticky bindings expire by Redis's own clock after `ttlMs`.
 */
export function createRedisRouterState(options: RedisRouterStateOptions): RedisRouterState {
  const { client, owned } = resolveConnection(options, 'createRedisRouterState');
  const prefix = `${options.keyPrefix ?? ''}${NAMESPACE}router:`;
  const maxAttempts = options.maxUpdateAttempts ?? 50;
  let closed = false;
  const providerKey = (scope: string, provider: string) => `${prefix}${scope}:provider:${provider}`;
  const stickyKey = (scope: string, key: string) => `${prefix}${scope}:sticky:${key}`;
  const { ensureOpen, call } = guardedCalls('router state', () => closed);

  return {
    specificationVersion: 'v1',
    client,
    getProviderStates: (scope, providers) =>
      call('getProviderStates', 'read', async () => {
        if (providers.length === 0) return {};
        const values = await client.mget(...providers.map((provider) => providerKey(scope, provider)));
        const states: Record<string, ProviderHealthState> = {};
        providers.forEach((provider, index) => {
          const value = values[index];
          if (typeof value === 'string') states[provider] = JSON.parse(value) as ProviderHealthState;
        });
        return states;
      }),
    async updateProviderState(scope, provider, update) {
      ensureOpen();
      const key = providerKey(scope, provider);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const current = await call('updateProviderState', 'read', () => client.get(key));
        const next = update(current === null ? undefined : (JSON.parse(current) as ProviderHealthState));
        const serialized = JSON.stringify(next);
        const stored = await call('updateProviderState', 'write', () =>
          client.eval(COMPARE_AND_SET, 1, key, current ?? '', serialized),
        );
        if (stored === 1) return JSON.parse(serialized) as ProviderHealthState;
      }
      throw new AsmError(
        'storage_write_failed',
        `Router state of ${provider} kept changing; gave up after ${maxAttempts} attempts`,
        {
          retryable: true,
          details: { scope, provider },
        },
      );
    },
    deleteProviderState: (scope, provider) =>
      call('deleteProviderState', 'write', async () => {
        await client.del(providerKey(scope, provider));
      }),
    getStickyBinding: (scope, key) =>
      call('getStickyBinding', 'read', async () => {
        const value = await client.get(stickyKey(scope, key));
        return value === null ? undefined : (JSON.parse(value) as StickyBinding);
      }),
    setStickyBinding: (scope, key, binding, ttlMs) =>
      call('setStickyBinding', 'write', async () => {
        if (!(ttlMs > 0)) {
          throw new AsmError('validation_error', 'ttlMs must be a positive number', {
            details: { field: 'ttlMs' },
          });
        }
        await client.set(stickyKey(scope, key), JSON.stringify(binding), 'PX', Math.ceil(ttlMs));
      }),
    deleteStickyBinding: (scope, key) =>
      call('deleteStickyBinding', 'write', async () => {
        await client.del(stickyKey(scope, key));
      }),
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await closeConnection(client);
    },
  } satisfies RedisRouterState;
}
