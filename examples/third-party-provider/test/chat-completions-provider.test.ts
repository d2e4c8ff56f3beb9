import { createServer } from 'node:net';
import { AsmError, createInMemoryStore, createSessionManager, type Tool } from '@asm/core';
import { testProviderAdapter } from '@asm/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ChatCompletionsProviderSettings,
  createChatCompletionsProvider,
  readServerSentEvents,
} from '../src/index.js';
import {
  createFakeChatCompletionsServer,
  type FakeChatCompletionsServer,
} from './fake-chat-completions-server.js';

let server: FakeChatCompletionsServer;

beforeAll(async () => {
  server = await createFakeChatCompletionsServer();
});

afterAll(async () => {
  await server.close();
});

function provider(model: string, settings: Partial<ChatCompletionsProviderSettings> = {}) {
  return createChatCompletionsProvider({
    baseURL: `${server.url}/v1`,
    apiKey: 'test-key',
    model,
    ...settings,
  });
}

const getWeather: Tool<{ city: string }, string> = {
  name: 'get_weather',
  description: 'Current weather of a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  execute: async ({ city }) => `sunny in ${city}`,
};

// The conformance suite every provider runs: event order, usage, error codes, cancellation.
testProviderAdapter({
  name: 'chat-completions',
  create: (scenario) => provider(String(scenario.settings?.model ?? 'text')),
  scenarios: {
    success: { settings: { model: 'text' } },
    errors: [
      { name: 'HTTP 401', code: 'provider_authentication_failed', settings: { model: 'status-401' } },
      { name: 'HTTP 429', code: 'provider_rate_limited', settings: { model: 'status-429' } },
      {
        name: 'insufficient quota',
        code: 'provider_quota_exceeded',
        settings: { model: 'insufficient-quota' },
      },
      { name: 'HTTP 503', code: 'provider_unavailable', settings: { model: 'status-503' } },
      { name: 'an error mid-stream', code: 'provider_unavailable', settings: { model: 'error-mid-stream' } },
      { name: 'a truncated stream', code: 'provider_unavailable', settings: { model: 'truncated' } },
    ],
    cancel: { settings: { model: 'stall' }, after: 'message_streamed' },
  },
});

describe('createChatCompletionsProvider', () => {
  it('sends a streaming Chat Completions request with the system prompt, key and usage option', async () => {
    const manager = createSessionManager({
      store: createInMemoryStore(),
      provider: provider('text', { systemPrompt: 'Be brief.', maxTokens: 64 }),
    });
    const result = await manager.runOnce('Say hello');
    expect(result.output).toMatchObject({ content: 'Hello from the fake server.', stopReason: 'end_turn' });
    // 20 prompt tokens of which 4 were cached: 16 fresh input tokens and 4 cache reads.
    expect(result.tokenUsage).toMatchObject({
      inputTokens: 16,
      cacheReadTokens: 4,
      outputTokens: 4,
      totalTokens: 24,
    });
    const request = server.requests.at(-1)!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer test-key');
    expect(request.body).toEqual({
      model: 'text',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 64,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello' },
      ],
    });
  });

  it('runs tool calls through the tool loop and sends their results back', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: provider('tool-loop', { tools: [getWeather] }) });
    const before = server.requests.length;
    const result = await manager.runOnce('What is the weather in Paris?');
    expect(result.output.content).toBe('The tool answered: sunny in Paris');
    const types = result.events.map((event) => event.type);
    expect(types).toContain('tool_call_started');
    expect(types).toContain('tool_call_completed');
    expect(types.at(-1)).toBe('run_completed');
    const [first, second] = server.requests.slice(before);
    expect(first?.body.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather of a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      },
    ]);
    expect(second?.body.messages?.slice(-2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_fake_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_fake_1', content: 'sunny in Paris' },
    ]);
  });

  it('replays the earlier turns of the session on the next run', async () => {
    const manager = createSessionManager({ store: createInMemoryStore(), provider: provider('echo') });
    const session = await manager.startSession();
    const first = await manager.startRun(session.id, 'first question');
    await manager.executeRun(first.id);
    const second = await manager.startRun(session.id, 'second question');
    await manager.executeRun(second.id);
    expect(server.requests.at(-1)?.body.messages).toEqual([
      { role: 'user', content: 'first question' },
      { role: 'assistant', content: 'You said: first question' },
      { role: 'user', content: 'second question' },
    ]);
  });

  it('streams reasoning as thinking deltas and keeps it out of the output', async () => {
    const manager = createSessionManager({ store: createInMemoryStore(), provider: provider('reasoning') });
    const result = await manager.runOnce('What is six times seven?');
    expect(result.output.content).toBe('The answer is 42.');
    const thinking = result.events.flatMap((event) =>
      event.type === 'message_streamed' && event.data.kind === 'thinking' ? [event.data.delta] : [],
    );
    expect(thinking.join('')).toBe('Let me think. Six times seven.');
  });

  it('closes the HTTP connection when the run is cancelled', async () => {
    const manager = createSessionManager({ store: createInMemoryStore(), provider: provider('stall') });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'Take your time');
    const error = await manager
      .executeRun(run.id, {
        onEvent: (event) => {
          if (event.type === 'message_streamed') void manager.cancelRun(run.id);
        },
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(AsmError.isInstance(error) && error.code).toBe('cancelled');
    const request = server.requests.at(-1)!;
    await request.closed;
    expect(request.clientClosedEarly).toBe(true);
  });

  it('maps a refused connection to provider_unavailable and a 429 to its retry-after', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const refused = createSessionManager({
      store: createInMemoryStore(),
      provider: createChatCompletionsProvider({ baseURL: `http://127.0.0.1:${port}/v1`, model: 'text' }),
    });
    await expect(refused.runOnce('Hello')).rejects.toMatchObject({ code: 'provider_unavailable' });

    const limited = createSessionManager({ store: createInMemoryStore(), provider: provider('status-429') });
    const error = await limited.runOnce('Hello').catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'provider_rate_limited',
      retryable: true,
      providerError: {
        provider: 'chat-completions',
        status: 429,
        retryAfterSeconds: 3,
        requestId: 'req_fake',
      },
    });
  });

  it('rejects bad settings eagerly with validation_error naming the field', () => {
    expect(() => createChatCompletionsProvider({ baseURL: 'not a url', model: 'x' })).toThrow(
      expect.objectContaining({
        code: 'validation_error',
        details: expect.objectContaining({ field: 'baseURL' }),
      }),
    );
    expect(() =>
      createChatCompletionsProvider({ baseURL: 'http://127.0.0.1/v1', model: 'x', maxTurns: 0 }),
    ).toThrow(
      expect.objectContaining({
        code: 'validation_error',
        details: expect.objectContaining({ field: 'maxTurns' }),
      }),
    );
  });
});

describe('readServerSentEvents', () => {
  it('joins data lines, skips comments and handles CRLF split across chunks', async () => {
    const parts = [': comment\r\nevent: note\r\ndata: one\r', '\ndata: two\r\n\r\ndata: [DONE]\n\n'];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const events = [];
    for await (const event of readServerSentEvents(body)) events.push(event);
    expect(events).toEqual([
      { event: 'note', data: 'one\ntwo' },
      { event: 'message', data: '[DONE]' },
    ]);
  });
});
