import {
  type AdapterEvent,
  AsmError,
  abortError,
  type ExecuteOptions,
  type ExecuteResult,
  errorCodeForHttpStatus,
  getConfig,
  type Run,
  type RunOutput,
  runToolLoop,
  type Tool,
  type ToolCall,
  type ToolLoopTurn,
  throwIfAborted,
} from '@asm/core';
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { classifyResponsesErrorCode, providerFailure, retryAfterSeconds } from './codex-errors.js';
import {
  messagesToResponsesInput,
  type ResponsesInputItem,
  runMessages,
  toolOutputText,
  transcriptToResponsesInput,
} from './prompt.js';
import { type CodexResponsesSettings, DEFAULT_RESPONSES_MODEL } from './settings.js';
import { abortTerminal, failTerminal } from './terminal.js';
import { toTokenUsage } from './usage.js';

type StreamEvent = OpenAI.Responses.ResponseStreamEvent;
type ResponseUsage = OpenAI.Responses.ResponseUsage;

/** What the `responses` backend needs from the adapter. */
export interface ResponsesBackendContext {
  provider: string;
  settings: CodexResponsesSettings;
  client(): OpenAI;
}

/** Creates the `openai` client of the `responses` backend from its settings. */
export function createOpenAIClient(settings: CodexResponsesSettings): OpenAI {
  if (settings.client) return settings.client;
  const options: ConstructorParameters<typeof OpenAI>[0] = {};
  if (settings.apiKey !== undefined) options.apiKey = settings.apiKey;
  if (settings.baseURL !== undefined) options.baseURL = settings.baseURL;
  if (settings.organization !== undefined) options.organization = settings.organization;
  if (settings.project !== undefined) options.project = settings.project;
  if (settings.maxRetries !== undefined) options.maxRetries = settings.maxRetries;
  if (settings.timeoutMs !== undefined) options.timeout = settings.timeoutMs;
  return new OpenAI(options);
}

/** Running totals in the OpenAI shape (cached and cache-write inside input, reasoning inside output). */
interface UsageTotals {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

function addUsage(totals: UsageTotals, usage: ResponseUsage | null | undefined): void {
  if (!usage) return;
  const details = usage.input_tokens_details as
    | Partial<OpenAI.Responses.ResponseUsage.InputTokensDetails>
    | undefined;
  totals.inputTokens += usage.input_tokens ?? 0;
  totals.cachedInputTokens += details?.cached_tokens ?? 0;
  totals.cacheWriteInputTokens += details?.cache_write_tokens ?? 0;
  totals.outputTokens += usage.output_tokens ?? 0;
  totals.reasoningOutputTokens += usage.output_tokens_details?.reasoning_tokens ?? 0;
}

/** Maps `incomplete_details.reason` onto the stop reasons the other adapters use. */
export function mapIncompleteReason(reason: string | undefined): string {
  if (reason === 'max_output_tokens') return 'max_tokens';
  return reason ?? 'incomplete';
}

/**
 * Translates an error thrown by the `openai` client into the taxonomy: HTTP statuses through
 * `errorCodeForHttpStatus` (429 rate limited, 401/403 authentication, 408 timeout, 409/5xx
 * unavailable, other 4xx `provider_error`), `insufficient_quota` as quota, connection timeouts as
 * `provider_timeout`, other connection failures as `provider_unavailable`, with the request id and
 * `retry-after`.
 */
export function openAIFailure(provider: string, error: unknown): AsmError {
  if (AsmError.isInstance(error)) return error;
  if (error instanceof APIConnectionTimeoutError) {
    return providerFailure(provider, 'provider_timeout', error.message, { kind: 'timeout' }, error);
  }
  if (error instanceof APIConnectionError) {
    return providerFailure(provider, 'provider_unavailable', error.message, { kind: 'connection' }, error);
  }
  if (error instanceof APIError) {
    const facts: { status?: number; requestId?: string; retryAfterSeconds?: number } = {};
    if (error.status !== undefined) facts.status = error.status;
    if (error.requestID) facts.requestId = error.requestID;
    const wait = retryAfterSeconds(error.headers);
    if (wait !== undefined) facts.retryAfterSeconds = wait;
    const apiCode = typeof error.code === 'string' ? error.code : undefined;
    if (apiCode === 'insufficient_quota') {
      return providerFailure(
        provider,
        'provider_quota_exceeded',
        error.message,
        { ...facts, kind: 'quota' },
        error,
      );
    }
    if (error.status === undefined) {
      const classified = classifyResponsesErrorCode(apiCode, error.message);
      return providerFailure(
        provider,
        classified.code,
        error.message,
        { ...facts, kind: classified.kind },
        error,
      );
    }
    return providerFailure(provider, errorCodeForHttpStatus(error.status), error.message, facts, error);
  }
  const record = error as { type?: unknown; code?: unknown; message?: unknown } | null;
  if (record && typeof record === 'object' && record.type === 'error') {
    return responsesEventFailure(provider, record.code, record.message);
  }
  const message = error instanceof Error ? error.message : String(error);
  return providerFailure(provider, 'provider_error', message, { kind: 'unknown' }, error);
}

/** The `AsmError` of a `response.failed` error or a top-level `error` event. */
export function responsesEventFailure(provider: string, code: unknown, message: unknown): AsmError {
  const text =
    typeof message === 'string' && message !== '' ? message : 'The Responses API reported an error';
  const errorCode = typeof code === 'string' ? code : undefined;
  const classified = classifyResponsesErrorCode(errorCode, text);
  const facts: { kind: string; retryAfterSeconds?: number } = { kind: classified.kind };
  if (classified.retryAfterSeconds !== undefined) facts.retryAfterSeconds = classified.retryAfterSeconds;
  const error = providerFailure(provider, classified.code, text, facts);
  if (errorCode !== undefined) error.details.apiErrorCode = errorCode;
  return error;
}

function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // the tool sees what the model wrote
  }
}

function functionTools(tools: readonly Tool[]): OpenAI.Responses.FunctionTool[] {
  return tools.map((tool) => {
    const definition: OpenAI.Responses.FunctionTool = {
      type: 'function',
      name: tool.name,
      parameters: tool.inputSchema,
      strict: false,
    };
    if (tool.description !== undefined) definition.description = tool.description;
    return definition;
  });
}

/** The settings' tools with the run's added (a run tool replaces a settings tool of the same name). */
function mergeTools(base: readonly Tool[] | undefined, extra: readonly Tool[] | undefined): Tool[] {
  const byName = new Map<string, Tool>();
  for (const tool of base ?? []) byName.set(tool.name, tool);
  for (const tool of extra ?? []) byName.set(tool.name, tool);
  return [...byName.values()];
}

interface TurnOutcome extends ToolLoopTurn {
  text: string;
}

/** Executes one run against the Responses API, with the core tool loop. */
export async function executeResponses(
  context: ResponsesBackendContext,
  run: Run,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const { settings, provider } = context;
  const { signal } = options;
  throwIfAborted(signal);
  const messages = runMessages(run.input);
  let history: ResponsesInputItem[] = [];
  if (options.continuation.mode === 'replay' || options.continuation.mode === 'native') {
    // No server-side state is kept (`store: false`), so native continuation is a replay too.
    const transcript = options.continuation.transcript ?? (await options.continuation.loadTranscript());
    throwIfAborted(signal);
    history = transcriptToResponsesInput(transcript);
  }
  const input: (ResponsesInputItem | OpenAI.Responses.ResponseInputItem)[] = [
    ...history,
    ...messagesToResponsesInput(messages),
  ];
  const model = settings.model ?? DEFAULT_RESPONSES_MODEL;
  const tools = mergeTools(settings.tools, options.tools);
  const instructions = options.systemPrompt ?? settings.systemPrompt;
  const maxOutputTokens = options.maxOutputTokens ?? settings.maxOutputTokens;
  const idleTimeoutMs = settings.idleTimeoutMs ?? getConfig('streamIdleTimeoutMs');
  const warnings: string[] = [];
  if (options.permissionMode !== undefined && options.permissionMode !== 'default') {
    warnings.push(
      `permission_mode_ignored: the Responses API backend runs only app tools, each approved through authorizeToolCall; permission mode '${options.permissionMode}' does not apply`,
    );
  }

  let terminated = false;
  const emit = (event: AdapterEvent) => {
    if (!terminated) options.emit(event);
  };
  const emitTerminal = (event: AdapterEvent) => {
    emit(event);
    terminated = true;
  };
  emit({
    type: 'run_started',
    data: { model, ...(warnings.length > 0 ? { warnings: [...warnings] } : {}) },
  });

  const totals: UsageTotals = {
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: 0,
    reasoningOutputTokens: 0,
  };
  const responseIds: string[] = [];
  let answeredBy: string | undefined;
  const client = context.client();

  const streamTurn = async (turnSignal: AbortSignal): Promise<TurnOutcome> => {
    const request: OpenAI.Responses.ResponseCreateParamsStreaming = {
      model,
      input: input as OpenAI.Responses.ResponseInput,
      stream: true,
      store: false,
    };
    if (instructions !== undefined && instructions !== '') request.instructions = instructions;
    if (tools.length > 0) {
      request.tools = functionTools(tools);
      request.parallel_tool_calls = settings.parallelToolCalls ?? true;
    }
    if (maxOutputTokens !== undefined) request.max_output_tokens = maxOutputTokens;
    if (settings.reasoningEffort !== undefined) request.reasoning = { effort: settings.reasoningEffort };
    if (settings.outputSchema !== undefined) {
      request.text = {
        format: { type: 'json_schema', name: 'output', schema: settings.outputSchema, strict: false },
      };
    }

    // Idle watchdog: the client's own timeout stops at response headers.
    const controller = new AbortController();
    let idle = false;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      if (idleTimeoutMs > 0 && Number.isFinite(idleTimeoutMs)) {
        idleTimer = setTimeout(() => {
          idle = true;
          controller.abort();
        }, idleTimeoutMs);
      }
    };
    const onAbort = () => controller.abort();
    turnSignal.addEventListener('abort', onAbort, { once: true });
    if (turnSignal.aborted) controller.abort();

    const toolCalls: ToolCall[] = [];
    const outputItems: ResponsesInputItem[] = [];
    let text = '';
    let finished = false;
    let stopReason: string | undefined;
    try {
      armIdle();
      const stream = await client.responses.create(request, { signal: controller.signal });
      for await (const event of stream as AsyncIterable<StreamEvent>) {
        armIdle();
        switch (event.type) {
          case 'response.created':
            responseIds.push(event.response.id);
            answeredBy = event.response.model || answeredBy;
            break;
          case 'response.output_text.delta':
            emit({
              type: 'message_streamed',
              data: { kind: 'text', delta: event.delta, itemId: event.item_id },
            });
            break;
          case 'response.reasoning_summary_text.delta':
          case 'response.reasoning_text.delta':
            emit({
              type: 'message_streamed',
              data: { kind: 'thinking', delta: event.delta, itemId: event.item_id },
            });
            break;
          case 'response.refusal.delta':
            emit({
              type: 'message_streamed',
              data: { kind: 'text', delta: event.delta, itemId: event.item_id },
            });
            break;
          case 'response.output_item.done': {
            const item = event.item;
            if (item.type === 'message') {
              const content = item.content
                .map((part) =>
                  part.type === 'output_text' ? part.text : part.type === 'refusal' ? part.refusal : '',
                )
                .join('');
              text += content;
              outputItems.push({ type: 'message', role: 'assistant', content });
              if (content !== '') {
                emit({ type: 'message_received', data: { role: 'assistant', content } });
              }
            } else if (item.type === 'function_call') {
              toolCalls.push({ id: item.call_id, name: item.name, input: parseArguments(item.arguments) });
              outputItems.push({
                type: 'function_call',
                call_id: item.call_id,
                name: item.name,
                arguments: item.arguments,
              });
            }
            break;
          }
          case 'response.completed':
            finished = true;
            answeredBy = event.response.model || answeredBy;
            addUsage(totals, event.response.usage);
            break;
          case 'response.incomplete':
            finished = true;
            stopReason = mapIncompleteReason(event.response.incomplete_details?.reason ?? undefined);
            addUsage(totals, event.response.usage);
            break;
          case 'response.failed': {
            addUsage(totals, event.response.usage);
            const failure = event.response.error;
            throw responsesEventFailure(provider, failure?.code, failure?.message);
          }
          case 'error':
            throw responsesEventFailure(provider, event.code, event.message);
          default:
            break; // other events carry nothing the normalized log needs
        }
      }
    } catch (error) {
      if (idle) throw idleFailure(provider, idleTimeoutMs);
      if (turnSignal.aborted || error instanceof APIUserAbortError) throw abortError(signal);
      throw openAIFailure(provider, error);
    } finally {
      clearTimeout(idleTimer);
      turnSignal.removeEventListener('abort', onAbort);
    }
    // Raw iteration ends silently on abort.
    if (idle) throw idleFailure(provider, idleTimeoutMs);
    if (turnSignal.aborted) throw abortError(signal);
    if (!finished) {
      throw providerFailure(
        provider,
        'provider_unavailable',
        'The Responses stream ended before response.completed',
        {
          kind: 'stream_truncated',
        },
      );
    }
    input.push(...outputItems);
    emit({
      type: 'token_usage_updated',
      data: { ...toTokenUsage(totals), reasoningTokens: totals.reasoningOutputTokens },
    });
    return {
      toolCalls,
      stopReason: stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn'),
      text,
    };
  };

  try {
    const loop = await runToolLoop<TurnOutcome>({
      runTurn: async ({ toolResults, signal: turnSignal }) => {
        for (const result of toolResults) {
          input.push({
            type: 'function_call_output',
            call_id: result.toolCallId,
            output: toolOutputText(result.output, result.isError),
          });
        }
        return streamTurn(turnSignal);
      },
      tools,
      authorizeToolCall: options.authorizeToolCall,
      emit,
      signal,
      ...(settings.maxTurns !== undefined ? { maxTurns: settings.maxTurns } : {}),
      ...(options.toolRules !== undefined ? { toolRules: options.toolRules } : {}),
    });

    const tokenUsage = toTokenUsage(totals);
    const output: RunOutput = { content: loop.lastTurn.text };
    if (loop.stopReason !== undefined) output.stopReason = loop.stopReason;
    if (loop.pendingToolCalls.length > 0) output.pendingToolCalls = loop.pendingToolCalls;
    if (settings.outputSchema !== undefined) {
      try {
        output.structured = JSON.parse(loop.lastTurn.text) as unknown;
      } catch {
        // Kept as text only.
      }
    }
    emitTerminal({
      type: 'run_completed',
      data: { ...(loop.stopReason !== undefined ? { stopReason: loop.stopReason } : {}), tokenUsage },
    });
    const result: ExecuteResult = {
      output,
      tokenUsage,
      model: answeredBy ?? model,
      turnCount: loop.turns,
      metadata: {
        backend: 'responses',
        responseIds,
        reasoningTokens: totals.reasoningOutputTokens,
        maxTurnsReached: loop.maxTurnsReached,
      },
    };
    if (warnings.length > 0) result.warnings = warnings;
    return result;
  } catch (error) {
    if (signal.aborted) throw abortTerminal(emitTerminal, signal);
    const failure = AsmError.isInstance(error) ? error : openAIFailure(provider, error);
    throw failTerminal(emitTerminal, failure);
  }
}

function idleFailure(provider: string, idleTimeoutMs: number): AsmError {
  return providerFailure(
    provider,
    'provider_timeout',
    `The Responses stream sent nothing for ${idleTimeoutMs} ms (idle timeout)`,
    { kind: 'timeout' },
  );
}
