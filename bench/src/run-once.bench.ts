/**
 * `runOnce` with the mock provider streaming 10,000 deltas into the in-memory store, against the
 * same mock stream consumed with no manager (the adapter's `execute` with a bare `emit`).
 */
import {
  createInMemoryStore,
  createRun,
  createSession,
  createSessionManager,
  type ExecuteOptions,
} from '@asm/core';
import { createMockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import { type BenchRecord, compareTimes } from './harness.js';

const DELTAS = 10_000;

async function consumeWithoutManager(settings: MockProviderSettings): Promise<void> {
  const provider = createMockProvider(settings);
  const session = { ...createSession({ agentId: 'bench' }), status: 'active' as const };
  const run = { ...createRun({ sessionId: session.id, input: 'stream please' }), status: 'running' as const };
  let text = '';
  let count = 0;
  const options: ExecuteOptions = {
    signal: new AbortController().signal,
    emit(event) {
      count++;
      if (event.type === 'message_streamed') text += event.data?.delta ?? '';
    },
    continuation: {
      mode: 'none',
      loadTranscript: async () => ({ sessionId: session.id, messages: [], metadata: {} }),
    },
    authorizeToolCall: async () => ({ allow: true }),
  };
  await provider.execute(run, session, options);
  if (count < DELTAS || text.length < DELTAS) throw new Error('baseline consumed too few deltas');
}

async function runThroughManager(settings: MockProviderSettings): Promise<void> {
  const store = createInMemoryStore();
  const manager = createSessionManager({ store, provider: createMockProvider(settings) });
  const result = await manager.runOnce('stream please');
  if (result.events.length < DELTAS) throw new Error('runOnce stored too few events');
  await store.close();
}

export async function benchRunOnce(): Promise<BenchRecord[]> {
  const variants: { label: string; settings: MockProviderSettings }[] = [
    {
      label: 'network-like stream (yield per delta)',
      settings: { deltas: DELTAS, chunk: 'tok ', chunkDelayMs: 0 },
    },
    { label: 'burst (no yield between deltas)', settings: { deltas: DELTAS, chunk: 'tok ' } },
  ];
  const records: BenchRecord[] = [];
  for (const variant of variants) {
    records.push(
      await compareTimes({
        name: `runOnce in-memory, 10k deltas, ${variant.label}`,
        baseline: () => consumeWithoutManager(variant.settings),
        candidate: () => runThroughManager(variant.settings),
        target: 1.3,
      }),
    );
  }
  return records;
}
