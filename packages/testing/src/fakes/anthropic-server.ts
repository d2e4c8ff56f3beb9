import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, writeSseStream } from './http-helpers.js';
import { createResponseBook } from './response-book.js';

/**
 * A fake Anthropic Messages API on 127.0.0.1 for hermetic tests of anything built on
 * `@anthropic-ai/sdk`: it speaks the real SSE format (every event with an `event:` line,
 * `message_start` / `content_block_*` / `message_delta` / `message_stop`, `ping`, `error`), records
 * every request, and picks its answer by the request's `model`:
 *
 * - `scenario:<name>`: a built-in scenario (`FAKE_ANTHROPIC_SCENARIOS`, or one of `options.scenarios`);
 * - `script:<id>`: the next response of a script registered with `server.script([...])`;
 * - anything else: `options.defaultScenario` (default `text`).
 *
 * Responses queued with `server.enqueue(...)` are served first, whatever the model.
 */

/** Token counts of a fake answer; the wire names are derived from these. */
export interface FakeAnthropicUsage {
  /** `input_tokens` (excludes cache tokens, as on the real API). Default 25. */
  inputTokens?: number;
  /** `output_tokens`. Default: the number of deltas + 1. */
  outputTokens?: number;
  /** `cache_read_input_tokens`. Default 0. */
  cacheReadTokens?: number;
  /** `cache_creation_input_tokens`. Default 0. */
  cacheWriteTokens?: number;
  /** `cache_creation.ephemeral_1h_input_tokens` (the rest of the cache write is 5-minute). Default 0. */
  cacheWrite1hTokens?: number;
}

/** One content block of a fake answer. */
export type FakeAnthropicBlock =
  | {
      type: 'text';
      text: string;
      /** The `text_delta` pieces; default: the words of `text`. They should join to `text`. */
      chunks?: string[];
    }
  | { type: 'thinking'; thinking: string; signature?: string; chunks?: string[] }
  | { type: 'redacted_thinking'; data: string }
  | {
      type: 'tool_use';
      /** Default `toolu_fake_<request>_<block>`. */
      id?: string;
      name: string;
      input: Record<string, unknown>;
    };

/** How a streamed answer ends early. */
export interface FakeAnthropicInterrupt {
  /** Number of SSE events (ping included) sent before the interruption. */
  afterEvents: number;
  /**
   * - `truncate`: end the response cleanly without `message_stop`;
   * - `disconnect`: destroy the socket;
   * - `stall`: send nothing more and keep the connection open until the client goes away;
   * - `error`: send an `event: error` (`errorType`, default `overloaded_error`) and end.
   */
  mode: 'truncate' | 'disconnect' | 'stall' | 'error';
  errorType?: string;
  message?: string;
}

/** A streamed (or, for `stream: false` requests, JSON) assistant message. */
export interface FakeAnthropicMessage {
  kind?: 'message';
  content: FakeAnthropicBlock[];
  /** Default `tool_use` when a block is a `tool_use`, else `end_turn`. */
  stopReason?: string;
  usage?: FakeAnthropicUsage;
  /** Model named in `message_start`. Default: the requested model. */
  model?: string;
  /** Message id. Default `msg_fake_<request>`. */
  id?: string;
  interrupt?: FakeAnthropicInterrupt;
  /** Pause between SSE events; `0` yields to the event loop. Default: write the stream at once. */
  eventDelayMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** An HTTP error response with the API's error body. */
export interface FakeAnthropicHttpError {
  kind: 'http_error';
  status: number;
  /** `error.type` of the body. Default derived from the status (`rate_limit_error` for 429, …). */
  errorType?: string;
  message?: string;
  /** Extra headers (`retry-after`, `x-should-retry`, …). */
  headers?: Record<string, string>;
}

/** No response at all, not even headers, until the client goes away. */
export interface FakeAnthropicStall {
  kind: 'stall';
}

/** What the fake answers to one request. */
export type FakeAnthropicResponse = FakeAnthropicMessage | FakeAnthropicHttpError | FakeAnthropicStall;

/** The parsed JSON body of a Messages request (what the SDK sent). */
export interface FakeAnthropicRequestBody {
  model?: string;
  max_tokens?: number;
  messages?: { role: string; content: unknown }[];
  system?: unknown;
  tools?: { name: string; [key: string]: unknown }[];
  stream?: boolean;
  [key: string]: unknown;
}

/** One recorded request. */
export interface FakeAnthropicRequest {
  /** 1 for the first request the server received. */
  index: number;
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: FakeAnthropicRequestBody;
  /** The `request-id` header the fake answered with. */
  requestId: string;
  /** True when the client closed the connection before the response was complete (an abort). */
  clientClosed: boolean;
}

/** Builds the response to a request; scenarios and script entries can be functions of the request. */
export type FakeAnthropicResponder = (request: FakeAnthropicRequest) => FakeAnthropicResponse;

/** Options of `createFakeAnthropicServer`. */
export interface FakeAnthropicServerOptions {
  /** Extra scenarios by name (`scenario:<name>`), over the built-in ones. */
  scenarios?: Record<string, FakeAnthropicResponse | FakeAnthropicResponder>;
  /** Scenario for models without a `scenario:` or `script:` prefix. Default `text`. */
  defaultScenario?: string;
}

/** A running fake Messages API. */
export interface FakeAnthropicServer {
  /** `http://127.0.0.1:<port>`: the SDK's `baseURL`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: FakeAnthropicRequest[];
  /**
   * Registers responses served in order to requests whose model is the returned `script:<id>`;
   * a request after the last one gets a 400 saying the script is exhausted.
   */
  script(responses: (FakeAnthropicResponse | FakeAnthropicResponder)[]): string;
  /** Queues responses served to the next requests, whatever their model. */
  enqueue(...responses: (FakeAnthropicResponse | FakeAnthropicResponder)[]): void;
  /** Forgets recorded requests, queued responses and scripts; request numbering starts again at 1. */
  reset(): void;
  /** Stops the server, closing open (stalled) connections. */
  close(): Promise<void>;
}

type Entry = FakeAnthropicResponse | FakeAnthropicResponder;

const text = (value: string): FakeAnthropicBlock => ({ type: 'text', text: value });

function lastUserContent(request: FakeAnthropicRequest): unknown[] {
  const messages = request.body.messages ?? [];
  const last = messages[messages.length - 1];
  if (last?.role !== 'user') return [];
  return typeof last.content === 'string'
    ? [{ type: 'text', text: last.content }]
    : Array.isArray(last.content)
      ? last.content
      : [];
}

interface ToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: unknown;
  is_error?: boolean;
}

function toolResultsOf(request: FakeAnthropicRequest): ToolResultBlock[] {
  return lastUserContent(request).filter(
    (block): block is ToolResultBlock =>
      typeof block === 'object' && block !== null && (block as { type?: unknown }).type === 'tool_result',
  );
}

function resultText(block: ToolResultBlock): string {
  const content = block.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === 'object' && part !== null ? String((part as { text?: unknown }).text ?? '') : '',
      )
      .join('');
  }
  return '';
}

function lastUserText(request: FakeAnthropicRequest): string {
  return lastUserContent(request)
    .map((block) =>
      typeof block === 'object' && block !== null && (block as { type?: unknown }).type === 'text'
        ? String((block as { text?: unknown }).text ?? '')
        : '',
    )
    .join('');
}

function httpError(
  status: number,
  message: string,
  headers?: Record<string, string>,
): FakeAnthropicHttpError {
  return { kind: 'http_error', status, message, ...(headers ? { headers } : {}) };
}

/**
 * The built-in scenarios, chosen with the model `scenario:<name>`:
 *
 * | name | answer |
 * |---|---|
 * | `text` | "Hello from the fake Anthropic server." in word deltas |
 * | `echo` | "You said: <last user text>" |
 * | `thinking` | a thinking block (signature `sig_fake`), then "The answer is 42." |
 * | `tool-loop` | "Let me check." + `get_weather({city:'Paris'})`; once the last user message holds tool results: "The tool answered: <result>" (or "The tool failed: <result>") |
 * | `parallel-tools` | `get_weather` for Paris and for London in one turn; then "Results: <a> \| <b>" |
 * | `tool-forever` | always asks for `get_weather` |
 * | `cache-usage` | text with usage input 10, output 20, cache read 1000, cache write 500 (200 of it 1-hour) |
 * | `max-tokens` | text stopped by `max_tokens` |
 * | `error-mid-stream` | three deltas, then `event: error` `overloaded_error` |
 * | `truncated` | three deltas, then the response ends without `message_stop` |
 * | `disconnect` | three deltas, then the socket is destroyed |
 * | `stall` | `message_start` and one delta, then nothing until the client goes away |
 * | `stall-headers` | no response at all until the client goes away |
 * | `deltas-<N>` | N text deltas of `tok ` |
 * | `400`, `401`, `403`, `404`, `429`, `500`, `503`, `529` | that HTTP error with the API's error body; 429 sends `retry-after: 7` |
 */
export const FAKE_ANTHROPIC_SCENARIOS: Readonly<Record<string, Entry>> = {
  text: { content: [text('Hello from the fake Anthropic server.')], usage: { inputTokens: 25 } },
  echo: (request) => ({ content: [text(`You said: ${lastUserText(request)}`)] }),
  thinking: {
    content: [
      { type: 'thinking', thinking: 'Let me think about this carefully.', signature: 'sig_fake' },
      text('The answer is 42.'),
    ],
    usage: { inputTokens: 30, outputTokens: 40 },
  },
  'tool-loop': (request) => {
    const results = toolResultsOf(request);
    const first = results[0];
    if (first) {
      const verb = first.is_error ? 'failed' : 'answered';
      return { content: [text(`The tool ${verb}: ${resultText(first)}`)], usage: { inputTokens: 60 } };
    }
    return {
      content: [text('Let me check.'), { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } }],
      usage: { inputTokens: 40 },
    };
  },
  'parallel-tools': (request) => {
    const results = toolResultsOf(request);
    if (results.length > 0) {
      return { content: [text(`Results: ${results.map(resultText).join(' | ')}`)] };
    }
    return {
      content: [
        { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', name: 'get_weather', input: { city: 'London' } },
      ],
    };
  },
  'tool-forever': {
    content: [text('Once more.'), { type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } }],
  },
  'cache-usage': {
    content: [text('Cached answer.')],
    usage: {
      inputTokens: 10,
      outputTokens: 20,
      cacheReadTokens: 1000,
      cacheWriteTokens: 500,
      cacheWrite1hTokens: 200,
    },
  },
  'max-tokens': { content: [text('This answer was cut')], stopReason: 'max_tokens' },
  'error-mid-stream': {
    content: [text('Partial answer that never ends')],
    interrupt: { afterEvents: 6, mode: 'error', errorType: 'overloaded_error', message: 'Overloaded' },
  },
  truncated: {
    content: [text('Partial answer that never ends')],
    interrupt: { afterEvents: 6, mode: 'truncate' },
  },
  disconnect: {
    content: [text('Partial answer that never ends')],
    interrupt: { afterEvents: 6, mode: 'disconnect' },
  },
  stall: {
    content: [text('Waiting forever')],
    usage: { inputTokens: 25 },
    interrupt: { afterEvents: 4, mode: 'stall' },
  },
  'stall-headers': { kind: 'stall' },
  '400': httpError(400, 'messages: at least one message is required'),
  '401': httpError(401, 'invalid x-api-key'),
  '403': httpError(403, 'Your API key does not have permission to use the specified resource.'),
  '404': httpError(404, 'model: not found'),
  '429': httpError(429, 'Number of request tokens has exceeded your per-minute rate limit', {
    'retry-after': '7',
  }),
  '500': httpError(500, 'Internal server error'),
  '503': httpError(503, 'Service unavailable'),
  '529': httpError(529, 'Overloaded'),
};

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function deltasScenario(name: string): FakeAnthropicMessage | undefined {
  const match = /^deltas-(\d+)$/.exec(name);
  if (!match) return undefined;
  const count = Number(match[1]);
  const chunks = new Array<string>(count).fill('tok ');
  return { content: [{ type: 'text', text: chunks.join(''), chunks }], usage: { inputTokens: 25 } };
}

function sse(type: string, payload: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

function splitWords(value: string): string[] {
  const words = value.match(/\s*\S+\s*/g);
  return words && words.join('') === value ? words : [value];
}

interface BuiltMessage {
  events: string[];
  json: Record<string, unknown>;
}

/** The SSE events (and the equivalent JSON message) of a fake answer. */
function buildMessage(message: FakeAnthropicMessage, request: FakeAnthropicRequest): BuiltMessage {
  const model = message.model ?? request.body.model ?? 'claude-fake';
  const id = message.id ?? `msg_fake_${request.index}`;
  const hasToolUse = message.content.some((block) => block.type === 'tool_use');
  const stopReason = message.stopReason ?? (hasToolUse ? 'tool_use' : 'end_turn');
  const events: string[] = [];
  const finalBlocks: Record<string, unknown>[] = [];
  let deltaCount = 0;
  const usage = message.usage ?? {};
  const cacheWrite = usage.cacheWriteTokens ?? 0;
  const cacheWrite1h = Math.min(usage.cacheWrite1hTokens ?? 0, cacheWrite);
  const wireUsage = {
    input_tokens: usage.inputTokens ?? 25,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: usage.cacheReadTokens ?? 0,
  };

  events.push(
    sse('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          ...wireUsage,
          output_tokens: 1,
          cache_creation: {
            ephemeral_5m_input_tokens: cacheWrite - cacheWrite1h,
            ephemeral_1h_input_tokens: cacheWrite1h,
          },
          output_tokens_details: null,
          server_tool_use: null,
          service_tier: 'standard',
          speed: null,
          inference_geo: null,
        },
      },
    }),
  );
  events.push(sse('ping', {}));

  message.content.forEach((block, index) => {
    switch (block.type) {
      case 'text': {
        events.push(
          sse('content_block_start', { index, content_block: { type: 'text', text: '', citations: null } }),
        );
        for (const chunk of block.chunks ?? splitWords(block.text)) {
          deltaCount++;
          events.push(sse('content_block_delta', { index, delta: { type: 'text_delta', text: chunk } }));
        }
        finalBlocks.push({ type: 'text', text: block.text, citations: null });
        break;
      }
      case 'thinking': {
        const signature = block.signature ?? 'sig_fake';
        events.push(
          sse('content_block_start', {
            index,
            content_block: { type: 'thinking', thinking: '', signature: '' },
          }),
        );
        for (const chunk of block.chunks ?? splitWords(block.thinking)) {
          deltaCount++;
          events.push(
            sse('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: chunk } }),
          );
        }
        events.push(sse('content_block_delta', { index, delta: { type: 'signature_delta', signature } }));
        finalBlocks.push({ type: 'thinking', thinking: block.thinking, signature });
        break;
      }
      case 'redacted_thinking': {
        events.push(
          sse('content_block_start', {
            index,
            content_block: { type: 'redacted_thinking', data: block.data },
          }),
        );
        finalBlocks.push({ type: 'redacted_thinking', data: block.data });
        break;
      }
      case 'tool_use': {
        const toolId = block.id ?? `toolu_fake_${request.index}_${index}`;
        events.push(
          sse('content_block_start', {
            index,
            content_block: { type: 'tool_use', id: toolId, name: block.name, input: {} },
          }),
        );
        const json = JSON.stringify(block.input);
        const middle = Math.floor(json.length / 2);
        for (const piece of ['', json.slice(0, middle), json.slice(middle)]) {
          deltaCount++;
          events.push(
            sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } }),
          );
        }
        finalBlocks.push({ type: 'tool_use', id: toolId, name: block.name, input: block.input });
        break;
      }
      default: {
        const unhandled: never = block;
        throw new Error(`Unhandled fake block: ${JSON.stringify(unhandled)}`);
      }
    }
    events.push(sse('content_block_stop', { index }));
  });

  const outputTokens = usage.outputTokens ?? deltaCount + 1;
  events.push(
    sse('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null, container: null },
      usage: {
        ...wireUsage,
        output_tokens: outputTokens,
        output_tokens_details: null,
        server_tool_use: null,
      },
    }),
  );
  events.push(sse('message_stop', {}));

  const json = {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content: finalBlocks,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      ...wireUsage,
      output_tokens: outputTokens,
      cache_creation: {
        ephemeral_5m_input_tokens: cacheWrite - cacheWrite1h,
        ephemeral_1h_input_tokens: cacheWrite1h,
      },
    },
  };
  return { events, json };
}

function errorBody(type: string, message: string, requestId: string): string {
  return JSON.stringify({ type: 'error', error: { type, message }, request_id: requestId });
}

/**
 * Starts a fake Anthropic Messages API on 127.0.0.1 (a free port). `POST /v1/messages` with any
 * query string; other paths get a 404 `not_found_error`. Has no test-runner dependency.
 *
 * ```ts
 * const server = await createFakeAnthropicServer();
 * const client = new Anthropic({ apiKey: 'test', baseURL: server.url, maxRetries: 0 });
 * await client.messages.create({ model: 'scenario:tool-loop', max_tokens: 100, messages, stream: true });
 * server.requests[0]?.body.messages; // what the SDK sent
 * await server.close();
 * ```
 */
export async function createFakeAnthropicServer(
  options: FakeAnthropicServerOptions = {},
): Promise<FakeAnthropicServer> {
  const requests: FakeAnthropicRequest[] = [];
  let requestCounter = 0;
  const scenarios: Record<string, Entry> = { ...FAKE_ANTHROPIC_SCENARIOS, ...(options.scenarios ?? {}) };
  const defaultScenario = options.defaultScenario ?? 'text';

  const book = createResponseBook<FakeAnthropicRequest, FakeAnthropicResponse>({
    scenarios,
    defaultScenario,
    madeUp: deltasScenario,
    badRequest: (message) => ({ kind: 'http_error', status: 400, message }),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const index = ++requestCounter;
    const requestId = `req_fake_${index}`;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    let body: FakeAnthropicRequestBody = {};
    try {
      body = raw === '' ? {} : (JSON.parse(raw) as FakeAnthropicRequestBody);
    } catch {
      body = {};
    }
    const request: FakeAnthropicRequest = {
      index,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      requestId,
      clientClosed: false,
    };
    requests.push(request);
    res.on('close', () => {
      if (!res.writableFinished) request.clientClosed = true;
    });

    if (req.method !== 'POST' || url.pathname !== '/v1/messages') {
      res.writeHead(404, { 'content-type': 'application/json', 'request-id': requestId });
      res.end(errorBody('not_found_error', `Not found: ${req.method} ${url.pathname}`, requestId));
      return;
    }

    const response = book.resolve(request, request.body.model ?? '');
    if (response.kind === 'stall') return; // the socket stays open until the client or close() ends it
    if (response.kind === 'http_error') {
      const type = response.errorType ?? ERROR_TYPES[response.status] ?? 'api_error';
      res.writeHead(response.status, {
        'content-type': 'application/json',
        'request-id': requestId,
        ...(response.headers ?? {}),
      });
      res.end(errorBody(type, response.message ?? type, requestId));
      return;
    }

    const built = buildMessage(response, request);
    const headers = { 'request-id': requestId, ...(response.headers ?? {}) };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(built.json));
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...headers,
    });
    const interrupt = response.interrupt;
    const limit = interrupt ? Math.min(interrupt.afterEvents, built.events.length) : built.events.length;
    await writeSseStream(res, built.events.slice(0, limit), {
      eventDelayMs: response.eventDelayMs,
      interrupt,
      errorChunk: () =>
        sse('error', {
          error: {
            type: interrupt?.errorType ?? 'overloaded_error',
            message: interrupt?.message ?? 'Overloaded',
          },
        }),
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(errorBody('api_error', `Fake server failure: ${String(error)}`, 'req_fake_error'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script(responses) {
      return book.script(responses);
    },
    enqueue(...responses) {
      book.enqueue(responses);
    },
    reset() {
      requestCounter = 0;
      requests.length = 0;
      book.reset();
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
