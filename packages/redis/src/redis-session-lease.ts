import { AsmError, type LeaseGrant, type SessionLease, validateLeaseRequest } from '@asm/core';
import type { Redis } from 'ioredis';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { guardedCalls } from './errors.js';
import { keyedScript, runKeyedScript } from './keyed-script.js';
import { NAMESPACE } from './keys.js';

/** Options of `createRedisSessionLease`: a connection (`client` or `url`) and an optional key prefix. */
export type RedisSessionLeaseOptions = RedisConnectionOptions & {
  /** Prepended to the lease keys (`{keyPrefix}asm:lease:{sessionId}`); every instance must agree. */
  keyPrefix?: string;
};

/** A `SessionLease` on Redis, with its client. */
export interface RedisSessionLease extends SessionLease {
  /** The client the lease sends its commands through. */
  readonly client: Redis;
  /** The key of a session's lease. */
  keyOf(sessionId: string): string;
}

/**
 * The lease value is `{token}:{holderId}` (the token has no colon, so the first one splits them).
 * Scripts: KEYS[1] = the lease key, KEYS[2] = the fencing counter; ARGV[1] = holder, ARGV[2] = TTL ms.
 */
const HOLDER_OF = `
local function holder_of(value)
  local sep = string.find(value, ':', 1, true)
  return string.sub(value, sep + 1), tonumber(string.sub(value, 1, sep - 1))
end
`;

/** SET NX PX semantics plus the fencing counter, atomically; the holder itself extends instead. */
const ACQUIRE = keyedScript(`${HOLDER_OF}
local value = redis.call('GET', KEYS[1])
if value then
  local holder, token = holder_of(value)
  if holder ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return token
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`);

/** Extends the lease only when ARGV[1] holds it; returns its token or nil. */
const RENEW = keyedScript(`${HOLDER_OF}
local value = redis.call('GET', KEYS[1])
if not value then return false end
local holder, token = holder_of(value)
if holder ~= ARGV[1] then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
`);

/** Deletes the lease only when ARGV[1] holds it; returns 1 when it did. */
const RELEASE = keyedScript(`${HOLDER_OF}
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local holder = holder_of(value)
if holder ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`);

/** The lease value and its remaining TTL in one round trip (nil when free). */
const HOLDER = keyedScript(`
local value = redis.call('GET', KEYS[1])
if not value then return false end
return { value, redis.call('PTTL', KEYS[1]) }
`);

/**
 * A `SessionLease` on Redis: one key per session (`{keyPrefix}asm:lease:{sessionId}`) whose value
 * names the holder and whose TTL (Redis's clock) is the lease's. Acquire is `SET NX PX` done in a
 * Lua script together with an `INCR` of a fencing counter (`{keyPrefix}asm:lease-token`, one for
 * all sessions, so tokens only grow); renew and release are Lua scripts that check the holder first,
 * so a holder whose lease expired and was taken can never extend or delete the new holder's lease.
 *
 * ```ts
 * const lease = createRedisSessionLease({ client: redis, keyPrefix: 'myapp:' });
 * const grant = await lease.acquire(sessionId, instanceId, 15_000); // undefined: someone else has it
 * ```
 *
 * A dead holder's lease lingers until its TTL runs out; pick the TTL as the longest time a session may
 * stay without an executing instance after a crash. Connection failures are
 * `storage_connection_failed` (retryable).
 */
export function createRedisSessionLease(options: RedisSessionLeaseOptions): RedisSessionLease {
  const { client, owned } = resolveConnection(options, 'createRedisSessionLease');
  const prefix = options.keyPrefix ?? '';
  if (typeof prefix !== 'string') {
    throw new AsmError('validation_error', 'keyPrefix must be a string', { details: { field: 'keyPrefix' } });
  }
  const base = `${prefix}${NAMESPACE}`;
  const counterKey = `${base}lease-token`;
  const keyOf = (sessionId: string) => `${base}lease:${sessionId}`;
  let closed = false;

  const { call } = guardedCalls('session lease', () => closed);

  const grantOf = (sessionId: string, holderId: string, token: unknown, sentAt: number, ttlMs: number) =>
    token === null || token === undefined
      ? undefined
      : ({ sessionId, holderId, token: Number(token), expiresAt: sentAt + ttlMs } satisfies LeaseGrant);

  return {
    specificationVersion: 'v1',
    client,
    keyOf,
    async acquire(sessionId, holderId, ttlMs) {
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const sentAt = Date.now();
      const token = await call('acquireLease', 'write', () =>
        runKeyedScript(client, ACQUIRE, [keyOf(sessionId), counterKey], [holderId, ttlMs]),
      );
      return grantOf(sessionId, holderId, token, sentAt, ttlMs);
    },
    async renew(sessionId, holderId, ttlMs) {
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const sentAt = Date.now();
      const token = await call('renewLease', 'write', () =>
        runKeyedScript(client, RENEW, [keyOf(sessionId)], [holderId, ttlMs]),
      );
      return grantOf(sessionId, holderId, token, sentAt, ttlMs);
    },
    async release(sessionId, holderId) {
      validateLeaseRequest(sessionId, holderId);
      const released = await call('releaseLease', 'write', () =>
        runKeyedScript(client, RELEASE, [keyOf(sessionId)], [holderId]),
      );
      return Number(released) === 1;
    },
    async holder(sessionId) {
      if (typeof sessionId !== 'string' || sessionId === '') {
        throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
          details: { field: 'sessionId' },
        });
      }
      const sentAt = Date.now();
      const reply = await call('leaseHolder', 'read', () =>
        runKeyedScript(client, HOLDER, [keyOf(sessionId)], []),
      );
      if (!Array.isArray(reply)) return undefined;
      const [value, pttl] = reply as [string, number];
      const sep = value.indexOf(':');
      return {
        sessionId,
        holderId: value.slice(sep + 1),
        token: Number(value.slice(0, sep)),
        expiresAt: sentAt + Math.max(0, Number(pttl)),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await closeConnection(client);
    },
  } satisfies RedisSessionLease;
}
