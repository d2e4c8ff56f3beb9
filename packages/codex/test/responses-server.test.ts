import { createFakeResponsesServer, type FakeResponsesServer } from '@asm/testing/fakes';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fake from @asm/testing/fakes checked against the openai SDK's own stream helper, which
// rebuilds the response from the events and rejects an incoherent stream.

let server: FakeResponsesServer;
let client: OpenAI;

beforeAll(async () => {
  server = await createFakeResponsesServer();
  client = new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
});

describe('createFakeResponsesServer (with the openai client)', () => {
  it('streams a response the SDK helper assembles: text, reasoning and a function call', async () => {
    const model = server.script([
      {
        output: [
          { type: 'reasoning', summary: 'Let me see.' },
          { type: 'message', text: 'Checking the weather.' },
          { type: 'function_call', name: 'get_weather', arguments: { city: 'Paris' }, callId: 'call_1' },
        ],
        usage: { inputTokens: 50, cachedTokens: 10, outputTokens: 20, reasoningTokens: 5 },
      },
    ]);
    const stream = client.responses.stream({ model, input: 'Weather?' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
    const response = await stream.finalResponse();
    expect(deltas.join('')).toBe('Checking the weather.');
    expect(response.status).toBe('completed');
    expect(response.output_text).toBe('Checking the weather.');
    expect(response.output.map((item) => item.type)).toEqual(['reasoning', 'message', 'function_call']);
    expect(response.usage).toMatchObject({
      input_tokens: 50,
      input_tokens_details: { cached_tokens: 10 },
      output_tokens: 20,
      output_tokens_details: { reasoning_tokens: 5 },
    });
  });

  it('answers stream: false requests with the JSON response', async () => {
    const response = await client.responses.create({ model: 'scenario:text', input: 'Hi' });
    expect(response.output_text).toBe('Hello from the fake Responses API.');
  });

  it('records requests and picks the scenario by model; queued responses come first', async () => {
    server.enqueue({ kind: 'http_error', status: 500, message: 'queued failure' });
    await expect(client.responses.create({ model: 'scenario:text', input: 'Hi' })).rejects.toMatchObject({
      status: 500,
    });
    await expect(client.responses.create({ model: 'scenario:429', input: 'Hi' })).rejects.toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
    });
    const last = server.requests.at(-1);
    expect(last).toMatchObject({
      method: 'POST',
      path: '/v1/responses',
      body: { model: 'scenario:429', input: 'Hi' },
    });
    expect(last?.headers.authorization).toBe('Bearer sk-test');
  });

  it('answers anything but POST /v1/responses with 404', async () => {
    const response = await fetch(`${server.url}/responses`);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});
