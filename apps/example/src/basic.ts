/**
 * Runs one session end to end on the in-memory store with the mock provider, and prints its events.
 *
 *   pnpm example
 */
import { createInMemoryStore, createSessionManager, type StoredEvent } from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';

const store = createInMemoryStore();
const provider = createMockProvider({
  response: 'Sessions, runs and an ordered event log: every delta is stored before the run settles.',
  chunkDelayMs: 5,
  tokenUsage: { inputTokens: 42, outputTokens: 17 },
  model: 'claude-haiku-4-5',
});
const manager = createSessionManager({ store, provider });

function describeEvent(event: StoredEvent): string {
  switch (event.type) {
    case 'message_sent':
    case 'message_received':
      return `${event.data.role}: ${event.data.content}`;
    case 'message_streamed':
      return JSON.stringify(event.data.delta);
    case 'token_usage_updated':
      return `in=${event.data.inputTokens} out=${event.data.outputTokens}`;
    case 'run_completed':
      return `stop=${event.data.stopReason} cost=$${event.data.costUsd?.toFixed(6) ?? '?'}`;
    default:
      return Object.keys(event.data).length > 0 ? JSON.stringify(event.data) : '';
  }
}

const result = await manager.runOnce('Explain what this library keeps for me.', {
  onEvent: (event) => console.log(`  live #${event.sequence} ${event.type}`),
});

console.log(`\nSession ${result.sessionId}, run ${result.runId}: ${result.status}`);
console.log(`Answer: ${result.output.content}`);
console.log(
  `Tokens: ${result.tokenUsage.inputTokens} in, ${result.tokenUsage.outputTokens} out; cost $${result.costUsd?.toFixed(6)}\n`,
);
console.log('The stored log:');
for (const event of await manager.getSessionEvents(result.sessionId)) {
  console.log(`  #${String(event.sequence).padStart(2)} ${event.type.padEnd(20)} ${describeEvent(event)}`);
}
await store.close();
