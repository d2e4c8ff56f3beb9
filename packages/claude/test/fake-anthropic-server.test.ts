import Anthropic from '@anthropic-ai/sdk';
import { createFakeAnthropicServer, type FakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fake lives in @asm/testing/fakes; it is exercised here with the real SDK it stands in for.
let server: FakeAnthropicServer;
let client: Anthropic;
beforeAll(async () => {
  server = await createFakeAnthropicServer({
    scenarios: { custom: { content: [{ type: 'text', text: 'custom scenario' }] } },
  });
  client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
});
afterAll(() => server.close());

const ask = (model: string, stream = true) =>
  client.messages.create({
    model,
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
    stream,
  } as never);

async function collectText(model: string): Promise<string> {
  let text = '';
  for await (const event of (await ask(model)) as unknown as AsyncIterable<Anthropic.RawMessageStreamEvent>) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
  }
  return text;
}

describe('createFakeAnthropicServer', () => {
  it('accepts any query string on POST /v1/messages and records the request', async () => {
    const response = await fetch(`${server.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'scenario:custom', max_tokens: 5, messages: [], stream: true }),
    });
    const body = await response.text();
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(
      body
        .split('\n\n')
        .filter(Boolean)
        .every((event) => event.startsWith('event: ')),
    ).toBe(true);
    expect(body).toContain('event: ping');
    const recorded = server.requests.at(-1);
    expect(recorded?.query).toEqual({ beta: 'true' });
    expect(recorded?.body.model).toBe('scenario:custom');
  });

  it('answers other paths with a 404 not_found_error', async () => {
    const response = await fetch(`${server.url}/v1/complete`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('answers stream:false requests with the JSON message', async () => {
    const message = (await ask('scenario:cache-usage', false)) as Anthropic.Message;
    expect(message.content).toEqual([{ type: 'text', text: 'Cached answer.', citations: null }]);
    expect(message.usage).toMatchObject({ cache_read_input_tokens: 1000, cache_creation_input_tokens: 500 });
  });

  it('serves deltas-N, custom scenarios, scripts in order and queued responses first', async () => {
    expect(await collectText('scenario:deltas-3')).toBe('tok tok tok ');
    expect(await collectText('scenario:custom')).toBe('custom scenario');
    const model = server.script([
      { content: [{ type: 'text', text: 'first' }] },
      (request) => ({ content: [{ type: 'text', text: `second for ${request.body.model}` }] }),
    ]);
    server.enqueue({ content: [{ type: 'text', text: 'queued' }] });
    expect(await collectText(model)).toBe('queued');
    expect(await collectText(model)).toBe('first');
    expect(await collectText(model)).toBe(`second for ${model}`);
    await expect(collectText(model)).rejects.toMatchObject({ status: 400 });
    await expect(collectText('scenario:nope')).rejects.toMatchObject({ status: 400 });
  });
});
