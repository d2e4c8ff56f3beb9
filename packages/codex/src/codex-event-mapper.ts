import type { AdapterEvent } from '@asm/core';
import { classifyCodexError } from './codex-errors.js';
import { type CodexCumulativeUsage, parseCodexUsage } from './usage.js';

/**
 * Translates the Codex CLI's `exec --experimental-json` events (the SDK's `ThreadEvent`s; vocabulary:
 * https://github.com/openai/codex/blob/main/sdk/typescript/src/events.ts and items.ts) into
 * normalized events. Pure and synchronous: `handle` one parsed line at a time; the backend emits the
 * terminal event itself once the process has ended.
 *
 * | Codex | normalized |
 * |---|---|
 * | `thread.started` | `run_started` `{ providerSessionId, threadId, model, warnings }` |
 * | `agent_message` item | `message_streamed` (`kind: 'text'`, the new text) and, when completed, `message_received` |
 * | `reasoning` item | `message_streamed` `kind: 'thinking'` |
 * | `todo_list` item | `message_streamed` `kind: 'plan'` (a checklist; `items` kept) |
 * | `command_execution` | `tool_call_*` of tool `bash`, input `{ command, cwd }`, output `{ output, exitCode, status }` |
 * | `file_change` | `tool_call_*` of tool `apply_patch`, input `{ changes }` |
 * | `mcp_tool_call` | `tool_call_*` of tool `<server>:<tool>` |
 * | `web_search` | `tool_call_*` of tool `web_search`, input `{ query }` |
 * | `error` item, non-fatal `error` event | `error_recovered` `{ errorMessage, errorCode }` |
 * | `turn.completed` | `token_usage_updated` (this run's usage) |
 * | an unknown item type | `tool_call_*` named after the type, the whole item in `data.raw` |
 *
 * A top-level `error` event followed by `turn.failed` is the failure itself, not a recovery: it is
 * held until the next event tells which it was.
 */
export class CodexEventMapper {
  /** The thread id, from `thread.started` (or the resumed thread). */
  threadId: string | undefined;
  /** Text of the last completed agent message: the run's answer. */
  finalText = '';
  /** Cumulative thread usage of the last `turn.completed`. */
  cumulativeUsage: CodexCumulativeUsage | undefined;
  /** True once `turn.completed` arrived. */
  turnCompleted = false;
  /** Message of `turn.failed`, or of a fatal `error` event. */
  failureMessage: string | undefined;
  /** Turns started (`turn.started`). */
  turns = 0;
  /** Top-level events of a type this mapper does not know (at most 20), for the run's metadata. */
  readonly unknownEvents: unknown[] = [];

  private started = false;
  private pendingError: string | undefined;
  private readonly streamedText = new Map<string, string>();
  private readonly plans = new Map<string, string>();
  private readonly toolsStarted = new Set<string>();
  private readonly toolsFinished = new Set<string>();
  private readonly errorsSeen = new Set<string>();

  constructor(
    private readonly options: {
      emit(event: AdapterEvent): void;
      workingDirectory: string;
      model?: string;
      warnings: string[];
      /** The thread being resumed, if any. */
      resumedThreadId?: string;
      /** Turns this cumulative usage into the run's own (`token_usage_updated`). */
      runUsage(cumulative: CodexCumulativeUsage): Record<string, unknown>;
    },
  ) {
    this.threadId = options.resumedThreadId;
  }

  /** Tool items started and not finished yet (a command still running). */
  get toolsRunning(): number {
    return this.toolsStarted.size - this.toolsFinished.size;
  }

  /** Emits `run_started` unless it was emitted already. */
  ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    const data: Record<string, unknown> = {};
    if (this.options.model !== undefined) data.model = this.options.model;
    if (this.threadId !== undefined) {
      data.providerSessionId = this.threadId;
      data.threadId = this.threadId;
    }
    data.resumed = this.options.resumedThreadId !== undefined;
    if (this.options.warnings.length > 0) data.warnings = [...this.options.warnings];
    this.options.emit({ type: 'run_started', data });
  }

  /** Handles one parsed JSONL event. Never throws for unknown or malformed shapes. */
  handle(event: unknown): void {
    const record = asRecord(event);
    const type = typeof record.type === 'string' ? record.type : '';
    if (type === 'thread.started') {
      const id = typeof record.thread_id === 'string' ? record.thread_id : undefined;
      if (id !== undefined) this.threadId = id;
      this.ensureStarted();
      return;
    }
    this.ensureStarted();
    if (type === 'turn.failed') {
      this.pendingError = undefined;
      const message = asRecord(record.error).message;
      this.failureMessage = typeof message === 'string' && message !== '' ? message : 'Codex turn failed';
      return;
    }
    this.flushPendingError();
    switch (type) {
      case 'turn.started':
        this.turns++;
        return;
      case 'turn.completed': {
        this.turnCompleted = true;
        this.cumulativeUsage = parseCodexUsage(record.usage);
        this.options.emit({ type: 'token_usage_updated', data: this.options.runUsage(this.cumulativeUsage) });
        return;
      }
      case 'error': {
        const message = typeof record.message === 'string' ? record.message : 'Codex error';
        this.pendingError = message;
        return;
      }
      case 'item.started':
      case 'item.updated':
      case 'item.completed':
        this.handleItem(type, asRecord(record.item));
        return;
      default:
        if (this.unknownEvents.length < 20) this.unknownEvents.push(event);
        return;
    }
  }

  /**
   * Called when the stream ended: a held `error` event becomes the failure message when the turn did
   * not complete.
   */
  finish(): void {
    if (this.pendingError !== undefined && !this.turnCompleted) {
      this.failureMessage ??= this.pendingError;
      this.pendingError = undefined;
    }
    this.flushPendingError();
  }

  private flushPendingError(): void {
    if (this.pendingError === undefined) return;
    const message = this.pendingError;
    this.pendingError = undefined;
    this.options.emit({
      type: 'error_recovered',
      data: { errorMessage: message, errorCode: classifyCodexError(message).code, source: 'stream' },
    });
  }

  private handleItem(
    phase: 'item.started' | 'item.updated' | 'item.completed',
    item: Record<string, unknown>,
  ) {
    const itemType = typeof item.type === 'string' ? item.type : 'unknown';
    const id =
      typeof item.id === 'string' && item.id !== '' ? item.id : `${itemType}_${this.toolsStarted.size}`;
    const completed = phase === 'item.completed';
    switch (itemType) {
      case 'agent_message': {
        const text = typeof item.text === 'string' ? item.text : '';
        this.streamText(id, text, 'text');
        if (completed) {
          this.finalText = text;
          this.options.emit({ type: 'message_received', data: { role: 'assistant', content: text } });
        }
        return;
      }
      case 'reasoning':
        this.streamText(id, typeof item.text === 'string' ? item.text : '', 'thinking');
        return;
      case 'todo_list':
        this.emitPlan(id, item);
        return;
      case 'error': {
        if (this.errorsSeen.has(id)) return;
        this.errorsSeen.add(id);
        const message = typeof item.message === 'string' ? item.message : 'Codex error';
        this.options.emit({
          type: 'error_recovered',
          data: { errorMessage: message, errorCode: classifyCodexError(message).code, source: 'item' },
        });
        return;
      }
      case 'command_execution': {
        const input = { command: item.command, cwd: this.options.workingDirectory };
        const exitCode = typeof item.exit_code === 'number' ? item.exit_code : undefined;
        const failed = item.status === 'failed' || (exitCode !== undefined && exitCode !== 0);
        const output: Record<string, unknown> = { output: item.aggregated_output ?? '', status: item.status };
        if (exitCode !== undefined) output.exitCode = exitCode;
        this.tool(id, 'bash', input, phase, item, {
          output,
          failed: completed && (failed || item.status !== 'completed'),
          errorMessage: exitCode !== undefined ? `Command exited with code ${exitCode}` : 'Command failed',
        });
        return;
      }
      case 'file_change': {
        const changes = Array.isArray(item.changes) ? item.changes : [];
        this.tool(id, 'apply_patch', { changes }, phase, item, {
          output: { changes, status: item.status },
          failed: completed && item.status !== 'completed',
          errorMessage: 'Patch failed',
        });
        return;
      }
      case 'mcp_tool_call': {
        const server = typeof item.server === 'string' ? item.server : '';
        const toolName = typeof item.tool === 'string' ? item.tool : 'mcp_tool';
        const error = asRecord(item.error).message;
        const result = asRecord(item.result);
        const output = result.structured_content ?? result.content ?? item.result;
        this.tool(id, server === '' ? toolName : `${server}:${toolName}`, item.arguments, phase, item, {
          output,
          failed: completed && (item.status === 'failed' || typeof error === 'string'),
          errorMessage: typeof error === 'string' ? error : 'MCP tool call failed',
        });
        return;
      }
      case 'web_search':
        this.tool(id, 'web_search', { query: item.query }, phase, item, {
          output: undefined,
          failed: false,
          errorMessage: '',
        });
        return;
      default:
        this.tool(id, itemType, undefined, phase, item, {
          output: undefined,
          failed: completed && item.status === 'failed',
          errorMessage: `${itemType} failed`,
          raw: true,
        });
        return;
    }
  }

  private streamText(id: string, text: string, kind: 'text' | 'thinking'): void {
    const previous = this.streamedText.get(id) ?? '';
    if (text === previous) return;
    const delta = text.startsWith(previous) ? text.slice(previous.length) : text;
    this.streamedText.set(id, text);
    if (delta !== '') this.options.emit({ type: 'message_streamed', data: { kind, delta, itemId: id } });
  }

  private emitPlan(id: string, item: Record<string, unknown>): void {
    const items = Array.isArray(item.items) ? item.items.map(asRecord) : [];
    const text = items
      .map((entry) => `- [${entry.completed === true ? 'x' : ' '}] ${String(entry.text ?? '')}`)
      .join('\n');
    if (this.plans.get(id) === text) return;
    this.plans.set(id, text);
    this.options.emit({
      type: 'message_streamed',
      data: {
        kind: 'plan',
        delta: text,
        itemId: id,
        items: items.map((entry) => ({
          text: String(entry.text ?? ''),
          completed: entry.completed === true,
        })),
      },
    });
  }

  private tool(
    id: string,
    toolName: string,
    toolInput: unknown,
    phase: 'item.started' | 'item.updated' | 'item.completed',
    item: Record<string, unknown>,
    outcome: { output: unknown; failed: boolean; errorMessage: string; raw?: boolean },
  ): void {
    const extra = (data: Record<string, unknown>) => {
      data.itemType = item.type;
      if (outcome.raw) data.raw = item;
      return data;
    };
    if (!this.toolsStarted.has(id)) {
      this.toolsStarted.add(id);
      const data: Record<string, unknown> = { toolCallId: id, toolName };
      if (toolInput !== undefined) data.toolInput = toolInput;
      this.options.emit({
        type: 'tool_call_started',
        data: extra(data) as { toolCallId: string; toolName: string },
      });
    }
    if (phase !== 'item.completed' || this.toolsFinished.has(id)) return;
    this.toolsFinished.add(id);
    const data: Record<string, unknown> = { toolCallId: id, toolName };
    if (toolInput !== undefined) data.toolInput = toolInput;
    if (outcome.output !== undefined) data.toolOutput = outcome.output;
    if (outcome.failed) {
      data.errorMessage = outcome.errorMessage;
      this.options.emit({
        type: 'tool_call_failed',
        data: extra(data) as { toolCallId: string; toolName: string },
      });
    } else {
      this.options.emit({
        type: 'tool_call_completed',
        data: extra(data) as { toolCallId: string; toolName: string },
      });
    }
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
