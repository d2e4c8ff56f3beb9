import {
  AsmError,
  type InputMessage,
  inputMessages,
  type RunInput,
  renderTranscriptAsText,
  type Transcript,
} from '@asm/core';

/**
 * The messages of a run's input. A string, `{ prompt }` or `{ messages }` as core reads them; any other
 * non-empty object becomes one user message holding its JSON. An empty input is `validation_error`.
 */
export function runMessages(input: RunInput): InputMessage[] {
  const messages = inputMessages(input);
  if (messages.length > 0) return messages;
  if (typeof input === 'object' && input !== null && Object.keys(input).length > 0) {
    return [{ role: 'user', content: JSON.stringify(input) }];
  }
  throw new AsmError('validation_error', 'Codex needs a prompt: the run input is empty', {
    details: { field: 'input' },
  });
}

/**
 * The prompt the Codex CLI reads on stdin (spec PROV-transcript-inject): when replaying, the transcript
 * as `role: content` lines, a blank line, then this run's messages; user messages as they are, others
 * as `role: content`.
 */
export function cliPrompt(messages: InputMessage[], transcript?: Transcript): string {
  const current = messages
    .map((message) => (message.role === 'user' ? message.content : `${message.role}: ${message.content}`))
    .join('\n\n');
  if (!transcript || transcript.messages.length === 0) return current;
  const history = renderTranscriptAsText(transcript);
  return history === '' ? current : `${history}\n\n${current}`;
}

/** One input item of a Responses request, in the shape this adapter sends. */
export type ResponsesInputItem =
  | { type: 'message'; role: 'user' | 'assistant' | 'system' | 'developer'; content: string }
  | { type: 'function_call'; call_id: string; name: string; arguments: string }
  | { type: 'function_call_output'; call_id: string; output: string };

function json(value: unknown): string {
  if (value === undefined) return 'null';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function role(value: string): 'user' | 'assistant' | 'system' | 'developer' {
  return value === 'assistant' || value === 'system' || value === 'developer' ? value : 'user';
}

/**
 * The Responses input of a replayed transcript: user, assistant and system messages as messages;
 * tool calls and results as text (`tool_call(<id>): <name> <input>`, `tool_result(<id>): <name>
 * <output>`), because a transcript cut by the character budget may hold a result without its call,
 * which the API would reject as `function_call_output` items.
 */
export function transcriptToResponsesInput(transcript: Transcript | undefined): ResponsesInputItem[] {
  const items: ResponsesInputItem[] = [];
  for (const message of transcript?.messages ?? []) {
    if (message.role === 'assistant' && message.toolName !== undefined && !message.content) {
      items.push({
        type: 'message',
        role: 'assistant',
        content: `tool_call(${message.toolCallId ?? ''}): ${message.toolName} ${json(message.toolInput ?? {})}`,
      });
    } else if (message.role === 'tool') {
      items.push({
        type: 'message',
        role: 'user',
        content: `tool_result(${message.toolCallId ?? ''}): ${message.toolName ?? ''} ${json(message.toolOutput)}`,
      });
    } else if (message.content) {
      items.push({ type: 'message', role: role(message.role), content: message.content });
    }
  }
  return items;
}

/** The Responses input items of a run's own messages. */
export function messagesToResponsesInput(messages: InputMessage[]): ResponsesInputItem[] {
  return messages.map((message) => ({ type: 'message', role: role(message.role), content: message.content }));
}

/** A tool output as the string a `function_call_output` carries. */
export function toolOutputText(output: unknown, isError: boolean): string {
  const text = json(output);
  return isError ? `Error: ${text}` : text;
}
