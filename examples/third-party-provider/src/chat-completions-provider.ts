import {
  type AdapterEvent,
  AsmError,
  abortError,
  addTokenUsage,
  type Capability,
  type ExecuteOptions,
  type ExecuteResult,
  emptyTokenUsage,
  isAbortCode,
  isToolAllowed,
  type ProviderAdapter,
  type Run,
  type RunOutput,
  runToolLoop,
  type Session,
  type TokenUsage,
  type Tool,
  type ToolCall,
  type ToolLoopTurn,
  type Transcript,
} from '@asm/core';
import { errorCodeForChatCompletions, httpFailure, providerFailure, readErrorBody } from './errors.js';
import {
  type ChatMessage,
  type ChatToolCall,
  messagesFromInput,
  messagesFromTranscript,
  toolContent,
} from './messages.js';
import { readServerSentEvents } from './sse.js';

/** Settings of `createChatCompletionsProvider`. */
export interface ChatCompletionsProviderSettings {
  /**
   * Base URL of the API including its version path: `https://api.openai.com/v1`,
   * `http://127.0.0.1:11434/v1` (Ollama), `http://127.0.0.1:8000/v1` (vLLM), a gateway's URL.
   * Requests go to `${baseURL}/chat/completions`.
   */
  baseURL: string;
  /** The model id the server knows. */
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>`; local servers often need none. */
  apiKey?: string;
  /** Adapter name: the events' `provider` and the pricing-table key. Default `chat-completions`. */
  name?: string;
  /** System prompt; `session.context.systemPrompt` wins. */
  systemPrompt?: string;
  /** Tools offered on every run; the run's own tools are added (and win by name). */
  tools?: Tool[];
  /** `max_tokens` of each request; a run's `maxOutputTokens` wins. Not sent when absent. */
  maxTokens?: number;
  /** `temperature` of each request. Not sent when absent. */
  temperature?: number;
  /** Most model turns of one run (tool loop). Default 10. */
  maxTurns?: number;
  /** Extra request headers (a gateway's routing or tenant headers). */
  headers?: Record<string, string>;
  /** A response silent this long fails with `provider_timeout`. Default 60,000 ms. */
  idleTimeoutMs?: number;
  /**
   * Ask for usage in the stream (`stream_options.include_usage`). Default true; turn it off for the
   * few servers that reject the option.
   */
  includeUsage?: boolean;
  /** The `fetch` to use (a proxy agent, a test double). Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** The provider, with its resolved settings for inspection. */
export interface ChatCompletionsProvider extends ProviderAdapter {
  readonly model: string;
  readonly baseURL: string;
}

const DEFAULT_NAME = 'chat-completions';
const DEFAULT_MAX_TURNS = 10;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** What this provider can do. */
const CAPABILITIES: readonly Capability[] = [
  { name: 'streaming', type: 'sampling' },
  { name: 'tool_use', type: 'tool' },
  { name: 'system_prompts', type: 'prompt' },
  { name: 'interrupt', type: 'sampling' },
];

function invalid(field: string, message: string, value: unknown): AsmError {
  return new AsmError('validation_error', `${field} ${message}`, { details: { field, value } });
}

/** Checks settings eagerly; throws `validation_error` naming the field. */
export function validateChatCompletionsSettings(settings: ChatCompletionsProviderSettings): void {
  if (typeof settings !== 'object' || settings === null) {
    throw new AsmError('validation_error', 'createChatCompletionsProvider needs { baseURL, model }');
  }
  if (typeof settings.baseURL !== 'string' || !URL.canParse(settings.baseURL)) {
    throw invalid('baseURL', 'must be an absolute URL', settings.baseURL);
  }
  if (typeof settings.model !== 'string' || settings.model === '') {
    throw invalid('model', 'must be a non-empty string', settings.model);
  }
  for (const field of ['apiKey', 'name', 'systemPrompt'] as const) {
    const value = settings[field];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalid(field, 'must be a non-empty string', value);
    }
  }
  for (const field of ['maxTokens', 'maxTurns', 'idleTimeoutMs'] as const) {
    const value = settings[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw invalid(field, 'must be a positive integer', value);
    }
  }
  if (
    settings.temperature !== undefined &&
    (typeof settings.temperature !== 'number' || settings.temperature < 0 || settings.temperature > 2)
  ) {
    throw invalid('temperature', 'must be a number from 0 to 2', settings.temperature);
  }
}

/** Maps Chat Completions `finish_reason` to the stop reasons the other adapters report. */
export function mapFinishReason(reason: string | null | undefined): string | undefined {
  switch (reason) {
    case null:
    case undefined:
      return undefined;
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    default:
      return reason; // content_filter and anything a server adds later, kept as it is
  }
}

/** Chat Completions `usage` to core's `TokenUsage` fields (cached prompt tokens are cache reads). */
export function mapUsage(usage: unknown): Partial<TokenUsage> | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  const record = usage as Record<string, unknown>;
  const number = (value: unknown) => (typeof value === 'number' && value > 0 ? value : 0);
  const details = record.prompt_tokens_details as Record<string, unknown> | undefined;
  const cached = number(details?.cached_tokens);
  return {
    inputTokens: Math.max(0, number(record.prompt_tokens) - cached),
    outputTokens: number(record.completion_tokens),
    cacheReadTokens: cached,
  };
}

interface StreamChunkChoice {
  index?: number;
  delta?: {
    content?: string | null;
    reasoning_content?: string | null;
    reasoning?: string | null;
    tool_calls?: {
      index?: number;
      id?: string;
      function?: { name?: string; arguments?: string };
    }[];
  };
  finish_reason?: string | null;
}

interface ChatTurn extends ToolLoopTurn {
  text: string;
}

/** One tool call being assembled from `delta.tool_calls` fragments. */
interface PartialToolCall {
  id: string;
  name: string;
  arguments: string;
}

function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return { raw: text }; // never drop what the model sent; the tool sees the raw string
  }
}

function toolParam(tool: Tool) {
  return {
    type: 'function' as const,
    function: {
      name: tool.name,
      ...(tool.description === undefined ? {} : { description: tool.description }),
      parameters: { type: 'object', ...tool.inputSchema },
    },
  };
}

/**
 * A provider for any OpenAI-compatible Chat Completions endpoint, streaming over SSE, with tool
 * calls run by core's `runToolLoop`, errors mapped to `AsmError` codes, the abort signal honoured at
 * every await, and earlier turns replayed from the session's transcript.
 */
export function createChatCompletionsProvider(
  settings: ChatCompletionsProviderSettings,
): ChatCompletionsProvider {
  validateChatCompletionsSettings(settings);
  const name = settings.name ?? DEFAULT_NAME;
  const endpoint = `${settings.baseURL.replace(/\/+$/, '')}/chat/completions`;
  const maxTurns = settings.maxTurns ?? DEFAULT_MAX_TURNS;
  const idleTimeoutMs = settings.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const fetchImplementation = settings.fetch ?? globalThis.fetch;

  async function execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const { signal, emit } = options;
    const warnings: string[] = [];
    if (options.permissionMode !== undefined && options.permissionMode !== 'default') {
      warnings.push(`permissionMode ${options.permissionMode} is ignored: only the app's tools run`);
    }
    let started = false;
    const start = (model: string): void => {
      if (started) return;
      started = true;
      emit({ type: 'run_started', data: { model, ...(warnings.length > 0 ? { warnings } : {}) } });
    };
    let usage = emptyTokenUsage();
    let answeredModel: string | undefined;

    try {
      if (signal.aborted) throw abortError(signal);
      const { continuation } = options;
      let transcript: Transcript | undefined;
      // No native sessions on Chat Completions: `native` falls back to replay, like `replay`.
      if (continuation.mode !== 'none')
        transcript = continuation.transcript ?? (await continuation.loadTranscript());
      if (signal.aborted) throw abortError(signal);

      const messages: ChatMessage[] = [];
      const systemPrompt = options.systemPrompt ?? settings.systemPrompt;
      if (systemPrompt) messages.push({ role: 'system', content: systemPrompt });
      messages.push(...messagesFromTranscript(transcript, run.id), ...messagesFromInput(run.input));
      if (!messages.some((message) => message.role === 'user')) {
        throw new AsmError('invalid_input', 'The run has no user message to send', {
          details: { runId: run.id },
        });
      }

      const byName = new Map<string, Tool>();
      for (const tool of [...(settings.tools ?? []), ...(options.tools ?? [])]) byName.set(tool.name, tool);
      const tools = [...byName.values()];
      const offered = tools.filter((tool) => isToolAllowed(options.toolRules, tool.name)).map(toolParam);
      const maxTokens = options.maxOutputTokens ?? settings.maxTokens;
      const baseBody: Record<string, unknown> = { model: settings.model, stream: true };
      if (settings.includeUsage !== false) baseBody.stream_options = { include_usage: true };
      if (maxTokens !== undefined) baseBody.max_tokens = maxTokens;
      if (settings.temperature !== undefined) baseBody.temperature = settings.temperature;
      if (offered.length > 0) baseBody.tools = offered;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...settings.headers,
      };
      if (settings.apiKey !== undefined) headers.authorization = `Bearer ${settings.apiKey}`;

      const streamTurn = async (): Promise<ChatTurn> => {
        // One controller per request: aborted by the run's signal or by the idle watchdog.
        const controller = new AbortController();
        const onAbort = () => controller.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        let idleError: AsmError | undefined;
        let idleTimer: ReturnType<typeof setTimeout> | undefined;
        const touch = () => {
          clearTimeout(idleTimer);
          idleTimer = setTimeout(() => {
            idleError = providerFailure(name, {
              code: 'provider_timeout',
              kind: 'timeout',
              message: `No data for ${idleTimeoutMs} ms`,
            });
            controller.abort(idleError);
          }, idleTimeoutMs);
        };
        let text = '';
        let finishReason: string | null | undefined;
        let sawDone = false;
        let turnUsage: Partial<TokenUsage> | undefined;
        const calls = new Map<number, PartialToolCall>();
        try {
          touch();
          let response: Response;
          try {
            response = await fetchImplementation(endpoint, {
              method: 'POST',
              headers,
              body: JSON.stringify({ ...baseBody, messages }),
              signal: controller.signal,
            });
          } catch (error) {
            if (signal.aborted) throw abortError(signal);
            if (idleError) throw idleError;
            throw providerFailure(name, {
              code: 'provider_unavailable',
              kind: 'http_error',
              message: `Request to ${endpoint} failed: ${error instanceof Error ? error.message : String(error)}`,
              cause: error,
            });
          }
          if (!response.ok || !response.body) {
            const body = await response.text().catch(() => '');
            throw httpFailure(name, response, body);
          }
          touch();
          for await (const message of readServerSentEvents(response.body)) {
            touch();
            if (message.data === '[DONE]') {
              sawDone = true;
              break;
            }
            let chunk: Record<string, unknown>;
            try {
              chunk = JSON.parse(message.data) as Record<string, unknown>;
            } catch (error) {
              throw providerFailure(name, {
                code: 'provider_error',
                kind: 'parse_error',
                message: `Unreadable stream chunk: ${message.data.slice(0, 200)}`,
                cause: error,
              });
            }
            const streamError = chunk.error === undefined ? undefined : readErrorBody(chunk);
            if (streamError) {
              throw providerFailure(name, {
                code: errorCodeForChatCompletions(undefined, streamError),
                kind: 'protocol_error',
                message: streamError.message ?? 'The server reported an error mid-stream',
              });
            }
            if (typeof chunk.model === 'string') answeredModel = chunk.model;
            start(answeredModel ?? settings.model);
            const mapped = mapUsage(chunk.usage);
            if (mapped) turnUsage = mapped;
            const choice = (chunk.choices as StreamChunkChoice[] | undefined)?.[0];
            if (!choice) continue;
            const delta = choice.delta ?? {};
            const reasoning = delta.reasoning_content ?? delta.reasoning;
            if (reasoning) emit({ type: 'message_streamed', data: { kind: 'thinking', delta: reasoning } });
            if (delta.content) {
              text += delta.content;
              emit({ type: 'message_streamed', data: { kind: 'text', delta: delta.content } });
            }
            for (const fragment of delta.tool_calls ?? []) {
              const index = fragment.index ?? 0;
              const call = calls.get(index) ?? { id: '', name: '', arguments: '' };
              if (fragment.id) call.id = fragment.id;
              if (fragment.function?.name) call.name += fragment.function.name;
              if (fragment.function?.arguments) call.arguments += fragment.function.arguments;
              calls.set(index, call);
            }
            if (choice.finish_reason) finishReason = choice.finish_reason;
          }
        } catch (error) {
          if (signal.aborted) throw abortError(signal);
          if (idleError) throw idleError;
          if (AsmError.isInstance(error)) throw error;
          throw providerFailure(name, {
            code: 'provider_unavailable',
            kind: 'stream_truncated',
            message: `The stream broke: ${error instanceof Error ? error.message : String(error)}`,
            cause: error,
          });
        } finally {
          clearTimeout(idleTimer);
          signal.removeEventListener('abort', onAbort);
        }
        if (signal.aborted) throw abortError(signal);
        if (!sawDone && !finishReason) {
          throw providerFailure(name, {
            code: 'provider_unavailable',
            kind: 'stream_truncated',
            message: 'The stream ended without a finish_reason or [DONE]',
          });
        }

        const assembled = [...calls.entries()].sort(([left], [right]) => left - right);
        const toolCalls: ToolCall[] = assembled.map(([index, call]) => ({
          id: call.id || `call_${run.id}_${messages.length}_${index}`,
          name: call.name,
          input: parseArguments(call.arguments),
        }));
        const wireCalls: ChatToolCall[] = assembled.map(([, call], position) => ({
          id: toolCalls[position]!.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments || '{}' },
        }));
        messages.push(
          wireCalls.length > 0
            ? { role: 'assistant', content: text === '' ? null : text, tool_calls: wireCalls }
            : { role: 'assistant', content: text },
        );
        if (text !== '' || toolCalls.length === 0) {
          emit({ type: 'message_received', data: { role: 'assistant', content: text } });
        }
        if (turnUsage) usage = addTokenUsage(usage, turnUsage);
        emit({ type: 'token_usage_updated', data: { ...usage } });
        const stopReason = toolCalls.length > 0 ? 'tool_use' : (mapFinishReason(finishReason) ?? 'end_turn');
        return { toolCalls, stopReason, text };
      };

      const loop = await runToolLoop<ChatTurn>({
        runTurn: async ({ toolResults }) => {
          for (const result of toolResults) {
            messages.push({
              role: 'tool',
              tool_call_id: result.toolCallId,
              content: toolContent(result.output),
            });
          }
          return streamTurn();
        },
        tools,
        authorizeToolCall: options.authorizeToolCall,
        emit,
        signal,
        maxTurns,
        ...(options.toolRules === undefined ? {} : { toolRules: options.toolRules }),
      });

      const stopReason = loop.stopReason ?? 'end_turn';
      const output: RunOutput = { content: loop.lastTurn.text, stopReason };
      if (loop.pendingToolCalls.length > 0) output.pendingToolCalls = loop.pendingToolCalls;
      emit({ type: 'run_completed', data: { stopReason, tokenUsage: { ...usage } } });
      return {
        output,
        tokenUsage: usage,
        model: answeredModel ?? settings.model,
        turnCount: loop.turns,
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    } catch (error) {
      const failure = signal.aborted
        ? abortError(signal)
        : AsmError.isInstance(error)
          ? error
          : AsmError.from(error, 'internal_error');
      // One start and one end, whatever happened: the manager writes the run's single terminal event.
      start(answeredModel ?? settings.model);
      const terminal: AdapterEvent = isAbortCode(failure.code)
        ? failure.code === 'timeout'
          ? { type: 'run_timeout', data: {} }
          : { type: 'run_cancelled', data: { reason: failure.message } }
        : {
            type: 'run_failed',
            data: {
              errorCode: failure.code,
              errorMessage: failure.message,
              ...(failure.providerError ? { providerError: failure.providerError } : {}),
            },
          };
      emit(terminal);
      throw failure;
    }
  }

  return {
    specificationVersion: 'v1',
    name,
    model: settings.model,
    baseURL: settings.baseURL,
    supportsNativeContinuation: false,
    capabilities: () => CAPABILITIES.map((capability) => ({ ...capability })),
    execute,
    validateConfig: () => validateChatCompletionsSettings(settings),
  } satisfies ChatCompletionsProvider;
}
