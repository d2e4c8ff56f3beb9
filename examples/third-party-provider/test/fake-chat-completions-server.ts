import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake OpenAI-compatible Chat Completions API on 127.0.0.1, speaking the real wire format
 * (`data: {chunk}` SSE lines, `data: [DONE]`, the `{ error: {...} }` body). The request's `model`
 * picks the answer:
 *
 * | model | answer |
 * |---|---|
 * | `text` | "Hello from the fake server." in four deltas, `finish_reason: stop`, usage when asked |
 * | `echo` | "You said: <last user message>" |
 * | `reasoning` | two `reasoning_content` deltas, then "The answer is 42." |
 * | `tool-loop` | a `get_weather({"city":"Paris"})` call in two argument fragments; once the last message is a tool result: "The tool answered: <result>" |
 * | `stall` | headers and one delta, then nothing until the client goes away |
 * | `truncated` | two deltas, then the body ends without `finish_reason` or `[DONE]` |
 * | `error-mid-stream` | two deltas, then `data: {"error":{..."code":503}}` |
 * | `status-<N>` | HTTP N with an error body (`retry-after: 3` on 429) |
 * | `insufficient-quota` | HTTP 429 with `code: insufficient_quota` |
 */

/** One request the server received. */
export interface FakeChatRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: {
    model?: string;
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    messages?: { role: string; content?: string | null; tool_call_id?: string; tool_calls?: unknown[] }[];
    tools?: unknown[];
    max_tokens?: number;
    [key: string]: unknown;
  };
  /** Resolves when the connection of this request closed (the client went away or the answer ended). */
  closed: Promise<void>;
  /** True once the client closed the connection before the answer was complete. */
  clientClosedEarly: boolean;
}

/** A running fake server. */
export interface FakeChatCompletionsServer {
  /** `http://127.0.0.1:<port>`; the provider's `baseURL` is this plus `/v1`. */
  readonly url: string;
  readonly requests: FakeChatRequest[];
  close(): Promise<void>;
}

type Chunk = Record<string, unknown>;

function chunk(model: string, delta: Record<string, unknown>, finishReason: string | null = null): Chunk {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  };
}

function words(text: string): string[] {
  return text.split(/(?<= )/);
}

function lastMessage(request: FakeChatRequest) {
  return request.body.messages?.at(-1);
}

/** The SSE chunks of a complete text answer. */
function textAnswer(request: FakeChatRequest, text: string, reasoning: string[] = []): Chunk[] {
  const model = request.body.model ?? 'fake';
  const chunks: Chunk[] = [chunk(model, { role: 'assistant', content: '' })];
  for (const piece of reasoning) chunks.push(chunk(model, { reasoning_content: piece }));
  for (const piece of words(text)) chunks.push(chunk(model, { content: piece }));
  chunks.push(chunk(model, {}, 'stop'));
  return chunks;
}

function usageChunk(request: FakeChatRequest, completionTokens: number): Chunk[] {
  if (request.body.stream_options?.include_usage !== true) return [];
  return [
    {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      model: request.body.model,
      choices: [],
      usage: {
        prompt_tokens: 20,
        completion_tokens: completionTokens,
        total_tokens: 20 + completionTokens,
        prompt_tokens_details: { cached_tokens: 4 },
      },
    },
  ];
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function createFakeChatCompletionsServer(): Promise<FakeChatCompletionsServer> {
  const requests: FakeChatRequest[] = [];
  const open = new Set<ServerResponse>();

  const sendError = (
    response: ServerResponse,
    status: number,
    error: Record<string, unknown>,
    headers = {},
  ) => {
    response.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': 'req_fake',
      ...headers,
    });
    response.end(JSON.stringify({ error }));
  };

  const server = createServer((incoming, response) => {
    let raw = '';
    incoming.setEncoding('utf8');
    incoming.on('data', (part: string) => {
      raw += part;
    });
    incoming.on('end', () => {
      let resolveClosed!: () => void;
      const request: FakeChatRequest = {
        path: incoming.url ?? '',
        headers: incoming.headers,
        body: raw === '' ? {} : (JSON.parse(raw) as FakeChatRequest['body']),
        closed: new Promise<void>((resolve) => {
          resolveClosed = resolve;
        }),
        clientClosedEarly: false,
      };
      requests.push(request);
      open.add(response);
      response.on('close', () => {
        if (!response.writableEnded) request.clientClosedEarly = true;
        open.delete(response);
        resolveClosed();
      });

      if (incoming.method !== 'POST' || request.path !== '/v1/chat/completions') {
        sendError(response, 404, {
          message: `No route ${incoming.method} ${request.path}`,
          type: 'invalid_request_error',
        });
        return;
      }
      const model = request.body.model ?? '';
      const status = /^status-(\d{3})$/.exec(model);
      if (status) {
        const code = Number(status[1]);
        sendError(
          response,
          code,
          {
            message: `Fake failure ${code}`,
            type: code === 401 ? 'invalid_api_key' : 'api_error',
            code: null,
          },
          code === 429 ? { 'retry-after': '3' } : {},
        );
        return;
      }
      if (model === 'insufficient-quota') {
        sendError(response, 429, {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        });
        return;
      }

      response.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-request-id': 'req_fake',
      });
      const write = (data: Chunk | string) =>
        response.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
      const finish = (chunks: Chunk[], completionTokens: number) => {
        for (const item of [...chunks, ...usageChunk(request, completionTokens)]) write(item);
        write('[DONE]');
        response.end();
      };

      switch (model) {
        case 'text':
          finish(textAnswer(request, 'Hello from the fake server.'), 4);
          return;
        case 'echo': {
          const last = lastMessage(request);
          finish(textAnswer(request, `You said: ${last?.content ?? ''}`), 3);
          return;
        }
        case 'reasoning':
          finish(textAnswer(request, 'The answer is 42.', ['Let me think. ', 'Six times seven.']), 9);
          return;
        case 'tool-loop': {
          const last = lastMessage(request);
          if (last?.role === 'tool') {
            finish(textAnswer(request, `The tool answered: ${last.content ?? ''}`), 5);
            return;
          }
          const call = (fields: Record<string, unknown>) =>
            chunk(model, { tool_calls: [{ index: 0, ...fields }] });
          finish(
            [
              chunk(model, { role: 'assistant', content: null }),
              call({ id: 'call_fake_1', type: 'function', function: { name: 'get_weather', arguments: '' } }),
              call({ function: { arguments: '{"city":' } }),
              call({ function: { arguments: '"Paris"}' } }),
              chunk(model, {}, 'tool_calls'),
            ],
            7,
          );
          return;
        }
        case 'stall':
          write(chunk(model, { role: 'assistant', content: 'Thinking' }));
          return; // nothing more until the client goes away
        case 'truncated':
          write(chunk(model, { role: 'assistant', content: 'Partial ' }));
          write(chunk(model, { content: 'answer' }));
          response.end();
          return;
        case 'error-mid-stream':
          write(chunk(model, { role: 'assistant', content: 'Partial ' }));
          write(chunk(model, { content: 'answer' }));
          write({ error: { message: 'Upstream overloaded', type: 'server_error', code: 503 } });
          response.end();
          return;
        default:
          finish(textAnswer(request, 'Hello from the fake server.'), 4);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const response of open) response.destroy();
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
