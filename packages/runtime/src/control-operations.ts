import {
  AsmError,
  createEvent,
  type EventBus,
  isErrorCode,
  type NewEvent,
  type ProviderAdapter,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';

/** What a control operation does to a run. */
export type ControlOperation = 'interrupt' | 'cancel' | 'pause' | 'resume';

/** The control state of a run: `unknown` until an operation succeeded on it. */
export type ControlState = 'unknown' | 'interrupted' | 'cancelled' | 'paused' | 'running';

/** One entry of a run's operation history (one `control_operation` event). */
export interface OperationRecord {
  runId: string;
  operation: ControlOperation;
  /** When it was applied (the event's timestamp). */
  timestamp: string;
  result: 'ok' | 'error';
  /** The run's control state after it (unchanged by a failure or a no-op). */
  state: ControlState;
  /** True for an idempotent repeat (the state already matched) or a run that had already ended. */
  noop: boolean;
  /**
   * How an interrupt or cancel stopped the run: `dequeued` (it had not started), `provider_interrupt`
   * (the provider advertises an `interrupt` capability and stops the turn itself on abort),
   * `cancel` (aborted through its signal), `store` (pending, cancelled in the store).
   */
  method?: 'dequeued' | 'provider_interrupt' | 'cancel' | 'store';
  error?: { code: string; message: string };
  reason?: string;
  /** The instance that applied it, and the one that asked (several instances). */
  appliedBy?: string;
  requestedBy?: string;
  /** Identifies one request, so that a repeated request is applied once. */
  requestId?: string;
  /** The event's sequence in the session log. */
  sequence: number;
}

/** What `operationStatus` reports. */
export interface OperationStatus {
  runId: string;
  state: ControlState;
  lastOperation?: OperationRecord;
  /** Every operation on the run, oldest first, failures included. */
  history: OperationRecord[];
}

/** The result of one run in `cancelAll` / `interruptSession`. */
export type OperationResult = { ok: true; record: OperationRecord } | { ok: false; error: AsmError };

/**
 * A provider that can pause and resume a run in flight: it advertises enabled capabilities named
 * `pause` and `resume` and implements these methods (called on the instance executing the run).
 */
export interface PausableProvider extends ProviderAdapter {
  pause?(runId: string): Promise<void>;
  resume?(runId: string): Promise<void>;
}

/** The operations the runtime accepts. */
export const CONTROL_OPERATIONS: readonly ControlOperation[] = ['interrupt', 'cancel', 'pause', 'resume'];

/** True when the provider advertises an enabled capability with this name. */
export function advertises(provider: ProviderAdapter, name: string): boolean {
  try {
    return provider
      .capabilities()
      .some((capability) => capability.name === name && capability.enabled !== false);
  } catch {
    return false;
  }
}

function recordOf(event: StoredEvent): OperationRecord | undefined {
  if (event.type !== 'control_operation') return undefined;
  const data = event.data as Record<string, unknown>;
  if (typeof data.runId !== 'string' || typeof data.operation !== 'string') return undefined;
  const record: OperationRecord = {
    runId: data.runId,
    operation: data.operation as ControlOperation,
    timestamp: event.timestamp,
    result: data.result === 'ok' ? 'ok' : 'error',
    state: (typeof data.state === 'string' ? data.state : 'unknown') as ControlState,
    noop: data.noop === true,
    sequence: event.sequence,
  };
  if (typeof data.method === 'string') record.method = data.method as NonNullable<OperationRecord['method']>;
  if (typeof data.errorCode === 'string') {
    record.error = {
      code: data.errorCode,
      message: typeof data.errorMessage === 'string' ? data.errorMessage : '',
    };
  }
  for (const key of ['reason', 'appliedBy', 'requestedBy', 'requestId'] as const) {
    if (typeof data[key] === 'string') record[key] = data[key] as string;
  }
  return record;
}

/** A run's operation history from the session log, oldest first. */
export async function readOperationHistory(
  store: SessionStore,
  sessionId: string,
  runId: string,
): Promise<OperationRecord[]> {
  const history: OperationRecord[] = [];
  let after = 0;
  for (;;) {
    const page = await store.getEvents(sessionId, { types: ['control_operation'], after, limit: 500 });
    for (const event of page) {
      const record = recordOf(event);
      if (record?.runId === runId) history.push(record);
    }
    if (page.length < 500) return history;
    after = page[page.length - 1]!.sequence;
  }
}

/** The control state a history leaves the run in. */
export function stateOf(history: readonly OperationRecord[]): ControlState {
  return history.length === 0 ? 'unknown' : history[history.length - 1]!.state;
}

/** What an applied operation is recorded with. */
export interface OperationOutcome {
  runId: string;
  operation: ControlOperation;
  state: ControlState;
  noop?: boolean;
  method?: OperationRecord['method'];
  error?: AsmError;
  reason?: string;
  appliedBy?: string;
  requestedBy?: string;
  requestId?: string;
}

/** Appends the `control_operation` event of an outcome (and publishes it); returns its record. */
export async function recordOperation(
  store: SessionStore,
  bus: EventBus | undefined,
  sessionId: string,
  outcome: OperationOutcome,
): Promise<OperationRecord> {
  const data: Record<string, unknown> = {
    runId: outcome.runId,
    operation: outcome.operation,
    result: outcome.error === undefined ? 'ok' : 'error',
    state: outcome.state,
  };
  if (outcome.noop) data.noop = true;
  if (outcome.method !== undefined) data.method = outcome.method;
  if (outcome.error !== undefined) {
    data.errorCode = outcome.error.code;
    data.errorMessage = outcome.error.message;
  }
  for (const key of ['reason', 'appliedBy', 'requestedBy', 'requestId'] as const) {
    if (outcome[key] !== undefined) data[key] = outcome[key];
  }
  const event = createEvent({
    type: 'control_operation',
    sessionId,
    provider: 'session_manager',
    data: data as never,
  });
  const stored = await store.appendEvent(event as NewEvent);
  await bus?.publish([stored]).catch(() => undefined);
  return recordOf(stored)!;
}

/** Rejects an operation name the runtime does not know (`validation_error`). */
export function checkOperation(operation: unknown): ControlOperation {
  if (!CONTROL_OPERATIONS.includes(operation as ControlOperation)) {
    throw new AsmError('validation_error', `Unknown control operation: ${String(operation)}`, {
      details: { field: 'operation', allowed: CONTROL_OPERATIONS },
    });
  }
  return operation as ControlOperation;
}

/** The error a failed record stands for. */
export function errorOfRecord(record: OperationRecord): AsmError {
  const code = record.error?.code;
  return new AsmError(
    code !== undefined && isErrorCode(code) ? code : 'internal_error',
    record.error?.message ?? `${record.operation} failed`,
    { details: { runId: record.runId, operation: record.operation } },
  );
}
