import { AsmError, createInMemoryStore, createSessionManager, type Tool, type Transcript } from '@asm/core';
import { createFakeResponsesServer, type FakeResponsesServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CodexResponsesSettings, createCodexProvider } from '../src/index.js';
import { find, foldedTypes, recordingOptions, runAndSession, types } from './helpers.js';

let server: FakeResponsesServer;

beforeAll(async () => {
  server = await createFakeResponsesServer();
});

afterAll(async () => {
  await server.close();
});

function provider(scenario: string, overrides: Partial<CodexResponsesSettings> = {}) {
  return createCodexProvider({
    backend: 'responses',
    apiKey: 'sk-test',
    baseURL: server.url,
    maxRetries: 0,
    model: `scenario:${scenario}`,
    ...overrides,
  });
}

const weather: Tool<{ city: string }> = {
  name: 'get_weather',
  description: 'Current weather of a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  execute: ({ city }) => ({ city, sky: 'sunny', celsius: 21 }),
};

async function rejection(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

function lastRequest() {
  const request = server.requests.at(-1);
  if (!request) throw new Error('no request reached the fake server');
  return request;
}

describe('codex responses backend (openai client, fake Responses API)', () => {
  it('execute - streams text deltas, the message, usage with cached tokens, and completes', async () => {
    const adapter = provider('text', { systemPrompt: 'Be brief.' });
    const { run, session } = runAndSession('Say hello');
    const { options, events } = recordingOptions();
    const result = await adapter.execute(run, session, options);

    expect(foldedTypes(events)).toEqual([
      'run_started',
      'message_streamed*',
      'message_received',
      'token_usage_updated',
      'turn_completed',
      'run_completed',
    ]);
    expect(find(events, 'run_started')?.data).toEqual({ model: 'scenario:text' });
    const deltas = events.filter((event) => event.type === 'message_streamed').map((event) => event.data);
    expect(deltas.every((data) => data?.kind === 'text')).toBe(true);
    expect(deltas.map((data) => data?.delta).join('')).toBe('Hello from the fake Responses API.');
    expect(result.tokenUsage).toEqual({
      inputTokens: 60,
      outputTokens: 12,
      cacheReadTokens: 40,
      cacheWriteTokens: 0,
      totalTokens: 112,
    });
    expect(result).toMatchObject({
      output: { content: 'Hello from the fake Responses API.', stopReason: 'end_turn' },
      model: 'scenario:text',
      turnCount: 1,
      metadata: { backend: 'responses', responseIds: [expect.stringMatching(/^resp_fake_/)] },
    });

    const request = lastRequest();
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.body).toMatchObject({
      model: 'scenario:text',
      stream: true,
      store: false,
      instructions: 'Be brief.',
      input: [{ type: 'message', role: 'user', content: 'Say hello' }],
    });
    expect(request.body.tools).toBeUndefined();
  });

  it('execute - streams reasoning as thinking and reports reasoning tokens', async () => {
    const { run, session } = runAndSession();
    const { options, events } = recordingOptions();
    const result = await provider('reasoning').execute(run, session, options);
    const kinds = events
      .filter((event) => event.type === 'message_streamed')
      .map((event) => event.data?.kind);
    expect(kinds[0]).toBe('thinking');
    expect(kinds.at(-1)).toBe('text');
    expect(result.output.content).toBe('The answer is 42.');
    expect(result.metadata?.reasoningTokens).toBe(18);
    expect(find(events, 'token_usage_updated')?.data).toMatchObject({ reasoningTokens: 18 });
  });

  it('tool loop - runs the function call, sends its output back, and answers', async () => {
    const adapter = provider('tool-loop', { tools: [weather] });
    const { run, session } = runAndSession('Weather in Paris?');
    const asked: string[] = [];
    const { options, events } = recordingOptions({
      authorizeToolCall: async (call) => {
        asked.push(call.name);
        return { allow: true };
      },
    });
    const before = server.requests.length;
    const result = await adapter.execute(run, session, options);

    expect(asked).toEqual(['get_weather']);
    expect(foldedTypes(events)).toEqual([
      'run_started',
      'token_usage_updated',
      'turn_completed',
      'tool_call_started',
      'tool_call_completed',
      'message_streamed*',
      'message_received',
      'token_usage_updated',
      'turn_completed',
      'run_completed',
    ]);
    expect(find(events, 'tool_call_completed')?.data).toMatchObject({
      toolName: 'get_weather',
      toolInput: { city: 'Paris' },
      toolOutput: { city: 'Paris', sky: 'sunny', celsius: 21 },
    });
    expect(result.output.content).toBe('The tool answered: {"city":"Paris","sky":"sunny","celsius":21}');
    expect(result.turnCount).toBe(2);
    // Usage of both model calls: 120 + 160 input (100 cached), 9 + 14 output.
    expect(result.tokenUsage).toMatchObject({ inputTokens: 180, cacheReadTokens: 100, outputTokens: 23 });

    const [first, second] = server.requests.slice(before);
    expect(first?.body.tools).toEqual([
      {
        type: 'function',
        name: 'get_weather',
        description: 'Current weather of a city',
        parameters: weather.inputSchema,
        strict: false,
      },
    ]);
    expect(second?.body.input).toEqual([
      { type: 'message', role: 'user', content: 'Weather in Paris?' },
      {
        type: 'function_call',
        call_id: expect.any(String),
        name: 'get_weather',
        arguments: '{"city":"Paris"}',
      },
      {
        type: 'function_call_output',
        call_id: expect.any(String),
        output: '{"city":"Paris","sky":"sunny","celsius":21}',
      },
    ]);
  });

  it('tool loop - a denied call is reported to the model as an error', async () => {
    const adapter = provider('tool-loop', { tools: [weather] });
    const { options, events } = recordingOptions({
      authorizeToolCall: async () => ({ allow: false, reason: 'no weather today' }),
    });
    const result = await adapter.execute(runAndSession().run, runAndSession().session, options);
    expect(find(events, 'tool_call_failed')?.data).toMatchObject({
      errorMessage: 'Tool call denied: no weather today',
    });
    expect(result.output.content).toBe('The tool answered: Error: Tool call denied: no weather today');
  });

  it('tool loop - a run tool without execute ends the run with the call pending', async () => {
    const adapter = provider('tool-loop');
    const { options } = recordingOptions({
      tools: [{ name: 'get_weather', inputSchema: { type: 'object' } }],
    });
    const result = await adapter.execute(runAndSession().run, runAndSession().session, options);
    expect(result.output.stopReason).toBe('tool_use');
    expect(result.output.pendingToolCalls).toEqual([
      { id: expect.any(String), name: 'get_weather', input: { city: 'Paris' } },
    ]);
  });

  it('tool loop - maxTurns stops a model that keeps calling tools', async () => {
    const adapter = provider('tool-forever', { tools: [weather], maxTurns: 2 });
    const result = await adapter.execute(
      runAndSession().run,
      runAndSession().session,
      recordingOptions().options,
    );
    expect(result.output.stopReason).toBe('max_turns');
    expect(result.turnCount).toBe(2);
    expect(result.metadata?.maxTurnsReached).toBe(true);
  });

  it('response.failed - rejects provider_unavailable and ends with run_failed', async () => {
    const { options, events } = recordingOptions();
    const error = await rejection(
      provider('failed').execute(runAndSession().run, runAndSession().session, options),
    );
    expect(error.code).toBe('provider_unavailable');
    expect(error.message).toBe('The server had an error while processing your request.');
    expect(error.details.apiErrorCode).toBe('server_error');
    expect(error.providerError).toMatchObject({ provider: 'codex', kind: 'unavailable' });
    expect(events.at(-1)).toMatchObject({ type: 'run_failed', data: { errorCode: 'provider_unavailable' } });
  });

  it('response.failed with rate_limit_exceeded - rejects provider_rate_limited', async () => {
    const error = await rejection(
      provider('failed-rate-limit').execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(error.code).toBe('provider_rate_limited');
  });

  it('an error event mid-stream - rejects with the classified code', async () => {
    const { options, events } = recordingOptions();
    const error = await rejection(
      provider('error-event').execute(runAndSession().run, runAndSession().session, options),
    );
    expect(error.code).toBe('provider_unavailable');
    expect(events.at(-1)?.type).toBe('run_failed');
    const limited = await rejection(
      provider('error-event-rate-limit').execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(limited.code).toBe('provider_rate_limited');
  });

  it('HTTP 429 - rejects provider_rate_limited with status, request id and retry-after', async () => {
    const { options, events } = recordingOptions();
    const error = await rejection(
      provider('429').execute(runAndSession().run, runAndSession().session, options),
    );
    expect(error.code).toBe('provider_rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.details.retryAfterSeconds).toBe(7);
    expect(error.providerError).toMatchObject({
      status: 429,
      kind: 'rate_limit',
      requestId: lastRequest().requestId,
      retryAfterSeconds: 7,
    });
    expect(types(events)).toEqual(['run_started', 'run_failed']);
  });

  it('HTTP 401, 400 and 503 - map to authentication, provider_error and unavailable', async () => {
    const codeOf = async (scenario: string) =>
      (
        await rejection(
          provider(scenario).execute(
            runAndSession().run,
            runAndSession().session,
            recordingOptions().options,
          ),
        )
      ).code;
    expect(await codeOf('401')).toBe('provider_authentication_failed');
    expect(await codeOf('400')).toBe('provider_error');
    expect(await codeOf('503')).toBe('provider_unavailable');
  });

  it('a stream cut before response.completed - rejects provider_unavailable (stream_truncated)', async () => {
    const error = await rejection(
      provider('truncated').execute(runAndSession().run, runAndSession().session, recordingOptions().options),
    );
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError?.kind).toBe('stream_truncated');
  });

  it('response.incomplete - completes with stop reason max_tokens', async () => {
    const result = await provider('incomplete').execute(
      runAndSession().run,
      runAndSession().session,
      recordingOptions().options,
    );
    expect(result.output).toMatchObject({ content: 'This answer was cut', stopReason: 'max_tokens' });
  });

  it('abort - closes the stream and rejects cancelled, ending with run_cancelled', async () => {
    const adapter = provider('stall');
    const { run, session } = runAndSession();
    const { options, events, controller } = recordingOptions();
    options.emit = (event) => {
      events.push(event);
      if (event.type === 'message_streamed') setTimeout(() => controller.abort(), 20);
    };
    const error = await rejection(adapter.execute(run, session, options));
    expect(error.code).toBe('cancelled');
    expect(events.at(-1)?.type).toBe('run_cancelled');
    const request = lastRequest();
    await expect.poll(() => request.clientClosed).toBe(true);
  });

  it('idle timeout - a silent stream fails with provider_timeout', async () => {
    const error = await rejection(
      provider('stall', { idleTimeoutMs: 300 }).execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(error.code).toBe('provider_timeout');
    expect(error.providerError?.kind).toBe('timeout');
  });

  it('replay continuation, maxOutputTokens and reasoning effort - shape the request', async () => {
    const adapter = provider('echo', { reasoningEffort: 'low' });
    const { run, session } = runAndSession('And now?');
    const transcript: Transcript = {
      sessionId: session.id,
      metadata: {},
      messages: [
        { role: 'user', content: 'Weather?', metadata: {} },
        {
          role: 'assistant',
          toolCallId: 'c1',
          toolName: 'get_weather',
          toolInput: { city: 'Rome' },
          metadata: {},
        },
        {
          role: 'tool',
          toolCallId: 'c1',
          toolName: 'get_weather',
          toolOutput: { sky: 'rain' },
          metadata: {},
        },
        { role: 'assistant', content: 'Rainy.', metadata: {} },
      ],
    };
    const { options } = recordingOptions({
      maxOutputTokens: 256,
      continuation: { mode: 'replay', transcript, loadTranscript: async () => transcript },
    });
    const result = await adapter.execute(run, session, options);
    expect(result.output.content).toBe('You said: And now?');
    expect(lastRequest().body).toMatchObject({
      max_output_tokens: 256,
      reasoning: { effort: 'low' },
      input: [
        { type: 'message', role: 'user', content: 'Weather?' },
        { type: 'message', role: 'assistant', content: 'tool_call(c1): get_weather {"city":"Rome"}' },
        { type: 'message', role: 'user', content: 'tool_result(c1): get_weather {"sky":"rain"}' },
        { type: 'message', role: 'assistant', content: 'Rainy.' },
        { type: 'message', role: 'user', content: 'And now?' },
      ],
    });
  });

  it('permissionMode - is reported as a warning, since only app tools run here', async () => {
    const { options, events } = recordingOptions({ permissionMode: 'full_auto' });
    const result = await provider('text').execute(runAndSession().run, runAndSession().session, options);
    expect(result.warnings).toEqual([expect.stringMatching(/^permission_mode_ignored: /)]);
    expect(find(events, 'run_started')?.data?.warnings).toEqual(result.warnings);
  });

  it('runOnce - the manager replays the transcript on the next run and prices the usage', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: provider('echo', { model: 'scenario:echo' }) });
    const session = await manager.startSession({});
    await manager.executeRun((await manager.startRun(session.id, 'First')).id);
    const second = await manager.executeRun((await manager.startRun(session.id, 'Second')).id);
    expect(lastRequest().body.input).toEqual([
      { type: 'message', role: 'user', content: 'First' },
      { type: 'message', role: 'assistant', content: 'You said: First' },
      { type: 'message', role: 'user', content: 'Second' },
    ]);
    expect(second.output.content).toBe('You said: Second');
    expect(second.costUsd).toBeGreaterThan(0);
    await store.close();
  });
});
