/**
 * 1,000 sessions × 1 run each with the mock provider through the runtime (one session server per
 * session) on the in-memory store, against the same runs through `SessionManager.runOnce`.
 * Also prints the memory one idle session server holds.
 */
import { createInMemoryStore, createSessionManager } from '@asm/core';
import { createSessionRuntime } from '@asm/runtime';
import { createMockProvider } from '@asm/testing/fakes';
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
  return [record];
}
