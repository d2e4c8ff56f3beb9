import Anthropic, { type ClientOptions } from '@anthropic-ai/sdk';
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
  type ToolLoopTurn,
  type Transcript,
} from '@asm/core';
import {
  idleTimeoutError,
  missingApiKeyError,
  toClaudeError,
  truncatedStreamError,
} from './claude-errors.js';

import { buildClaudeConversation, parseClaudeInput, toolResultBlockOf } from './claude-messages.js';
import { ClaudeStreamReader } from './claude-stream-reader.js';
import { runOptionChecks } from './field-checks.js';
import {
  CLAUDE_API_VERSION_WITHOUT_SAMPLING,
  type ClaudeMessagesClient,
  type ClaudeMessagesSettings,
  type ClaudeThinking,
  DEFAULT_CLAUDE_IDLE_TIMEOUT_MS,
  DEFAULT_CLAUDE_MAX_RETRIES,
  DEFAULT_CLAUDE_MAX_TOKENS,
  DEFAULT_CLAUDE_MAX_TURNS,
  DEFAULT_CLAUDE_MODEL,
  thinkingParam,
  validateTemperature,
  validateThinking,
} from './settings.js';

/** What the Claude provider can do (spec PROV-claude-caps). */
export const CLAUDE_CAPABILITIES: readonly Capability[] = [
  { name: 'streaming', type: 'sampling' },
  { name: 'tool_use', type: 'tool' },
  { name: 'vision', type: 'resource' },
  { name: 'system_prompts', type: 'prompt' },
  { name: 'interrupt', type: 'sampling' },
];

/** Per-run overrides read from `executeRun({ adapterOptions })`. */
export interface ClaudeRunOptions {
  model?: string;
  maxTokens?: number;
  temperature?: number;
  thinking?: ClaudeThinking;
}

/** The Claude provider on the Messages API. */
export interface ClaudeMessagesProvider extends ProviderAdapter {
  readonly backend: 'messages';
  /** The default model of its runs. */
  readonly model: string;
}

interface ClaudeTurn extends ToolLoopTurn {
  text: string;
}

/** Fires when nothing arrived for `timeoutMs`; cheap to touch on every stream event. */
class IdleWatchdog {
  private last = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly onIdle: () => void,
  ) {}

  start(): void {
    this.last = performance.now();
    this.timer = setTimeout(this.check, this.timeoutMs);
  }

  touch(): void {
    this.last = performance.now();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly check = (): void => {
    const idle = performance.now() - this.last;
    if (idle >= this.timeoutMs) {
      this.timer = undefined;
      this.onIdle();
    } else {
      this.timer = setTimeout(this.check, this.timeoutMs - idle);
    }
  };
}

function readRunOptions(adapterOptions: Record<string, unknown> | undefined): ClaudeRunOptions {
  const options: ClaudeRunOptions = {};
  if (!adapterOptions) return options;
  const { model, maxTokens, temperature, thinking } = adapterOptions;
  runOptionChecks.nonEmptyString('adapterOptions.model', model);
  runOptionChecks.positiveInteger('adapterOptions.maxTokens', maxTokens);
  if (model !== undefined) options.model = model as string;
  if (maxTokens !== undefined) options.maxTokens = maxTokens as number;
  if (temperature !== undefined) {
    validateTemperature(temperature, 'adapterOptions.temperature');
    options.temperature = temperature as number;
  }
  if (thinking !== undefined) {
    validateThinking(thinking, 'adapterOptions.thinking');
    options.thinking = thinking as ClaudeThinking;
  }
  return options;
}

/** The settings' tools, then the run's (a run tool replaces a settings tool of the same name). */
function mergeTools(own: readonly Tool[] | undefined, run: readonly Tool[] | undefined): Tool[] {
  const byName = new Map<string, Tool>();
  for (const tool of own ?? []) byName.set(tool.name, tool);
  for (const tool of run ?? []) byName.set(tool.name, tool);
  return [...byName.values()];
}

function toolParam(tool: Tool): Anthropic.Tool {
  const param: Anthropic.Tool = {
    name: tool.name,
    input_schema: { type: 'object', ...tool.inputSchema } as Anthropic.Tool.InputSchema,
  };
  if (tool.description !== undefined) param.description = tool.description;
  return param;
}

function transcriptToolCall(transcript: Transcript | undefined, toolCallId: string) {
  return transcript?.messages.find(
    (message) => message.role === 'assistant' && message.toolCallId === toolCallId && message.toolName,
  );
}

/** Builds the Messages API backend. Settings must be validated already. */
export function createMessagesBackend(settings: ClaudeMessagesSettings): ClaudeMessagesProvider {
  const name = settings.name ?? 'claude';
  const defaultModel = settings.model ?? DEFAULT_CLAUDE_MODEL;
  const maxTurns = settings.maxTurns ?? DEFAULT_CLAUDE_MAX_TURNS;
  const idleTimeoutMs = settings.idleTimeoutMs ?? DEFAULT_CLAUDE_IDLE_TIMEOUT_MS;
  const maxRetries = settings.maxRetries ?? settings.sdkOptions?.maxRetries ?? DEFAULT_CLAUDE_MAX_RETRIES;
  let cached: { key: unknown; client: ClaudeMessagesClient } | undefined;

  /** The injected client, or one created (and kept) for the API key in force now. */
  function resolveClient(): ClaudeMessagesClient {
    if (settings.client) return settings.client;
    const sdk = settings.sdkOptions ?? {};
    const otherAuth =
      sdk.authToken != null || sdk.credentials != null || sdk.config != null || sdk.profile != null;
    const envKey = process.env.ANTHROPIC_API_KEY;
    const key =
      settings.apiKey ??
      sdk.apiKey ??
      (otherAuth ? undefined : envKey === '' ? undefined : envKey) ??
      undefined;
    if (key === undefined && !otherAuth) throw missingApiKeyError(name);
    if (cached && cached.key === key) return cached.client;
    const options: ClientOptions = { ...sdk, maxRetries };
    if (settings.apiKey !== undefined) {
      delete options.authToken;
      delete options.credentials;
      delete options.config;
      delete options.profile;
    }
    if (key !== undefined) options.apiKey = key;
    if (settings.baseURL !== undefined) options.baseURL = settings.baseURL;
    const client = new Anthropic(options);
    cached = { key, client };
    return client;
  }

  async function execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const { signal } = options;
    const runOptions = readRunOptions(options.adapterOptions);
    const model = runOptions.model ?? defaultModel;
    const warnings: string[] = [];
    if (options.permissionMode !== undefined && options.permissionMode !== 'default') {
      warnings.push(
        `permissionMode ${options.permissionMode} is ignored: the Messages API runs only the tools the app provides`,
      );
    }
    const temperature = runOptions.temperature ?? settings.temperature;
    const sendsTemperature =
      settings.apiVersion !== undefined && settings.apiVersion < CLAUDE_API_VERSION_WITHOUT_SAMPLING;
    if (temperature !== undefined && !sendsTemperature) {
      warnings.push(
        `temperature is not sent: Anthropic API version ${settings.apiVersion ?? CLAUDE_API_VERSION_WITHOUT_SAMPLING} rejects it (set apiVersion '2023-06-01' to use it)`,
      );
    }

    let started = false;
    const emit = options.emit;
    const preamble: AdapterEvent[] = [];
    const start = (data: { model?: string; requestId?: string }): void => {
      if (started) return;
      started = true;
      const startData: { model?: string; requestId?: string; warnings?: string[] } = { ...data };
      if (warnings.length > 0) startData.warnings = warnings;
      emit({ type: 'run_started', data: startData });
      for (const event of preamble) emit(event);
      preamble.length = 0;
    };

    let usage: TokenUsage = emptyTokenUsage();
    let inflight: ClaudeStreamReader | undefined;
    const requestIds: string[] = [];
    let answeredModel: string | undefined;

    try {
      if (signal.aborted) throw abortError(signal);
      const client = resolveClient();
      const { continuation } = options;
      let transcript: Transcript | undefined;
      if (continuation.mode === 'replay')
        transcript = continuation.transcript ?? (await continuation.loadTranscript());
      else if (continuation.mode === 'native') transcript = await continuation.loadTranscript(); // no native resume: replay
      if (signal.aborted) throw abortError(signal);

      const input = parseClaudeInput(run.input);
      const conversation = buildClaudeConversation({
        ...(transcript === undefined ? {} : { transcript }),
        input,
        excludeRunId: run.id,
      });
      if (conversation.messages.length === 0) {
        throw new AsmError('invalid_input', 'The run has no message to send to Claude', {
          details: { runId: run.id },
        });
      }
      for (const result of input.toolResults) {
        const call = transcriptToolCall(transcript, result.toolCallId);
        const data = {
          toolCallId: result.toolCallId,
          toolName: result.toolName ?? call?.toolName ?? 'unknown',
          ...(call?.toolInput === undefined ? {} : { toolInput: call.toolInput }),
        };
        preamble.push(
          result.isError
            ? {
                type: 'tool_call_failed',
                data: {
                  ...data,
                  errorMessage: typeof result.output === 'string' ? result.output : 'Tool failed',
                  toolOutput: result.output,
                },
              }
            : { type: 'tool_call_completed', data: { ...data, toolOutput: result.output } },
        );
      }

      const systemPrompt = options.systemPrompt ?? settings.systemPrompt;
      const system = [systemPrompt, ...conversation.systemTexts]
        .filter((text): text is string => typeof text === 'string' && text !== '')
        .join('\n\n');
      const tools = mergeTools(settings.tools, options.tools);
      const offered = tools.filter((tool) => isToolAllowed(options.toolRules, tool.name)).map(toolParam);
      const thinking = thinkingParam(runOptions.thinking ?? settings.thinking);
      const baseParams: Omit<Anthropic.MessageCreateParamsStreaming, 'messages'> = {
        model,
        max_tokens:
          options.maxOutputTokens ?? runOptions.maxTokens ?? settings.maxTokens ?? DEFAULT_CLAUDE_MAX_TOKENS,
        stream: true,
      };
      if (system !== '') baseParams.system = system;
      if (offered.length > 0) baseParams.tools = offered;
      if (thinking !== undefined) baseParams.thinking = thinking;
      if (temperature !== undefined && sendsTemperature) {
        (baseParams as Record<string, unknown>).temperature = temperature;
      }
      const requestOptions: { maxRetries?: number; headers?: Record<string, string> } = {};
      if (settings.client && settings.maxRetries !== undefined)
        requestOptions.maxRetries = settings.maxRetries;
      if (settings.apiVersion !== undefined)
        requestOptions.headers = { 'anthropic-version': settings.apiVersion };
      const messages: Anthropic.MessageParam[] = [...conversation.messages];

      /** One model turn: stream the answer, emit its events, remember it for the next turn. */
      const streamTurn = async (): Promise<ClaudeTurn> => {
        const controller = new AbortController();
        const onAbort = () => controller.abort(signal.reason);
        if (signal.aborted) throw abortError(signal);
        signal.addEventListener('abort', onAbort, { once: true });
        let requestId: string | undefined;
        let idleError: AsmError | undefined;
        const watchdog = new IdleWatchdog(idleTimeoutMs, () => {
          idleError = idleTimeoutError(name, idleTimeoutMs, requestId);
          controller.abort(idleError);
        });
        const reader = new ClaudeStreamReader(emit, (answered) => {
          answeredModel = answered ?? answeredModel;
          start({ model: answered ?? model, ...(requestId === undefined ? {} : { requestId }) });
          inflight = reader;
        });
        watchdog.start();
        try {
          const pending = client.messages.create(
            { ...baseParams, messages: [...messages] },
            { ...requestOptions, signal: controller.signal },
          );
          let stream: AsyncIterable<Anthropic.RawMessageStreamEvent>;
          if (typeof pending.withResponse === 'function') {
            const response = await pending.withResponse();
            requestId = response.request_id ?? undefined;
            stream = response.data;
          } else {
            stream = await pending;
          }
          if (requestId !== undefined) requestIds.push(requestId);
          watchdog.touch();
          for await (const event of stream) {
            watchdog.touch();
            reader.handle(event);
          }
        } catch (error) {
          if (signal.aborted) throw abortError(signal);
          if (idleError) throw idleError;
          throw toClaudeError(error, name);
        } finally {
          watchdog.stop();
          signal.removeEventListener('abort', onAbort);
        }
        if (signal.aborted) throw abortError(signal);
        if (idleError) throw idleError;
        if (!reader.sawMessageStop) throw truncatedStreamError(name, requestId);

        const stopReason = reader.stopReason ?? 'end_turn';
        const toolCalls = stopReason === 'tool_use' ? reader.toolCalls(name, requestId) : [];
        const content = reader.assistantContent();
        if (content.length > 0) messages.push({ role: 'assistant', content });
        const final = stopReason !== 'tool_use' && stopReason !== 'pause_turn';
        if (reader.text !== '' || final) {
          emit({ type: 'message_received', data: { role: 'assistant', content: reader.text } });
        }
        const turnUsage = reader.usage();
        if (turnUsage) usage = addTokenUsage(usage, turnUsage);
        inflight = undefined;
        emit({ type: 'token_usage_updated', data: { ...usage } });
        return { toolCalls, stopReason, continue: stopReason === 'pause_turn', text: reader.text };
      };

      const loop = await runToolLoop<ClaudeTurn>({
        runTurn: async ({ toolResults }) => {
          if (toolResults.length > 0)
            messages.push({ role: 'user', content: toolResults.map(toolResultBlockOf) });
          return streamTurn();
        },
        tools,
        authorizeToolCall: options.authorizeToolCall,
        emit,
        signal,
        maxTurns,
        ...(options.toolRules === undefined ? {} : { toolRules: options.toolRules }),
        parallel: settings.parallelToolCalls === true,
      });

      const stopReason = loop.stopReason ?? 'end_turn';
      const output: RunOutput = { content: loop.lastTurn.text, stopReason };
      if (loop.pendingToolCalls.length > 0) output.pendingToolCalls = loop.pendingToolCalls;
      emit({ type: 'run_completed', data: { stopReason, tokenUsage: { ...usage } } });
      const result: ExecuteResult = {
        output,
        tokenUsage: usage,
        model: answeredModel ?? model,
        turnCount: loop.turns,
        metadata: { requestIds },
      };
      if (warnings.length > 0) result.warnings = warnings;
      return result;
    } catch (error) {
      const failure = signal.aborted
        ? abortError(signal)
        : AsmError.isInstance(error)
          ? error
          : AsmError.from(error, 'internal_error');
      const failedRequestId = failure.providerError?.requestId;
      start({ model, ...(failedRequestId === undefined ? {} : { requestId: failedRequestId }) });
      const partial = inflight?.usage();
      if (partial) emit({ type: 'token_usage_updated', data: { ...addTokenUsage(usage, partial) } });
      if (isAbortCode(failure.code)) {
        emit(
          failure.code === 'timeout'
            ? { type: 'run_timeout', data: {} }
            : { type: 'run_cancelled', data: { reason: failure.message } },
        );
      } else {
        emit({
          type: 'run_failed',
          data: {
            errorCode: failure.code,
            errorMessage: failure.message,
            ...(failure.providerError ? { providerError: failure.providerError } : {}),
          },
        });
      }
      throw failure;
    }
  }

  return {
    specificationVersion: 'v1',
    name,
    backend: 'messages',
    model: defaultModel,
    supportsNativeContinuation: false,
    capabilities: () => CLAUDE_CAPABILITIES.map((capability) => ({ ...capability })),
    execute,
  } satisfies ClaudeMessagesProvider;
}
