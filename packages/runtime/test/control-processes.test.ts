import { randomBytes } from 'node:crypto';
import { createSession } from '@asm/core';
import { createPostgresStore } from '@asm/postgres';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { type ChildInstance, spawnInstance } from './processes.js';

const DATABASE_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const suffix = randomBytes(6).toString('hex');
const schema = `asm_runtime_ops_${suffix}`;
const keyPrefix = `test:runtime-ops:${suffix}:`;
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

it('control operations across two processes: applied on the holder, recorded once, the same history everywhere and after a restart', async () => {
  const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
  try {
    const session = await store.saveSession(createSession({ agentId: 'ops' }));
    const start = (instanceId: string) => {
      const child = spawnInstance('instance.ts', [
        JSON.stringify({
          databaseUrl: DATABASE_URL,
          schema,
          redisUrl: REDIS_URL,
          keyPrefix,
          sessionId: session.id,
          instanceId,
          leaseBackend: 'redis',
          leaseTtlMs: 5_000,
          pollIntervalMs: 250,
          pausable: true,
        }),
      ]);
      children.push(child);
      return child;
    };
    const a = start('a');
    expect(await a.next('ready')).toEqual({ holder: true });
    const b = start('b');
    expect(await b.next('ready')).toEqual({ holder: false });

    b.send({ cmd: 'submit', input: 'stall until interrupted' });
    const runId = (await b.next('submitted')).runId as string;
    await a.next('executing', (data) => data.runId === runId);

    const apply = async (operation: string) => {
      b.send({ cmd: 'operation', runId, operation });
      return b.next('operation');
    };
    expect(await apply('pause')).toMatchObject({
      operation: 'pause',
      result: 'ok',
      state: 'paused',
      appliedBy: 'a',
      requestedBy: 'b',
    });
    expect(await apply('pause')).toMatchObject({ state: 'paused', noop: true });
    expect(await apply('resume')).toMatchObject({ state: 'running', noop: false, appliedBy: 'a' });
    expect(await apply('interrupt')).toMatchObject({
      state: 'interrupted',
      method: 'cancel',
      appliedBy: 'a',
    });
    expect((await store.getRun(runId))?.status).toBe('cancelled');
    expect(await apply('resume')).toMatchObject({ ok: false, code: 'invalid_operation' });

    // The provider on A was asked exactly once per change; B's never.
    const calls = (child: ChildInstance) =>
      child.lines.filter((line) => line.kind === 'control').map((line) => line.data.operation);
    expect(calls(a)).toEqual(['pause', 'resume']);
    expect(calls(b)).toEqual([]);

    const history = async (child: ChildInstance) => {
      child.send({ cmd: 'history', runId });
      return (await child.next('history')).records as Record<string, unknown>[];
    };
    const fromA = await history(a);
    expect(await history(b)).toEqual(fromA);
    expect(fromA.map((record) => [record.operation, record.result, record.noop])).toEqual([
      ['pause', 'ok', false],
      ['pause', 'ok', true],
      ['resume', 'ok', false],
      ['interrupt', 'ok', false],
      ['resume', 'error', false],
    ]);

    // A restart of B (a new process) reads the same history from the log.
    b.send({ cmd: 'exit' });
    await b.next('closed');
    const restarted = start('b2');
    await restarted.next('ready');
    expect(await history(restarted)).toEqual(fromA);

    for (const child of [a, restarted]) child.send({ cmd: 'exit' });
    await Promise.all([a.next('closed'), restarted.next('closed')]);
  } finally {
    await store.close();
  }
}, 180_000);
