import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, writeSseStream } from './http-helpers.js';
import { createResponseBook } from './response-book.js';

/**
 * A fake OpenAI Responses API on 127.0.0.1 for hermetic tests of anything that speaks it: the
 * `openai` SDK (`client.responses.create({ stream: true })`) and the real `codex` binary (configured
 * with a custom model provider whose `base_url` is `server.url`). It streams the real SSE format
 * (`event: <type>` + `data: {"type", "sequence_number", …}`: `response.created`,
 * `response.in_progress`, `response.output_item.added`, `response.content_part.added`,
 * `response.output_text.delta`, …, `response.completed` / `response.failed` /
 * `response.incomplete`, and the top-level `error` event), records every request, and picks its
 * answer by the request's `model`:
 *
 * - `scenario:<name>` or exactly `<name>`: a built-in scenario (`FAKE_RESPONSES_SCENARIOS`) or one
 *   of `options.scenarios`;
 * - `script:<id>`: the next response of a script registered with `server.script([...])`;
 * - anything else (a real model name such as `gpt-5`): `options.defaultScenario` (default `text`).
 *
 * Responses queued with `server.enqueue(...)` are served first, whatever the model.
 */

/** Token counts of a fake answer; the wire names (`input_tokens`, …) are derived from these. */
export interface FakeResponsesUsage {
  /** `input_tokens`, cached tokens included (as on the real API). Default 100. */
  inputTokens?: number;
  /** `input_tokens_details.cached_tokens` (a part of `inputTokens`). Default 0. */
  cachedTokens?: number;
  /** `input_tokens_details.cache_write_tokens` (a part of `inputTokens`). Default 0. */
  cacheWriteTokens?: number;
  /** `output_tokens`, reasoning tokens included. Default: the number of deltas + 1. */
  outputTokens?: number;
  /** `output_tokens_details.reasoning_tokens` (a part of `outputTokens`). Default 0. */
  reasoningTokens?: number;
}

/** One output item of a fake answer. */
export type FakeResponsesOutputItem =
  | {
      type: 'message';
      text: string;
      /** The `response.output_text.delta` pieces; default: the words of `text`. They should join to `text`. */
      chunks?: string[];
    }
  | {
      type: 'reasoning';
      /** The reasoning summary, streamed as `response.reasoning_summary_text.delta`. */
      summary: string;
      chunks?: string[];
    }
  | {
      type: 'function_call';
      name: string;
      /** The arguments: a JSON string as it goes on the wire, or an object to serialize. */
      arguments: string | Record<string, unknown>;
      /** Default `call_fake_<request>_<index>`. */
      callId?: string;
    };

/** How a streamed answer ends early. */
export interface FakeResponsesInterrupt {
  /** Number of SSE events sent before the interruption. */
  afterEvents: number;
  /**
   * - `truncate`: end the response cleanly without a terminal `response.*` event;
   * - `disconnect`: destroy the socket;
   * - `stall`: send nothing more and keep the connection open until the client goes away;
   * - `error`: send the top-level `error` event (`code`, `message`) and end.
   */
  mode: 'truncate' | 'disconnect' | 'stall' | 'error';
  code?: string;
  message?: string;
}

/** A streamed answer (`stream: true`), or its JSON form for `stream: false` requests. */
export interface FakeResponsesStream {
  kind?: 'response';
  output: FakeResponsesOutputItem[];
  usage?: FakeResponsesUsage;
  /**
   * How the response ends: `response.completed` (default), `response.failed` with `error`, or
   * `response.incomplete` with `incompleteReason`.
   */
  status?: 'completed' | 'failed' | 'incomplete';
  /** The error of a `failed` response. Default `{ code: 'server_error', message: 'The server had an error…' }`. */
  error?: { code: string; message: string };
  /** `incomplete_details.reason` of an `incomplete` response. Default `max_output_tokens`. */
  incompleteReason?: string;
  /** Model named in the response. Default: the requested model. */
  model?: string;
  /** Response id. Default `resp_fake_<request>`. */
  id?: string;
  interrupt?: FakeResponsesInterrupt;
  /** Pause between SSE events; `0` yields to the event loop. Default: write the stream at once. */
  eventDelayMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/** An HTTP error response with the API's error body `{ error: { message, type, code, param } }`. */
export interface FakeResponsesHttpError {
  kind: 'http_error';
  status: number;
  /** `error.type`. Default derived from the status (`rate_limit_exceeded` → `requests` for 429, …). */
  errorType?: string;
  /** `error.code`. Default derived from the status. */
  code?: string;
  message?: string;
  /** Extra headers (`retry-after`, …). */
  headers?: Record<string, string>;
}

/** No response at all, not even headers, until the client goes away. */
export interface FakeResponsesStall {
  kind: 'stall';
}

/** What the fake answers to one request. */
export type FakeResponsesResponse = FakeResponsesStream | FakeResponsesHttpError | FakeResponsesStall;

/** The parsed JSON body of a Responses request (what the client sent). */
export interface FakeResponsesRequestBody {
  model?: string;
  input?: string | Record<string, unknown>[];
  instructions?: string;
  tools?: { type?: string; name?: string; [key: string]: unknown }[];
  stream?: boolean;
  [key: string]: unknown;
}

/** One recorded request. */
export interface FakeResponsesRequest {
  /** 1 for the first request the server received. */
  index: number;
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  body: FakeResponsesRequestBody;
  /** The `x-request-id` header the fake answered with. */
  requestId: string;
  /** True when the client closed the connection before the response was complete (an abort). */
  clientClosed: boolean;
}

/** Builds the response to a request; scenarios and script entries can be functions of the request. */
export type FakeResponsesResponder = (request: FakeResponsesRequest) => FakeResponsesResponse;

/** Options of `createFakeResponsesServer`. */
export interface FakeResponsesServerOptions {
  /** Extra scenarios by name, over the built-in ones. */
  scenarios?: Record<string, FakeResponsesResponse | FakeResponsesResponder>;
  /** Scenario for models that name no scenario or script. Default `text`. */
  defaultScenario?: string;
  /**
   * The command the `command` scenario asks the Codex CLI to run (through its `exec_command` or
   * `shell` tool). Default `echo codex-was-here > proof.txt && cat proof.txt`.
   */
  command?: string;
}

/** A running fake Responses API. */
export interface FakeResponsesServer {
  /** `http://127.0.0.1:<port>/v1`: the `baseURL` of the `openai` client, the `base_url` of a Codex provider. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: FakeResponsesRequest[];
  /**
   * Registers responses served in order to requests whose model is the returned `script:<id>`;
   * a request after the last one gets a 400 saying the script is exhausted.
   */
  script(responses: (FakeResponsesResponse | FakeResponsesResponder)[]): string;
  /** Queues responses served to the next requests, whatever their model. */
  enqueue(...responses: (FakeResponsesResponse | FakeResponsesResponder)[]): void;
  /** Forgets recorded requests, queued responses and scripts. */
  reset(): void;
  /** Stops the server, closing open (stalled) connections. */
  close(): Promise<void>;
}

type Entry = FakeResponsesResponse | FakeResponsesResponder;

/** The default command of the `command` scenario. */
export const FAKE_RESPONSES_DEFAULT_COMMAND = 'echo codex-was-here > proof.txt && cat proof.txt';

function inputItems(request: FakeResponsesRequest): Record<string, unknown>[] {
  const input = request.body.input;
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: input }];
  return Array.isArray(input) ? input.filter((item) => typeof item === 'object' && item !== null) : [];
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) =>
      typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string'
        ? (part as { text: string }).text
        : '',
    )
    .join('');
}

/** The last user message or function call output of the input: what the model answers now. */
function lastTurnItem(request: FakeResponsesRequest): Record<string, unknown> | undefined {
  const items = inputItems(request);
  for (let index = items.length - 1; index >= 0; index--) {
    const item = items[index] as Record<string, unknown>;
    if (item.type === 'function_call_output') return item;
    if ((item.type === 'message' || item.type === undefined) && item.role === 'user') return item;
  }
  return undefined;
}

function outputText(output: unknown): string {
  if (typeof output === 'string') return output;
  return contentText(output) || JSON.stringify(output ?? null);
}

/** Text of the last user message of a request (`''` when there is none). */
export function fakeResponsesLastUserText(request: FakeResponsesRequest): string {
  const items = inputItems(request);
  for (let index = items.length - 1; index >= 0; index--) {
    const item = items[index] as Record<string, unknown>;
    if ((item.type === 'message' || item.type === undefined) && item.role === 'user') {
      return contentText(item.content);
    }
  }
  return '';
}

function httpError(
  status: number,
  message: string,
  headers?: Record<string, string>,
): FakeResponsesHttpError {
  return { kind: 'http_error', status, message, ...(headers ? { headers } : {}) };
}

const message = (text: string): FakeResponsesOutputItem => ({ type: 'message', text });

function toolLoop(request: FakeResponsesRequest): FakeResponsesResponse {
  const last = lastTurnItem(request);
  if (last?.type === 'function_call_output') {
    return {
      output: [message(`The tool answered: ${outputText(last.output)}`)],
      usage: { inputTokens: 160, cachedTokens: 100, outputTokens: 14 },
    };
  }
  return {
    output: [{ type: 'function_call', name: 'get_weather', arguments: { city: 'Paris' } }],
    usage: { inputTokens: 120, outputTokens: 9 },
  };
}

function commandScenario(command: string): FakeResponsesResponder {
  return (request) => {
    const last = lastTurnItem(request);
    if (last?.type === 'function_call_output') {
      return {
        output: [message(`The command printed: ${outputText(last.output).trim()}`)],
        usage: { inputTokens: 220, cachedTokens: 200, outputTokens: 12 },
      };
    }
    const tools = request.body.tools ?? [];
    const hasExec = tools.some((tool) => tool.name === 'exec_command');
    const call: FakeResponsesOutputItem = hasExec
      ? { type: 'function_call', name: 'exec_command', arguments: { cmd: command } }
      : { type: 'function_call', name: 'shell', arguments: { command: ['bash', '-lc', command] } };
    return { output: [call], usage: { inputTokens: 200, outputTokens: 20 } };
  };
}

/**
 * The built-in scenarios:
 *
 * | name | answer |
 * |---|---|
 * | `text` | "Hello from the fake Responses API." in word deltas; usage input 100 (40 cached), output 12 |
 * | `echo` | "You said: <last user text>" |
 * | `reasoning` | a reasoning item (summary "Thinking it through."), then "The answer is 42."; 18 reasoning tokens |
 * | `tool-loop` | `get_weather({city:'Paris'})`; once the input ends with a `function_call_output`: "The tool answered: <output>" |
 * | `tool-forever` | always calls `get_weather` |
 * | `command` | a call of the Codex CLI's `exec_command` (or `shell`) tool with `options.command`; then "The command printed: <output>" |
 * | `failed` | `response.failed` with `server_error` |
 * | `failed-rate-limit` | `response.failed` with `rate_limit_exceeded` |
 * | `incomplete` | text, then `response.incomplete` (`max_output_tokens`) |
 * | `error-event` | three events, then the top-level `error` event (`server_error`) |
 * | `error-event-rate-limit` | three events, then the top-level `error` event (`rate_limit_exceeded`) |
 * | `truncated` | a few deltas, then the response ends without a terminal event |
 * | `disconnect` | a few deltas, then the socket is destroyed |
 * | `stall` | `response.created`, the message item and one delta, then nothing until the client goes away |
 * | `stall-headers` | no response at all until the client goes away |
 * | `deltas-<N>` | N text deltas of `tok ` |
 * | `400`, `401`, `403`, `404`, `429`, `500`, `503` | that HTTP error with the API's error body; 429 sends `retry-after: 7` |
 */
export const FAKE_RESPONSES_SCENARIOS: Readonly<Record<string, Entry>> = {
  text: {
    output: [message('Hello from the fake Responses API.')],
    usage: { inputTokens: 100, cachedTokens: 40, outputTokens: 12 },
  },
  echo: (request) => ({ output: [message(`You said: ${fakeResponsesLastUserText(request)}`)] }),
  reasoning: {
    output: [{ type: 'reasoning', summary: 'Thinking it through.' }, message('The answer is 42.')],
    usage: { inputTokens: 80, outputTokens: 30, reasoningTokens: 18 },
  },
  'tool-loop': toolLoop,
  'tool-forever': {
    output: [{ type: 'function_call', name: 'get_weather', arguments: { city: 'Paris' } }],
  },
  command: commandScenario(FAKE_RESPONSES_DEFAULT_COMMAND),
  failed: {
    output: [],
    status: 'failed',
    error: { code: 'server_error', message: 'The server had an error while processing your request.' },
  },
  'failed-rate-limit': {
    output: [],
    status: 'failed',
    error: { code: 'rate_limit_exceeded', message: 'Rate limit reached for requests.' },
  },
  incomplete: {
    output: [message('This answer was cut')],
    status: 'incomplete',
    incompleteReason: 'max_output_tokens',
  },
  'error-event': {
    output: [message('Partial answer that never ends')],
    interrupt: {
      afterEvents: 3,
      mode: 'error',
      code: 'server_error',
      message: 'The server had an error while processing your request.',
    },
  },
  'error-event-rate-limit': {
    output: [message('Partial answer that never ends')],
    interrupt: {
      afterEvents: 3,
      mode: 'error',
      code: 'rate_limit_exceeded',
      message: 'Rate limit reached for requests.',
    },
  },
  truncated: {
    output: [message('Partial answer that never ends')],
    interrupt: { afterEvents: 6, mode: 'truncate' },
  },
  disconnect: {
    output: [message('Partial answer that never ends')],
    interrupt: { afterEvents: 6, mode: 'disconnect' },
  },
  stall: {
    output: [message('Waiting forever')],
    interrupt: { afterEvents: 5, mode: 'stall' },
  },
  'stall-headers': { kind: 'stall' },
  '400': httpError(400, "Invalid value for 'input': expected a string or an array."),
  '401': httpError(401, 'Incorrect API key provided: sk-test. You can find your API key at the dashboard.'),
  '403': httpError(403, 'You are not allowed to sample from this model.'),
  '404': httpError(404, 'The model `does-not-exist` does not exist or you do not have access to it.'),
  '429': httpError(429, 'Rate limit reached for requests. Please try again in 7s.', { 'retry-after': '7' }),
  '500': httpError(500, 'The server had an error while processing your request.'),
  '503': httpError(503, 'The engine is currently overloaded, please try again later.'),
};

const ERROR_TYPES: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'unsupported_country_region_territory' },
  404: { type: 'invalid_request_error', code: 'model_not_found' },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
  500: { type: 'server_error', code: null },
  503: { type: 'server_error', code: null },
};

function deltasScenario(name: string): FakeResponsesStream | undefined {
  const match = /^deltas-(\d+)$/.exec(name);
  if (!match) return undefined;
  const count = Number(match[1]);
  const chunks = new Array<string>(count).fill('tok ');
  return { output: [{ type: 'message', text: chunks.join(''), chunks }] };
}

function splitWords(value: string): string[] {
  const words = value.match(/\s*\S+\s*/g);
  return words && words.join('') === value ? words : [value];
}

interface BuiltResponse {
  events: { type: string; payload: Record<string, unknown> }[];
  json: Record<string, unknown>;
}

/** The SSE events (and the equivalent JSON response) of a fake answer. */
function buildResponse(stream: FakeResponsesStream, request: FakeResponsesRequest): BuiltResponse {
  const model = stream.model ?? request.body.model ?? 'gpt-fake';
  const id = stream.id ?? `resp_fake_${request.index}`;
  const createdAt = Math.floor(Date.now() / 1000);
  const events: BuiltResponse['events'] = [];
  const push = (type: string, payload: Record<string, unknown>) => events.push({ type, payload });
  const base = {
    id,
    object: 'response',
    created_at: createdAt,
    model,
    output: [] as Record<string, unknown>[],
    usage: null as Record<string, unknown> | null,
    error: null as Record<string, unknown> | null,
    incomplete_details: null as Record<string, unknown> | null,
    instructions: null,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    temperature: 1,
    top_p: 1,
    metadata: {},
  };
  push('response.created', { response: { ...base, status: 'in_progress' } });
  push('response.in_progress', { response: { ...base, status: 'in_progress' } });

  const finalItems: Record<string, unknown>[] = [];
  let deltaCount = 0;
  stream.output.forEach((item, outputIndex) => {
    switch (item.type) {
      case 'message': {
        const itemId = `msg_fake_${request.index}_${outputIndex}`;
        const part = { type: 'output_text', text: item.text, annotations: [], logprobs: [] };
        push('response.output_item.added', {
          output_index: outputIndex,
          item: { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] },
        });
        push('response.content_part.added', {
          item_id: itemId,
          output_index: outputIndex,
          content_index: 0,
          part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
        });
        for (const chunk of item.chunks ?? splitWords(item.text)) {
          deltaCount++;
          push('response.output_text.delta', {
            item_id: itemId,
            output_index: outputIndex,
            content_index: 0,
            delta: chunk,
            logprobs: [],
          });
        }
        push('response.output_text.done', {
          item_id: itemId,
          output_index: outputIndex,
          content_index: 0,
          text: item.text,
          logprobs: [],
        });
        push('response.content_part.done', {
          item_id: itemId,
          output_index: outputIndex,
          content_index: 0,
          part,
        });
        const done = {
          id: itemId,
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [part],
        };
        push('response.output_item.done', { output_index: outputIndex, item: done });
        finalItems.push(done);
        break;
      }
      case 'reasoning': {
        const itemId = `rs_fake_${request.index}_${outputIndex}`;
        push('response.output_item.added', {
          output_index: outputIndex,
          item: { id: itemId, type: 'reasoning', summary: [] },
        });
        push('response.reasoning_summary_part.added', {
          item_id: itemId,
          output_index: outputIndex,
          summary_index: 0,
          part: { type: 'summary_text', text: '' },
        });
        for (const chunk of item.chunks ?? splitWords(item.summary)) {
          deltaCount++;
          push('response.reasoning_summary_text.delta', {
            item_id: itemId,
            output_index: outputIndex,
            summary_index: 0,
            delta: chunk,
          });
        }
        push('response.reasoning_summary_text.done', {
          item_id: itemId,
          output_index: outputIndex,
          summary_index: 0,
          text: item.summary,
        });
        push('response.reasoning_summary_part.done', {
          item_id: itemId,
          output_index: outputIndex,
          summary_index: 0,
          part: { type: 'summary_text', text: item.summary },
        });
        const done = {
          id: itemId,
          type: 'reasoning',
          summary: [{ type: 'summary_text', text: item.summary }],
        };
        push('response.output_item.done', { output_index: outputIndex, item: done });
        finalItems.push(done);
        break;
      }
      case 'function_call': {
        const itemId = `fc_fake_${request.index}_${outputIndex}`;
        const callId = item.callId ?? `call_fake_${request.index}_${outputIndex}`;
        const args = typeof item.arguments === 'string' ? item.arguments : JSON.stringify(item.arguments);
        push('response.output_item.added', {
          output_index: outputIndex,
          item: {
            id: itemId,
            type: 'function_call',
            call_id: callId,
            name: item.name,
            arguments: '',
            status: 'in_progress',
          },
        });
        const middle = Math.floor(args.length / 2);
        for (const piece of [args.slice(0, middle), args.slice(middle)]) {
          deltaCount++;
          push('response.function_call_arguments.delta', {
            item_id: itemId,
            output_index: outputIndex,
            delta: piece,
          });
        }
        push('response.function_call_arguments.done', {
          item_id: itemId,
          output_index: outputIndex,
          arguments: args,
        });
        const done = {
          id: itemId,
          type: 'function_call',
          call_id: callId,
          name: item.name,
          arguments: args,
          status: 'completed',
        };
        push('response.output_item.done', { output_index: outputIndex, item: done });
        finalItems.push(done);
        break;
      }
      default: {
        const unhandled: never = item;
        throw new Error(`Unhandled fake output item: ${JSON.stringify(unhandled)}`);
      }
    }
  });

  const usage = stream.usage ?? {};
  const inputTokens = usage.inputTokens ?? 100;
  const outputTokens = usage.outputTokens ?? deltaCount + 1;
  const wireUsage = {
    input_tokens: inputTokens,
    input_tokens_details: {
      cached_tokens: usage.cachedTokens ?? 0,
      cache_write_tokens: usage.cacheWriteTokens ?? 0,
    },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: inputTokens + outputTokens,
  };
  const status = stream.status ?? 'completed';
  const final = { ...base, status, output: finalItems, usage: wireUsage };
  if (status === 'failed') {
    final.error = stream.error ?? {
      code: 'server_error',
      message: 'The server had an error while processing your request.',
    };
    push('response.failed', { response: final });
  } else if (status === 'incomplete') {
    final.incomplete_details = { reason: stream.incompleteReason ?? 'max_output_tokens' };
    push('response.incomplete', { response: final });
  } else {
    push('response.completed', { response: final });
  }
  return { events, json: final };
}

function errorBody(status: number, response: FakeResponsesHttpError): string {
  const defaults = ERROR_TYPES[status] ?? { type: 'server_error', code: null };
  return JSON.stringify({
    error: {
      message: response.message ?? `HTTP ${status}`,
      type: response.errorType ?? defaults.type,
      param: null,
      code: response.code ?? defaults.code,
    },
  });
}

/**
 * Starts a fake OpenAI Responses API on 127.0.0.1 (a free port): `POST /v1/responses`; anything
 * else (including the WebSocket upgrade `GET /v1/responses` a Codex CLI tries when its provider
 * allows WebSockets) gets a 404. Has no test-runner dependency.
 *
 * ```ts
 * const server = await createFakeResponsesServer();
 * const client = new OpenAI({ apiKey: 'sk-test', baseURL: server.url, maxRetries: 0 });
 * const stream = await client.responses.create({ model: 'scenario:tool-loop', input: 'Hi', stream: true });
 * for await (const event of stream) console.log(event.type);
 * server.requests[0]?.body.input; // what the client sent
 * await server.close();
 * ```
 *
 * For the real `codex` binary: a custom model provider `{ base_url: server.url, wire_api: 'responses',
 * supports_websockets: false, request_max_retries: 0, stream_max_retries: 0 }` and `--model scenario:<name>`.
 */
export async function createFakeResponsesServer(
  options: FakeResponsesServerOptions = {},
): Promise<FakeResponsesServer> {
  const requests: FakeResponsesRequest[] = [];
  let requestCounter = 0;
  const scenarios: Record<string, Entry> = {
    ...FAKE_RESPONSES_SCENARIOS,
    ...(options.command !== undefined ? { command: commandScenario(options.command) } : {}),
    ...(options.scenarios ?? {}),
  };
  const defaultScenario = options.defaultScenario ?? 'text';

  const book = createResponseBook<FakeResponsesRequest, FakeResponsesResponse>({
    scenarios,
    defaultScenario,
    madeUp: deltasScenario,
    bareScenarioNames: true,
    badRequest: (message) => ({ kind: 'http_error', status: 400, message }),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const index = ++requestCounter;
    const requestId = `req_fake_${index}`;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    let body: FakeResponsesRequestBody = {};
    try {
      body = raw === '' ? {} : (JSON.parse(raw) as FakeResponsesRequestBody);
    } catch {
      body = {};
    }
    const request: FakeResponsesRequest = {
      index,
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      body,
      requestId,
      clientClosed: false,
    };
    requests.push(request);
    res.on('close', () => {
      if (!res.writableFinished) request.clientClosed = true;
    });

    if (req.method !== 'POST' || url.pathname !== '/v1/responses') {
      res.writeHead(404, { 'content-type': 'application/json', 'x-request-id': requestId });
      res.end(
        errorBody(404, {
          kind: 'http_error',
          status: 404,
          message: `Not found: ${req.method} ${url.pathname}`,
          code: 'not_found',
        }),
      );
      return;
    }

    const response = book.resolve(request, request.body.model ?? '');
    if (response.kind === 'stall') return; // the socket stays open until the client or close() ends it
    if (response.kind === 'http_error') {
      res.writeHead(response.status, {
        'content-type': 'application/json',
        'x-request-id': requestId,
        ...(response.headers ?? {}),
      });
      res.end(errorBody(response.status, response));
      return;
    }

    const built = buildResponse(response, request);
    const headers = { 'x-request-id': requestId, ...(response.headers ?? {}) };
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
    let sequence = 0;
    const sse = (type: string, payload: Record<string, unknown>) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...payload })}\n\n`;
    const interrupt = response.interrupt;
    const limit = interrupt ? Math.min(interrupt.afterEvents, built.events.length) : built.events.length;
    const chunks = built.events.slice(0, limit).map((event) => sse(event.type, event.payload));
    await writeSseStream(res, chunks, {
      eventDelayMs: response.eventDelayMs,
      interrupt,
      errorChunk: () =>
        sse('error', {
          code: interrupt?.code ?? 'server_error',
          message: interrupt?.message ?? 'The server had an error while processing your request.',
          param: null,
        }),
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        errorBody(500, { kind: 'http_error', status: 500, message: `Fake server failure: ${String(error)}` }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    script(responses) {
      return book.script(responses);
    },
    enqueue(...responses) {
      book.enqueue(responses);
    },
    reset() {
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
