import {
  type AsmError,
  buildTranscript,
  createInMemoryStore,
  createSessionManager,
  type ProviderErrorInfo,
  type SessionStore,
} from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_TEST_TIMEOUT_MS, type AgentKit, createAgentKit } from './agent-helpers.js';
import { executeDirectly, typesOf } from './helpers.js';

let kit: AgentKit;
beforeAll(async () => {
  kit = await createAgentKit();
});
afterAll(() => kit.close());

async function runThroughManager(model: string, env?: Record<string, string | undefined>) {
  const store: SessionStore = createInMemoryStore();
  const manager = createSessionManager({ store, provider: kit.agent({ model, ...(env ? { env } : {}) }) });
  const session = await manager.startSession();
  const run = await manager.startRun(session.id, 'Tell me a story');
  const error = await manager.executeRun(run.id, { timeoutMs: AGENT_TEST_TIMEOUT_MS }).then(
    () => undefined,
    (caught: unknown) => caught as AsmError,
  );
  const events = await store.getEvents(session.id);
  const stored = await manager.getRun(run.id);
  await store.close();
  return { error, events, run: stored! };
}

describe('claude agent backend - API errors (real claude binary, fake API)', () => {
  it(
    '429 - provider_rate_limited from api_error_status, with the request id, after one request (retries 0)',
    async () => {
      kit.server.reset();
      const outcome = await executeDirectly(kit.agent({ model: 'scenario:429' }));
      const error = outcome.error as AsmError;
      expect(error.code).toBe('provider_rate_limited');
      expect(error.retryable).toBe(true);
      expect(error.providerError).toMatchObject({
        provider: 'claude',
        kind: 'rate_limit',
        status: 429,
        requestId: 'req_fake_1',
      } satisfies Partial<ProviderErrorInfo>);
      expect(error.details).toMatchObject({ status: 429, errorType: 'rate_limit_error' });
      expect(kit.server.requests).toHaveLength(1);
      const types = typesOf(outcome.events);
      expect(types[0]).toBe('run_started');
      expect(types.at(-1)).toBe('run_failed');
      expect(types).not.toContain('message_received'); // Claude Code's synthetic error text is not an answer
      const failed = outcome.events.at(-1)!.data as { errorCode: string; providerError: ProviderErrorInfo };
      expect(failed.errorCode).toBe('provider_rate_limited');
      expect(failed.providerError.requestId).toBe('req_fake_1');
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'an error event mid-stream - the partial text is persisted, the run fails provider_unavailable',
    async () => {
      kit.server.reset();
      const { error, events, run } = await runThroughManager('scenario:error-mid-stream');
      expect(error?.code).toBe('provider_unavailable');
      expect(error?.providerError).toMatchObject({
        kind: 'overloaded',
        status: 529,
        requestId: 'req_fake_1',
      });
      expect(run.status).toBe('failed');
      const deltas = events
        .filter((event) => event.type === 'message_streamed')
        .map((event) => event.data.delta)
        .join('');
      expect(deltas).toBe('Partial answer that ');
      expect(events.at(-1)?.type).toBe('run_failed');
      const transcript = buildTranscript(events);
      expect(transcript.messages.at(-1)).toMatchObject({
        role: 'assistant',
        content: 'Partial answer that ',
        partial: true,
      });
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a truncated stream - provider_unavailable (connection_failed), partial text kept',
    async () => {
      kit.server.reset();
      const { error, events, run } = await runThroughManager('scenario:truncated');
      expect(error?.code).toBe('provider_unavailable');
      expect(error?.details).toMatchObject({ apiError: 'connection_failed' });
      expect(error?.providerError).toMatchObject({ kind: 'connection_error', requestId: 'req_fake_1' });
      expect(run.status).toBe('failed');
      expect(events.some((event) => event.type === 'message_streamed')).toBe(true);
      expect(events.at(-1)?.type).toBe('run_failed');
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a truncated stream Claude Code recovers with its non-streaming retry - completes; the full text replaces the partial one',
    async () => {
      kit.server.reset();
      const store = createInMemoryStore();
      const provider = kit.agent({
        model: 'scenario:truncated',
        env: { CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK: undefined },
      });
      const manager = createSessionManager({ store, provider });
      const result = await manager.runOnce('Tell me a story', { timeoutMs: AGENT_TEST_TIMEOUT_MS });
      expect(result.output.content).toBe('Partial answer that never ends');
      expect(kit.server.requests.map((request) => request.body.stream === true)).toEqual([true, false]);
      const transcript = buildTranscript(await store.getEvents(result.sessionId));
      expect(transcript.messages.filter((message) => message.role === 'assistant')).toMatchObject([
        { content: 'Partial answer that never ends' },
      ]);
      expect(transcript.messages.some((message) => message.partial)).toBe(false);
      await store.close();
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'maxTurns reached - the run completes with stop reason max_turns and a warning',
    async () => {
      kit.server.reset();
      const outcome = await executeDirectly(kit.agent({ model: 'scenario:read-forever', maxTurns: 1 }));
      expect(outcome.error).toBeUndefined();
      expect(outcome.result?.output).toEqual({ content: 'Reading again.', stopReason: 'max_turns' });
      expect(outcome.result?.warnings?.some((warning) => warning.startsWith('error_max_turns:'))).toBe(true);
      expect(outcome.result?.metadata?.terminalReason).toBe('max_turns');
      expect(kit.server.requests).toHaveLength(1);
      const types = typesOf(outcome.events);
      expect(types).toContain('tool_call_started');
      expect(types.at(-1)).toBe('run_completed');
      expect(outcome.events.at(-1)?.data).toMatchObject({ stopReason: 'max_turns' });
    },
    AGENT_TEST_TIMEOUT_MS,
  );
});
