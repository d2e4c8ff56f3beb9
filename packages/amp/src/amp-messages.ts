/**
 * The Amp CLI's `--stream-json` messages ("Claude Code-compatible"), one JSON object a line, and a
 * tolerant parser for them.
 *
 * Shapes follow `@sourcegraph/amp-sdk`'s `types.d.ts`, checked against the emitter of the last
 * JavaScript CLI (0.0.1777897475). The real CLI omits fields the SDK's types require (no `id` or
 * `model` on assistant messages, no `usage` on the result), so every field the adapter does not
 * strictly need is optional here, and values of the wrong type are dropped rather than trusted.
 * See https://ampcode.com/manual and the SDK's `types.d.ts`.
 */

/** Per-message token counts of an assistant message (Anthropic-style names). */
export interface AmpUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  max_tokens?: number;
  service_tier?: string;
}

/** An MCP server as listed by the `system` init message. */
export interface AmpMcpServer {
  name: string;
  status?: string;
}

/** `{"type":"system","subtype":"init",...}`: the first message; `session_id` is the thread id (`T-…`). */
export interface AmpSystemMessage {
  type: 'system';
  subtype: string;
  session_id?: string;
  cwd?: string;
  tools: string[];
  mcp_servers: AmpMcpServer[];
  agent_mode?: string;
  reasoning_effort?: string;
}

/** Text the model wrote. */
export interface AmpTextBlock {
  type: 'text';
  text: string;
}

/** A tool call the model made; Amp runs the tool itself. */
export interface AmpToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

/** Reasoning text (only with `--stream-json-thinking`). */
export interface AmpThinkingBlock {
  type: 'thinking';
  thinking: string;
}

/** The result of a tool call, reported in a `user` message. */
export interface AmpToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  /** A string in practice; arrays of text blocks are joined, anything else is kept as it is. */
  content: unknown;
  is_error: boolean;
}

/** A content block of a type this adapter does not know, kept as it came. */
export interface AmpUnknownBlock {
  type: 'unknown';
  originalType: string;
  raw: unknown;
}

/** A content block of an assistant message. */
export type AmpAssistantBlock = AmpTextBlock | AmpToolUseBlock | AmpThinkingBlock | AmpUnknownBlock;
/** A content block of a user message. */
export type AmpUserBlock = AmpToolResultBlock | AmpTextBlock | AmpUnknownBlock;

/** One model turn: text, tool calls and (optionally) thinking, with the turn's usage. */
export interface AmpAssistantMessage {
  type: 'assistant';
  session_id?: string;
  /** Set on messages of a sub-agent, to the id of the tool call that started it. */
  parent_tool_use_id: string | null;
  message: {
    content: AmpAssistantBlock[];
    stop_reason?: string | null;
    usage?: AmpUsage;
  };
}

/** Tool results (and occasionally text) fed back to the model. */
export interface AmpUserMessage {
  type: 'user';
  session_id?: string;
  parent_tool_use_id: string | null;
  message: { content: AmpUserBlock[] };
}

/** The last message of a successful run. */
export interface AmpResultSuccessMessage {
  type: 'result';
  subtype: string;
  is_error: false;
  result: string;
  duration_ms?: number;
  num_turns?: number;
  session_id?: string;
  /** Declared by the SDK's types; the real CLI does not send it. */
  usage?: AmpUsage;
}

/** The last message of a failed run (`subtype` `error_during_execution`, …). */
export interface AmpResultErrorMessage {
  type: 'result';
  subtype: string;
  is_error: true;
  error: string;
  duration_ms?: number;
  num_turns?: number;
  session_id?: string;
  permission_denials?: unknown[];
}

/** A message of the stream-json protocol this adapter understands. */
export type AmpStreamMessage =
  | AmpSystemMessage
  | AmpAssistantMessage
  | AmpUserMessage
  | AmpResultSuccessMessage
  | AmpResultErrorMessage;

/** What one stdout line turned out to be. */
export type AmpLine =
  /** A message the adapter maps to events. */
  | { kind: 'message'; message: AmpStreamMessage }
  /** A JSON object the adapter does not understand (a new message type, or a malformed known one). */
  | { kind: 'unrecognized'; type: string; reason: string; raw: Record<string, unknown> }
  /** Not a JSON object with a string `type`: a protocol error. */
  | { kind: 'invalid'; reason: string };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function optionalCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function assignDefined<T extends object>(target: T, values: Partial<T>): T {
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  }
  return target;
}

function parentToolUseId(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function parseUsage(value: unknown): AmpUsage | undefined {
  if (!isObject(value)) return undefined;
  return assignDefined<AmpUsage>(
    {},
    {
      input_tokens: optionalCount(value.input_tokens),
      output_tokens: optionalCount(value.output_tokens),
      cache_creation_input_tokens: optionalCount(value.cache_creation_input_tokens),
      cache_read_input_tokens: optionalCount(value.cache_read_input_tokens),
      max_tokens: optionalCount(value.max_tokens),
      service_tier: optionalString(value.service_tier),
    },
  );
}

function unknownBlock(block: unknown): AmpUnknownBlock {
  const originalType = isObject(block) && typeof block.type === 'string' ? block.type : typeof block;
  return { type: 'unknown', originalType, raw: block };
}

function parseAssistantBlock(block: unknown): AmpAssistantBlock {
  if (!isObject(block)) return unknownBlock(block);
  if (block.type === 'text' && typeof block.text === 'string') return { type: 'text', text: block.text };
  if (block.type === 'thinking' && typeof block.thinking === 'string') {
    return { type: 'thinking', thinking: block.thinking };
  }
  if (block.type === 'tool_use' && typeof block.id === 'string' && typeof block.name === 'string') {
    return { type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} };
  }
  return unknownBlock(block);
}

function parseUserBlock(block: unknown): AmpUserBlock {
  if (!isObject(block)) return unknownBlock(block);
  if (block.type === 'tool_result' && typeof block.tool_use_id === 'string') {
    return {
      type: 'tool_result',
      tool_use_id: block.tool_use_id,
      content: block.content,
      is_error: block.is_error === true,
    };
  }
  if (block.type === 'text' && typeof block.text === 'string') return { type: 'text', text: block.text };
  return unknownBlock(block);
}

function parseSystem(raw: JsonObject): AmpSystemMessage {
  const tools = Array.isArray(raw.tools)
    ? raw.tools.filter((tool): tool is string => typeof tool === 'string')
    : [];
  const servers: AmpMcpServer[] = [];
  if (Array.isArray(raw.mcp_servers)) {
    for (const server of raw.mcp_servers) {
      if (isObject(server) && typeof server.name === 'string') {
        servers.push(
          assignDefined<AmpMcpServer>({ name: server.name }, { status: optionalString(server.status) }),
        );
      } else if (typeof server === 'string') {
        servers.push({ name: server });
      }
    }
  }
  return assignDefined<AmpSystemMessage>(
    { type: 'system', subtype: optionalString(raw.subtype) ?? 'init', tools, mcp_servers: servers },
    {
      session_id: optionalString(raw.session_id),
      cwd: optionalString(raw.cwd),
      agent_mode: optionalString(raw.agent_mode),
      reasoning_effort: optionalString(raw.reasoning_effort),
    },
  );
}

function parseResult(raw: JsonObject): AmpResultSuccessMessage | AmpResultErrorMessage {
  const subtype = optionalString(raw.subtype) ?? (raw.is_error === true ? 'error' : 'success');
  const isError = typeof raw.is_error === 'boolean' ? raw.is_error : subtype !== 'success';
  const common = {
    subtype,
    duration_ms: optionalCount(raw.duration_ms),
    num_turns: optionalCount(raw.num_turns),
    session_id: optionalString(raw.session_id),
  };
  if (isError) {
    const error =
      optionalString(raw.error) ??
      optionalString(raw.result) ??
      (isObject(raw.error) && typeof raw.error.message === 'string' ? raw.error.message : undefined) ??
      `Amp reported ${subtype}`;
    return assignDefined<AmpResultErrorMessage>(
      { type: 'result', subtype, is_error: true, error },
      {
        ...common,
        permission_denials: Array.isArray(raw.permission_denials) ? raw.permission_denials : undefined,
      },
    );
  }
  return assignDefined<AmpResultSuccessMessage>(
    { type: 'result', subtype, is_error: false, result: optionalString(raw.result) ?? '' },
    { ...common, usage: parseUsage(raw.usage) },
  );
}

/**
 * Validates one parsed JSON value against the stream-json schema. Tolerant: optional fields may be
 * missing, unknown content blocks are kept as `unknown` blocks, and a message of an unknown type (or
 * a known type without its required parts) is `unrecognized` rather than an error. Only a value that
 * is not an object with a string `type` is `invalid`.
 */
export function parseAmpMessage(value: unknown): AmpLine {
  if (!isObject(value)) return { kind: 'invalid', reason: 'the line is not a JSON object' };
  const type = value.type;
  if (typeof type !== 'string' || type === '') {
    return { kind: 'invalid', reason: 'the message has no string "type"' };
  }
  switch (type) {
    case 'system':
      return { kind: 'message', message: parseSystem(value) };
    case 'assistant':
    case 'user': {
      const message = value.message;
      if (!isObject(message) || !Array.isArray(message.content)) {
        return { kind: 'unrecognized', type, reason: 'message.content is not an array', raw: value };
      }
      const common = {
        parent_tool_use_id: parentToolUseId(value.parent_tool_use_id),
        ...(typeof value.session_id === 'string' ? { session_id: value.session_id } : {}),
      };
      if (type === 'user') {
        return {
          kind: 'message',
          message: { type, ...common, message: { content: message.content.map(parseUserBlock) } },
        };
      }
      const stopReason =
        typeof message.stop_reason === 'string' || message.stop_reason === null
          ? message.stop_reason
          : undefined;
      return {
        kind: 'message',
        message: {
          type,
          ...common,
          message: assignDefined<AmpAssistantMessage['message']>(
            { content: message.content.map(parseAssistantBlock) },
            { stop_reason: stopReason, usage: parseUsage(message.usage) },
          ),
        },
      };
    }
    case 'result':
      return { kind: 'message', message: parseResult(value) };
    default:
      return { kind: 'unrecognized', type, reason: `unknown message type "${type}"`, raw: value };
  }
}

/** Parses one stdout line: JSON first, then `parseAmpMessage`. A line that is not JSON is `invalid`. */
export function parseAmpLine(line: string): AmpLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'invalid', reason: 'the line is not valid JSON' };
  }
  return parseAmpMessage(value);
}

/** A tool result's content as text when it is text (a string, or an array of text blocks). */
export function toolResultText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content) && content.every((part) => isObject(part) && typeof part.text === 'string')) {
    return content.map((part) => (part as { text: string }).text).join('');
  }
  return undefined;
}
