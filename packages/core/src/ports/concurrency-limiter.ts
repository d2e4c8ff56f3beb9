/** What a limiter reports. `Infinity` where a limit is off. */
export interface ConcurrencyStatus {
  activeSessions: number;
  activeRuns: number;
  maxSessions: number;
  maxRuns: number;
  availableSessionSlots: number;
  availableRunSlots: number;
}

/**
 * Caps how many sessions and runs are active at once, in one process or (Redis) across instances.
 *
 * Contract (proved by `testConcurrencyLimiter` from `@asm/testing`):
 * - acquiring a slot that is already held (same id) succeeds and counts once (idempotent);
 * - a full limiter rejects with `max_sessions_exceeded` / `max_runs_exceeded` (retryable: wait and
 *   retry);
 * - releasing is idempotent; releasing a session also releases its runs;
 * - run slots are global, not per session.
 */
export interface ConcurrencyLimiter {
  readonly specificationVersion: 'v1';
  acquireSessionSlot(sessionId: string): Promise<void>;
  releaseSessionSlot(sessionId: string): Promise<void>;
  acquireRunSlot(sessionId: string, runId: string): Promise<void>;
  releaseRunSlot(runId: string): Promise<void>;
  status(): Promise<ConcurrencyStatus>;
}
