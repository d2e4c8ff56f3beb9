// A user's project that installed only @asm/core, @asm/sqlite and @asm/claude from their packed
// tarballs. scripts/pack-check.mjs type-checks this file under NodeNext and under Bundler
// resolution, compiles it with NodeNext and runs it against a fake Anthropic Messages API whose
// URL arrives in ASM_FAKE_ANTHROPIC_URL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClaudeProvider } from '@asm/claude';
import {
  AsmError,
  createSessionManager,
  type ErrorCode,
  type ProviderAdapter,
  type SessionStore,
  type StoredEvent,
  type Tool,
} from '@asm/core';
import { createSqliteStore } from '@asm/sqlite';

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`consumer check failed: ${message}`);
}

/** Type-level checks, never called: the published .d.ts files carry real types, not `any`. */
export function typeChecks(): void {
  // @ts-expect-error `path` is a string
  createSqliteStore({ path: 42 });
  // @ts-expect-error `maxTurns` is a number
  createClaudeProvider({ maxTurns: 'many' });
  // @ts-expect-error not an error code of the taxonomy
  const code: ErrorCode = 'not_an_error_code';
  void code;
}

const { ASM_FAKE_ANTHROPIC_URL: baseURL } = process.env;
if (!baseURL) throw new Error('ASM_FAKE_ANTHROPIC_URL is not set');

const getWeather: Tool<{ city: string }, string> = {
  name: 'get_weather',
  description: 'Current weather of a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  execute: async ({ city }) => `sunny in ${city}, 21C`,
};

const directory = mkdtempSync(join(tmpdir(), 'asm-consumer-'));
const path = join(directory, 'asm.db');
try {
  const sqlite = createSqliteStore({ path });
  // The installed package ships its writer thread next to index.js (no silent fallback to inline).
  check(sqlite.writer === 'thread', `writer ${sqlite.writer}`);
  const store: SessionStore = sqlite;
  const provider: ProviderAdapter = createClaudeProvider({
    apiKey: 'test-key',
    baseURL,
    model: 'scenario:tool-loop',
    tools: [getWeather],
  });
  const manager = createSessionManager({ store, provider });
  const result = await manager.runOnce('What is the weather in Paris?');
  check(
    result.output.content === 'The tool answered: sunny in Paris, 21C',
    `output ${JSON.stringify(result.output.content)}`,
  );
  check(result.tokenUsage.inputTokens > 0, 'input tokens reported');

  const events: StoredEvent[] = await store.getEvents(result.sessionId, { runId: result.runId });
  const types = events.map((event) => event.type);
  check(types.filter((type) => type === 'run_started').length === 1, 'one run_started');
  check(types.at(-1) === 'run_completed', `last event ${types.at(-1)}`);
  check(types.includes('tool_call_completed'), 'the tool ran');
  events.forEach((event, index) => {
    if (index > 0) check(event.sequence === events[index - 1]!.sequence + 1, 'contiguous sequence numbers');
  });
  await store.close();

  // The log is durable: a new store on the same file reads the same events.
  const reopened = createSqliteStore({ path });
  const again = await reopened.getEvents(result.sessionId, { runId: result.runId });
  check(again.length === events.length, `reopened store has ${again.length} of ${events.length} events`);

  // Provider errors arrive as AsmError codes across package boundaries.
  const limited = createSessionManager({
    store: reopened,
    provider: createClaudeProvider({ apiKey: 'test-key', baseURL, model: 'scenario:429', maxRetries: 0 }),
  });
  const error = await limited.runOnce('Say hello').then(
    () => undefined,
    (caught: unknown) => caught,
  );
  check(AsmError.isInstance(error) && error.code === 'provider_rate_limited', `error ${String(error)}`);
  await reopened.close();

  console.log(
    `consumer: run ${result.runId} completed with ${events.length} events in SQLite, ` +
      `output ${JSON.stringify(result.output.content)}; a 429 became provider_rate_limited`,
  );
} finally {
  rmSync(directory, { recursive: true, force: true });
}
