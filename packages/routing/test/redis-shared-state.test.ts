import { randomBytes } from 'node:crypto';
import { createRedisRouterState } from '@asm/redis';
import { createMockProvider } from '@asm/testing/fakes';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRouter, type RoutingDecision } from '../src/index.js';
import { executeDirect, fakeClock } from './helpers.js';

const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `test:routing:${randomBytes(8).toString('hex')}:`;

afterAll(async () => {
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await admin.unlink(...keys);
  } while (cursor !== '0');
  admin.disconnect();
});

describe('routers sharing state through Redis', () => {
  it('a breaker opened by one router instance is respected by another', async () => {
    const clock = fakeClock();
    // Two instances: each with its own Redis connection, as two app processes would have.
    const build = () => {
      const a = createMockProvider({ name: 'a', response: 'from a' });
      const b = createMockProvider({ name: 'b', response: 'from b' });
      const state = createRedisRouterState({ url: REDIS_URL, keyPrefix: prefix });
      const router = createRouter({
        providers: [a, b],
        state,
        sticky: false,
        cooldownMs: 0,
        now: clock.now,
        circuitBreaker: { failureThreshold: 1 },
      });
      return { a, router, state };
    };
    const one = build();
    const two = build();
    try {
      one.a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
      expect((await executeDirect(one.router)).result?.provider).toBe('b');
      const outcome = await executeDirect(two.router);
      expect(outcome.result?.provider).toBe('b');
      expect(two.a.calls).toHaveLength(0);
      expect((outcome.result?.metadata?.routing as RoutingDecision | undefined)?.skipped).toEqual([
        { provider: 'a', reason: 'circuit_open' },
      ]);
    } finally {
      await one.state.close();
      await two.state.close();
    }
  });
});
