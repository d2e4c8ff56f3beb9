import { AsmError } from '../errors.js';

/** A lease one holder has on a session, as `acquire`, `renew` and `holder` report it. */
export interface LeaseGrant {
  sessionId: string;
  /** Who holds it (a runtime instance id). */
  holderId: string;
  /**
   * Fencing token: every new grant of a session gets a larger token than every earlier grant of it
   * (a renewal keeps the token). A resource that remembers the largest token it has seen can refuse
   * writes from a holder that lost the lease without noticing.
   */
  token: number;
  /**
   * Epoch milliseconds by this process's clock until which the lease is held at least (unless it
   * is released): the time the request was sent plus the TTL the backend applied, a conservative
   * estimate, since the backend measures the TTL by its own clock from when it served the request.
   */
  expiresAt: number;
}

/**
 * A per-session lease with a time to live: at most one holder per session at a time, which is how
 * several runtime instances agree on the one that executes a session's runs.
 *
 * Contract (proved by `testSessionLease` from `@asm/testing`):
 * - `acquire` grants the lease when nobody holds it (or the last grant expired), with a token larger
 *   than every earlier grant of the session; when the caller already holds it, it extends the TTL and
 *   returns the same token (idempotent); when another holder has it, it resolves `undefined`.
 *   Concurrent acquires of one session, from any number of processes, grant it to exactly one.
 * - `renew` extends the TTL only for the current holder and returns the grant; it resolves
 *   `undefined` when the caller does not hold the lease (never held, released, or expired, even if
 *   nobody took it since). It never creates a lease.
 * - `release` removes the lease only when the caller holds it, and says whether it did. Idempotent:
 *   releasing again, or a lease someone else now holds, resolves `false` and changes nothing.
 * - `holder` returns the current, unexpired grant or `undefined`.
 * - Expiry is measured by the backend's clock (the Redis server, the database server, this process).
 * - Invalid arguments reject with `validation_error`; backend failures with a storage code
 *   (`storage_connection_failed`, retryable, when the backend is unreachable). A caller that cannot
 *   renew must assume the lease lost once its `expiresAt` has passed.
 */
export interface SessionLease {
  /** The port version this lease implements. */
  readonly specificationVersion: 'v1';
  /** Takes (or extends) the lease for `ttlMs`; `undefined` when another holder has it. */
  acquire(sessionId: string, holderId: string, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Extends the caller's lease by `ttlMs` from now; `undefined` when the caller does not hold it. */
  renew(sessionId: string, holderId: string, ttlMs: number): Promise<LeaseGrant | undefined>;
  /** Gives the lease up when the caller holds it; resolves whether it did. */
  release(sessionId: string, holderId: string): Promise<boolean>;
  /** The current holder's grant, or `undefined` when the lease is free. */
  holder(sessionId: string): Promise<LeaseGrant | undefined>;
  /** Releases connections the lease made. Held leases are left to expire. Idempotent. */
  close(): Promise<void>;
}

/** The longest TTL a lease accepts (the largest delay a Node.js timer takes): about 24.8 days. */
export const MAX_LEASE_TTL_MS = 2_147_483_647;

/**
 * Checks the arguments of a lease call: non-empty string ids and, when given, a TTL that is an integer
 * from 1 to `MAX_LEASE_TTL_MS`. Throws `validation_error` naming the field. For implementations.
 */
export function validateLeaseRequest(sessionId: unknown, holderId: unknown, ttlMs?: unknown): void {
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
      details: { field: 'sessionId' },
    });
  }
  if (typeof holderId !== 'string' || holderId === '') {
    throw new AsmError('validation_error', 'holderId must be a non-empty string', {
      details: { field: 'holderId' },
    });
  }
  if (
    ttlMs !== undefined &&
    (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_LEASE_TTL_MS)
  ) {
    throw new AsmError('validation_error', `ttlMs must be an integer from 1 to ${MAX_LEASE_TTL_MS}`, {
      details: { field: 'ttlMs', value: ttlMs },
    });
  }
}
