import {
  createEvent,
  type EventBus,
  type NewEvent,
  type Run,
  type SessionStore,
  type StoredEvent,
  transitionRun,
} from '@asm/core';

/** Why a run left `running` by an instance that is gone is being failed. */
export interface InterruptedRunFailure {
  /** The run's error message (its code is always `internal_error`). */
  message: string;
  /** Merged into the error details and the `run_failed` data (`recovered: true` is always set). */
  details?: Record<string, unknown>;
}

/** The message of a run whose lease holder died (or lost the lease) while executing it. */
export const LEASE_HOLDER_LOST_MESSAGE = 'Run interrupted: lease holder lost';
/** The message of a run left `running` by a crash of a single-process runtime. */
export const PROCESS_STOPPED_MESSAGE = 'Run interrupted: the process executing it stopped';

/**
 * Marks a run that was left `running` as `failed` with `internal_error` and writes its `run_failed`
 * event (published on `bus` when given). Returns the stored event.
 */
export async function failInterruptedRun(
  store: SessionStore,
  bus: EventBus | undefined,
  run: Run,
  failure: InterruptedRunFailure,
): Promise<StoredEvent> {
  const details = { ...(failure.details ?? {}), recovered: true };
  const failed: Run = {
    ...transitionRun(run, 'failed'),
    error: { code: 'internal_error', message: failure.message, details },
  };
  await store.saveRun(failed);
  const event = createEvent({
    type: 'run_failed',
    sessionId: run.sessionId,
    runId: run.id,
    provider: run.provider ?? 'session_manager',
    data: { errorCode: 'internal_error', errorMessage: failure.message, details },
  });
  const stored = await store.appendEvent(event as NewEvent);
  await bus?.publish([stored]).catch(() => undefined);
  return stored;
}
