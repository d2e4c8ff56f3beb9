import { getConfig } from './config.js';
import { AsmError } from './errors.js';
import { type EventType, isEventType } from './event.js';
import { isSessionStatus, type SessionStatus } from './session.js';

/** What retention keeps and what it removes. Ages and counts are positive integers or `Infinity`. */
export interface RetentionPolicy {
  /** Sessions not updated for this many days (and not exempt) are soft-deleted. Default 90. */
  maxCompletedSessionAgeDays?: number;
  /** Soft-deleted sessions are removed for good (with runs and events) this many days later. Default 30. */
  hardDeleteAfterDays?: number;
  /** Sessions with more events than this lose their oldest prunable events. Default `Infinity`. */
  maxEventsPerSession?: number;
  /** Statuses never soft-deleted. Default `['active', 'paused']`. */
  exemptStatuses?: SessionStatus[];
  /** Sessions carrying any of these tags are never soft-deleted. Default `['pinned']`. */
  exemptTags?: string[];
  /** Pruned first, oldest first. Default `['message_streamed', 'token_usage_updated']`. */
  pruneEventTypesFirst?: EventType[];
  /** Never pruned. Default `session_created`, `run_started`, `run_completed`, `error_occurred`, `run_failed`. */
  protectedEventTypes?: EventType[];
  /** Sessions hard-deleted per transaction. Default 100. */
  batchSize?: number;
}

/** What a maintenance pass did. A step that failed counts 0 and its message is in `errors`. */
export interface MaintenanceReport {
  sessionsSoftDeleted: number;
  sessionsHardDeleted: number;
  eventsPruned: number;
  orphanedSequencesCleaned: number;
  durationMs: number;
  errors: string[];
}

/**
 * Retention and health operations of one store (spec 2.5 and 11.5). Nothing runs on its own: call
 * `execute` from your scheduler. `execute` never throws for a failing step; the single-step
 * methods throw `maintenance_error`.
 */
export interface StoreMaintenance {
  /** Validates the policy, then soft-deletes, hard-deletes, prunes and cleans orphans. */
  execute(policy?: RetentionPolicy): Promise<MaintenanceReport>;
  /** Sets `deletedAt` on expired sessions; returns how many. */
  softDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number>;
  /** Deletes sessions soft-deleted longer ago than `hardDeleteAfterDays`, with their runs and events. */
  hardDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number>;
  /** Prunes one session's log down to `maxEventsPerSession`; returns how many events were deleted. */
  pruneSessionEvents(sessionId: string, policy?: RetentionPolicy): Promise<number>;
  /** Problems found, as sentences; empty when healthy. */
  healthCheck(): Promise<string[]>;
}

/** A policy with every field filled in. */
export type ResolvedRetentionPolicy = Required<RetentionPolicy>;

function invalidPolicy(message: string, field: string): AsmError {
  return new AsmError('validation_error', `Invalid retention policy: ${message}`, { details: { field } });
}

/**
 * Checks a policy and fills in the defaults (the retention keys of the configuration);
 * an invalid one is `validation_error` naming the field.
 */
export function resolveRetentionPolicy(policy: RetentionPolicy = {}): ResolvedRetentionPolicy {
  if (typeof policy !== 'object' || policy === null)
    throw invalidPolicy('policy must be an object', 'policy');
  const defined = Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined));
  const resolved: ResolvedRetentionPolicy = {
    maxCompletedSessionAgeDays: getConfig('retentionMaxCompletedAgeDays'),
    hardDeleteAfterDays: getConfig('retentionHardDeleteAfterDays'),
    maxEventsPerSession: Number.POSITIVE_INFINITY,
    exemptStatuses: [...getConfig('retentionExemptStatuses')] as SessionStatus[],
    exemptTags: [...getConfig('retentionExemptTags')],
    pruneEventTypesFirst: [...getConfig('retentionPruneEventTypesFirst')] as EventType[],
    protectedEventTypes: ['session_created', 'run_started', 'run_completed', 'error_occurred', 'run_failed'],
    batchSize: getConfig('retentionBatchSize'),
    ...defined,
  };
  for (const field of ['maxCompletedSessionAgeDays', 'hardDeleteAfterDays', 'maxEventsPerSession'] as const) {
    const value = resolved[field];
    if (!(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value > 0))) {
      throw invalidPolicy(`${field} must be a positive integer or Infinity`, field);
    }
  }
  if (!Number.isInteger(resolved.batchSize) || resolved.batchSize < 1) {
    throw invalidPolicy('batchSize must be a positive integer', 'batchSize');
  }
  if (!Array.isArray(resolved.exemptStatuses) || !resolved.exemptStatuses.every(isSessionStatus)) {
    throw invalidPolicy('exemptStatuses must be session statuses', 'exemptStatuses');
  }
  if (!Array.isArray(resolved.exemptTags) || !resolved.exemptTags.every((tag) => typeof tag === 'string')) {
    throw invalidPolicy('exemptTags must be strings', 'exemptTags');
  }
  for (const field of ['pruneEventTypesFirst', 'protectedEventTypes'] as const) {
    if (!Array.isArray(resolved[field]) || !resolved[field].every(isEventType)) {
      throw invalidPolicy(`${field} must be event types`, field);
    }
  }
  return resolved;
}
