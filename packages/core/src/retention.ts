import type { MaintenanceArtifacts } from './artifact-registry.js';
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
  /** Artifact registry rows removed: those of deleted sessions (with their blobs) and those whose blob is gone. */
  artifactsCleaned: number;
  orphanedSequencesCleaned: number;
  durationMs: number;
  /** One `"<step>: <message>"` per failed step, in step order. */
  errors: string[];
}

/** Options every maintenance factory (`createSqliteMaintenance`, `createRedisMaintenance`, …) takes. */
export interface StoreMaintenanceOptions {
  /** The clock (for tests). Default `() => new Date()`. */
  now?: () => Date;
  /** The artifact registry (and blob store) whose orphans maintenance removes. */
  artifacts?: MaintenanceArtifacts;
}

/**
 * Retention and health operations of one store (spec 2.5 and 11.5). Nothing runs on its own: call
 * `runMaintenance` from your scheduler. It never throws for a failing step (the step counts 0 and
 * its message goes to `report.errors`); an invalid policy is `validation_error` and a closed store
 * `storage_connection_failed`. The single-step methods throw `maintenance_error`. Proved by
 * `testStoreMaintenance` from `@asm/testing`.
 */
export interface StoreMaintenance {
  /**
   * Validates the policy, then runs every step in order: soft delete, hard delete, prune, orphaned
   * artifacts, orphaned sequence counters.
   */
  runMaintenance(policy?: RetentionPolicy): Promise<MaintenanceReport>;
  /** Sets `deletedAt` on expired sessions; returns how many. */
  softDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number>;
  /** Deletes sessions soft-deleted longer ago than `hardDeleteAfterDays`, with their runs and events. */
  hardDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number>;
  /** Prunes one session's log down to `maxEventsPerSession`; returns how many events were deleted. */
  pruneSessionEvents(sessionId: string, policy?: RetentionPolicy): Promise<number>;
  /**
   * Removes artifacts of sessions that no longer exist (blob and registry row) and registry rows
   * whose blob is gone; returns how many rows. 0 when no registry is configured.
   */
  cleanOrphanedArtifacts(policy?: RetentionPolicy): Promise<number>;
  /** Problems found, as sentences; empty when healthy. */
  healthCheck(): Promise<string[]>;
}

/** The steps of one maintenance pass, as `runMaintenanceSteps` runs them. */
export interface MaintenanceSteps {
  softDeleteExpiredSessions(): number | Promise<number>;
  hardDeleteExpiredSessions(): number | Promise<number>;
  pruneSessionEvents(): number | Promise<number>;
  cleanOrphanedArtifacts(): number | Promise<number>;
  cleanOrphanedSequences(): number | Promise<number>;
}

/**
 * Runs the steps of a maintenance pass in order and builds the report: a step that throws counts 0
 * and leaves `"<step>: <message>"` in `errors`; the next steps still run. Never rejects.
 */
export async function runMaintenanceSteps(steps: MaintenanceSteps): Promise<MaintenanceReport> {
  const started = performance.now();
  const errors: string[] = [];
  const step = async (name: keyof MaintenanceSteps): Promise<number> => {
    try {
      return await steps[name]();
    } catch (error) {
      errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      return 0;
    }
  };
  const sessionsSoftDeleted = await step('softDeleteExpiredSessions');
  const sessionsHardDeleted = await step('hardDeleteExpiredSessions');
  const eventsPruned = await step('pruneSessionEvents');
  const artifactsCleaned = await step('cleanOrphanedArtifacts');
  const orphanedSequencesCleaned = await step('cleanOrphanedSequences');
  return {
    sessionsSoftDeleted,
    sessionsHardDeleted,
    eventsPruned,
    artifactsCleaned,
    orphanedSequencesCleaned,
    durationMs: Math.round(performance.now() - started),
    errors,
  };
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
