import { AsmError, type ErrorCode, type ProviderErrorInfo } from './errors.js';
import { isIsoTimestamp, newRunId, nowIso } from './ids.js';
import { requireObject, requireString } from './session.js';
import { emptyTokenUsage, type TokenUsage } from './token-usage.js';
import type { ToolCall } from './tools.js';

/** Statuses of a run. */
export const RUN_STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled', 'timeout'] as const;
/** The status of a run. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** One message of a run's input. */
export interface InputMessage {
  role: 'user' | 'system' | 'assistant' | (string & {});
  content: string;
}

/**
 * What a run is asked to do. A string is a user prompt. `{ messages }` and `{ prompt }` are persisted
 * as `message_sent` events before the provider is called; other shapes are passed to the adapter as
 * they are (the shell provider takes `{ command, args }`).
 */
export type RunInput = string | { prompt: string } | { messages: InputMessage[] } | Record<string, unknown>;

/** What a run produced. */
export interface RunOutput {
  /** The final text shown to the user. */
  content: string;
  /** Why the model stopped (`end_turn`, `max_tokens`, `tool_use`, …). */
  stopReason?: string;
  /** Tool calls the app must answer in the next run (tools without `execute`). */
  pendingToolCalls?: ToolCall[];
  [key: string]: unknown;
}

/** Why a run failed, as stored on the run. */
export interface RunError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  providerError?: ProviderErrorInfo;
}

/** One execution of an agent inside a session. */
export interface Run {
  /** `run_` + 32 hex characters. */
  id: string;
  sessionId: string;
  status: RunStatus;
  input: RunInput;
  output?: RunOutput;
  error?: RunError;
  metadata: Record<string, unknown>;
  turnCount: number;
  tokenUsage: TokenUsage;
  costUsd?: number;
  /** The concrete provider that executed the run (behind a router, the routed one). */
  provider?: string;
  providerMetadata: Record<string, unknown>;
  createdAt: string;
  /** When execution began (`running`). */
  startedAt?: string;
  /** When the run reached a terminal status. */
  endedAt?: string;
}

/** Attributes of a new run. */
export interface NewRunAttributes {
  id?: string;
  sessionId: string;
  input?: RunInput;
  metadata?: Record<string, unknown>;
}

const RUN_TRANSITIONS: Record<RunStatus, readonly RunStatus[]> = {
  pending: ['running', 'cancelled', 'failed'],
  running: ['completed', 'failed', 'cancelled', 'timeout'],
  completed: [],
  failed: [],
  cancelled: [],
  timeout: [],
};

/** True for `completed`, `failed`, `cancelled` and `timeout`. */
export function isTerminalRunStatus(status: RunStatus): boolean {
  return RUN_TRANSITIONS[status].length === 0;
}

/** True when `value` names a run status. */
export function isRunStatus(value: unknown): value is RunStatus {
  return typeof value === 'string' && (RUN_STATUSES as readonly string[]).includes(value);
}

/** True when a run may move from `from` to `to`. */
export function canTransitionRun(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

/** Creates a pending run. */
export function createRun(attributes: NewRunAttributes): Run {
  if (typeof attributes?.sessionId !== 'string' || attributes.sessionId === '') {
    throw new AsmError('validation_error', 'sessionId is required', { details: { field: 'sessionId' } });
  }
  return {
    id: attributes.id ?? newRunId(),
    sessionId: attributes.sessionId,
    status: 'pending',
    input: attributes.input ?? {},
    metadata: { ...(attributes.metadata ?? {}) },
    turnCount: 0,
    tokenUsage: emptyTokenUsage(),
    providerMetadata: {},
    createdAt: nowIso(),
  };
}

/**
 * Returns the run with a new status, enforcing `pending → running | cancelled | failed` and
 * `running → completed | failed | cancelled | timeout`. Terminal statuses set `endedAt`, `running`
 * sets `startedAt`. Anything else throws `invalid_transition`.
 */
export function transitionRun(run: Run, to: RunStatus): Run {
  if (!isRunStatus(to)) {
    throw new AsmError('invalid_status', `Unknown run status: ${String(to)}`, { details: { status: to } });
  }
  if (!canTransitionRun(run.status, to)) {
    throw new AsmError('invalid_transition', `Run ${run.id} cannot go from ${run.status} to ${to}`, {
      details: { runId: run.id, from: run.status, to },
    });
  }
  const now = nowIso();
  const next: Run = { ...run, status: to };
  if (to === 'running') next.startedAt = now;
  if (isTerminalRunStatus(to)) next.endedAt = now;
  return next;
}

/** Parses a run from its JSON form, checking the fields a store relies on. */
export function runFromJSON(json: unknown): Run {
  const record = requireObject(json, 'run');
  requireString(record, 'id');
  requireString(record, 'sessionId');
  requireString(record, 'createdAt');
  if (!isRunStatus(record.status)) {
    throw new AsmError('invalid_status', `Unknown run status: ${String(record.status)}`);
  }
  if (!isIsoTimestamp(record.createdAt)) {
    throw new AsmError('validation_error', 'createdAt must be an ISO-8601 string');
  }
  const costUsd =
    typeof record.costUsd === 'number' && Number.isFinite(record.costUsd) ? record.costUsd : undefined;
  const run = {
    ...(record as unknown as Run),
    metadata: (record.metadata as Record<string, unknown>) ?? {},
    providerMetadata: (record.providerMetadata as Record<string, unknown>) ?? {},
    tokenUsage: (record.tokenUsage as TokenUsage) ?? emptyTokenUsage(),
    turnCount: typeof record.turnCount === 'number' ? record.turnCount : 0,
  };
  if (costUsd === undefined) delete run.costUsd;
  else run.costUsd = costUsd;
  return run;
}
