import { type InputMessage, inputMessages, type RunInput, type Transcript } from '@asm/core';

/**
 * Chat Completions request messages (https://platform.openai.com/docs/api-reference/chat/create),
 * the subset this provider sends.
 */
export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** A function call of an assistant message. `arguments` is a JSON string, as on the wire. */
export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** Tool output as the model reads it: strings as they are, anything else as JSON. */
export function toolContent(output: unknown): string {
  if (typeof output === 'string') return output;
  if (output === undefined) return '';
  try {
    return JSON.stringify(output) ?? String(output);
  } catch {
    return String(output);
  }
}

function fromInputMessage(message: InputMessage): ChatMessage {
  if (message.role === 'system') return { role: 'system', content: message.content };
  if (message.role === 'assistant') return { role: 'assistant', content: message.content };
  return { role: 'user', content: message.content };
}

/**
 * Replays a session's earlier turns (core's provider-agnostic transcript) as Chat Completions
 * messages: assistant tool calls become `tool_calls` of one assistant message, tool results become
 * `tool` messages. Messages of the run being executed (`excludeRunId`) are skipped: its input is
 * sent from `run.input`.
 */
export function messagesFromTranscript(
  transcript: Transcript | undefined,
  excludeRunId: string,
): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const message of transcript?.messages ?? []) {
    if (message.metadata.runId === excludeRunId) continue;
    const previous = messages.at(-1);
    switch (message.role) {
      case 'system':
      case 'user':
        if (message.content) messages.push({ role: message.role, content: message.content });
        break;
      case 'assistant': {
        if (message.toolCallId && message.toolName) {
          const call: ChatToolCall = {
            id: message.toolCallId,
            type: 'function',
            function: { name: message.toolName, arguments: JSON.stringify(message.toolInput ?? {}) },
          };
          if (previous?.role === 'assistant') previous.tool_calls = [...(previous.tool_calls ?? []), call];
          else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
        } else if (message.content) {
          messages.push({ role: 'assistant', content: message.content });
        }
        break;
      }
      case 'tool':
        if (message.toolCallId) {
          messages.push({
            role: 'tool',
            tool_call_id: message.toolCallId,
            content: toolContent(message.toolOutput),
          });
        }
        break;
      default: {
        const unhandled: never = message.role;
        throw new Error(`Unhandled transcript role: ${String(unhandled)}`);
      }
    }
  }
  return messages;
}

/** The run's own input as messages (a string is one user message). */
export function messagesFromInput(input: RunInput): ChatMessage[] {
  return inputMessages(input).map(fromInputMessage);
}
