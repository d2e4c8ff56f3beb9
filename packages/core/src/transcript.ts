import { getConfig } from './config.js';
import { AsmError } from './errors.js';
import type { StoredEvent } from './event.js';

/** Role of a transcript message. */
export type TranscriptRole = 'system' | 'user' | 'assistant' | 'tool';

/** One message of a provider-agnostic transcript. */
export interface TranscriptMessage {
  role: TranscriptRole;
  content?: string;
  toolCallId?: string;
  toolName?: string;
  toolInput?: Record<string, unknown>;
  toolOutput?: unknown;
  /** True on the tool message of a `tool_call_failed` event. */
  isError?: boolean;
  /**
   * True on an assistant message assembled from streamed text that no `message_received` has
   * finalized yet. `updateTranscript` keeps appending to it while the same run streams on.
   */
  partial?: boolean;
  /** `{ eventId, runId, timestamp, sequence }` of the source event, over that event's own metadata. */
  metadata: Record<string, unknown>;
}

/** A session's conversation rebuilt from its events, for replay into any provider. */
export interface Transcript {
  sessionId: string;
  messages: TranscriptMessage[];
  lastSequence?: number;
  lastTimestamp?: string;
  metadata: Record<string, unknown>;
}

/**
 * Options of `buildTranscript` and `updateTranscript`. Limits keep the **newest** messages:
 * `maxMessages` applies first, then a character budget, the lower of `maxChars` and
 * `maxTokensApprox × charsPerToken`.
 */
export interface TranscriptOptions {
  /** The transcript's session; defaults to the session of the first event. */
  sessionId?: string;
  /** Keep at most this many messages (a non-negative integer). */
  maxMessages?: number;
  /** Keep at most this many characters, counted by `transcriptMessageChars`. */
  maxChars?: number;
  /** Keep at most about this many tokens: a budget of `maxTokensApprox × charsPerToken` characters. */
  maxTokensApprox?: number;
  /** Characters per token for `maxTokensApprox`; defaults to `getConfig('charsPerToken')` (4). */
  charsPerToken?: number;
}

/** `toolOutput` of the tool message written for `tool_approval_requested`. */
export const APPROVAL_PENDING_TOOL_OUTPUT = '[Execution paused: awaiting human approval]';

const ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool'];

function toRole(value: unknown, fallback: TranscriptRole): TranscriptRole {
  return typeof value === 'string' && ROLES.includes(value) ? (value as TranscriptRole) : fallback;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compareOptional<T extends string | number>(left: T | undefined, right: T | undefined): number {
  if (left === undefined && right === undefined) return 0;
  if (left === undefined) return 1; // missing values sort last
  if (right === undefined) return -1;
  return left < right ? -1 : left > right ? 1 : 0;
}

function integerSequence(event: StoredEvent): number | undefined {
  return Number.isInteger(event.sequence) ? event.sequence : undefined;
}

/** Sorts by sequence (events without one last), then timestamp, then id; stable for full ties. */
function sortEvents(events: readonly StoredEvent[]): StoredEvent[] {
  return [...events].sort(
    (a, b) =>
      compareOptional(integerSequence(a), integerSequence(b)) ||
      compareOptional(a.timestamp || undefined, b.timestamp || undefined) ||
      compareOptional(a.id || undefined, b.id || undefined),
  );
}

function messageMetadata(event: StoredEvent): Record<string, unknown> {
  const metadata: Record<string, unknown> = { ...(event.metadata ?? {}), eventId: event.id };
  if (event.runId !== undefined) metadata.runId = event.runId;
  else delete metadata.runId;
  metadata.timestamp = event.timestamp;
  metadata.sequence = event.sequence;
  return metadata;
}

/** The text being streamed into an assistant message not finalized yet. */
interface PendingStream {
  text: string;
  runId: string | undefined;
  /** Metadata of the latest contributing event. */
  metadata: Record<string, unknown>;
}

/** Turns sorted events into messages; `initialPending` carries a stream on from an earlier transcript. */
function eventsToMessages(
  sorted: readonly StoredEvent[],
  initialPending: PendingStream | undefined,
): TranscriptMessage[] {
  const messages: TranscriptMessage[] = [];
  let pending = initialPending;

  const flush = (): void => {
    if (pending && pending.text !== '') {
      messages.push({ role: 'assistant', content: pending.text, partial: true, metadata: pending.metadata });
    }
    pending = undefined;
  };

  for (const event of sorted) {
    switch (event.type) {
      case 'message_streamed': {
        const data = event.data as Record<string, unknown>;
        if (data.kind !== undefined && data.kind !== 'text') break; // thinking and plan stay out
        const delta =
          typeof data.delta === 'string' ? data.delta : typeof data.content === 'string' ? data.content : '';
        if (delta === '') break;
        if (pending && pending.runId !== event.runId) flush(); // a new run's stream is a new message
        pending = {
          text: (pending?.text ?? '') + delta,
          runId: event.runId,
          metadata: messageMetadata(event),
        };
        break;
      }
      case 'message_received': {
        const role = toRole(event.data.role, 'assistant');
        const content = typeof event.data.content === 'string' ? event.data.content : '';
        if (role === 'assistant' && pending && pending.runId === event.runId) {
          const text = content !== '' ? content : pending.text;
          pending = undefined;
          if (text !== '') messages.push({ role, content: text, metadata: messageMetadata(event) });
          break;
        }
        flush();
        if (content !== '') messages.push({ role, content, metadata: messageMetadata(event) });
        break;
      }
      case 'message_sent': {
        flush();
        const content = typeof event.data.content === 'string' ? event.data.content : '';
        if (content !== '') {
          messages.push({ role: toRole(event.data.role, 'user'), content, metadata: messageMetadata(event) });
        }
        break;
      }
      case 'tool_call_started': {
        flush();
        const message: TranscriptMessage = {
          role: 'assistant',
          toolCallId: event.data.toolCallId,
          toolName: event.data.toolName,
          metadata: messageMetadata(event),
        };
        if (isPlainRecord(event.data.toolInput)) message.toolInput = event.data.toolInput;
        messages.push(message);
        break;
      }
      case 'tool_call_completed':
      case 'tool_call_failed': {
        flush();
        const message: TranscriptMessage = {
          role: 'tool',
          toolCallId: event.data.toolCallId,
          toolName: event.data.toolName,
          metadata: messageMetadata(event),
        };
        if (event.type === 'tool_call_failed') {
          message.isError = true;
          message.toolOutput = event.data.toolOutput ?? event.data.errorMessage;
        } else {
          message.toolOutput = event.data.toolOutput;
        }
        if (message.toolOutput === undefined) delete message.toolOutput;
        messages.push(message);
        break;
      }
      case 'tool_approval_requested': {
        flush();
        messages.push({
          role: 'tool',
          toolCallId: event.data.toolCallId,
          toolName: event.data.toolName,
          toolOutput: APPROVAL_PENDING_TOOL_OUTPUT,
          metadata: messageMetadata(event),
        });
        break;
      }
      default:
        break; // every other event type stays out of the transcript and does not break a stream
    }
  }
  flush(); // streamed text nothing finalized yet ends the events as a `partial` message
  return messages;
}

function jsonLength(value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value === 'string') return value.length;
  try {
    return JSON.stringify(value)?.length ?? 0;
  } catch {
    return String(value).length;
  }
}

/**
 * The size of a message for the character budget: the length of `content`, plus for tool calls and
 * results the length of `toolName` and of the JSON text of `toolInput` and `toolOutput` (a string
 * output counts as its own length). Lengths are UTF-16 code units (`String.prototype.length`).
 */
export function transcriptMessageChars(message: TranscriptMessage): number {
  return (
    (message.content?.length ?? 0) +
    (message.toolName?.length ?? 0) +
    jsonLength(message.toolInput) +
    jsonLength(message.toolOutput)
  );
}

function checkLimit(
  options: TranscriptOptions,
  key: keyof TranscriptOptions,
  integer: boolean,
  positive: boolean,
) {
  const value = options[key];
  if (value === undefined) return;
  const valid =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (positive ? value > 0 : value >= 0) &&
    (!integer || Number.isInteger(value));
  if (!valid) {
    throw new AsmError(
      'validation_error',
      `${key} must be a ${positive ? 'positive' : 'non-negative'} ${integer ? 'integer' : 'number'}`,
      { details: { field: key, value } },
    );
  }
}

function validateOptions(options: TranscriptOptions): void {
  checkLimit(options, 'maxMessages', true, false);
  checkLimit(options, 'maxChars', false, false);
  checkLimit(options, 'maxTokensApprox', false, false);
  checkLimit(options, 'charsPerToken', false, true);
  if (
    options.sessionId !== undefined &&
    (typeof options.sessionId !== 'string' || options.sessionId === '')
  ) {
    throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
      details: { field: 'sessionId' },
    });
  }
}

/** The character budget: the lower of `maxChars` and `maxTokensApprox × charsPerToken`, if any. */
function characterBudget(options: TranscriptOptions): number | undefined {
  const budgets: number[] = [];
  if (options.maxChars !== undefined) budgets.push(options.maxChars);
  if (options.maxTokensApprox !== undefined) {
    budgets.push(options.maxTokensApprox * (options.charsPerToken ?? getConfig('charsPerToken')));
  }
  return budgets.length === 0 ? undefined : Math.min(...budgets);
}

function truncateMessages(messages: TranscriptMessage[], options: TranscriptOptions): TranscriptMessage[] {
  let kept = messages;
  if (options.maxMessages !== undefined && kept.length > options.maxMessages) {
    kept = options.maxMessages === 0 ? [] : kept.slice(-options.maxMessages);
  }
  const budget = characterBudget(options);
  if (budget === undefined) return kept;
  let used = 0;
  let start = kept.length;
  for (let index = kept.length - 1; index >= 0; index--) {
    const size = transcriptMessageChars(kept[index] as TranscriptMessage);
    if (used + size > budget) break; // stop at the first message that does not fit
    used += size;
    start = index;
  }
  return start === 0 ? kept : kept.slice(start);
}

function lastOf(sorted: readonly StoredEvent[], base: { lastSequence?: number; lastTimestamp?: string }) {
  let lastSequence = base.lastSequence;
  for (const event of sorted) {
    const sequence = integerSequence(event);
    if (sequence !== undefined && (lastSequence === undefined || sequence > lastSequence))
      lastSequence = sequence;
  }
  const last = sorted[sorted.length - 1];
  return { lastSequence, lastTimestamp: last ? last.timestamp : base.lastTimestamp };
}

function checkSessions(events: readonly StoredEvent[], sessionId: string): void {
  for (const event of events) {
    if (event.sessionId !== undefined && event.sessionId !== sessionId) {
      throw new AsmError(
        'session_mismatch',
        `Event ${event.id} belongs to session ${event.sessionId}, not ${sessionId}`,
        {
          details: { eventId: event.id, expected: sessionId, actual: event.sessionId },
        },
      );
    }
  }
}

function assemble(
  sessionId: string,
  messages: TranscriptMessage[],
  last: { lastSequence?: number; lastTimestamp?: string },
  metadata: Record<string, unknown>,
  options: TranscriptOptions,
): Transcript {
  const transcript: Transcript = { sessionId, messages: truncateMessages(messages, options), metadata };
  if (last.lastSequence !== undefined) transcript.lastSequence = last.lastSequence;
  if (last.lastTimestamp !== undefined) transcript.lastTimestamp = last.lastTimestamp;
  return transcript;
}

/**
 * Rebuilds a session's conversation from its stored events (spec CONT-from-events), as a pure function.
 *
 * - Events are sorted by sequence, then timestamp, then id.
 * - `message_sent` gives a message of its role (default `user`); `message_received` a message of its
 *   role (default `assistant`). Empty content is skipped.
 * - Consecutive `message_streamed` deltas of kind `text` (or no kind) of one run merge into one
 *   assistant message. An assistant `message_received` of that run finalizes it with its own content
 *   when non-empty, else the streamed text. Any other transcript event (or a delta of another run)
 *   first flushes the streamed text as a message marked `partial`; so does the end of the events.
 *   `thinking` and `plan` deltas are ignored.
 * - `tool_call_started` gives an assistant message with `toolCallId`, `toolName` and `toolInput`
 *   (objects only); `tool_call_completed` and `tool_call_failed` give a `tool` message with
 *   `toolOutput` (a failure without output uses its `errorMessage`, and sets `isError`);
 *   `tool_approval_requested` gives a `tool` message whose output is `APPROVAL_PENDING_TOOL_OUTPUT`.
 * - Every other event type is ignored.
 *
 * `sessionId` comes from the options, else the first event; with neither it is `validation_error`.
 * An event of another session is `session_mismatch`. Limits in `options` are then applied (see
 * `TranscriptOptions`); invalid limits are `validation_error`.
 */
export function buildTranscript(events: readonly StoredEvent[], options: TranscriptOptions = {}): Transcript {
  validateOptions(options);
  const sorted = sortEvents(events);
  const sessionId = options.sessionId ?? sorted[0]?.sessionId;
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw new AsmError(
      'validation_error',
      'A transcript needs a sessionId: pass it in options or give events',
      {
        details: { field: 'sessionId' },
      },
    );
  }
  checkSessions(sorted, sessionId);
  const messages = eventsToMessages(sorted, undefined);
  return assemble(sessionId, messages, lastOf(sorted, {}), {}, options);
}

/**
 * Appends the events whose sequence is greater than `transcript.lastSequence` (all of them when it
 * has none) and re-applies the limits in `options`. A trailing `partial` assistant message keeps
 * growing when the same run streams on, and is finalized by that run's assistant `message_received`.
 * Without new events the transcript is only re-truncated. Returns a new transcript.
 */
export function updateTranscript(
  transcript: Transcript,
  newEvents: readonly StoredEvent[],
  options: TranscriptOptions = {},
): Transcript {
  validateOptions(options);
  const after = transcript.lastSequence;
  const fresh = sortEvents(
    newEvents.filter((event) => {
      const sequence = integerSequence(event);
      return after === undefined || sequence === undefined || sequence > after;
    }),
  );
  checkSessions(fresh, transcript.sessionId);
  const previous = [...transcript.messages];
  let pending: PendingStream | undefined;
  const tail = previous[previous.length - 1];
  if (
    tail?.partial === true &&
    tail.role === 'assistant' &&
    typeof tail.content === 'string' &&
    fresh.length > 0
  ) {
    previous.pop();
    const runId = typeof tail.metadata.runId === 'string' ? tail.metadata.runId : undefined;
    pending = { text: tail.content, runId, metadata: tail.metadata };
  }
  const messages = eventsToMessages(fresh, pending);
  const last = lastOf(fresh, transcript);
  return assemble(
    transcript.sessionId,
    [...previous, ...messages],
    last,
    { ...transcript.metadata },
    options,
  );
}

function json(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  try {
    return JSON.stringify(value) ?? fallback;
  } catch {
    return String(value);
  }
}

/**
 * Renders a transcript as plain text for CLI adapters that replay a conversation in a prompt, one
 * message per line (a message's own newlines are kept):
 *
 * - `user: <content>`, `assistant: <content>`, `system: <content>`, `tool: <content>`
 * - `assistant_tool_call(<id>): <name> <json input>` for a tool call (`{}` without input)
 * - `tool_result(<id>): <name> <json output>` for a tool result (`null` without output)
 */
export function renderTranscriptAsText(transcript: Transcript): string {
  const lines: string[] = [];
  for (const message of transcript.messages) {
    if (message.role === 'assistant' && message.toolName !== undefined && !message.content) {
      lines.push(
        `assistant_tool_call(${message.toolCallId ?? ''}): ${message.toolName} ${json(message.toolInput, '{}')}`,
      );
    } else if (
      message.role === 'tool' &&
      (message.toolName !== undefined || message.toolCallId !== undefined)
    ) {
      lines.push(
        `tool_result(${message.toolCallId ?? ''}): ${message.toolName ?? ''} ${json(message.toolOutput, 'null')}`,
      );
    } else {
      lines.push(`${message.role}: ${message.content ?? ''}`);
    }
  }
  return lines.join('\n');
}
