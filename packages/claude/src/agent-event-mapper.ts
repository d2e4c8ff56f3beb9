import { type AdapterEvent, normalizeTokenUsage, type TokenUsage } from '@asm/core';

/** Most unrecognized SDK messages kept verbatim in the result metadata. */
const MAX_UNRECOGNIZED_KEPT = 20;

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The text of a `tool_result` block's content: a string, or the text parts of a block list. */
export function toolResultText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts: string[] = [];
  for (const part of content) {
    if (isRecord(part) && part.type === 'text' && typeof part.text === 'string') parts.push(part.text);
  }
  return parts.length === content.length ? parts.join('') : undefined;
}

/**
 * The API failure Claude Code reported: from the synthetic `assistant` message it writes for a
 * failed request (`is_api_error_message`), completed by the `result`.
 */
export interface ClaudeAgentApiFailure {
  /** `api_error_status`: the HTTP status, when the API answered with one. */
  status?: number;
  /** `api_error_type`: the Anthropic error type (`rate_limit_error`, `overloaded_error`, …). */
  errorType?: string;
  /** `result.api_error`: a transport failure without a status (`connection_failed`). */
  apiError?: string;
  /** The assistant message's `error` (`rate_limit`, `authentication_failed`, `server_error`, …). */
  error?: string;
  requestId?: string;
  /** The text Claude Code wrote for the user (shown as the message, never parsed). */
  message?: string;
}

/** The token counts of a `result` for this run, and the cost the CLI computed for them. */
export interface ClaudeAgentResultUsage {
  tokenUsage: TokenUsage;
  costUsd?: number;
}

function sumModelUsage(models: JsonRecord): ClaudeAgentResultUsage {
  let input = 0;
  let output = 0;
  let cacheRead = 0;
  let cacheWrite = 0;
  let cacheWrite1h = 0;
  let cost: number | undefined;
  for (const entry of Object.values(models)) {
    if (!isRecord(entry)) continue;
    input += numberOf(entry.inputTokens) ?? 0;
    output += numberOf(entry.outputTokens) ?? 0;
    cacheRead += numberOf(entry.cacheReadInputTokens) ?? 0;
    cacheWrite += numberOf(entry.cacheCreationInputTokens) ?? 0;
    cacheWrite1h += numberOf(entry.cacheCreationEphemeral1hInputTokens) ?? 0;
    const entryCost = numberOf(entry.costUSD);
    if (entryCost !== undefined) cost = (cost ?? 0) + entryCost;
  }
  return {
    tokenUsage: normalizeTokenUsage({
      inputTokens: input,
      outputTokens: output,
      cacheReadTokens: cacheRead,
      cacheWriteTokens: cacheWrite,
      cacheWrite1hTokens: cacheWrite1h,
    }),
    ...(cost === undefined ? {} : { costUsd: cost }),
  };
}

/**
 * The usage of one `result`, for this run only. `model_usage_since_last_result` first: `modelUsage`
 * and `total_cost_usd` are cumulative over a resumed session (verified: the second run of a session
 * reports both runs). Then `modelUsage` (every model, subagents included), then `usage` (the main
 * loop only).
 */
export function resultUsage(result: JsonRecord): ClaudeAgentResultUsage {
  const since = result.model_usage_since_last_result;
  if (isRecord(since)) return sumModelUsage(since);
  const totalCost = numberOf(result.total_cost_usd);
  const models = result.modelUsage;
  if (isRecord(models) && Object.keys(models).length > 0) {
    const summed = sumModelUsage(models);
    return totalCost === undefined ? summed : { ...summed, costUsd: totalCost };
  }
  const usage = isRecord(result.usage) ? result.usage : {};
  const cacheCreation = isRecord(usage.cache_creation) ? usage.cache_creation : {};
  return {
    tokenUsage: normalizeTokenUsage({
      inputTokens: numberOf(usage.input_tokens) ?? 0,
      outputTokens: numberOf(usage.output_tokens) ?? 0,
      cacheReadTokens: numberOf(usage.cache_read_input_tokens) ?? 0,
      cacheWriteTokens: numberOf(usage.cache_creation_input_tokens) ?? 0,
      cacheWrite1hTokens: numberOf(cacheCreation.ephemeral_1h_input_tokens) ?? 0,
    }),
    ...(totalCost === undefined ? {} : { costUsd: totalCost }),
  };
}

interface StartedToolCall {
  name: string;
  input: unknown;
  parentToolCallId?: string;
}

/**
 * Turns the messages of `@anthropic-ai/claude-agent-sdk` (with `includePartialMessages`) into
 * normalized events, and keeps what the run's outcome needs:
 *
 * | SDK message | events |
 * |---|---|
 * | `system` `init` | `run_started` (`model`, `providerSessionId`, `cwd`, `tools`, `permissionMode`, `claudeCodeVersion`) |
 * | `stream_event` `text_delta` / `thinking_delta` | `message_streamed` (`kind` `text` / `thinking`) |
 * | `assistant` `text` block | `message_received` (one per text block) |
 * | `assistant` `tool_use` block (also a subagent's, with `parentToolCallId`) | `tool_call_started` |
 * | `user` `tool_result` block | `tool_call_completed`, or `tool_call_failed` when `is_error` (a denied call carries `denied: true`) |
 * | `assistant` with `is_api_error_message` | none: the API failure, for the run's `run_failed` |
 * | `result` | kept for the backend (usage, cost, outcome) |
 * | other `system` subtypes and informational messages (`status`, `api_retry`, hooks, tasks, rate-limit notices, …) | none |
 * | a message type the adapter does not know | none; kept verbatim in `unrecognized` (`metadata.unrecognized` of the run) |
 *
 * Content blocks of an unknown type that carry an `id` (server or MCP tool calls) become
 * `tool_call_started` named after the block, with the block in `data.raw`; their result blocks
 * (with `tool_use_id`) `tool_call_completed`, also with `data.raw`.
 */
export class ClaudeAgentEventMapper {
  /** The agent's session id (`init`, then every message). */
  sessionId: string | undefined;
  /** The model `init` reported. */
  model: string | undefined;
  /** Claude Code's version (`init`). */
  claudeCodeVersion: string | undefined;
  /** True once `run_started` is emitted. */
  started = false;
  /** True once Claude Code reported `init` (it then takes control requests such as `interrupt()`). */
  initialized = false;
  /** The `result` message, once it arrived. */
  result: JsonRecord | undefined;
  /** The API failure of the run, if Claude Code reported one. */
  apiFailure: ClaudeAgentApiFailure | undefined;
  /** The text of the last assistant text block of the main agent. */
  lastText = '';
  /** Request ids of the API requests the agent made, in order. */
  readonly requestIds: string[] = [];
  /** Messages the adapter does not know, verbatim (the first 20). */
  readonly unrecognized: unknown[] = [];
  private readonly toolCalls = new Map<string, StartedToolCall>();
  private readonly deniedReasons = new Map<string, string>();
  private muted = false;
  private resultWaiters: (() => void)[] = [];

  constructor(
    private readonly emit: (event: AdapterEvent) => void,
    private readonly startData: () => Record<string, unknown>,
  ) {}

  /** Stops every further provider event (a cancel is in progress); the outcome is still recorded. */
  mute(): void {
    this.muted = true;
  }

  /** Resolves once the `result` message arrived. */
  whenResult(): Promise<void> {
    if (this.result) return Promise.resolve();
    return new Promise((resolve) => this.resultWaiters.push(resolve));
  }

  /** Emits `run_started` once (before `init` only when the run fails to start). */
  ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    const data: Record<string, unknown> = { ...this.startData() };
    if (this.model !== undefined) data.model = this.model;
    if (this.sessionId !== undefined) data.providerSessionId = this.sessionId;
    this.emit({ type: 'run_started', data });
  }

  /** Records the tool call `canUseTool` asks about; emits `tool_call_started` if no message did yet. */
  noteToolCall(toolCallId: string, toolName: string, input: unknown): void {
    this.startToolCall(toolCallId, toolName, input);
  }

  /** Remembers why a call was denied, for its `tool_call_failed`. */
  noteDenial(toolCallId: string, reason: string): void {
    this.deniedReasons.set(toolCallId, reason);
  }

  /** Handles one SDK message. */
  handle(message: unknown): void {
    if (!isRecord(message)) {
      this.keepUnrecognized(message);
      return;
    }
    const type = message.type;
    if (type === 'stream_event') {
      this.onStreamEvent(message);
      return;
    }
    const sessionId = stringOf(message.session_id);
    if (sessionId !== undefined) this.sessionId ??= sessionId;
    switch (type) {
      case 'system':
        this.onSystem(message);
        return;
      case 'assistant':
        this.onAssistant(message);
        return;
      case 'user':
        this.onUser(message);
        return;
      case 'result':
        this.onResult(message);
        return;
      default:
        if (typeof type === 'string' && KNOWN_INFORMATIONAL_TYPES.has(type)) return;
        this.keepUnrecognized(message);
    }
  }

  private keepUnrecognized(message: unknown): void {
    if (this.unrecognized.length < MAX_UNRECOGNIZED_KEPT) this.unrecognized.push(message);
  }

  private onSystem(message: JsonRecord): void {
    if (message.subtype !== 'init') {
      if (typeof message.subtype !== 'string' || !KNOWN_SYSTEM_SUBTYPES.has(message.subtype)) {
        this.keepUnrecognized(message);
      }
      return;
    }
    this.initialized = true;
    const sessionId = stringOf(message.session_id);
    if (sessionId !== undefined) this.sessionId = sessionId;
    this.model = stringOf(message.model) ?? this.model;
    this.claudeCodeVersion = stringOf(message.claude_code_version);
    if (this.started || this.muted) return;
    this.started = true;
    const data: Record<string, unknown> = { ...this.startData() };
    if (this.model !== undefined) data.model = this.model;
    if (this.sessionId !== undefined) data.providerSessionId = this.sessionId;
    if (typeof message.cwd === 'string') data.cwd = message.cwd;
    if (Array.isArray(message.tools)) data.tools = message.tools;
    if (typeof message.permissionMode === 'string') data.permissionMode = message.permissionMode;
    if (this.claudeCodeVersion !== undefined) data.claudeCodeVersion = this.claudeCodeVersion;
    this.emit({ type: 'run_started', data });
  }

  private onStreamEvent(message: JsonRecord): void {
    if (this.muted || message.parent_tool_use_id != null) return; // a subagent's stream stays out
    const event = message.event as JsonRecord | undefined;
    if (event?.type !== 'content_block_delta') return;
    const delta = event.delta as JsonRecord | undefined;
    if (delta?.type === 'text_delta') {
      if (typeof delta.text === 'string' && delta.text !== '') {
        this.ensureStarted();
        this.emit({ type: 'message_streamed', data: { kind: 'text', delta: delta.text } });
      }
    } else if (delta?.type === 'thinking_delta') {
      if (typeof delta.thinking === 'string' && delta.thinking !== '') {
        this.ensureStarted();
        this.emit({ type: 'message_streamed', data: { kind: 'thinking', delta: delta.thinking } });
      }
    }
  }

  private noteRequestId(message: JsonRecord): void {
    const requestId = stringOf(message.request_id);
    if (requestId !== undefined && this.requestIds.at(-1) !== requestId) this.requestIds.push(requestId);
  }

  private onAssistant(message: JsonRecord): void {
    this.noteRequestId(message);
    const body = isRecord(message.message) ? message.message : {};
    if (message.is_api_error_message === true || body.model === '<synthetic>') {
      if (message.is_api_error_message === true) this.recordApiFailure(message, body);
      return; // Claude Code's own error text, not the model's answer
    }
    const parent = stringOf(message.parent_tool_use_id);
    const content = Array.isArray(body.content) ? body.content : [];
    for (const block of content) {
      if (!isRecord(block)) continue;
      switch (block.type) {
        case 'text':
          if (parent === undefined && typeof block.text === 'string') {
            this.lastText = block.text;
            if (!this.muted && block.text !== '') {
              this.ensureStarted();
              this.emit({ type: 'message_received', data: { role: 'assistant', content: block.text } });
            }
          }
          break;
        case 'tool_use':
          if (typeof block.id === 'string' && typeof block.name === 'string') {
            this.startToolCall(block.id, block.name, block.input, parent);
          }
          break;
        case 'thinking':
        case 'redacted_thinking':
          break; // streamed as thinking deltas already; never part of the answer
        default:
          if (typeof block.id === 'string') {
            const name = stringOf(block.name) ?? String(block.type);
            this.startToolCall(block.id, name, block.input, parent, block);
          } else if (typeof block.tool_use_id === 'string') {
            this.completeToolCall(block, true);
          } else {
            this.keepUnrecognized(block);
          }
      }
    }
  }

  private recordApiFailure(message: JsonRecord, body: JsonRecord): void {
    const failure: ClaudeAgentApiFailure = { ...(this.apiFailure ?? {}) };
    const status = numberOf(message.api_error_status);
    if (status !== undefined) failure.status = status;
    const errorType = stringOf(message.api_error_type);
    if (errorType !== undefined) failure.errorType = errorType;
    const error = stringOf(message.error);
    if (error !== undefined) failure.error = error;
    const apiError = stringOf(message.api_error);
    if (apiError !== undefined) failure.apiError = apiError;
    const requestId = stringOf(message.request_id);
    if (requestId !== undefined) failure.requestId = requestId;
    const content = Array.isArray(body.content) ? body.content : [];
    const text = toolResultText(content);
    if (text !== undefined && text !== '') failure.message = text;
    this.apiFailure = failure;
  }

  private startToolCall(
    toolCallId: string,
    toolName: string,
    input: unknown,
    parentToolCallId?: string,
    raw?: JsonRecord,
  ): void {
    if (this.toolCalls.has(toolCallId)) return;
    const call: StartedToolCall = { name: toolName, input };
    if (parentToolCallId !== undefined) call.parentToolCallId = parentToolCallId;
    this.toolCalls.set(toolCallId, call);
    if (this.muted) return;
    this.ensureStarted();
    const data: Record<string, unknown> & { toolCallId: string; toolName: string } = {
      toolCallId,
      toolName,
      toolInput: input,
    };
    if (parentToolCallId !== undefined) data.parentToolCallId = parentToolCallId;
    if (raw !== undefined) data.raw = raw;
    this.emit({ type: 'tool_call_started', data });
  }

  private onUser(message: JsonRecord): void {
    if (message.isReplay === true) return;
    const body = isRecord(message.message) ? message.message : {};
    const content = Array.isArray(body.content) ? body.content : [];
    for (const block of content) {
      if (isRecord(block) && typeof block.tool_use_id === 'string') {
        this.completeToolCall(block, block.type !== 'tool_result');
      }
    }
  }

  private completeToolCall(block: JsonRecord, keepRaw: boolean): void {
    const toolCallId = block.tool_use_id as string;
    const call = this.toolCalls.get(toolCallId);
    if (this.muted) return;
    this.ensureStarted();
    const text = toolResultText(block.content);
    const output = text ?? block.content;
    const data: Record<string, unknown> & { toolCallId: string; toolName: string } = {
      toolCallId,
      toolName: call?.name ?? 'unknown',
    };
    if (call?.input !== undefined) data.toolInput = call.input;
    if (call?.parentToolCallId !== undefined) data.parentToolCallId = call.parentToolCallId;
    if (output !== undefined) data.toolOutput = output;
    if (keepRaw) data.raw = block;
    if (block.is_error === true) {
      const denied = this.deniedReasons.get(toolCallId);
      data.errorMessage = denied ?? (typeof text === 'string' && text !== '' ? text : 'Tool failed');
      if (denied !== undefined) data.denied = true;
      this.emit({ type: 'tool_call_failed', data });
    } else {
      this.emit({ type: 'tool_call_completed', data });
    }
  }

  private onResult(message: JsonRecord): void {
    this.result = message;
    const sessionId = stringOf(message.session_id);
    if (sessionId !== undefined) this.sessionId = sessionId;
    const status = numberOf(message.api_error_status);
    const errorType = stringOf(message.api_error_type);
    const apiError = stringOf(message.api_error);
    if (status !== undefined || errorType !== undefined || apiError !== undefined) {
      this.apiFailure = {
        ...(this.apiFailure ?? {}),
        ...(status === undefined ? {} : { status }),
        ...(errorType === undefined ? {} : { errorType }),
        ...(apiError === undefined ? {} : { apiError }),
      };
    }
    for (const resolve of this.resultWaiters) resolve();
    this.resultWaiters = [];
  }
}

/**
 * Top-level message types of `@anthropic-ai/claude-agent-sdk` 0.3.331 that carry nothing for the
 * normalized log (progress, notices): known, so not "unrecognized".
 */
const KNOWN_INFORMATIONAL_TYPES: ReadonlySet<string> = new Set([
  'tool_progress',
  'tool_use_summary',
  'auth_status',
  'rate_limit_event',
  'prompt_suggestion',
  'conversation_reset',
]);

/** The `system` subtypes of 0.3.331 besides `init`: status, retries, hook and task bookkeeping, notices. */
const KNOWN_SYSTEM_SUBTYPES: ReadonlySet<string> = new Set([
  'status',
  'api_retry',
  'compact_boundary',
  'control_request_progress',
  'model_refusal_fallback',
  'model_refusal_no_fallback',
  'local_command_output',
  'hook_started',
  'hook_progress',
  'hook_response',
  'plugin_install',
  'task_notification',
  'task_started',
  'task_updated',
  'task_progress',
  'background_tasks_changed',
  'thinking_tokens',
  'session_state_changed',
  'worker_shutting_down',
  'commands_changed',
  'notification',
  'files_persisted',
  'memory_recall',
  'elicitation_complete',
  'permission_denied',
  'mirror_error',
  'informational',
  'session_writes_lost',
]);
