import { sweepOrphanedArtifacts } from './artifact-registry.js';
import { AsmError } from './errors.js';
import type { StoredEvent } from './event.js';
import type { InMemorySessionStore } from './in-memory-store.js';
import { inMemoryStoreInternals } from './in-memory-store.js';
import {
  type MaintenanceReport,
  type ResolvedRetentionPolicy,
  type RetentionPolicy,
  resolveRetentionPolicy,
  runMaintenanceSteps,
  type StoreMaintenance,
  type StoreMaintenanceOptions,
} from './retention.js';

const DAY_MS = 86_400_000;

/**
 * The events to prune from a log (in sequence order) to bring it down to `max`: the oldest of the
 * first-to-prune types, then the oldest of the rest, never a protected type. Shared by the stores
 * that prune in their own process.
 */
export function eventsToPrune(log: readonly StoredEvent[], policy: ResolvedRetentionPolicy): Set<string> {
  const chosen = new Set<string>();
  let excess = log.length - policy.maxEventsPerSession;
  if (excess <= 0) return chosen;
  const protectedTypes = new Set<string>(policy.protectedEventTypes);
  const firstTypes = new Set<string>(policy.pruneEventTypesFirst);
  for (const event of log) {
    if (excess === 0) return chosen;
    if (firstTypes.has(event.type) && !protectedTypes.has(event.type)) {
      chosen.add(event.id);
      excess--;
    }
  }
  for (const event of log) {
    if (excess === 0) return chosen;
    if (!protectedTypes.has(event.type) && !chosen.has(event.id)) {
      chosen.add(event.id);
      excess--;
    }
  }
  return chosen;
}

/**
 * Retention and maintenance (core's `StoreMaintenance`) over a store made by `createInMemoryStore`.
 * Soft delete sets `deletedAt`; hard delete is `deleteSession`; pruning removes events but never
 * lowers the latest sequence, so numbers are not reused and `after` cursors stay valid. The store
 * keeps no counter apart from its sessions, so `orphanedSequencesCleaned` is always 0.
 */
export function createInMemoryMaintenance(
  store: InMemorySessionStore,
  options: StoreMaintenanceOptions = {},
): StoreMaintenance {
  const internals = typeof store === 'object' && store !== null ? inMemoryStoreInternals(store) : undefined;
  if (internals === undefined) {
    throw new AsmError(
      'validation_error',
      'createInMemoryMaintenance needs a store made by createInMemoryStore',
      {
        details: { field: 'store' },
      },
    );
  }
  const { sessions, logs, ensureOpen } = internals;
  const now = options.now ?? (() => new Date());
  const artifacts = options.artifacts;

  const cutoff = (days: number): number => now().getTime() - days * DAY_MS;

  function softDelete(policy: ResolvedRetentionPolicy): number {
    if (policy.maxCompletedSessionAgeDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.maxCompletedSessionAgeDays);
    const exemptStatuses = new Set<string>(policy.exemptStatuses);
    const deletedAt = now().toISOString();
    let count = 0;
    for (const session of sessions.values()) {
      if (session.deletedAt !== undefined || exemptStatuses.has(session.status)) continue;
      if (!(Date.parse(session.updatedAt) < before)) continue;
      if (session.tags.some((tag) => policy.exemptTags.includes(tag))) continue;
      session.deletedAt = deletedAt;
      count++;
    }
    return count;
  }

  async function hardDelete(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.hardDeleteAfterDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.hardDeleteAfterDays);
    const expired = [...sessions.values()]
      .filter((session) => session.deletedAt !== undefined && Date.parse(session.deletedAt) < before)
      .map((session) => session.id);
    for (const id of expired) await store.deleteSession(id);
    return expired.length;
  }

  function prune(sessionId: string, policy: ResolvedRetentionPolicy): number {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const log = logs.get(sessionId);
    if (log === undefined) return 0;
    return internals!.removeEvents(sessionId, eventsToPrune(log, policy));
  }

  function pruneAll(policy: ResolvedRetentionPolicy): number {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    let pruned = 0;
    for (const [sessionId, log] of [...logs]) {
      if (log.length > policy.maxEventsPerSession) pruned += prune(sessionId, policy);
    }
    return pruned;
  }

  async function cleanArtifacts(policy: ResolvedRetentionPolicy): Promise<number> {
    if (artifacts === undefined) return 0;
    return sweepOrphanedArtifacts(
      artifacts,
      async (ids) => new Set(ids.filter((id) => !sessions.has(id))),
      policy.batchSize,
    );
  }

  async function single<T>(operation: string, body: () => T | Promise<T>): Promise<T> {
    ensureOpen();
    try {
      return await body();
    } catch (error) {
      if (AsmError.isInstance(error)) throw error;
      throw AsmError.from(error, 'maintenance_error', `${operation} failed`);
    }
  }

  return {
    async runMaintenance(policy?: RetentionPolicy): Promise<MaintenanceReport> {
      ensureOpen();
      const resolved = resolveRetentionPolicy(policy);
      return runMaintenanceSteps({
        softDeleteExpiredSessions: () => softDelete(resolved),
        hardDeleteExpiredSessions: () => hardDelete(resolved),
        pruneSessionEvents: () => pruneAll(resolved),
        cleanOrphanedArtifacts: () => cleanArtifacts(resolved),
        cleanOrphanedSequences: () => 0,
      });
    },
    async softDeleteExpiredSessions(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return single('softDeleteExpiredSessions', () => softDelete(resolved));
    },
    async hardDeleteExpiredSessions(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return single('hardDeleteExpiredSessions', () => hardDelete(resolved));
    },
    async pruneSessionEvents(sessionId, policy) {
      if (typeof sessionId !== 'string') {
        throw new AsmError('validation_error', 'sessionId must be a string', {
          details: { field: 'sessionId' },
        });
      }
      const resolved = resolveRetentionPolicy(policy);
      return single('pruneSessionEvents', () => prune(sessionId, resolved));
    },
    async cleanOrphanedArtifacts(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return single('cleanOrphanedArtifacts', () => cleanArtifacts(resolved));
    },
    async healthCheck() {
      ensureOpen();
      return [];
    },
  };
}
