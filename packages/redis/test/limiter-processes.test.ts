import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createRedisConcurrencyLimiter } from '../src/index.js';
import { adminClient, REDIS_URL, randomPrefix, removePrefix, waitUntil } from './helpers.js';

const admin = adminClient();
const prefix = randomPrefix();
const children: ChildProcessWithoutNullStreams[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await removePrefix(admin, prefix);
  admin.disconnect();
});

interface Worker {
  child: ChildProcessWithoutNullStreams;
  line(prefix: string): Promise<string>;
  send(line: string): void;
}

function startWorker(args: string[]): Worker {
  const script = fileURLToPath(new URL('./fixtures/limiter-worker.ts', import.meta.url));
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@asm/source', '--import', 'tsx', script, ...args], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  const wakers = new Set<() => void>();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (text) => {
    lines.push(text);
    for (const wake of [...wakers]) wake();
  });
  child.on('exit', () => {
    for (const wake of [...wakers]) wake();
  });
  return {
    child,
    send: (text) => child.stdin.write(`${text}\n`),
    line: (start) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const index = lines.findIndex((text) => text.startsWith(start));
          if (index >= 0) {
            wakers.delete(check);
            resolve(lines.splice(index, 1)[0]!);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            wakers.delete(check);
            reject(new Error(`worker exited before "${start}": ${stderr}`));
          }
        };
        wakers.add(check);
        check();
      }),
  };
}

it('the run limit holds across two processes, and a SIGKILLed holder frees its slots when its leases expire', async () => {
  const args = [REDIS_URL, prefix, 'cross', '3', '1500', '5'];
  const workers = [startWorker(args), startWorker(args)];
  await Promise.all(workers.map((worker) => worker.line('ready')));
  for (const worker of workers) worker.send('go');
  const outcomes = await Promise.all(
    workers.map(
      async (worker) =>
        JSON.parse((await worker.line('granted ')).slice(8)) as {
          granted: number;
          refused: string[];
        },
    ),
  );
  // 10 attempts, 3 slots: exactly 3 granted in total, the rest refused with max_runs_exceeded.
  expect(outcomes[0]!.granted + outcomes[1]!.granted).toBe(3);
  expect([...outcomes[0]!.refused, ...outcomes[1]!.refused]).toEqual(Array(7).fill('max_runs_exceeded'));

  const observer = createRedisConcurrencyLimiter({
    url: REDIS_URL,
    keyPrefix: prefix,
    name: 'cross',
    maxRuns: 3,
  });
  try {
    expect((await observer.status()).activeRuns).toBe(3);
    // Kill the worker holding more slots (at least 2 of the 3), so expiry is what frees them.
    const order = outcomes[0]!.granted >= outcomes[1]!.granted ? [0, 1] : [1, 0];
    const killed = workers[order[0]!]!;
    const survivor = workers[order[1]!]!;
    killed.child.kill('SIGKILL');
    survivor.send('exit');
    await survivor.line('closed');
    // The survivor released its slots at once; the killed one's lapse after their TTL.
    await waitUntil(async () => (await observer.status()).activeRuns === 0, 30_000);
    for (let index = 0; index < 3; index++) await observer.acquireRunSlot('ses_obs', `run_obs_${index}`);
    expect(await observer.status()).toMatchObject({ activeRuns: 3, availableRunSlots: 0 });
  } finally {
    await observer.close();
  }
}, 60_000);
