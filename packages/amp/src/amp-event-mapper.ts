import { type AdapterEvent, addTokenUsage, emptyTokenUsage, type TokenUsage, type ToolCall } from '@asm/core';
import type {
  AmpAssistantMessage,
  AmpLine,
  AmpResultErrorMessage,
  AmpResultSuccessMessage,
  AmpSystemMessage,
  AmpUsage,
  AmpUserMessage,
} from './amp-messages.js';
import { toolResultText } from './amp-messages.js';
import type { AmpWarning } from './amp-warnings.js';
import { warningMessages } from './amp-warnings.js';

/** Most unrecognized messages kept verbatim in the result metadata. */
const MAX_UNRECOGNIZED_KEPT = 20;

/** Converts one assistant message's usage to core's shape (cache creation counts as cache write). */
export function ampUsageToTokenUsage(usage: AmpUsage): Partial<TokenUsage> {
  return {
    inputTokens: usage.input_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadTokens: usage.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage.cache_creation_input_tokens ?? 0,
  };
}

interface KnownToolCall {
  name: string;
  input: unknown;
}

/**
 * Turns the messages of one Amp run into normalized events, in order, and keeps what the result
 * needs: the thread id, summed usage, tool calls, the final text and the `result` message.
 *
 * Mapping (spec PROV-amp-map): `system` → `run_started` (thread id, tools, MCP servers);
 * assistant text → `message_streamed` (`text`; `thinking` blocks → `thinking`); assistant
 * `tool_use` → `tool_call_started`; user `tool_result` → `tool_call_completed` or
 * `tool_call_failed`; each assistant message's usage → cumulative `token_usage_updated`; a
 * successful `result` → `message_received`. Terminal events are the adapter's job, once the process
 * has ended. Unknown messages and blocks are skipped with a warning and kept in
 * `unrecognized` (never a crash).
 */
export class AmpEventMapper {
  /** The Amp thread id (`T-…`), from the `system` message or any later message. */
  threadId: string | undefined;
  tokenUsage: TokenUsage = emptyTokenUsage();
  readonly toolCalls: ToolCall[] = [];
  result: AmpResultSuccessMessage | AmpResultErrorMessage | undefined;
  /** Stream warnings (unknown messages), added to the run's warnings. */
  readonly streamWarnings: AmpWarning[] = [];
  /** Raw unrecognized messages and blocks (the first 20). */
  readonly unrecognized: unknown[] = [];
  system: AmpSystemMessage | undefined;

  private started = false;
  private readonly knownTools = new Map<string, KnownToolCall>();
  private readonly warnedTypes = new Set<string>();
  /** Main-agent text since the last tool call: the answer when `result` has no text. */
  private trailingText = '';

  constructor(
    private readonly emit: (event: AdapterEvent) => void,
    private readonly startWarnings: readonly AmpWarning[],
  ) {}

  /** True once `run_started` was emitted. */
  get hasStarted(): boolean {
    return this.started;
  }

  /** The answer: the `result` text, else the main agent's last text. */
  get finalText(): string {
    if (this.result && !this.result.is_error && this.result.result !== '') return this.result.result;
    return this.trailingText;
  }

  /** Emits `run_started` unless it was; `system` adds the thread id, tools and MCP servers. */
  ensureStarted(system?: AmpSystemMessage): void {
    if (this.started) return;
    this.started = true;
    const data: Record<string, unknown> = {};
    if (system) {
      if (system.session_id !== undefined) data.providerSessionId = system.session_id;
      data.tools = system.tools;
      data.mcpServers = system.mcp_servers;
      if (system.cwd !== undefined) data.cwd = system.cwd;
      if (system.agent_mode !== undefined) data.agentMode = system.agent_mode;
      if (system.reasoning_effort !== undefined) data.reasoningEffort = system.reasoning_effort;
    }
    if (this.startWarnings.length > 0) {
      data.warnings = warningMessages(this.startWarnings);
      data.warningDetails = this.startWarnings.map((warning) => ({ ...warning }));
    }
    this.emit({ type: 'run_started', data });
  }

  /** Handles one parsed line (not `invalid` ones: those are the caller's protocol error). */
  handle(line: Exclude<AmpLine, { kind: 'invalid' }>): void {
    if (line.kind === 'unrecognized') {
      this.skip(line.type, line.reason, line.raw);
      return;
    }
    const message = line.message;
    switch (message.type) {
      case 'system':
        this.onSystem(message);
        break;
      case 'assistant':
        this.ensureStarted();
        this.onAssistant(message);
        break;
      case 'user':
        this.ensureStarted();
        this.onUser(message);
        break;
      case 'result':
        this.ensureStarted();
        this.onResult(message);
        break;
      default: {
        const unhandled: never = message;
        throw new Error(`Unhandled Amp message: ${JSON.stringify(unhandled)}`);
      }
    }
  }

  private noteThread(sessionId: string | undefined): void {
    if (sessionId !== undefined && sessionId !== '') this.threadId ??= sessionId;
  }

  private skip(type: string, reason: string, raw: unknown): void {
    if (this.unrecognized.length < MAX_UNRECOGNIZED_KEPT) this.unrecognized.push(raw);
    if (this.warnedTypes.has(type)) return;
    this.warnedTypes.add(type);
    this.streamWarnings.push({
      code: 'unrecognized_output',
      setting: type,
      message: `Skipped Amp output the adapter does not understand (${reason}); kept in metadata.unrecognized`,
    });
  }

  private onSystem(message: AmpSystemMessage): void {
    if (this.started) {
      this.noteThread(message.session_id);
      this.skip(`system:${message.subtype}`, `a second system message (${message.subtype})`, message);
      return;
    }
    this.system = message;
    if (message.session_id !== undefined) this.threadId = message.session_id;
    this.ensureStarted(message);
  }

  private onAssistant(message: AmpAssistantMessage): void {
    this.noteThread(message.session_id);
    const parent = message.parent_tool_use_id;
    const extra = parent === null ? {} : { parentToolCallId: parent };
    for (const block of message.message.content) {
      switch (block.type) {
        case 'text':
          if (block.text === '') break;
          if (parent === null) this.trailingText += block.text;
          this.emit({ type: 'message_streamed', data: { kind: 'text', delta: block.text, ...extra } });
          break;
        case 'thinking':
          if (block.thinking === '') break;
          this.emit({
            type: 'message_streamed',
            data: { kind: 'thinking', delta: block.thinking, ...extra },
          });
          break;
        case 'tool_use':
          if (parent === null) this.trailingText = '';
          this.knownTools.set(block.id, { name: block.name, input: block.input });
          this.toolCalls.push({ id: block.id, name: block.name, input: block.input });
          this.emit({
            type: 'tool_call_started',
            data: { toolCallId: block.id, toolName: block.name, toolInput: block.input, ...extra },
          });
          break;
        case 'unknown':
          this.skip(`assistant:${block.originalType}`, `assistant block "${block.originalType}"`, block.raw);
          break;
        default: {
          const unhandled: never = block;
          throw new Error(`Unhandled Amp block: ${JSON.stringify(unhandled)}`);
        }
      }
    }
    if (message.message.usage) {
      this.tokenUsage = addTokenUsage(this.tokenUsage, ampUsageToTokenUsage(message.message.usage));
      this.emit({ type: 'token_usage_updated', data: { ...this.tokenUsage } });
    }
  }

  private onUser(message: AmpUserMessage): void {
    this.noteThread(message.session_id);
    const parent = message.parent_tool_use_id;
    for (const block of message.message.content) {
      switch (block.type) {
        case 'tool_result': {
          const known = this.knownTools.get(block.tool_use_id);
          const data: Record<string, unknown> = {
            toolCallId: block.tool_use_id,
            toolName: known?.name ?? 'unknown',
            toolOutput: block.content,
          };
          if (known) data.toolInput = known.input;
          if (parent !== null) data.parentToolCallId = parent;
          if (block.is_error) {
            const text = toolResultText(block.content);
            data.isError = true;
            data.errorMessage = text !== undefined && text !== '' ? text : 'The tool call failed';
            this.emit({ type: 'tool_call_failed', data: data as AdapterEventData<'tool_call_failed'> });
          } else {
            this.emit({ type: 'tool_call_completed', data: data as AdapterEventData<'tool_call_completed'> });
          }
          break;
        }
        case 'text':
          // The prompt or text Amp feeds back to the model; the run's input is already in the log.
          break;
        case 'unknown':
          this.skip(`user:${block.originalType}`, `user block "${block.originalType}"`, block.raw);
          break;
        default: {
          const unhandled: never = block;
          throw new Error(`Unhandled Amp block: ${JSON.stringify(unhandled)}`);
        }
      }
    }
  }

  private onResult(message: AmpResultSuccessMessage | AmpResultErrorMessage): void {
    this.noteThread(message.session_id);
    if (this.result) {
      this.skip('result:repeated', 'a second result message', message);
      return;
    }
    this.result = message;
    if (!message.is_error) {
      if (message.usage && this.tokenUsage.totalTokens === 0) {
        // Only the SDK's types promise a result usage; use it when no assistant message had one.
        this.tokenUsage = addTokenUsage(this.tokenUsage, ampUsageToTokenUsage(message.usage));
        this.emit({ type: 'token_usage_updated', data: { ...this.tokenUsage } });
      }
      this.emit({ type: 'message_received', data: { role: 'assistant', content: this.finalText } });
    }
  }
}

type AdapterEventData<T extends AdapterEvent['type']> = NonNullable<
  Extract<AdapterEvent, { type: T }>['data']
>;
