/**
 * 1,000 sessions × 1 run each with the mock provider through the runtime (one session server per
 * session) on the in-memory store, against the same runs through `SessionManager.runOnce`.
 * Also prints the memory one idle session server holds.
 */
import { randomBytes } from 'node:crypto';
import { createInMemoryStore, createSessionManager } from '@asm/core';
import { createPostgresSessionLease } from '@asm/postgres';
import { createRedisSessionLease } from '@asm/redis';
import { createSessionRuntime } from '@asm/runtime';
import { createMockProvider } from '@asm/testing/fakes';
import pg from 'pg';
import { type BenchRecord, compareTimes } from './harness.js';

const SESSIONS = 1_000;

async function throughManager(): Promise<void> {
  const store = createInMemoryStore();
  const manager = createSessionManager({ store, provider: createMockProvider({ deltas: 5 }) });
  for (let index = 0; index < SESSIONS; index++) await manager.runOnce('hello');
  await store.close();
}

async function throughRuntime(): Promise<void> {
  const store = createInMemoryStore();
  const runtime = createSessionRuntime({ store, provider: createMockProvider({ deltas: 5 }) });
  const servers = await Promise.all(
    Array.from({ length: SESSIONS }, (_, index) => runtime.start({ session: { agentId: `agent-${index}` } })),
  );
  await Promise.all(servers.map((server) => server.executeRun('hello')));
  await runtime.close();
  await store.close();
}

async function idleServerBytes(): Promise<number> {
  const store = createInMemoryStore();
  const runtime = createSessionRuntime({ store, provider: createMockProvider() });
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let index = 0; index < SESSIONS; index++)
    await runtime.start({ session: { agentId: `idle-${index}` } });
  globalThis.gc?.();
  const after = process.memoryUsage().heapUsed;
  await runtime.close();
  await store.close();
  return (after - before) / SESSIONS;
}

export async function benchRuntime(): Promise<BenchRecord[]> {
  const record = await compareTimes({
    name: 'runtime: 1,000 sessions x 1 run (session servers vs runOnce), in-memory',
    baseline: throughManager,
    candidate: throughRuntime,
    rounds: 5,
    warmup: 1,
    target: 1.5,
  });
  const runsPerSecond = Math.round(SESSIONS / (record.candidate / 1000));
  const bytes = await idleServerBytes();
  console.log(
    `runtime: ${runsPerSecond} runs/s through session servers; ~${Math.round(bytes)} bytes of heap per idle session server (session + server, gc ${globalThis.gc ? 'forced' : 'not exposed'})`,
  );
  return [record, ...(await benchLeases())];
}

const LEASE_CALLS = 2_000;
const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.ASM_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The cost of the multi-instance lease primitives, one call at a time (what a holder pays per
 * renewal and a follower per takeover attempt):
 * - Redis `acquire` (Lua: GET, INCR of the fencing counter, SET PX) and `renew` (Lua: GET, holder
 *   check, PEXPIRE) against a raw `SET key value PX ttl` on the same client;
 * - PostgreSQL `renew` (UPDATE … WHERE holder and unexpired, RETURNING) against a raw autocommit
 *   `UPDATE` of one row on the same pool (both pay a commit, which dominates).
 */
async function benchLeases(): Promise<BenchRecord[]> {
  const prefix = `bench:lease:${randomBytes(6).toString('hex')}:`;
  const lease = createRedisSessionLease({ url: REDIS_URL, keyPrefix: prefix });
  const client = lease.client;
  const records: BenchRecord[] = [];
  try {
    await lease.acquire('ses_warm', 'bench', 30_000);
    let round = 0;
    records.push(
      await compareTimes({
        name: `lease: ${LEASE_CALLS} Redis acquire (Lua + fencing INCR) vs raw SET PX`,
        baseline: async () => {
          for (let index = 0; index < LEASE_CALLS; index++)
            await client.set(`${prefix}raw:${index}`, 'x', 'PX', 30_000);
        },
        candidate: async () => {
          round++;
          for (let index = 0; index < LEASE_CALLS; index++)
            await lease.acquire(`ses_${round}_${index}`, 'bench', 30_000);
        },
        rounds: 5,
        warmup: 1,
        target: 2,
      }),
    );
    records.push(
      await compareTimes({
        name: `lease: ${LEASE_CALLS} Redis renew (Lua, holder-checked) vs raw SET PX`,
        baseline: async () => {
          for (let index = 0; index < LEASE_CALLS; index++)
            await client.set(`${prefix}raw:0`, 'x', 'PX', 30_000);
        },
        candidate: async () => {
          for (let index = 0; index < LEASE_CALLS; index++) await lease.renew('ses_warm', 'bench', 30_000);
        },
        rounds: 5,
        warmup: 1,
        target: 2,
      }),
    );
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
    await lease.close();
  }

  const schema = `bench_lease_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const pgLease = createPostgresSessionLease({ pool, schema });
  try {
    await pgLease.acquire('ses_warm', 'bench', 30_000);
    await pool.query(`CREATE TABLE "${schema}".raw_row (id int PRIMARY KEY, v bigint NOT NULL)`);
    await pool.query(`INSERT INTO "${schema}".raw_row VALUES (1, 0)`);
    records.push(
      await compareTimes({
        name: `lease: ${LEASE_CALLS / 2} PostgreSQL renew vs raw UPDATE of one row`,
        baseline: async () => {
          for (let index = 0; index < LEASE_CALLS / 2; index++)
            await pool.query(`UPDATE "${schema}".raw_row SET v = v + 1 WHERE id = 1`);
        },
        candidate: async () => {
          for (let index = 0; index < LEASE_CALLS / 2; index++)
            await pgLease.renew('ses_warm', 'bench', 30_000);
        },
        rounds: 5,
        warmup: 1,
        target: 1.5,
      }),
    );
  } finally {
    await pgLease.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
  for (const record of records) {
    const calls = record.name.includes('PostgreSQL') ? LEASE_CALLS / 2 : LEASE_CALLS;
    console.log(
      `${record.name}: ${((record.candidate * 1000) / calls).toFixed(1)} µs per call vs ${((record.baseline * 1000) / calls).toFixed(1)} µs`,
    );
  }
  return records;
}
