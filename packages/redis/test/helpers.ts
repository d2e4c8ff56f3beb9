import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The shared Redis of the tests (a real server: tests fail, never skip, when it is down). */
export const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses (hex only, so it is safe in a SCAN pattern). */
export function randomPrefix(): string {
  return `test:redis:${randomBytes(8).toString('hex')}:`;
}

/** A plain client for inspecting and cleaning keys. */
export function adminClient(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 2, lazyConnect: true });
}

/** Removes every key under `prefix` (SCAN + UNLINK). */
export async function removePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** Polls `check` every 10 ms until it is true; fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
