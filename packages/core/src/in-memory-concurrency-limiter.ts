import { AsmError } from './errors.js';
import type { ConcurrencyLimiter, ConcurrencyStatus } from './ports/concurrency-limiter.js';

/** Options of `createConcurrencyLimiter`. */
export interface ConcurrencyLimiterOptions {
  /** Most sessions active at once. Default `maxParallelSessions` (100); `Infinity` for no limit. */
  maxSessions?: number;
  /** Most runs active at once, across sessions. Default `maxParallelRuns` (50); `Infinity` for no limit. */
  maxRuns?: number;
}

function checkLimit(value: number, field: string): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (!Number.isInteger(value) || value < 1) {
    throw new AsmError('validation_error', `${field} must be a positive integer or Infinity`, {
      details: { field },
    });
  }
  return value;
}

/** A `ConcurrencyLimiter` for one process. */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions = {}): ConcurrencyLimiter {
  const maxSessions = checkLimit(options.maxSessions ?? 100, 'maxSessions');
  const maxRuns = checkLimit(options.maxRuns ?? 50, 'maxRuns');
  const sessions = new Set<string>();
  /** runId → sessionId */
  const runs = new Map<string, string>();

  return {
    specificationVersion: 'v1',
    async acquireSessionSlot(sessionId) {
      if (sessions.has(sessionId)) return;
      if (sessions.size >= maxSessions) {
        throw new AsmError('max_sessions_exceeded', `At most ${maxSessions} sessions may be active at once`, {
          retryable: true,
          details: { maxSessions },
        });
      }
      sessions.add(sessionId);
    },
    async releaseSessionSlot(sessionId) {
      sessions.delete(sessionId);
      for (const [runId, owner] of runs) if (owner === sessionId) runs.delete(runId);
    },
    async acquireRunSlot(sessionId, runId) {
      if (runs.has(runId)) return;
      if (runs.size >= maxRuns) {
        throw new AsmError('max_runs_exceeded', `At most ${maxRuns} runs may be active at once`, {
          retryable: true,
          details: { maxRuns },
        });
      }
      runs.set(runId, sessionId);
    },
    async releaseRunSlot(runId) {
      runs.delete(runId);
    },
    async status(): Promise<ConcurrencyStatus> {
      return {
        activeSessions: sessions.size,
        activeRuns: runs.size,
        maxSessions,
        maxRuns,
        availableSessionSlots: maxSessions - sessions.size,
        availableRunSlots: maxRuns - runs.size,
      };
    },
  };
}
