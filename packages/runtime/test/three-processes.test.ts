import { randomBytes } from 'node:crypto';
import { createSession, type Run, type StoredEvent, TERMINAL_RUN_EVENT_TYPES } from '@asm/core';
import { createPostgresStore } from '@asm/postgres';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { LEASE_HOLDER_LOST_MESSAGE } from '../src/index.js';
import { type ChildInstance, spawnInstance } from './processes.js';

const DATABASE_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const suffix = randomBytes(6).toString('hex');
const schema = `asm_runtime_${suffix}`;
const keyPrefix = `test:runtime:${suffix}:`;
const children: ChildInstance[] = [];

afterAll(async () => {
  for (const child of children) child.kill();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  await redis.quit();
});

async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(['redis', 'postgres'] as const)(
  'three processes sharing a session (%s lease)',
  (leaseBackend) => {
    it('submit on one, execute on the holder, cancel from a third, SIGKILL the holder: the run fails and the queue moves on', async () => {
      const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
      try {
        const session = await store.saveSession(createSession({ agentId: `three-${leaseBackend}` }));
        const config = (instanceId: string) =>
          JSON.stringify({
            databaseUrl: DATABASE_URL,
            schema,
            redisUrl: REDIS_URL,
            keyPrefix,
            sessionId: session.id,
            instanceId: `${leaseBackend}-${instanceId}`,
            leaseBackend,
            leaseTtlMs: 3_000,
            pollIntervalMs: 250,
          });
        const start = (instanceId: string) => {
          const child = spawnInstance('instance.ts', [config(instanceId)]);
          children.push(child);
          return child;
        };
        // A starts first and takes the lease; B and C join as followers.
        const a = start('a');
        expect(await a.next('ready')).toEqual({ holder: true });
        const [b, c] = [start('b'), start('c')];
        expect(await b.next('ready')).toEqual({ holder: false });
        expect(await c.next('ready')).toEqual({ holder: false });

        // Submitted on B, executed on A (the holder).
        b.send({ cmd: 'submit', input: 'stall one', tag: 'one' });
        const one = (await b.next('submitted')).runId as string;
        await a.next('executing', (data) => data.runId === one);
        c.send({ cmd: 'submit', input: 'stall two', tag: 'two' });
        const two = (await c.next('submitted')).runId as string;
        b.send({ cmd: 'submit', input: 'three', tag: 'three' });
        const three = (await b.next('submitted')).runId as string;
        expect((await store.getRun(two))?.status).toBe('pending');

        // Cancelled from C: the request reaches A, which aborts the run; then A starts the next one.
        c.send({ cmd: 'cancel', runId: one });
        expect(await c.next('cancelled')).toEqual({ runId: one, status: 'cancelled' });
        await a.next('executing', (data) => data.runId === two);

        // The holder dies mid-run. After its lease expires, B or C takes over.
        a.kill();
        expect(await a.exited).toBe('SIGKILL');
        const failed = await waitFor(
          async () => (await store.getRun(two)) as Run,
          (run) => run.status === 'failed',
        );
        expect(failed.error).toMatchObject({
          code: 'internal_error',
          message: LEASE_HOLDER_LOST_MESSAGE,
          details: { reason: 'lease_holder_lost', recovered: true },
        });
        const completed = await waitFor(
          async () => (await store.getRun(three)) as Run,
          (run) => run.status === 'completed',
        );
        expect(completed.output?.content).toBeTruthy();

        // Who executed what: A ran one and two; exactly one of B and C ran three; nobody ran anything twice.
        const executedBy = (child: ChildInstance) =>
          child.lines.filter((line) => line.kind === 'executing').map((line) => line.data.runId);
        expect(executedBy(a)).toEqual([one, two]);
        expect([...executedBy(b), ...executedBy(c)]).toEqual([three]);
        expect(failed.error?.details?.recoveredBy).toBe(
          executedBy(b).length > 0 ? `${leaseBackend}-b` : `${leaseBackend}-c`,
        );

        // One terminal event per run, agreeing with its status.
        const terminal = (await store.getEvents(session.id, { types: [...TERMINAL_RUN_EVENT_TYPES] })).map(
          (event: StoredEvent) => [event.runId, event.type],
        );
        expect(terminal).toEqual([
          [one, 'run_cancelled'],
          [two, 'run_failed'],
          [three, 'run_completed'],
        ]);
        const failedEvent = await store.getEvents(session.id, { runId: two, types: ['run_failed'] });
        expect(failedEvent[0]?.data).toMatchObject({
          errorCode: 'internal_error',
          errorMessage: LEASE_HOLDER_LOST_MESSAGE,
        });

        for (const child of [b, c]) child.send({ cmd: 'exit' });
        await Promise.all([b.next('closed'), c.next('closed')]);
        expect(await b.exited).toBe(0);
        expect(await c.exited).toBe(0);
      } finally {
        await store.close();
      }
    }, 180_000);
  },
);
