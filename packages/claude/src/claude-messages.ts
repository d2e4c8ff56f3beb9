import type Anthropic from '@anthropic-ai/sdk';
import { AsmError, type RunInput, type ToolResult, type Transcript, type TranscriptMessage } from '@asm/core';

/** A result for a pending tool call, given in the next run's input: `{ toolResults: [...] }`. */
export interface ClaudeToolResultInput {
  /** The `toolu_…` id of the pending call (`output.pendingToolCalls[i].id`). */
  toolCallId: string;
  /** What the tool produced; a string is sent as it is, anything else as JSON. */
  output: unknown;
  /** True when the call failed; the model sees the output as an error. */
  isError?: boolean;
  /** The tool's name, for the log when the transcript does not have the call. */
  toolName?: string;
}

/** One message of a run's input: text, or Anthropic content blocks (images, documents). */
export interface ClaudeInputMessage {
  role: 'user' | 'assistant' | 'system' | (string & {});
  content: string | Anthropic.ContentBlockParam[];
}

/** A run's input, as the Claude adapter reads it. */
export interface ParsedClaudeInput {
  messages: ClaudeInputMessage[];
  toolResults: ClaudeToolResultInput[];
}

/** The request's conversation: `messages` plus system texts found in the transcript and the input. */
export interface ClaudeConversation {
  messages: Anthropic.MessageParam[];
  /** Texts of `system` messages, appended to the system prompt in order. */
  systemTexts: string[];
}

/** Text of the user message put first when a replayed conversation would start with the assistant. */
export const OMITTED_HISTORY_TEXT = '[Earlier messages of this conversation were omitted.]';
/** Result the model sees for a replayed tool call nothing answered. */
export const MISSING_TOOL_RESULT_TEXT = 'No result was recorded for this tool call.';

function invalidInput(message: string, details: Record<string, unknown> = {}): never {
  throw new AsmError('invalid_input', message, { details });
}

/**
 * Reads a run's input: a string or `{ prompt }` is a user message; `{ messages }` is a list of
 * `{ role, content }` where content is text or Anthropic content blocks; `{ toolResults }` answers
 * pending tool calls of the previous run. `{ messages }`, `{ prompt }` and `{ toolResults }` combine.
 */
export function parseClaudeInput(input: RunInput): ParsedClaudeInput {
  const parsed: ParsedClaudeInput = { messages: [], toolResults: [] };
  if (typeof input === 'string') {
    if (input !== '') parsed.messages.push({ role: 'user', content: input });
    return parsed;
  }
  if (typeof input !== 'object' || input === null) return parsed;
  const record = input as Record<string, unknown>;
  if (Array.isArray(record.toolResults)) {
    for (const item of record.toolResults as unknown[]) {
      const result = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      if (typeof result.toolCallId !== 'string' || result.toolCallId === '') {
        invalidInput('Every toolResults entry needs a toolCallId', { entry: item });
      }
      const entry: ClaudeToolResultInput = { toolCallId: result.toolCallId, output: result.output };
      if (result.isError === true) entry.isError = true;
      if (typeof result.toolName === 'string') entry.toolName = result.toolName;
      parsed.toolResults.push(entry);
    }
  }
  if (Array.isArray(record.messages)) {
    for (const item of record.messages as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const message = item as Record<string, unknown>;
      const role =
        typeof message.role === 'string' && message.role !== '' ? message.role.toLowerCase() : 'user';
      if (typeof message.content === 'string') {
        if (message.content !== '') parsed.messages.push({ role, content: message.content });
      } else if (Array.isArray(message.content)) {
        if (message.content.length > 0) {
          parsed.messages.push({ role, content: message.content as Anthropic.ContentBlockParam[] });
        }
      } else if (message.content !== undefined && message.content !== null) {
        parsed.messages.push({ role, content: JSON.stringify(message.content) });
      }
    }
  }
  if (typeof record.prompt === 'string' && record.prompt !== '') {
    parsed.messages.push({ role: 'user', content: record.prompt });
  }
  return parsed;
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const RESULT_BLOCK_TYPES = new Set(['text', 'image', 'document', 'search_result']);

/**
 * The `content` of a `tool_result` block for a tool's output: a string as it is, an array of
 * Anthropic content blocks (text, image, document, search_result) as it is, anything else as JSON,
 * nothing for `undefined`.
 */
export function toolResultContent(output: unknown): Anthropic.ToolResultBlockParam['content'] {
  if (output === undefined) return undefined;
  if (typeof output === 'string') return output;
  if (
    Array.isArray(output) &&
    output.length > 0 &&
    output.every(
      (block) =>
        typeof block === 'object' &&
        block !== null &&
        RESULT_BLOCK_TYPES.has(String((block as { type?: unknown }).type)),
    )
  ) {
    return output as Anthropic.ToolResultBlockParam['content'];
  }
  return stringify(output);
}

/** A `tool_result` block. */
export function toolResultBlock(
  toolUseId: string,
  output: unknown,
  isError: boolean,
): Anthropic.ToolResultBlockParam {
  const block: Anthropic.ToolResultBlockParam = { type: 'tool_result', tool_use_id: toolUseId };
  const content = toolResultContent(output);
  if (content !== undefined) block.content = content;
  if (isError) block.is_error = true;
  return block;
}

/** The `tool_result` block for a result of core's tool loop. */
export function toolResultBlockOf(result: ToolResult): Anthropic.ToolResultBlockParam {
  return toolResultBlock(result.toolCallId, result.output, result.isError);
}

type Role = 'user' | 'assistant';

interface Draft {
  role: Role;
  content: Anthropic.ContentBlockParam[];
}

interface ResultMeta {
  name?: string;
}

function hasText(value: string | undefined): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/**
 * Builds the request's `messages` from a replayed transcript and the run's input, as real Messages
 * API turns:
 *
 * - user and assistant text become text blocks; a transcript tool call becomes a `tool_use` block in
 *   an assistant message, a tool result a `tool_result` block in a user message; `system` messages
 *   go to `systemTexts`; transcript messages of `excludeRunId` (this run) are skipped;
 * - consecutive messages of one role merge into one message;
 * - every `tool_use` is answered in the next user message, results first and in call order (the
 *   last result wins when there are several; a call nothing answered gets an error result saying
 *   so); a result without a matching call right before becomes a text line;
 * - a conversation that starts with the assistant gets a short user message first;
 * - blank text is dropped, and a message that is a single text block is sent as a string.
 *
 * The input's `toolResults` come after the transcript (answering its last tool calls), then its
 * messages.
 */
export function buildClaudeConversation(options: {
  transcript?: Transcript;
  input: ParsedClaudeInput;
  excludeRunId?: string;
}): ClaudeConversation {
  const drafts: Draft[] = [];
  const systemTexts: string[] = [];
  const resultMeta = new WeakMap<Anthropic.ToolResultBlockParam, ResultMeta>();
  const toolNames = new Map<string, string>();

  const push = (role: Role, block: Anthropic.ContentBlockParam) => {
    const last = drafts[drafts.length - 1];
    if (last && last.role === role) last.content.push(block);
    else drafts.push({ role, content: [block] });
  };

  const fromTranscript = (message: TranscriptMessage) => {
    switch (message.role) {
      case 'system':
        if (hasText(message.content)) systemTexts.push(message.content);
        return;
      case 'user':
        if (hasText(message.content)) push('user', { type: 'text', text: message.content });
        return;
      case 'assistant':
        if (hasText(message.content)) push('assistant', { type: 'text', text: message.content });
        if (message.toolCallId !== undefined && message.toolName !== undefined && !message.content) {
          toolNames.set(message.toolCallId, message.toolName);
          push('assistant', {
            type: 'tool_use',
            id: message.toolCallId,
            name: message.toolName,
            input: message.toolInput ?? {},
          });
        }
        return;
      case 'tool': {
        if (message.toolCallId === undefined) {
          const line = `tool_result: ${message.toolName ?? ''} ${stringify(message.toolOutput ?? null)}`;
          push('user', { type: 'text', text: line });
          return;
        }
        const block = toolResultBlock(message.toolCallId, message.toolOutput, message.isError === true);
        resultMeta.set(block, message.toolName === undefined ? {} : { name: message.toolName });
        push('user', block);
        return;
      }
      default: {
        const unhandled: never = message.role;
        throw new Error(`Unhandled transcript role: ${String(unhandled)}`);
      }
    }
  };

  for (const message of options.transcript?.messages ?? []) {
    if (options.excludeRunId !== undefined && message.metadata.runId === options.excludeRunId) continue;
    fromTranscript(message);
  }
  for (const result of options.input.toolResults) {
    const block = toolResultBlock(result.toolCallId, result.output, result.isError === true);
    const name = result.toolName ?? toolNames.get(result.toolCallId);
    resultMeta.set(block, name === undefined ? {} : { name });
    push('user', block);
  }
  for (const message of options.input.messages) {
    if (message.role === 'system') {
      const textOf = typeof message.content === 'string' ? message.content : blocksText(message.content);
      if (hasText(textOf)) systemTexts.push(textOf);
      continue;
    }
    const role: Role = message.role === 'assistant' ? 'assistant' : 'user';
    if (typeof message.content === 'string') {
      if (hasText(message.content)) push(role, { type: 'text', text: message.content });
    } else {
      for (const block of message.content) push(role, block);
    }
  }

  const orphanText = (block: Anthropic.ToolResultBlockParam): Anthropic.TextBlockParam => {
    const name = resultMeta.get(block)?.name ?? '';
    const content = typeof block.content === 'string' ? block.content : stringify(block.content ?? null);
    return { type: 'text', text: `tool_result(${block.tool_use_id}):${name ? ` ${name}` : ''} ${content}` };
  };

  // Pair every tool_use with exactly one tool_result in the next user message.
  const paired: Draft[] = [];
  for (let index = 0; index < drafts.length; index++) {
    const draft = drafts[index]!;
    if (draft.role === 'assistant') {
      paired.push(draft);
      const uses = draft.content.filter(
        (block): block is Anthropic.ToolUseBlockParam => block.type === 'tool_use',
      );
      if (uses.length === 0) continue;
      const next = drafts[index + 1];
      const answer: Draft = next?.role === 'user' ? next : { role: 'user', content: [] };
      if (answer === next) index++;
      const byId = new Map<string, Anthropic.ToolResultBlockParam>();
      const rest: Anthropic.ContentBlockParam[] = [];
      const ids = new Set(uses.map((use) => use.id));
      for (const block of answer.content) {
        if (block.type === 'tool_result' && ids.has(block.tool_use_id)) byId.set(block.tool_use_id, block);
        else if (block.type === 'tool_result') rest.push(orphanText(block));
        else rest.push(block);
      }
      const results = uses.map(
        (use) => byId.get(use.id) ?? toolResultBlock(use.id, MISSING_TOOL_RESULT_TEXT, true),
      );
      paired.push({ role: 'user', content: [...results, ...rest] });
      continue;
    }
    paired.push({
      role: 'user',
      content: draft.content.map((block) => (block.type === 'tool_result' ? orphanText(block) : block)),
    });
  }
  if (paired[0]?.role === 'assistant') {
    paired.unshift({ role: 'user', content: [{ type: 'text', text: OMITTED_HISTORY_TEXT }] });
  }

  const messages: Anthropic.MessageParam[] = paired
    .filter((draft) => draft.content.length > 0)
    .map((draft) => {
      const only = draft.content[0];
      const isPlainText =
        draft.content.length === 1 && only?.type === 'text' && Object.keys(only).length === 2;
      return {
        role: draft.role,
        content: isPlainText ? (only as Anthropic.TextBlockParam).text : draft.content,
      };
    });
  return { messages, systemTexts };
}

function blocksText(blocks: Anthropic.ContentBlockParam[]): string {
  return blocks
    .map((block) => (block.type === 'text' ? block.text : ''))
    .filter((text) => text !== '')
    .join('\n');
}
