import { testConcurrencyLimiter, testControlBus, testSessionLease } from '@asm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRedisConcurrencyLimiter,
  createRedisControlBus,
  createRedisSessionLease,
  type RedisConcurrencyLimiter,
} from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix, waitUntil } from './helpers.js';

const admin = adminClient();
const prefix = randomPrefix();
afterAll(async () => {
  await removePrefix(admin, prefix);
  admin.disconnect();
});

// Two handles on separate connections, as two app instances would have.
testSessionLease({
  name: 'redis',
  create: () => createRedisSessionLease({ url: REDIS_URL, keyPrefix: prefix }),
});

testControlBus({ name: 'redis', create: () => createRedisControlBus({ url: REDIS_URL, keyPrefix: prefix }) });

let limiterCount = 0;
testConcurrencyLimiter({
  name: 'redis',
  create: (limits) =>
    createRedisConcurrencyLimiter({
      url: REDIS_URL,
      keyPrefix: prefix,
      name: `suite${++limiterCount}`,
      ...limits,
    }),
  cleanup: (limiter) => (limiter as RedisConcurrencyLimiter).close(),
});

describe('createRedisConcurrencyLimiter', () => {
  it('two limiters with the same name share the limits, as two instances would', async () => {
    const options = { url: REDIS_URL, keyPrefix: prefix, name: 'shared', maxSessions: 2, maxRuns: 1 };
    const [a, b] = [createRedisConcurrencyLimiter(options), createRedisConcurrencyLimiter(options)];
    try {
      await a.acquireRunSlot('ses_1', 'run_1');
      const refused = await b.acquireRunSlot('ses_2', 'run_2').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'max_runs_exceeded', retryable: true });
      // Idempotent across instances: the same run id counts once.
      await b.acquireRunSlot('ses_1', 'run_1');
      await a.acquireSessionSlot('ses_1');
      await b.acquireSessionSlot('ses_2');
      expect(await a.status()).toMatchObject({ activeSessions: 2, activeRuns: 1, availableRunSlots: 0 });
      await b.releaseSessionSlot('ses_1');
      expect(await a.status()).toMatchObject({ activeSessions: 1, activeRuns: 0 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('renews the slots it holds before they expire, and close() releases them', async () => {
    const limiter = createRedisConcurrencyLimiter({
      url: REDIS_URL,
      keyPrefix: prefix,
      name: 'renewal',
      leaseTtlMs: 600,
    });
    const runsKey = `${prefix}asm:limiter:renewal:runs`;
    try {
      await limiter.acquireSessionSlot('ses_r');
      await limiter.acquireRunSlot('ses_r', 'run_r');
      const first = Number(await admin.zscore(runsKey, 'run_r'));
      // Event-driven: the renewal moves the expiry forward.
      await waitUntil(async () => Number(await admin.zscore(runsKey, 'run_r')) > first, 10_000);
      expect(limiter.heldSlots).toEqual({ sessions: 1, runs: 1 });
    } finally {
      await limiter.close();
    }
    expect(await admin.zcard(runsKey)).toBe(0);
    expect(await admin.zcard(`${prefix}asm:limiter:renewal:sessions`)).toBe(0);
    const error = await limiter.status().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ code: 'storage_connection_failed' });
  });

  it('validates its options', () => {
    expect(() => createRedisConcurrencyLimiter({ url: REDIS_URL, maxRuns: 0 })).toThrow(/maxRuns/);
    expect(() => createRedisConcurrencyLimiter({ url: REDIS_URL, leaseTtlMs: 1.5 })).toThrow(/leaseTtlMs/);
    expect(() => createRedisConcurrencyLimiter({ url: REDIS_URL, name: '' })).toThrow(/name/);
  });
});

describe('createRedisSessionLease', () => {
  it('stores the holder under the lease key with a Redis TTL, and survives SCRIPT FLUSH', async () => {
    const lease = createRedisSessionLease({ url: REDIS_URL, keyPrefix: prefix });
    try {
      const grant = await lease.acquire('ses_key', 'host:1:abc', 30_000);
      expect(await admin.get(lease.keyOf('ses_key'))).toBe(`${grant!.token}:host:1:abc`);
      const pttl = await admin.pttl(lease.keyOf('ses_key'));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(30_000);
      await admin.script('FLUSH');
      expect(await lease.renew('ses_key', 'host:1:abc', 30_000)).toMatchObject({ token: grant!.token });
      expect(await lease.release('ses_key', 'host:1:abc')).toBe(true);
      expect(await admin.exists(lease.keyOf('ses_key'))).toBe(0);
    } finally {
      await lease.close();
    }
  });
});
