import { AsmError, type LeaseGrant, type SessionLease } from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';

/** Options of `testSessionLease`. */
export interface TestSessionLeaseOptions {
  name?: string;
  /**
   * Creates a lease handle. Called twice per test: the two handles play two app instances sharing one
   * backend (for an in-process lease, return the same instance both times).
   */
  create: () => SessionLease | Promise<SessionLease>;
  /** Called for every handle created, after each test. Default: `lease.close()`. */
  cleanup?: (lease: SessionLease) => void | Promise<void>;
  /** How long to wait for a short lease to expire before failing. Default 10,000 ms. */
  expiryTimeoutMs?: number;
}

let counter = 0;

function uniqueSession(): string {
  counter++;
  return `ses_lease_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : undefined;
}

/**
 * The conformance suite every `SessionLease` runs: one holder at a time (also under concurrent
 * acquires), idempotent acquire, renew and release that only the holder can do, growing fencing
 * tokens, expiry by TTL, holder lookup and argument checks.
 */
export function testSessionLease(options: TestSessionLeaseOptions): void {
  const created: SessionLease[] = [];
  const expiryTimeout = options.expiryTimeoutMs ?? 10_000;
  const make = async () => {
    const lease = await options.create();
    created.push(lease);
    return lease;
  };
  const pair = async (): Promise<[SessionLease, SessionLease]> => [await make(), await make()];

  describe(`SessionLease conformance: ${options.name ?? 'lease'}`, () => {
    afterEach(async () => {
      for (const lease of new Set(created.splice(0))) {
        await (options.cleanup ? options.cleanup(lease) : lease.close());
      }
    });

    it('declares specificationVersion v1', async () => {
      const lease = await make();
      expect(lease.specificationVersion).toBe('v1');
    });

    it('acquire - grants a free lease to one holder; another holder gets undefined', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const before = Date.now();
      const grant = await a.acquire(sessionId, 'host-a:1234:x', 30_000);
      expect(grant).toMatchObject({ sessionId, holderId: 'host-a:1234:x' });
      expect(Number.isInteger(grant?.token)).toBe(true);
      expect(grant!.token).toBeGreaterThan(0);
      expect(grant!.expiresAt).toBeGreaterThanOrEqual(before + 30_000 - 1);
      expect(await b.acquire(sessionId, 'host-b:99', 30_000)).toBeUndefined();
      const seen = await b.holder(sessionId);
      expect(seen).toMatchObject({ sessionId, holderId: 'host-a:1234:x', token: grant!.token });
      expect(await b.holder(uniqueSession())).toBeUndefined();
    });

    it('acquire - the holder acquiring again extends its lease and keeps the token', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const first = await a.acquire(sessionId, 'a', 1_000);
      const again = await b.acquire(sessionId, 'a', 60_000);
      expect(again?.token).toBe(first?.token);
      const seen = await a.holder(sessionId);
      expect(seen?.holderId).toBe('a');
      expect(seen!.expiresAt).toBeGreaterThan(first!.expiresAt);
    });

    it('acquire - concurrent acquires of one session from two handles grant it exactly once', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const grants = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          (index % 2 === 0 ? a : b).acquire(sessionId, `holder-${index}`, 30_000),
        ),
      );
      const winners = grants.filter((grant): grant is LeaseGrant => grant !== undefined);
      expect(winners).toHaveLength(1);
      expect((await a.holder(sessionId))?.holderId).toBe(winners[0]!.holderId);
    });

    it('acquire - different sessions are independent', async () => {
      const [a, b] = await pair();
      const [s1, s2] = [uniqueSession(), uniqueSession()];
      expect(await a.acquire(s1, 'a', 30_000)).toBeDefined();
      expect(await b.acquire(s2, 'b', 30_000)).toBeDefined();
      expect((await a.holder(s2))?.holderId).toBe('b');
      expect((await b.holder(s1))?.holderId).toBe('a');
    });

    it('renew - extends the holder lease, keeps the token, refuses others and never creates a lease', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const first = await a.acquire(sessionId, 'a', 1_000);
      const renewed = await b.renew(sessionId, 'a', 60_000);
      expect(renewed).toMatchObject({ sessionId, holderId: 'a', token: first!.token });
      expect((await a.holder(sessionId))!.expiresAt).toBeGreaterThan(first!.expiresAt);
      expect(await b.renew(sessionId, 'b', 60_000)).toBeUndefined();
      const free = uniqueSession();
      expect(await a.renew(free, 'a', 60_000)).toBeUndefined();
      expect(await a.holder(free)).toBeUndefined();
    });

    it('release - only the holder releases; idempotent; the next grant has a larger token', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const first = await a.acquire(sessionId, 'a', 30_000);
      expect(await b.release(sessionId, 'b')).toBe(false);
      expect((await b.holder(sessionId))?.holderId).toBe('a');
      expect(await b.release(sessionId, 'a')).toBe(true);
      expect(await a.release(sessionId, 'a')).toBe(false);
      expect(await a.holder(sessionId)).toBeUndefined();
      expect(await a.renew(sessionId, 'a', 30_000)).toBeUndefined();
      const second = await b.acquire(sessionId, 'b', 30_000);
      expect(second!.token).toBeGreaterThan(first!.token);
      expect(await b.release(sessionId, 'b')).toBe(true);
      const third = await a.acquire(sessionId, 'a', 30_000);
      expect(third!.token).toBeGreaterThan(second!.token);
    });

    it('expiry - a lease nobody renews expires; then another holder takes it and the old one cannot renew or release it', async () => {
      const [a, b] = await pair();
      const sessionId = uniqueSession();
      const first = await a.acquire(sessionId, 'a', 150);
      expect(first).toBeDefined();
      const deadline = Date.now() + expiryTimeout;
      let taken: LeaseGrant | undefined;
      while (taken === undefined) {
        if (Date.now() > deadline) throw new Error('the lease did not expire');
        await new Promise((resolve) => setTimeout(resolve, 50));
        taken = await b.acquire(sessionId, 'b', 30_000);
      }
      expect(taken.token).toBeGreaterThan(first!.token);
      expect(await a.renew(sessionId, 'a', 30_000)).toBeUndefined();
      expect(await a.release(sessionId, 'a')).toBe(false);
      expect((await a.holder(sessionId))?.holderId).toBe('b');
    });

    it('validation - rejects empty ids and TTLs that are not positive integers', async () => {
      const lease = await make();
      const sessionId = uniqueSession();
      expect(await codeOf(lease.acquire('', 'a', 1_000))).toBe('validation_error');
      expect(await codeOf(lease.acquire(sessionId, '', 1_000))).toBe('validation_error');
      for (const ttl of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await codeOf(lease.acquire(sessionId, 'a', ttl))).toBe('validation_error');
        expect(await codeOf(lease.renew(sessionId, 'a', ttl))).toBe('validation_error');
      }
      expect(await codeOf(lease.release(sessionId, ''))).toBe('validation_error');
      expect(await codeOf(lease.holder(''))).toBe('validation_error');
      expect(await lease.holder(sessionId)).toBeUndefined();
    });
  });
}
