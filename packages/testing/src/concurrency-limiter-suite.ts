import { AsmError, type ConcurrencyLimiter } from '@asm/core';
import { describe, expect, it } from 'vitest';

/** Options of `testConcurrencyLimiter`. */
export interface TestConcurrencyLimiterOptions {
  name?: string;
  /** Creates a limiter with these limits (fresh state per call). */
  create: (limits: {
    maxSessions: number;
    maxRuns: number;
  }) => ConcurrencyLimiter | Promise<ConcurrencyLimiter>;
  cleanup?: (limiter: ConcurrencyLimiter) => void | Promise<void>;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : undefined;
}

/**
 * The conformance suite every `ConcurrencyLimiter` runs: limits, idempotent acquire and release,
 * session release freeing its runs, global run slots, status.
 */
export function testConcurrencyLimiter(options: TestConcurrencyLimiterOptions): void {
  const withLimiter = async (
    limits: { maxSessions: number; maxRuns: number },
    body: (limiter: ConcurrencyLimiter) => Promise<void>,
  ) => {
    const limiter = await options.create(limits);
    try {
      await body(limiter);
    } finally {
      await options.cleanup?.(limiter);
    }
  };
  const unique = () => `${process.pid}_${Math.random().toString(16).slice(2)}`;

  describe(`ConcurrencyLimiter conformance: ${options.name ?? 'limiter'}`, () => {
    it('acquireSessionSlot - rejects with max_sessions_exceeded past the limit, counting an id once', async () => {
      await withLimiter({ maxSessions: 2, maxRuns: 10 }, async (limiter) => {
        const [a, b, c] = [unique(), unique(), unique()];
        await limiter.acquireSessionSlot(a);
        await limiter.acquireSessionSlot(a);
        await limiter.acquireSessionSlot(b);
        expect(await codeOf(limiter.acquireSessionSlot(c))).toBe('max_sessions_exceeded');
        await limiter.releaseSessionSlot(a);
        await limiter.releaseSessionSlot(a);
        await limiter.acquireSessionSlot(c);
        expect((await limiter.status()).activeSessions).toBe(2);
      });
    });

    it('acquireRunSlot - run slots are global across sessions and idempotent per run', async () => {
      await withLimiter({ maxSessions: 10, maxRuns: 2 }, async (limiter) => {
        const [s1, s2] = [unique(), unique()];
        const [r1, r2, r3] = [unique(), unique(), unique()];
        await limiter.acquireRunSlot(s1, r1);
        await limiter.acquireRunSlot(s1, r1);
        await limiter.acquireRunSlot(s2, r2);
        const error = await limiter.acquireRunSlot(s2, r3).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(AsmError.isInstance(error) && error.code).toBe('max_runs_exceeded');
        expect(AsmError.isInstance(error) && error.retryable).toBe(true);
        await limiter.releaseRunSlot(r1);
        await limiter.acquireRunSlot(s2, r3);
        expect(await limiter.status()).toMatchObject({ activeRuns: 2, maxRuns: 2, availableRunSlots: 0 });
      });
    });

    it('releaseSessionSlot - also releases the runs of that session', async () => {
      await withLimiter({ maxSessions: 10, maxRuns: 2 }, async (limiter) => {
        const session = unique();
        await limiter.acquireSessionSlot(session);
        await limiter.acquireRunSlot(session, unique());
        await limiter.acquireRunSlot(session, unique());
        await limiter.releaseSessionSlot(session);
        expect(await limiter.status()).toMatchObject({ activeSessions: 0, activeRuns: 0 });
      });
    });

    it('status - reports limits and free slots', async () => {
      await withLimiter({ maxSessions: 3, maxRuns: 4 }, async (limiter) => {
        expect(await limiter.status()).toEqual({
          activeSessions: 0,
          activeRuns: 0,
          maxSessions: 3,
          maxRuns: 4,
          availableSessionSlots: 3,
          availableRunSlots: 4,
        });
      });
    });
  });
}
