import { createServer } from 'node:net';
import { TABLE_NAMES } from '@asm/postgres';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTempHome,
  jsonLines,
  POSTGRES_URL,
  REDIS_URL,
  runAsm,
  sessionIdsIn,
  startAsm,
  type TempHome,
  uniqueSuffix,
} from './helpers.js';

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('asm --store postgres://', () => {
  let home: TempHome;
  const schema = `asm_example_${uniqueSuffix()}`;
  const store = `${POSTGRES_URL}?schema=${schema}`;

  beforeAll(async () => {
    home = await createTempHome();
  });
  afterAll(async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
    await home.remove();
  });

  it('demo, sessions, show and events run on PostgreSQL in the schema given by ?schema=', async () => {
    const demo = await runAsm(home, ['demo', '--store', store]);
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain(`store    postgres ${POSTGRES_URL} (schema ${schema})`);
    const [sessionId] = sessionIdsIn(demo.stdout);

    const listed = await runAsm(home, ['sessions', '--store', store, '--json']);
    expect(listed.code).toBe(0);
    const page = JSON.parse(listed.stdout) as {
      sessions: { id: string; runCount: number }[];
      totalCount: number;
    };
    expect(page.totalCount).toBe(1);
    expect(page.sessions[0]).toMatchObject({ id: sessionId, runCount: 4 });

    const show = await runAsm(home, ['show', sessionId!, '--store', store]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('runs (4)');

    // The rows really are in that schema, and nothing went to the default SQLite file.
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM "${schema}"."${TABLE_NAMES.events}" WHERE session_id = $1`,
        [sessionId],
      );
      const events = jsonLines(
        (await runAsm(home, ['events', sessionId!, '--store', store, '--json'])).stdout,
      );
      expect(rows[0].n).toBe(events.length);
      expect(events.length).toBeGreaterThan(20);
    } finally {
      await client.end();
    }
    const local = await runAsm(home, ['sessions']);
    expect(local.stdout).toContain('No sessions match');
  });

  it('events --follow on PostgreSQL sees a run made by another process', async () => {
    const first = await runAsm(home, ['run', '--provider', 'shell', '--store', store, 'echo first']);
    expect(first.code).toBe(0);
    const [sessionId] = sessionIdsIn(first.stdout);
    const follower = startAsm(home, ['events', sessionId!, '--follow', '--store', store]);
    await follower.waitFor(/session_completed/);
    const second = await runAsm(home, [
      'run',
      '--provider',
      'shell',
      '--store',
      store,
      '--continue',
      sessionId!,
      'echo second',
    ]);
    expect(second.code).toBe(0);
    await follower.waitFor(/assistant: second/);
    await follower.waitFor(/session_completed[\s\S]*session_completed/);
    follower.kill('SIGINT');
    expect((await follower.exited).code).toBe(0);
  });
});

describe('asm --store redis://', () => {
  let home: TempHome;
  const prefix = `asm-example-${uniqueSuffix()}:`;
  const store = `${REDIS_URL}?prefix=${prefix}`;

  beforeAll(async () => {
    home = await createTempHome();
  });
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      await redis.quit();
    }
    await home.remove();
  });

  it('run, continue, sessions and events keep everything under the ?prefix= key prefix', async () => {
    const first = await runAsm(home, [
      'run',
      '--provider',
      'shell',
      '--store',
      store,
      '--tag',
      'redis',
      'echo hello redis',
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('hello redis');
    expect(first.stderr).toContain(`redis ${REDIS_URL} (key prefix ${prefix})`);
    const [sessionId] = sessionIdsIn(first.stdout);
    const second = await runAsm(home, [
      'run',
      '--provider',
      'shell',
      '--store',
      store,
      '--continue',
      sessionId!,
      'echo again',
    ]);
    expect(second.code).toBe(0);

    const listed = await runAsm(home, ['sessions', '--store', store, '--tag', 'redis']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`${sessionId}\\s+completed\\s+asm-cli\\s+2\\s+completed \\(shell\\)`),
    );

    const events = jsonLines<{ sequence: number; type: string }>(
      (await runAsm(home, ['events', sessionId!, '--store', store, '--json'])).stdout,
    );
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events.filter((event) => event.type === 'run_completed')).toHaveLength(2);

    const redis = new Redis(REDIS_URL);
    try {
      // The log is the stream of that session under the prefix, one entry per event.
      expect(await redis.xlen(`${prefix}asm:events:${sessionId}`)).toBe(events.length);
    } finally {
      await redis.quit();
    }
  });
});

describe('unreachable stores', () => {
  let home: TempHome;
  beforeAll(async () => {
    home = await createTempHome();
  });
  afterAll(() => home.remove());

  it('an unreachable PostgreSQL is exit code 3 with the reason', async () => {
    const port = await closedPort();
    const result = await runAsm(home, [
      'sessions',
      '--store',
      `postgres://postgres:secret@127.0.0.1:${port}/test`,
    ]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      `Cannot open the store postgres postgres://postgres:***@127.0.0.1:${port}/test`,
    );
    expect(result.stderr).toContain('ECONNREFUSED');
    expect(result.stderr).toContain('storage_connection_failed');
    expect(result.stderr).not.toContain('secret');
  });

  it('an unreachable Redis is exit code 3, through ASM_STORE too', async () => {
    const port = await closedPort();
    const result = await runAsm(home, ['run', '--provider', 'shell', 'echo never'], {
      ASM_STORE: `redis://127.0.0.1:${port}`,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(`Cannot open the store redis redis://127.0.0.1:${port}`);
    expect(result.stderr).toContain('storage_connection_failed');
    expect(result.stdout).toBe('');
  });

  it('a SQLite path that cannot be created is exit code 3', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const file = join(home.dir, 'not-a-folder');
    await writeFile(file, 'x');
    const result = await runAsm(home, ['sessions', '--store', join(file, 'asm.db')]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Cannot open the store sqlite');
  });
});
