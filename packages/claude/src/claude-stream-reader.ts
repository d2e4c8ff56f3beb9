import type Anthropic from '@anthropic-ai/sdk';
import { type AdapterEvent, normalizeTokenUsage, type TokenUsage, type ToolCall } from '@asm/core';
import { invalidToolInputError } from './claude-errors.js';

/** Usage of one message as the stream reports it (`message_start`, overwritten by `message_delta`). */
interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: { ephemeral_1h_input_tokens?: number | null } | null;
}

type BlockState =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'tool_use'; id: string; name: string; json: string; input: unknown }
  | { type: 'other'; block: Record<string, unknown>; json: string };

/**
 * Reads the raw events of one streamed message (one model turn): emits `message_streamed` for text
 * (`kind: 'text'`) and thinking (`kind: 'thinking'`) deltas as they arrive, and rebuilds the
 * assistant message (text, thinking with its signature, redacted thinking, tool calls with their
 * input, and any other block as the API sent it) so the tool loop can send it back verbatim.
 *
 * Vendor reference: https://docs.anthropic.com/en/docs/build-with-claude/streaming. Event and block
 * types the adapter does not know are kept (blocks are passed back as they came) or ignored, never
 * a crash.
 */
export class ClaudeStreamReader {
  /** Text of the message so far. */
  text = '';
  model: string | undefined;
  messageId: string | undefined;
  stopReason: string | undefined;
  sawMessageStart = false;
  sawMessageStop = false;
  private wireUsage: WireUsage | undefined;
  private readonly blocks: BlockState[] = [];

  constructor(
    private readonly emit: (event: AdapterEvent) => void,
    private readonly onMessageStart: (model: string | undefined) => void,
  ) {}

  /** Handles one raw stream event. */
  handle(event: Anthropic.RawMessageStreamEvent): void {
    switch (event.type) {
      case 'content_block_delta': {
        const delta = event.delta;
        const block = this.blocks[event.index];
        switch (delta.type) {
          case 'text_delta':
            if (block?.type === 'text') block.text += delta.text;
            this.text += delta.text;
            if (delta.text !== '')
              this.emit({ type: 'message_streamed', data: { kind: 'text', delta: delta.text } });
            return;
          case 'thinking_delta':
            if (block?.type === 'thinking') block.thinking += delta.thinking;
            if (delta.thinking !== '') {
              this.emit({ type: 'message_streamed', data: { kind: 'thinking', delta: delta.thinking } });
            }
            return;
          case 'signature_delta':
            if (block?.type === 'thinking') block.signature += delta.signature;
            return;
          case 'input_json_delta':
            if (block?.type === 'tool_use' || block?.type === 'other') block.json += delta.partial_json;
            return;
          default:
            return; // citations and future delta types: nothing to stream
        }
      }
      case 'message_start': {
        this.sawMessageStart = true;
        this.model = event.message.model;
        this.messageId = event.message.id;
        this.wireUsage = { ...(event.message.usage as WireUsage) };
        this.onMessageStart(this.model);
        return;
      }
      case 'content_block_start': {
        const block = event.content_block as unknown as Record<string, unknown> & { type: string };
        switch (block.type) {
          case 'text':
            this.blocks[event.index] = {
              type: 'text',
              text: typeof block.text === 'string' ? block.text : '',
            };
            if (typeof block.text === 'string' && block.text !== '') this.text += block.text;
            return;
          case 'thinking':
            this.blocks[event.index] = {
              type: 'thinking',
              thinking: typeof block.thinking === 'string' ? block.thinking : '',
              signature: typeof block.signature === 'string' ? block.signature : '',
            };
            return;
          case 'tool_use':
            this.blocks[event.index] = {
              type: 'tool_use',
              id: String(block.id),
              name: String(block.name),
              json: '',
              input: block.input ?? {},
            };
            return;
          default:
            this.blocks[event.index] = { type: 'other', block: { ...block }, json: '' };
            return;
        }
      }
      case 'content_block_stop':
        return;
      case 'message_delta': {
        if (event.delta.stop_reason !== null && event.delta.stop_reason !== undefined) {
          this.stopReason = event.delta.stop_reason;
        }
        const usage = event.usage as WireUsage | undefined;
        if (usage) {
          this.wireUsage ??= {};
          for (const key of [
            'input_tokens',
            'output_tokens',
            'cache_creation_input_tokens',
            'cache_read_input_tokens',
          ] as const) {
            const value = usage[key];
            if (typeof value === 'number') this.wireUsage[key] = value;
          }
        }
        return;
      }
      case 'message_stop':
        this.sawMessageStop = true;
        return;
      default:
        return; // an event type added later: ignored
    }
  }

  /** Usage of this message so far (the counts of `message_start`, updated by `message_delta`). */
  usage(): TokenUsage | undefined {
    const wire = this.wireUsage;
    if (!wire) return undefined;
    return normalizeTokenUsage({
      inputTokens: wire.input_tokens ?? 0,
      outputTokens: wire.output_tokens ?? 0,
      cacheReadTokens: wire.cache_read_input_tokens ?? 0,
      cacheWriteTokens: wire.cache_creation_input_tokens ?? 0,
      cacheWrite1hTokens: wire.cache_creation?.ephemeral_1h_input_tokens ?? 0,
    });
  }

  private inputOf(block: { json: string; input?: unknown }): { ok: boolean; input: unknown } {
    if (block.json.trim() === '') return { ok: true, input: block.input ?? {} };
    try {
      return { ok: true, input: JSON.parse(block.json) as unknown };
    } catch {
      return { ok: false, input: {} };
    }
  }

  /** The assistant message to send back on the next turn, blocks in stream order. */
  assistantContent(): Anthropic.ContentBlockParam[] {
    const content: Anthropic.ContentBlockParam[] = [];
    for (const block of this.blocks) {
      if (!block) continue;
      switch (block.type) {
        case 'text':
          if (block.text !== '') content.push({ type: 'text', text: block.text });
          break;
        case 'thinking':
          content.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
          break;
        case 'tool_use':
          content.push({
            type: 'tool_use',
            id: block.id,
            name: block.name,
            input: this.inputOf(block).input,
          });
          break;
        case 'other': {
          const copy: Record<string, unknown> = { ...block.block };
          if (block.json.trim() !== '') copy.input = this.inputOf(block).input;
          content.push(copy as unknown as Anthropic.ContentBlockParam);
          break;
        }
        default: {
          const unhandled: never = block;
          throw new Error(`Unhandled block state: ${JSON.stringify(unhandled)}`);
        }
      }
    }
    return content;
  }

  /**
   * The tool calls of the message, in order. Invalid input JSON is `provider_error` (`parse_error`);
   * call it only when the model stopped to use tools (a message cut by `max_tokens` may hold a
   * half-written call).
   */
  toolCalls(provider: string, requestId: string | undefined): ToolCall[] {
    const calls: ToolCall[] = [];
    for (const block of this.blocks) {
      if (block?.type !== 'tool_use') continue;
      const parsed = this.inputOf(block);
      if (!parsed.ok) throw invalidToolInputError(provider, block.name, requestId);
      calls.push({ id: block.id, name: block.name, input: parsed.input });
    }
    return calls;
  }
}
