import {
  AsmError,
  buildTranscript,
  calculateCost,
  createEvent,
  createInMemoryStore,
  createSessionManager,
  type EventData,
  type EventType,
  type StoredEvent,
  type Tool,
} from '@asm/core';
import { createFakeAnthropicServer, type FakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClaudeMessagesSettings,
  type ClaudeProviderSettings,
  createClaudeProvider,
} from '../src/index.js';
import { executeDirectly, typesOf, waitFor } from './helpers.js';

let server: FakeAnthropicServer;

beforeAll(async () => {
  server = await createFakeAnthropicServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.reset();
});

const claude = (settings: ClaudeMessagesSettings = {}) =>
  createClaudeProvider({ apiKey: 'test-key', baseURL: server.url, maxRetries: 0, ...settings });

const weather: Tool<{ city: string }, string> = {
  name: 'get_weather',
  description: 'Current weather of a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  execute: async ({ city }) => `sunny in ${city}, 21C`,
};

const bodies = () => server.requests.map((request) => request.body);

function asmError(error: unknown): AsmError {
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

describe('createClaudeProvider - streaming', () => {
  it('plain text - streams text deltas and ends with one run_completed; sends the request the SDK builds', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:text' }), { input: 'Say hello' });
    expect(outcome.error).toBeUndefined();
    expect(outcome.events).toEqual([
      { type: 'run_started', data: { model: 'scenario:text', requestId: 'req_fake_1' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'Hello ' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'from ' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'the ' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'fake ' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'Anthropic ' } },
      { type: 'message_streamed', data: { kind: 'text', delta: 'server.' } },
      {
        type: 'message_received',
        data: { role: 'assistant', content: 'Hello from the fake Anthropic server.' },
      },
      {
        type: 'token_usage_updated',
        data: { inputTokens: 25, outputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: 32 },
      },
      { type: 'turn_completed', data: { turn: 1, stopReason: 'end_turn' } },
      {
        type: 'run_completed',
        data: {
          stopReason: 'end_turn',
          tokenUsage: {
            inputTokens: 25,
            outputTokens: 7,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            totalTokens: 32,
          },
        },
      },
    ]);
    expect(outcome.result).toEqual({
      output: { content: 'Hello from the fake Anthropic server.', stopReason: 'end_turn' },
      tokenUsage: {
        inputTokens: 25,
        outputTokens: 7,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        totalTokens: 32,
      },
      model: 'scenario:text',
      turnCount: 1,
      metadata: { requestIds: ['req_fake_1'] },
    });
    const [request] = server.requests;
    expect(request?.path).toBe('/v1/messages');
    expect(request?.headers.authorization).toBe('Bearer test-key');
    expect(request?.headers['anthropic-version']).toBe('2026-10-21');
    expect(request?.body).toEqual({
      model: 'scenario:text',
      max_tokens: 8192,
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    });
  });

  it('systemPrompt - the session context prompt wins over the settings; system input messages are appended', async () => {
    const provider = claude({ model: 'scenario:text', systemPrompt: 'From settings.' });
    await executeDirectly(provider, { input: 'Hi' });
    await executeDirectly(provider, {
      systemPrompt: 'From the session.',
      input: {
        messages: [
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'Hi' },
        ],
      },
    });
    expect(bodies().map((body) => body.system)).toEqual([
      'From settings.',
      'From the session.\n\nAnswer in French.',
    ]);
    expect(bodies()[1]?.messages).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('thinking - streams thinking deltas as kind thinking, keeps them out of the output, sends the thinking config', async () => {
    const outcome = await executeDirectly(
      claude({ model: 'scenario:thinking', thinking: { budgetTokens: 2048 } }),
    );
    const streamed = outcome.events.filter((event) => event.type === 'message_streamed');
    expect(streamed.map((event) => event.data)).toEqual([
      { kind: 'thinking', delta: 'Let ' },
      { kind: 'thinking', delta: 'me ' },
      { kind: 'thinking', delta: 'think ' },
      { kind: 'thinking', delta: 'about ' },
      { kind: 'thinking', delta: 'this ' },
      { kind: 'thinking', delta: 'carefully.' },
      { kind: 'text', delta: 'The ' },
      { kind: 'text', delta: 'answer ' },
      { kind: 'text', delta: 'is ' },
      { kind: 'text', delta: '42.' },
    ]);
    expect(outcome.result?.output.content).toBe('The answer is 42.');
    expect(outcome.events.find((event) => event.type === 'message_received')?.data).toEqual({
      role: 'assistant',
      content: 'The answer is 42.',
    });
    expect(bodies()[0]?.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
  });

  it('usage - reports cache read and cache write tokens (with the 1-hour part), and the manager prices them', async () => {
    const model = server.script([
      {
        model: 'claude-haiku-4-5-20251001',
        content: [{ type: 'text', text: 'Cached answer.' }],
        usage: {
          inputTokens: 10,
          outputTokens: 20,
          cacheReadTokens: 1000,
          cacheWriteTokens: 500,
          cacheWrite1hTokens: 200,
        },
      },
    ]);
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: claude({ model }) });
    const result = await manager.runOnce('Use the cache');
    const expected = {
      inputTokens: 10,
      outputTokens: 20,
      cacheReadTokens: 1000,
      cacheWriteTokens: 500,
      cacheWrite1hTokens: 200,
      totalTokens: 1530,
    };
    expect(result.tokenUsage).toEqual(expected);
    expect(result.model).toBe('claude-haiku-4-5-20251001');
    expect(result.costUsd).toBeCloseTo(calculateCost(expected, 'claude', 'claude-haiku-4-5-20251001')!, 12);
    // 10×1 + 20×5 + 1000×0.1 + 300×1.25 + 200×2 dollars per million tokens
    expect(result.costUsd).toBeCloseTo(985 / 1_000_000, 12);
    const events = await store.getEvents(result.sessionId, { types: ['token_usage_updated'] });
    expect(events.at(-1)?.data).toEqual(expected);
    await store.close();
  });

  it('stop reasons - max_tokens ends the run completed with that stop reason', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:max-tokens' }));
    expect(outcome.result?.output).toEqual({ content: 'This answer was cut', stopReason: 'max_tokens' });
  });

  it('maxOutputTokens - becomes max_tokens; adapterOptions override the model per run', async () => {
    await executeDirectly(claude({ model: 'scenario:text', maxTokens: 1000 }), {
      maxOutputTokens: 123,
      adapterOptions: { model: 'scenario:echo' },
      input: 'ping',
    });
    expect(bodies()[0]).toMatchObject({ model: 'scenario:echo', max_tokens: 123 });
  });

  it('temperature - left out with a warning on API version 2026-10-21, sent when apiVersion pins an older version', async () => {
    const modern = await executeDirectly(claude({ model: 'scenario:text', temperature: 0.2 }));
    expect(bodies()[0]).not.toHaveProperty('temperature');
    expect(modern.result?.warnings).toEqual([
      "temperature is not sent: Anthropic API version 2026-10-21 rejects it (set apiVersion '2023-06-01' to use it)",
    ]);
    expect(modern.events[0]?.data).toMatchObject({ warnings: modern.result?.warnings });

    const legacy = await executeDirectly(
      claude({ model: 'scenario:text', temperature: 0.2, apiVersion: '2023-06-01' }),
    );
    expect(bodies()[1]).toMatchObject({ temperature: 0.2 });
    expect(server.requests[1]?.headers['anthropic-version']).toBe('2023-06-01');
    expect(legacy.result?.warnings).toBeUndefined();
  });

  it('sdkOptions - are passed to the SDK client, and the normalized settings win over them', async () => {
    const provider = createClaudeProvider({
      apiKey: 'settings-key',
      baseURL: server.url,
      maxRetries: 0,
      model: 'scenario:text',
      sdkOptions: {
        apiKey: 'sdk-key',
        baseURL: 'http://127.0.0.1:1',
        defaultHeaders: { 'x-app': 'asm-test' },
        maxRetries: 5,
      },
    });
    const outcome = await executeDirectly(provider);
    expect(outcome.error).toBeUndefined();
    expect(server.requests[0]?.headers.authorization).toBe('Bearer settings-key');
    expect(server.requests[0]?.headers['x-app']).toBe('asm-test');
  });

  it('client - an injected Anthropic client is used as it is', async () => {
    const { default: Anthropic } = await import('@anthropic-ai/sdk');
    const client = new Anthropic({ apiKey: 'injected-key', baseURL: server.url, maxRetries: 0 });
    const outcome = await executeDirectly(createClaudeProvider({ client, model: 'scenario:text' }));
    expect(outcome.result?.output.content).toBe('Hello from the fake Anthropic server.');
    expect(server.requests[0]?.headers.authorization).toBe('Bearer injected-key');
  });

  it('permissionMode - is reported as ignored', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:text' }), {
      permissionMode: 'full_auto',
    });
    expect(outcome.result?.warnings?.[0]).toMatch(/permissionMode full_auto is ignored/);
  });
});

describe('createClaudeProvider - tools', () => {
  it('tool loop - runs the tool, sends tool_result, streams the second turn; two requests', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:tool-loop', tools: [weather] }), {
      input: 'What is the weather in Paris?',
    });
    expect(outcome.error).toBeUndefined();
    expect(typesOf(outcome.events)).toEqual([
      'run_started',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_received',
      'token_usage_updated',
      'turn_completed',
      'tool_call_started',
      'tool_call_completed',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_received',
      'token_usage_updated',
      'turn_completed',
      'run_completed',
    ]);
    const toolEvents = outcome.events.filter((event) => event.type.startsWith('tool_call'));
    expect(toolEvents.map((event) => event.data)).toEqual([
      { toolCallId: 'toolu_fake_1_1', toolName: 'get_weather', toolInput: { city: 'Paris' } },
      {
        toolCallId: 'toolu_fake_1_1',
        toolName: 'get_weather',
        toolInput: { city: 'Paris' },
        toolOutput: 'sunny in Paris, 21C',
      },
    ]);
    expect(outcome.authorized).toEqual([
      { id: 'toolu_fake_1_1', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(outcome.result?.output).toEqual({
      content: 'The tool answered: sunny in Paris, 21C',
      stopReason: 'end_turn',
    });
    expect(outcome.result?.turnCount).toBe(2);
    // usage is cumulative over both turns: input 40 + 60, output (3+3+1) + (7+1)
    expect(outcome.result?.tokenUsage).toMatchObject({ inputTokens: 100, outputTokens: 15 });
    const usageEvents = outcome.events.filter((event) => event.type === 'token_usage_updated');
    expect(usageEvents.map((event) => event.data?.inputTokens)).toEqual([40, 100]);

    expect(server.requests).toHaveLength(2);
    expect(bodies()[0]?.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Current weather of a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ]);
    expect(bodies()[1]?.messages).toEqual([
      { role: 'user', content: 'What is the weather in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_fake_1_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_fake_1_1', content: 'sunny in Paris, 21C' }],
      },
    ]);
  });

  it('thinking in a tool loop - passes thinking (with its signature) and redacted thinking back verbatim', async () => {
    const model = server.script([
      {
        content: [
          { type: 'thinking', thinking: 'I need the weather.', signature: 'sig_abc' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'tool_use', id: 'toolu_t', name: 'get_weather', input: { city: 'Oslo' } },
        ],
      },
      { content: [{ type: 'text', text: 'Snowy.' }] },
    ]);
    const outcome = await executeDirectly(
      claude({ model, tools: [weather], thinking: { budgetTokens: 1024 } }),
    );
    expect(outcome.result?.output.content).toBe('Snowy.');
    expect(bodies()[1]?.messages?.[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'I need the weather.', signature: 'sig_abc' },
        { type: 'redacted_thinking', data: 'opaque' },
        { type: 'tool_use', id: 'toolu_t', name: 'get_weather', input: { city: 'Oslo' } },
      ],
    });
    expect(outcome.events.find((event) => event.type === 'message_received')?.data).toEqual({
      role: 'assistant',
      content: 'Snowy.',
    });
  });

  it('parallel tool calls - runs both calls and answers them in one user message, in call order', async () => {
    const outcome = await executeDirectly(
      claude({ model: 'scenario:parallel-tools', tools: [weather], parallelToolCalls: true }),
      { input: 'Weather in Paris and London?' },
    );
    expect(outcome.result?.output.content).toBe('Results: sunny in Paris, 21C | sunny in London, 21C');
    expect(bodies()[1]?.messages?.at(-1)).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_fake_1_0', content: 'sunny in Paris, 21C' },
        { type: 'tool_result', tool_use_id: 'toolu_fake_1_1', content: 'sunny in London, 21C' },
      ],
    });
    expect(outcome.events.filter((event) => event.type === 'tool_call_completed')).toHaveLength(2);
  });

  it('a tool that throws - tool_call_failed and an is_error result the model sees; the run completes', async () => {
    const broken: Tool = {
      ...weather,
      execute: () => {
        throw new Error('weather service down');
      },
    };
    const outcome = await executeDirectly(claude({ model: 'scenario:tool-loop', tools: [broken] }));
    expect(outcome.events.find((event) => event.type === 'tool_call_failed')?.data).toEqual({
      toolCallId: 'toolu_fake_1_1',
      toolName: 'get_weather',
      toolInput: { city: 'Paris' },
      errorMessage: 'weather service down',
    });
    expect(bodies()[1]?.messages?.at(-1)).toEqual({
      role: 'user',
      content: [
        {
          type: 'tool_result',
          tool_use_id: 'toolu_fake_1_1',
          content: 'weather service down',
          is_error: true,
        },
      ],
    });
    expect(outcome.result?.output.content).toBe('The tool failed: weather service down');
  });

  it('maxTurns - stops after the limit with stop reason max_turns and the unrun calls pending', async () => {
    let runs = 0;
    const counting: Tool = { ...weather, execute: () => `run ${++runs}` };
    const outcome = await executeDirectly(
      claude({ model: 'scenario:tool-forever', tools: [counting], maxTurns: 2 }),
    );
    expect(server.requests).toHaveLength(2);
    expect(runs).toBe(1);
    expect(outcome.result?.output).toEqual({
      content: 'Once more.',
      stopReason: 'max_turns',
      pendingToolCalls: [{ id: 'toolu_fake_2_1', name: 'get_weather', input: { city: 'Paris' } }],
    });
    expect(outcome.events.at(-1)).toMatchObject({ type: 'run_completed', data: { stopReason: 'max_turns' } });
  });

  it('toolRules - denied tools are not offered to the model', async () => {
    const other: Tool = { name: 'delete_everything', inputSchema: { type: 'object' }, execute: () => 'gone' };
    await executeDirectly(claude({ model: 'scenario:text', tools: [weather] }), {
      tools: [other],
      toolRules: { deny: ['delete_*'] },
    });
    expect(bodies()[0]?.tools?.map((tool) => tool.name)).toEqual(['get_weather']);
  });

  it('authorizeToolCall - a denial becomes tool_call_failed and an error result; the tool never runs', async () => {
    let ran = false;
    const guarded: Tool = {
      ...weather,
      execute: () => {
        ran = true;
        return 'x';
      },
    };
    const outcome = await executeDirectly(claude({ model: 'scenario:tool-loop', tools: [guarded] }), {
      decide: () => ({ allow: false, reason: 'not today' }),
    });
    expect(ran).toBe(false);
    expect(outcome.result?.output.content).toBe('The tool failed: Tool call denied: not today');
  });

  it('tools without execute - end the run with tool_use and pending calls; the next run answers them with toolResults', async () => {
    const ask: Tool = { name: 'get_weather', inputSchema: { type: 'object' } };
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: claude({ model: 'scenario:tool-loop', tools: [ask] }),
    });
    const session = await manager.startSession();
    const first = await manager.startRun(session.id, 'Weather in Paris?');
    const result = await manager.executeRun(first.id);
    expect(result.output.stopReason).toBe('tool_use');
    expect(result.output.pendingToolCalls).toEqual([
      { id: 'toolu_fake_1_1', name: 'get_weather', input: { city: 'Paris' } },
    ]);

    const second = await manager.startRun(session.id, {
      toolResults: [{ toolCallId: 'toolu_fake_1_1', output: 'rainy, 12C' }],
    });
    const answered = await manager.executeRun(second.id);
    expect(answered.output.content).toBe('The tool answered: rainy, 12C');
    expect(bodies()[1]?.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_fake_1_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_fake_1_1', content: 'rainy, 12C' }],
      },
    ]);
    const events = await store.getEvents(session.id, { runId: second.id });
    expect(typesOf(events).slice(0, 2)).toEqual(['run_started', 'tool_call_completed']);
    expect(events[1]?.data).toEqual({
      toolCallId: 'toolu_fake_1_1',
      toolName: 'get_weather',
      toolInput: { city: 'Paris' },
      toolOutput: 'rainy, 12C',
    });
    await store.close();
  });
});

describe('createClaudeProvider - errors', () => {
  it('401 - provider_authentication_failed with status, kind and request id; run_started then run_failed', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:401' }));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_authentication_failed');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('invalid x-api-key');
    expect(error.providerError).toEqual({
      provider: 'claude',
      kind: 'authentication',
      message: 'invalid x-api-key',
      status: 401,
      requestId: 'req_fake_1',
    });
    expect(outcome.events).toEqual([
      { type: 'run_started', data: { model: 'scenario:401', requestId: 'req_fake_1' } },
      {
        type: 'run_failed',
        data: {
          errorCode: 'provider_authentication_failed',
          errorMessage: 'invalid x-api-key',
          providerError: error.providerError,
        },
      },
    ]);
  });

  it('429 - provider_rate_limited with retryAfterSeconds from retry-after; no SDK retry with maxRetries 0', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:429' }));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.providerError).toMatchObject({ kind: 'rate_limit', status: 429, retryAfterSeconds: 7 });
    expect(error.details).toMatchObject({ retryAfterSeconds: 7, status: 429 });
    expect(server.requests).toHaveLength(1);
  });

  it('429 - retry-after-ms wins and is reported in seconds', async () => {
    const model = server.script([
      { kind: 'http_error', status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '9' } },
    ]);
    const error = asmError((await executeDirectly(claude({ model }))).error);
    expect(error.providerError?.retryAfterSeconds).toBe(1.5);
  });

  it('529 - provider_unavailable, kind overloaded', async () => {
    const error = asmError((await executeDirectly(claude({ model: 'scenario:529' }))).error);
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError).toMatchObject({ kind: 'overloaded', status: 529, requestId: 'req_fake_1' });
  });

  it('500 and 503 - provider_unavailable', async () => {
    for (const status of ['500', '503']) {
      const error = asmError((await executeDirectly(claude({ model: `scenario:${status}` }))).error);
      expect(error.code).toBe('provider_unavailable');
      expect(error.providerError?.status).toBe(Number(status));
    }
  });

  it('400 - provider_error carrying the API message', async () => {
    const error = asmError((await executeDirectly(claude({ model: 'scenario:400' }))).error);
    expect(error.code).toBe('provider_error');
    expect(error.message).toBe('messages: at least one message is required');
    expect(error.providerError).toMatchObject({ kind: 'http_error', status: 400 });
  });

  it('an error event mid-stream - provider_unavailable (overloaded) after the deltas, usage so far kept', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:error-mid-stream' }));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_unavailable');
    expect(error.message).toBe('Overloaded');
    expect(error.providerError).toEqual({
      provider: 'claude',
      kind: 'overloaded',
      message: 'Overloaded',
      requestId: 'req_fake_1',
    });
    expect(typesOf(outcome.events)).toEqual([
      'run_started',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'token_usage_updated',
      'run_failed',
    ]);
    expect(outcome.events[4]?.data).toMatchObject({ inputTokens: 25, outputTokens: 1 });
  });

  it('a truncated stream (no message_stop) - is an error, not a success', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:truncated' }));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError).toMatchObject({ kind: 'stream_truncated', requestId: 'req_fake_1' });
    expect(outcome.result).toBeUndefined();
    expect(outcome.events.at(-1)?.type).toBe('run_failed');
  });

  it('a dropped connection mid-stream - provider_unavailable (stream_truncated)', async () => {
    const error = asmError((await executeDirectly(claude({ model: 'scenario:disconnect' }))).error);
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError?.kind).toBe('stream_truncated');
  });

  it('a refused connection - provider_unavailable (connection_error)', async () => {
    const error = asmError(
      (
        await executeDirectly(
          createClaudeProvider({ apiKey: 'k', baseURL: 'http://127.0.0.1:1', maxRetries: 0 }),
        )
      ).error,
    );
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError?.kind).toBe('connection_error');
  });

  it('a stall - aborts the HTTP stream after idleTimeoutMs with provider_timeout', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:stall', idleTimeoutMs: 300 }));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_timeout');
    expect(error.retryable).toBe(true);
    expect(error.providerError).toMatchObject({ kind: 'timeout', requestId: 'req_fake_1' });
    expect(error.message).toBe('No data from the Anthropic API for 300 ms');
    expect(outcome.events[0]?.type).toBe('run_started');
    expect(outcome.events.at(-1)?.type).toBe('run_failed');
    await waitFor(() => server.requests[0]?.clientClosed === true);
  });

  it('a stall before the response headers - also provider_timeout', async () => {
    const error = asmError(
      (await executeDirectly(claude({ model: 'scenario:stall-headers', idleTimeoutMs: 300 }))).error,
    );
    expect(error.code).toBe('provider_timeout');
  });

  it('missing API key - provider_authentication_failed before any request', async () => {
    const saved = process.env.ANTHROPIC_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const provider = createClaudeProvider({ baseURL: server.url, model: 'scenario:text' });
      const outcome = await executeDirectly(provider);
      const error = asmError(outcome.error);
      expect(error.code).toBe('provider_authentication_failed');
      expect(error.message).toMatch(/ANTHROPIC_API_KEY/);
      expect(server.requests).toHaveLength(0);
      expect(typesOf(outcome.events)).toEqual(['run_started', 'run_failed']);

      process.env.ANTHROPIC_API_KEY = 'env-key';
      const retried = await executeDirectly(provider);
      expect(retried.error).toBeUndefined();
      expect(server.requests[0]?.headers.authorization).toBe('Bearer env-key');
    } finally {
      if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved;
    }
  });

  it('settings - invalid values are validation_error naming the field', () => {
    const field = (settings: ClaudeProviderSettings) => {
      try {
        createClaudeProvider(settings);
      } catch (error) {
        return asmError(error).code === 'validation_error' ? asmError(error).details.field : 'other code';
      }
      return 'no error';
    };
    expect(field({ maxTokens: 0 })).toBe('maxTokens');
    expect(field({ maxTurns: 1.5 })).toBe('maxTurns');
    expect(field({ idleTimeoutMs: -1 })).toBe('idleTimeoutMs');
    expect(field({ temperature: 2 })).toBe('temperature');
    expect(field({ model: '' })).toBe('model');
    expect(field({ thinking: { budgetTokens: 10 } })).toBe('thinking');
    expect(field({ thinking: { budgetTokens: 9000 } })).toBe('thinking');
    expect(field({ tools: [weather, weather] })).toBe('tools');
    expect(field({ backend: 'gemini' as 'messages' })).toBe('backend');
    expect(field({ maxRetries: -1 })).toBe('maxRetries');
    expect(field({})).toBe('no error');
  });

  it('capabilities - streaming, tool use, vision, system prompts, interrupt; no native continuation', () => {
    const provider = claude();
    expect(provider.name).toBe('claude');
    expect(provider.specificationVersion).toBe('v1');
    expect(provider.supportsNativeContinuation).toBe(false);
    expect(provider.model).toBe('claude-haiku-4-5');
    expect(provider.capabilities()).toEqual([
      { name: 'streaming', type: 'sampling' },
      { name: 'tool_use', type: 'tool' },
      { name: 'vision', type: 'resource' },
      { name: 'system_prompts', type: 'prompt' },
      { name: 'interrupt', type: 'sampling' },
    ]);
    expect(() => provider.validateConfig?.()).not.toThrow();
  });
});

describe('createClaudeProvider - cancellation', () => {
  it('an abort mid-stream - closes the HTTP stream at once and rejects with the abort reason; usage so far kept', async () => {
    const reason = new AsmError('cancelled', 'Stopped by the user');
    const outcome = await executeDirectly(claude({ model: 'scenario:stall' }), {
      abortWhen: (event) => event.type === 'message_streamed',
      abortReason: reason,
    });
    expect(outcome.error).toBe(reason);
    expect(typesOf(outcome.events)).toEqual([
      'run_started',
      'message_streamed',
      'token_usage_updated',
      'run_cancelled',
    ]);
    expect(outcome.events[2]?.data).toMatchObject({ inputTokens: 25 });
    expect(outcome.events[3]?.data).toEqual({ reason: 'Stopped by the user' });
    await waitFor(() => server.requests[0]?.clientClosed === true);
  });

  it('an abort with a plain reason - rejects with AsmError cancelled carrying it as the cause', async () => {
    const outcome = await executeDirectly(claude({ model: 'scenario:stall' }), {
      abortWhen: (event) => event.type === 'message_streamed',
      abortReason: 'user pressed stop',
    });
    const error = asmError(outcome.error);
    expect(error.code).toBe('cancelled');
    expect(error.cause).toBe('user pressed stop');
  });

  it('an abort while a tool runs - the tool sees the signal, the run is cancelled, no second request', async () => {
    let toolSignal: AbortSignal | undefined;
    const controller = new AbortController();
    const slow: Tool = {
      ...weather,
      execute: (_input, context) =>
        new Promise((_resolve, reject) => {
          toolSignal = context.signal;
          context.signal.addEventListener('abort', () => reject(new Error('aborted')));
          setTimeout(() => controller.abort(), 5);
        }),
    };
    const outcome = await executeDirectly(claude({ model: 'scenario:tool-loop', tools: [slow] }), {
      controller,
    });
    expect(asmError(outcome.error).code).toBe('cancelled');
    expect(toolSignal?.aborted).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(outcome.events.at(-1)?.type).toBe('run_cancelled');
  });

  it('cancelRun through the manager - the run ends cancelled with its partial text stored', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: claude({ model: 'scenario:stall' }) });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'Wait');
    const error = await manager
      .executeRun(run.id, {
        onEvent: (event) => {
          if (event.type === 'message_streamed') void manager.cancelRun(run.id);
        },
      })
      .catch((caught: unknown) => caught);
    expect(asmError(error).code).toBe('cancelled');
    const stored = await manager.getRun(run.id);
    expect(stored?.status).toBe('cancelled');
    expect(stored?.tokenUsage.inputTokens).toBe(25);
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.at(-1)?.type).toBe('run_cancelled');
    await store.close();
  });
});

describe('createClaudeProvider - continuation', () => {
  function event<T extends EventType>(
    sequence: number,
    type: T,
    data: EventData<T>,
    runId = 'run_a',
  ): StoredEvent {
    return {
      ...createEvent({ type, sessionId: 'ses_replay', runId, data, id: `evt_${sequence}` }),
      sequence,
    } as StoredEvent;
  }

  it('replay - sends the transcript as real messages with tool_use and tool_result blocks (exact body)', async () => {
    const transcript = buildTranscript([
      event(1, 'message_sent', { role: 'user', content: 'Weather in Paris?' }),
      event(2, 'message_streamed', { kind: 'thinking', delta: 'hmm' }),
      event(3, 'message_streamed', { kind: 'text', delta: 'Let me ' }),
      event(4, 'message_streamed', { kind: 'text', delta: 'check.' }),
      event(5, 'message_received', { role: 'assistant', content: 'Let me check.' }),
      event(6, 'tool_call_started', {
        toolCallId: 'toolu_1',
        toolName: 'get_weather',
        toolInput: { city: 'Paris' },
      }),
      event(7, 'tool_call_started', {
        toolCallId: 'toolu_2',
        toolName: 'get_time',
        toolInput: { city: 'Paris' },
      }),
      event(8, 'tool_call_completed', {
        toolCallId: 'toolu_1',
        toolName: 'get_weather',
        toolOutput: { sky: 'clear' },
      }),
      event(9, 'tool_call_failed', {
        toolCallId: 'toolu_2',
        toolName: 'get_time',
        errorMessage: 'clock broken',
      }),
      event(10, 'message_received', { role: 'assistant', content: 'Clear skies; I could not get the time.' }),
      event(11, 'message_sent', { role: 'user', content: 'Thanks.' }, 'run_b'),
      event(12, 'message_received', { role: 'assistant', content: 'You are welcome.' }, 'run_b'),
    ]);
    const outcome = await executeDirectly(claude({ model: 'scenario:echo' }), {
      transcript,
      input: 'And tomorrow?',
    });
    expect(outcome.error).toBeUndefined();
    expect(bodies()[0]?.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"sky":"clear"}' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: 'clock broken', is_error: true },
        ],
      },
      { role: 'assistant', content: 'Clear skies; I could not get the time.' },
      { role: 'user', content: 'Thanks.' },
      { role: 'assistant', content: 'You are welcome.' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
    expect(outcome.result?.output.content).toBe('You said: And tomorrow?');
  });

  it('replay through the manager - a second run in the session carries the first run, tool calls included', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: claude({ model: 'scenario:tool-loop', tools: [weather] }),
    });
    const session = await manager.startSession({ context: { systemPrompt: 'Be brief.' } });
    await manager.executeRun((await manager.startRun(session.id, 'Weather in Paris?')).id);
    await manager.executeRun((await manager.startRun(session.id, 'And in Lyon?')).id, {
      continuation: 'replay',
    });
    expect(server.requests).toHaveLength(4);
    expect(bodies()[2]).toMatchObject({ system: 'Be brief.' });
    expect(bodies()[2]?.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_fake_1_1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_fake_1_1', content: 'sunny in Paris, 21C' }],
      },
      { role: 'assistant', content: 'The tool answered: sunny in Paris, 21C' },
      { role: 'user', content: 'And in Lyon?' },
    ]);
    await store.close();
  });
});
