import { AsmError, type ProviderErrorInfo } from './errors.js';
import { isIsoTimestamp, newEventId, nowIso } from './ids.js';
import { requireObject, requireString } from './session.js';
import type { TokenUsage } from './token-usage.js';

/** The 29 event types, by group. Names are persisted data and a wire contract: never rename one. */
export const EVENT_TYPES_BY_GROUP = {
  session: [
    'session_created',
    'session_started',
    'session_paused',
    'session_resumed',
    'session_completed',
    'session_failed',
    'session_cancelled',
  ],
  run: ['run_started', 'run_completed', 'run_failed', 'run_cancelled', 'run_timeout'],
  message: ['message_sent', 'message_received', 'message_streamed'],
  tool: ['tool_call_started', 'tool_call_completed', 'tool_call_failed'],
  error: ['error_occurred', 'error_recovered'],
  usage: ['token_usage_updated', 'turn_completed'],
  workspace: ['workspace_snapshot_taken', 'workspace_diff_computed'],
  policy: ['policy_violation'],
  approval: ['tool_approval_requested', 'tool_approval_granted', 'tool_approval_denied'],
  control: ['control_operation'],
} as const;

/** A group of event types. */
export type EventGroup = keyof typeof EVENT_TYPES_BY_GROUP;
/** The type of an event. */
export type EventType = (typeof EVENT_TYPES_BY_GROUP)[EventGroup][number];

/** All 29 event types. */
export const EVENT_TYPES: readonly EventType[] = Object.values(EVENT_TYPES_BY_GROUP).flat();
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** The types that end a run; a run's log has exactly one of them, last. */
export const TERMINAL_RUN_EVENT_TYPES = [
  'run_completed',
  'run_failed',
  'run_cancelled',
  'run_timeout',
] as const;
/** A type that ends a run. */
export type TerminalRunEventType = (typeof TERMINAL_RUN_EVENT_TYPES)[number];

/** The schema version written on new events. Bump it, with defaults for old rows, when fields change. */
export const EVENT_SCHEMA_VERSION = 1;

/** True when `value` names one of the 29 event types. */
export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && EVENT_TYPE_SET.has(value);
}

/** True for `run_completed`, `run_failed`, `run_cancelled` and `run_timeout`. */
export function isTerminalRunEventType(type: string): type is TerminalRunEventType {
  return (
    type === 'run_completed' || type === 'run_failed' || type === 'run_cancelled' || type === 'run_timeout'
  );
}

/**
 * What a streamed chunk is. Only `text` enters transcripts and counts as output shown to the user;
 * reasoning is `thinking`.
 */
export type StreamKind = 'text' | 'thinking' | 'plan';

/** Error fields shared by failure events. */
export interface ErrorEventData {
  errorCode: string;
  errorMessage: string;
  providerError?: ProviderErrorInfo;
  details?: Record<string, unknown>;
}

/** Tool fields shared by tool events. */
export interface ToolEventData {
  toolCallId: string;
  toolName: string;
  toolInput?: unknown;
}

/**
 * The data of each event type. Fields listed here are the ones core and the renderers rely on;
 * adapters may add their own (an unknown provider item goes into `raw`).
 */
export interface EventDataMap {
  session_created: { provider?: string };
  session_started: Record<never, never>;
  session_paused: Record<never, never>;
  session_resumed: Record<never, never>;
  session_completed: Record<never, never>;
  session_failed: Partial<ErrorEventData>;
  session_cancelled: { reason?: string };
  run_started: { model?: string; providerSessionId?: string; warnings?: string[] };
  run_completed: { stopReason?: string; tokenUsage?: TokenUsage; costUsd?: number; durationMs?: number };
  run_failed: ErrorEventData & { durationMs?: number };
  run_cancelled: { reason?: string };
  run_timeout: { timeoutMs?: number };
  message_sent: { role: string; content: string };
  message_received: { role: string; content: string };
  message_streamed: { kind: StreamKind; delta: string };
  tool_call_started: ToolEventData;
  tool_call_completed: ToolEventData & { toolOutput?: unknown };
  tool_call_failed: ToolEventData & { toolOutput?: unknown; errorMessage?: string };
  error_occurred: Partial<ErrorEventData>;
  error_recovered: Record<never, never>;
  /** Cumulative usage of the run so far (not a delta). */
  token_usage_updated: Partial<TokenUsage>;
  turn_completed: { turn?: number };
  workspace_snapshot_taken: {
    label?: 'before' | 'after' | 'after_failure';
    backend?: 'git' | 'hash';
    ref?: string;
  };
  workspace_diff_computed: {
    backend?: 'git' | 'hash';
    fromRef?: string;
    toRef?: string;
    filesChanged?: number;
    insertions?: number;
    deletions?: number;
    changedPaths?: string[];
    hasPatch?: boolean;
    /** The unified diff, when small enough to stay inline. */
    patch?: string;
    /** Artifact key of the patch, when it was stored in an `ArtifactStore`. */
    patchRef?: string;
    patchBytes?: number;
    /** SHA-256 (hex) of the stored patch, to check what the artifact store returns. */
    patchSha256?: string;
    patchTruncated?: boolean;
  };
  policy_violation: { policy?: string; kind?: string };
  tool_approval_requested: ToolEventData & { reason?: string; timeoutMs?: number };
  tool_approval_granted: { toolCallId: string; input?: unknown; approvedBy?: string };
  tool_approval_denied: { toolCallId: string; reason?: string; deniedBy?: string };
  /**
   * A control operation on a run (interrupt, cancel, pause, resume), with its result: the runtime's
   * per-run operation history. Session-level (no top-level `runId`, so a run's log still ends with its
   * terminal event); the run is `data.runId`.
   */
  control_operation: {
    runId: string;
    operation: 'interrupt' | 'cancel' | 'pause' | 'resume';
    result: 'ok' | 'error';
    /** The run's control state after the operation (`interrupted`, `cancelled`, `paused`, `running`). */
    state?: string;
    /** True when the state already matched: nothing was done (idempotent repeat). */
    noop?: boolean;
    errorCode?: string;
    errorMessage?: string;
  };
}

/** The data of an event of type `T`: its known fields plus whatever else the producer added. */
export type EventData<T extends EventType = EventType> = EventDataMap[T] & { [key: string]: unknown };

/** Fields every event has, whatever its type. */
export interface EventEnvelope {
  /** `evt_` + 32 hex characters. Appending an id twice stores it once. */
  id: string;
  /** ISO-8601 UTC. */
  timestamp: string;
  sessionId: string;
  runId?: string;
  metadata: Record<string, unknown>;
  schemaVersion: number;
  /** The adapter (concrete provider) that produced the event, or `session_manager`. */
  provider?: string;
  correlationId?: string;
}

/** An event of type `T` before a store has given it a sequence number. */
export type NewEventOf<T extends EventType> = EventEnvelope & { type: T; data: EventData<T> };
/** An event of type `T` as stored, with its per-session sequence number. */
export type StoredEventOf<T extends EventType> = NewEventOf<T> & { sequence: number };

/** An event to append: a union over the 29 types, so `event.type` narrows `event.data`. */
export type NewEvent = { [T in EventType]: NewEventOf<T> }[EventType];
/** A stored event: a union over the 29 types, so `event.type` narrows `event.data`. */
export type StoredEvent = { [T in EventType]: StoredEventOf<T> }[EventType];

/** Attributes of `createEvent`. */
export type NewEventAttributes<T extends EventType = EventType> = {
  type: T;
  sessionId: string;
  runId?: string;
  data?: EventData<T>;
  metadata?: Record<string, unknown>;
  id?: string;
  timestamp?: string;
  provider?: string;
  correlationId?: string;
};

/** Creates an event ready to append. An unknown type is `invalid_event_type`. */
export function createEvent<T extends EventType>(attributes: NewEventAttributes<T>): NewEventOf<T> {
  if (attributes?.type === undefined) {
    throw new AsmError('validation_error', 'type is required', { details: { field: 'type' } });
  }
  if (!isEventType(attributes.type)) {
    throw new AsmError('invalid_event_type', `Unknown event type: ${String(attributes?.type)}`, {
      details: { type: attributes?.type },
    });
  }
  if (typeof attributes.sessionId !== 'string' || attributes.sessionId === '') {
    throw new AsmError('validation_error', 'sessionId is required', { details: { field: 'sessionId' } });
  }
  const event: NewEventOf<T> = {
    id: attributes.id ?? newEventId(),
    type: attributes.type,
    timestamp: attributes.timestamp ?? nowIso(),
    sessionId: attributes.sessionId,
    data: attributes.data ?? ({} as EventData<T>),
    metadata: attributes.metadata ?? {},
    schemaVersion: EVENT_SCHEMA_VERSION,
  };
  if (attributes.runId !== undefined) event.runId = attributes.runId;
  if (attributes.provider !== undefined) event.provider = attributes.provider;
  if (attributes.correlationId !== undefined) event.correlationId = attributes.correlationId;
  return event;
}

/**
 * Checks an event a store is asked to append: id, session id, a known type, an ISO timestamp, an
 * object `data`, a positive integer schema version. Throws `validation_error` or `invalid_event_type`.
 */
export function validateNewEvent(event: unknown): asserts event is NewEvent {
  const record = requireObject(event, 'event');
  requireString(record, 'id');
  requireString(record, 'sessionId');
  if (!isEventType(record.type)) {
    throw new AsmError('invalid_event_type', `Unknown event type: ${String(record.type)}`, {
      details: { type: record.type },
    });
  }
  if (!isIsoTimestamp(record.timestamp)) {
    throw new AsmError('validation_error', 'timestamp must be an ISO-8601 string', {
      details: { field: 'timestamp' },
    });
  }
  if (typeof record.data !== 'object' || record.data === null || Array.isArray(record.data)) {
    throw new AsmError('validation_error', 'data must be an object', { details: { field: 'data' } });
  }
  if (
    record.metadata !== undefined &&
    (typeof record.metadata !== 'object' || record.metadata === null || Array.isArray(record.metadata))
  ) {
    throw new AsmError('validation_error', 'metadata must be an object', { details: { field: 'metadata' } });
  }
  if (record.runId !== undefined && (typeof record.runId !== 'string' || record.runId === '')) {
    throw new AsmError('validation_error', 'runId must be a non-empty string', {
      details: { field: 'runId' },
    });
  }
  if (!Number.isInteger(record.schemaVersion) || (record.schemaVersion as number) < 1) {
    throw new AsmError('validation_error', 'schemaVersion must be an integer >= 1', {
      details: { field: 'schemaVersion' },
    });
  }
}

/**
 * Parses a stored event from its JSON form. `schemaVersion` is required (an integer ≥ 1), as is a
 * positive integer `sequence`.
 */
export function eventFromJSON(json: unknown): StoredEvent {
  validateNewEvent(json);
  const record = json as unknown as Record<string, unknown>;
  if (!Number.isInteger(record.sequence) || (record.sequence as number) < 1) {
    throw new AsmError('validation_error', 'sequence must be a positive integer', {
      details: { field: 'sequence' },
    });
  }
  return {
    ...(record as unknown as StoredEvent),
    metadata: (record.metadata as Record<string, unknown>) ?? {},
  };
}

/**
 * The stored form of a new event with its sequence number: a fresh envelope object (the caller's
 * object is not changed); `data` and `metadata` are shared, not copied. Built field by field because
 * that is several times faster than an object spread on the append hot path.
 */
export function toStoredEvent(event: NewEvent, sequence: number): StoredEvent {
  const stored = {
    id: event.id,
    type: event.type,
    timestamp: event.timestamp,
    sessionId: event.sessionId,
    data: event.data,
    metadata: event.metadata ?? {},
    schemaVersion: event.schemaVersion,
    sequence,
  } as StoredEvent;
  if (event.runId !== undefined) stored.runId = event.runId;
  if (event.provider !== undefined) stored.provider = event.provider;
  if (event.correlationId !== undefined) stored.correlationId = event.correlationId;
  return stored;
}
