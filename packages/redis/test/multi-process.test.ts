import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createSession, type StoredEvent } from '@asm/core';
import { afterAll, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix } from './helpers.js';

const admin = adminClient();
afterAll(() => admin.quit());

interface WorkerOutput {
  ids: string[];
  sequences: number[];
}

/** Runs `fixtures/append-worker.ts` in its own Node process and returns what it appended. */
function runWorker(args: string[]): Promise<WorkerOutput> {
  const script = fileURLToPath(new URL('./fixtures/append-worker.ts', import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@asm/source', '--import', 'tsx', script, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`worker exited with ${code}: ${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout.trim()) as WorkerOutput);
      } catch (error) {
        reject(error);
      }
    });
  });
}

it('sequence contract - 4 processes x 250 appends to one session leave exactly 1..1000, and a long-poll in a fifth wakes', async () => {
  const prefix = randomPrefix();
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  try {
    const session = await store.saveSession(createSession({ agentId: 'agent_processes' }));
    const polling = store.getEvents(session.id, { after: 0, waitMs: 30_000 });
    // Each worker appends one event at a time, five appends in flight.
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () => runWorker([REDIS_URL, prefix, session.id, '250', '5'])),
    );
    const woken = await polling;
    expect(woken.length).toBeGreaterThan(0);
    expect(woken[0]?.sequence).toBe(1);

    const returned = new Map<string, number>();
    for (const output of outputs) {
      expect(output.ids).toHaveLength(250);
      output.ids.forEach((id, index) => {
        returned.set(id, output.sequences[index]!);
      });
    }
    expect(returned.size).toBe(1_000);
    const events: StoredEvent[] = [];
    let after = 0;
    for (;;) {
      const page = await store.getEvents(session.id, { after, limit: 300 });
      if (page.length === 0) break;
      events.push(...page);
      after = page[page.length - 1]!.sequence;
    }
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: 1_000 }, (_, i) => i + 1));
    for (const event of events) expect(returned.get(event.id)).toBe(event.sequence);
    expect(await store.getLatestSequence(session.id)).toBe(1_000);
  } finally {
    await store.close();
    await removePrefix(admin, prefix);
  }
}, 60_000);
