/**
 * Test helpers: the shared PostgreSQL server of the test machine, and a schema per test file.
 * Tests FAIL (never skip) when the server is unreachable.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createEvent, createSession, type NewEvent, type Session } from '@asm/core';
import pg from 'pg';

/** The shared server: 127.0.0.1:5432, trust auth, database `test` (override with ASM_TEST_POSTGRES_URL). */
export const DATABASE_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name for one test file (random, so files and runs never collide). */
export function randomSchema(label = 'test'): string {
  return `asm_${label}_${randomBytes(6).toString('hex')}`;
}

/** Drops a schema and everything in it (on the shared server). */
export async function dropSchema(schema: string, url = DATABASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one function with a short-lived client. */
export async function withClient<T>(fn: (client: pg.Client) => Promise<T>, url = DATABASE_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new pending session of `agentId`. */
export function newSession(agentId = 'agent_test'): Session {
  return createSession({ agentId });
}

/** A `message_sent` event of the session. */
export function eventOf(sessionId: string, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    ...createEvent({ type: 'message_sent', sessionId, data: { role: 'user', content: 'hello' } }),
    ...extra,
  } as NewEvent;
}

/** `after` milliseconds from now, resolved. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A child process running a fixture of `test/fixtures` with tsx on the workspace sources. */
export interface Fixture {
  /** Resolves with the first stdout line starting with `prefix` (rejects if the child exits first). */
  nextLine(prefix: string): Promise<string>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(): void;
}

/** Spawns `node --conditions=@asm/source --import tsx test/fixtures/<name> ...args`. */
export function spawnFixture(name: string, args: string[]): Fixture {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@asm/source', '--import', 'tsx', join('test', 'fixtures', name), ...args],
    { cwd: packageDir, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let ended = false;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      ended = true;
      for (const listener of [...listeners]) listener();
      resolve(code);
    });
  });
  return {
    nextLine(prefix) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const index = lines.findIndex((line) => line.startsWith(prefix));
          if (index >= 0) {
            listeners.delete(check);
            resolve(lines.splice(index, 1)[0]!);
          } else if (ended) {
            listeners.delete(check);
            reject(new Error(`${name} exited before printing "${prefix}": ${stderr}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    exited,
    kill() {
      if (!ended) child.kill('SIGKILL');
    },
  };
}
