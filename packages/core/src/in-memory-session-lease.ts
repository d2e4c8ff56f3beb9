import { AsmError } from './errors.js';
import { type LeaseGrant, type SessionLease, validateLeaseRequest } from './ports/session-lease.js';

/** Options of `createInMemorySessionLease`. */
export interface InMemorySessionLeaseOptions {
  /** The clock that measures TTLs (epoch ms). Default `Date.now`. */
  now?: () => number;
}

interface Held {
  holderId: string;
  token: number;
  /** By the lease's clock. */
  expiresAt: number;
}

/**
 * A `SessionLease` inside one process: what several runtimes in one app (or a test) share. Leases
 * expire by the given clock; tokens come from one counter, so they grow across every session.
 */
export function createInMemorySessionLease(options: InMemorySessionLeaseOptions = {}): SessionLease {
  const now = options.now ?? Date.now;
  const leases = new Map<string, Held>();
  let lastToken = 0;
  let closed = false;

  const ensureOpen = () => {
    if (closed) {
      throw new AsmError('storage_connection_failed', 'The session lease is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  };
  /** The unexpired lease of a session (an expired one is dropped). */
  const current = (sessionId: string): Held | undefined => {
    const held = leases.get(sessionId);
    if (held !== undefined && held.expiresAt <= now()) {
      leases.delete(sessionId);
      return undefined;
    }
    return held;
  };
  const grantOf = (sessionId: string, held: Held): LeaseGrant => ({
    sessionId,
    holderId: held.holderId,
    token: held.token,
    expiresAt: held.expiresAt,
  });

  return {
    specificationVersion: 'v1',
    async acquire(sessionId, holderId, ttlMs) {
      ensureOpen();
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const held = current(sessionId);
      if (held !== undefined && held.holderId !== holderId) return undefined;
      const next: Held = held ?? { holderId, token: ++lastToken, expiresAt: 0 };
      next.expiresAt = now() + ttlMs;
      leases.set(sessionId, next);
      return grantOf(sessionId, next);
    },
    async renew(sessionId, holderId, ttlMs) {
      ensureOpen();
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const held = current(sessionId);
      if (held === undefined || held.holderId !== holderId) return undefined;
      held.expiresAt = now() + ttlMs;
      return grantOf(sessionId, held);
    },
    async release(sessionId, holderId) {
      ensureOpen();
      validateLeaseRequest(sessionId, holderId);
      const held = current(sessionId);
      if (held === undefined || held.holderId !== holderId) return false;
      leases.delete(sessionId);
      return true;
    },
    async holder(sessionId) {
      ensureOpen();
      if (typeof sessionId !== 'string' || sessionId === '') {
        throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
          details: { field: 'sessionId' },
        });
      }
      const held = current(sessionId);
      return held === undefined ? undefined : grantOf(sessionId, held);
    },
    async close() {
      closed = true;
    },
  };
}
