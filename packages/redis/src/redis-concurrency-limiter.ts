import { AsmError, type ConcurrencyLimiter, type ConcurrencyStatus } from '@asm/core';
import type { Redis } from 'ioredis';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { guardedCalls } from './errors.js';
import { keyedScript, runKeyedScript } from './keyed-script.js';
import { NAMESPACE } from './keys.js';

/** Options of `createRedisConcurrencyLimiter`. */
export type RedisConcurrencyLimiterOptions = RedisConnectionOptions & {
  /** Prepended to the limiter's keys; every instance sharing the limits must agree. Default none. */
  keyPrefix?: string;
  /** Several independent limiters can share one Redis under different names. Default `default`. */
  name?: string;
  /** Most sessions active at once across every instance. Default 100; `Infinity` for no limit. */
  maxSessions?: number;
  /** Most runs active at once across every instance. Default 50; `Infinity` for no limit. */
  maxRuns?: number;
  /**
   * How long a slot outlives the instance that holds it (ms). A live instance renews its slots every
   * `leaseTtlMs / 3`; a dead one stops, and its slots free themselves after this long. Default 30,000.
   */
  leaseTtlMs?: number;
};

/** A `ConcurrencyLimiter` on Redis, with what a limiter that renews leases needs besides the port. */
export interface RedisConcurrencyLimiter extends ConcurrencyLimiter {
  readonly client: Redis;
  /** Session and run slots this instance holds (and renews). */
  readonly heldSlots: { sessions: number; runs: number };
  /**
   * Stops renewing, releases the slots this instance holds and, when the limiter made the client
   * (`url`), quits it. Idempotent; later calls reject with `storage_connection_failed`.
   */
  close(): Promise<void>;
}

/** The current time of the Redis server in ms, and the purge of expired members of KEYS[1]. */
const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function purge_runs(runs, owners)
  local expired = redis.call('ZRANGEBYSCORE', runs, '-inf', now)
  for _, member in ipairs(expired) do
    redis.call('ZREM', runs, member)
    redis.call('HDEL', owners, member)
  end
end
`;

/**
 * KEYS[1] = sessions (zset member → expiry ms). ARGV[1] = session id, ARGV[2] = max (-1: none),
 * ARGV[3] = TTL ms. Returns 1 when the slot is held (new or already), 0 when the limit is reached.
 */
const ACQUIRE_SESSION = keyedScript(`${PRELUDE}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local max = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and max >= 0 and redis.call('ZCARD', KEYS[1]) >= max then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
return 1
`);

/**
 * KEYS[1] = runs (zset), KEYS[2] = run → session (hash). ARGV[1] = run id, ARGV[2] = session id,
 * ARGV[3] = max (-1: none), ARGV[4] = TTL ms.
 */
const ACQUIRE_RUN = keyedScript(`${PRELUDE}
purge_runs(KEYS[1], KEYS[2])
local max = tonumber(ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and max >= 0 and redis.call('ZCARD', KEYS[1]) >= max then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`);

/** KEYS as ACQUIRE_RUN; ARGV[1] = run id. */
const RELEASE_RUN = keyedScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`);

/** KEYS[1] = sessions, KEYS[2] = runs, KEYS[3] = run → session. ARGV[1] = session id. */
const RELEASE_SESSION = keyedScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
local owners = redis.call('HGETALL', KEYS[3])
for i = 1, #owners, 2 do
  if owners[i + 1] == ARGV[1] then
    redis.call('ZREM', KEYS[2], owners[i])
    redis.call('HDEL', KEYS[3], owners[i])
  end
end
return 1
`);

/** KEYS as RELEASE_SESSION. Returns { active sessions, active runs } after purging expired slots. */
const STATUS = keyedScript(`${PRELUDE}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
purge_runs(KEYS[2], KEYS[3])
return { redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]) }
`);

/**
 * Renews the slots one instance holds: KEYS as RELEASE_SESSION; ARGV[1] = TTL ms, ARGV[2] = number of
 * sessions n, then n session ids, then run ids. Expired slots are purged first and never revived
 * (ZADD XX): a slot that expired may already be counted as free by another instance.
 */
const RENEW = keyedScript(`${PRELUDE}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
purge_runs(KEYS[2], KEYS[3])
local expiry = now + tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local lost = {}
for i = 3, 2 + n do
  if redis.call('ZADD', KEYS[1], 'XX', 'CH', expiry, ARGV[i]) == 0 and not redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    table.insert(lost, 's:' .. ARGV[i])
  end
end
for i = 3 + n, #ARGV do
  if redis.call('ZADD', KEYS[2], 'XX', 'CH', expiry, ARGV[i]) == 0 and not redis.call('ZSCORE', KEYS[2], ARGV[i]) then
    table.insert(lost, 'r:' .. ARGV[i])
  end
end
return lost
`);

function checkLimit(value: number, field: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (!Number.isInteger(value) || value < 1) {
    throw new AsmError('validation_error', `${field} must be a positive integer or Infinity`, {
      details: { field },
    });
  }
  return value;
}

function requireId(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new AsmError('validation_error', `${field} must be a non-empty string`, { details: { field } });
  }
  return value;
}

/**
 * A `ConcurrencyLimiter` shared by every instance that points at the same Redis, key prefix and
 * name: the limits hold across processes. Slots are leases: each is a sorted-set member scored with
 * its expiry (by the Redis server's clock); the instance that acquired a slot renews it every
 * `leaseTtlMs / 3`, so the slots of an instance that dies (SIGKILL, lost host) free themselves after
 * `leaseTtlMs` without anyone releasing them. Every check-and-take is one Lua script, atomic however
 * many instances race.
 *
 * ```ts
 * const limiter = createRedisConcurrencyLimiter({ client: redis, keyPrefix: 'myapp:', maxRuns: 20 });
 * const runtime = createSessionRuntime({ store, provider, limiter });
 * ```
 *
 * Every instance must be configured with the same `maxSessions` / `maxRuns` (each call checks the
 * limit it was given). Keys: `{keyPrefix}asm:limiter:{name}:sessions` and `:runs` (sorted sets) and
 * `:run-sessions` (hash run → session, so releasing a session frees its runs).
 */
export function createRedisConcurrencyLimiter(
  options: RedisConcurrencyLimiterOptions,
): RedisConcurrencyLimiter {
  const maxSessions = checkLimit(options.maxSessions ?? 100, 'maxSessions');
  const maxRuns = checkLimit(options.maxRuns ?? 50, 'maxRuns');
  const ttlMs = options.leaseTtlMs ?? 30_000;
  if (!Number.isInteger(ttlMs) || ttlMs < 3 || ttlMs > 2_147_483_647) {
    throw new AsmError('validation_error', 'leaseTtlMs must be an integer from 3 to 2147483647', {
      details: { field: 'leaseTtlMs' },
    });
  }
  const name = options.name ?? 'default';
  if (typeof name !== 'string' || name === '') {
    throw new AsmError('validation_error', 'name must be a non-empty string', { details: { field: 'name' } });
  }
  const prefix = options.keyPrefix ?? '';
  if (typeof prefix !== 'string') {
    throw new AsmError('validation_error', 'keyPrefix must be a string', { details: { field: 'keyPrefix' } });
  }
  const { client, owned } = resolveConnection(options, 'createRedisConcurrencyLimiter');
  const base = `${prefix}${NAMESPACE}limiter:${name}:`;
  const sessionsKey = `${base}sessions`;
  const runsKey = `${base}runs`;
  const ownersKey = `${base}run-sessions`;
  const limitArg = (limit: number) => (limit === Number.POSITIVE_INFINITY ? -1 : limit);

  /** Slots this instance acquired and renews: session ids, and run id → session id. */
  const sessions = new Set<string>();
  const runs = new Map<string, string>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let renewing: Promise<void> | undefined;

  const { call } = guardedCalls('concurrency limiter', () => closed);

  const renew = async (): Promise<void> => {
    if (sessions.size === 0 && runs.size === 0) return;
    const sessionIds = [...sessions];
    const runIds = [...runs.keys()];
    try {
      const lost = (await runKeyedScript(
        client,
        RENEW,
        [sessionsKey, runsKey, ownersKey],
        [ttlMs, sessionIds.length, ...sessionIds, ...runIds],
      )) as string[];
      for (const entry of lost) {
        if (entry.startsWith('s:')) sessions.delete(entry.slice(2));
        else runs.delete(entry.slice(2));
      }
    } catch {
      // Redis unreachable: the next tick tries again; slots lapse if it stays down longer than the TTL.
    }
  };
  const schedule = () => {
    if (timer !== undefined || closed) return;
    timer = setInterval(
      () => {
        if (sessions.size === 0 && runs.size === 0) {
          clearInterval(timer);
          timer = undefined;
          return;
        }
        renewing ??= renew().finally(() => {
          renewing = undefined;
        });
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    timer.unref();
  };

  return {
    specificationVersion: 'v1',
    client,
    get heldSlots() {
      return { sessions: sessions.size, runs: runs.size };
    },
    async acquireSessionSlot(sessionId) {
      requireId(sessionId, 'sessionId');
      const granted = await call('acquireSessionSlot', 'write', () =>
        runKeyedScript(client, ACQUIRE_SESSION, [sessionsKey], [sessionId, limitArg(maxSessions), ttlMs]),
      );
      if (Number(granted) !== 1) {
        throw new AsmError('max_sessions_exceeded', `At most ${maxSessions} sessions may be active at once`, {
          retryable: true,
          details: { maxSessions },
        });
      }
      sessions.add(sessionId);
      schedule();
    },
    async releaseSessionSlot(sessionId) {
      requireId(sessionId, 'sessionId');
      await call('releaseSessionSlot', 'write', () =>
        runKeyedScript(client, RELEASE_SESSION, [sessionsKey, runsKey, ownersKey], [sessionId]),
      );
      sessions.delete(sessionId);
      for (const [runId, owner] of runs) if (owner === sessionId) runs.delete(runId);
    },
    async acquireRunSlot(sessionId, runId) {
      requireId(sessionId, 'sessionId');
      requireId(runId, 'runId');
      const granted = await call('acquireRunSlot', 'write', () =>
        runKeyedScript(
          client,
          ACQUIRE_RUN,
          [runsKey, ownersKey],
          [runId, sessionId, limitArg(maxRuns), ttlMs],
        ),
      );
      if (Number(granted) !== 1) {
        throw new AsmError('max_runs_exceeded', `At most ${maxRuns} runs may be active at once`, {
          retryable: true,
          details: { maxRuns },
        });
      }
      runs.set(runId, sessionId);
      schedule();
    },
    async releaseRunSlot(runId) {
      requireId(runId, 'runId');
      await call('releaseRunSlot', 'write', () =>
        runKeyedScript(client, RELEASE_RUN, [runsKey, ownersKey], [runId]),
      );
      runs.delete(runId);
    },
    async status(): Promise<ConcurrencyStatus> {
      const [activeSessions, activeRuns] = (await call('limiterStatus', 'read', () =>
        runKeyedScript(client, STATUS, [sessionsKey, runsKey, ownersKey], []),
      )) as [number, number];
      return {
        activeSessions,
        activeRuns,
        maxSessions,
        maxRuns,
        availableSessionSlots: Math.max(0, maxSessions - activeSessions),
        availableRunSlots: Math.max(0, maxRuns - activeRuns),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await renewing;
      try {
        await Promise.all([
          ...[...runs.keys()].map((runId) =>
            runKeyedScript(client, RELEASE_RUN, [runsKey, ownersKey], [runId]),
          ),
          ...[...sessions].map((sessionId) =>
            runKeyedScript(client, RELEASE_SESSION, [sessionsKey, runsKey, ownersKey], [sessionId]),
          ),
        ]);
      } catch {
        // Unreachable: the slots lapse after leaseTtlMs.
      }
      sessions.clear();
      runs.clear();
      if (owned) await closeConnection(client);
    },
  } satisfies RedisConcurrencyLimiter;
}
