/**
 * Retention and maintenance for a SQLite store (spec 2.5 and 11.5): soft delete of expired sessions,
 * hard delete after a grace period, pruning of long event logs (streamed deltas first, protected
 * types never), orphaned artifacts, and a health check. Nothing runs on its own: call
 * `runMaintenance` from your scheduler.
 */
import {
  AsmError,
  type MaintenanceArtifacts,
  type MaintenanceReport,
  type ResolvedRetentionPolicy,
  type RetentionPolicy,
  resolveRetentionPolicy,
  runMaintenanceSteps,
  type StoreMaintenance,
  type StoreMaintenanceOptions,
  sweepOrphanedArtifacts,
} from '@asm/core';
import { and, eq, isNotNull, isNull, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createSqliteArtifactRegistry } from './artifact-registry.js';
import { toStorageError } from './errors.js';
import { createTables } from './schema.js';
import type { SqliteSessionStore } from './sqlite-store.js';

/**
 * Options of `createSqliteMaintenance`: the clock, and the artifact registry (with the blob store)
 * to clean. Without `artifacts`, the store's own registry table is cleaned, rows only.
 */
export interface SqliteMaintenanceOptions extends StoreMaintenanceOptions {}

/** Retention and health operations on one Sqlite store (core's `StoreMaintenance`). */
export type SqliteMaintenance = StoreMaintenance;

const DAY_MS = 86_400_000;

/**
 * Retention and maintenance over a store made by `createSqliteStore` (same connection, same table
 * prefix). Deleting a session here deletes its runs, events and sequence counter in one transaction.
 * Pruning deletes events but never the counter, so sequence numbers are not reused. Orphaned
 * artifacts are those of sessions that no longer exist (hard-deleted ones included), and, when a blob
 * store is given, registry rows whose blob is gone.
 */
export function createSqliteMaintenance(
  store: SqliteSessionStore,
  options: SqliteMaintenanceOptions = {},
): SqliteMaintenance {
  const now = options.now ?? (() => new Date());
  const tables = createTables(store.tablePrefix);
  const { sessions, runs, events, sessionSequences } = tables;
  const database = store.database;
  const db = drizzle({ client: database });
  const artifacts: MaintenanceArtifacts = options.artifacts ?? {
    registry: createSqliteArtifactRegistry(store),
  };

  function ensureOpen(): void {
    if (store.closed || !database.open) {
      throw new AsmError('storage_connection_failed', 'The SQLite store is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  }

  function guarded<T>(operation: string, body: () => T): T {
    try {
      return body();
    } catch (error) {
      if (AsmError.isInstance(error)) throw error;
      const mapped = toStorageError(error, operation, 'write');
      throw new AsmError('maintenance_error', mapped.message, {
        details: mapped.details,
        cause: error,
        retryable: mapped.retryable,
      });
    }
  }

  function cutoff(days: number): string {
    return new Date(now().getTime() - days * DAY_MS).toISOString();
  }

  function softDelete(policy: ResolvedRetentionPolicy): number {
    if (policy.maxCompletedSessionAgeDays === Number.POSITIVE_INFINITY) return 0;
    const conditions: SQL[] = [
      isNull(sessions.deletedAt),
      lt(sessions.updatedAt, cutoff(policy.maxCompletedSessionAgeDays)),
    ];
    if (policy.exemptStatuses.length > 0) {
      conditions.push(
        sql`${sessions.status} not in (select value from json_each(${JSON.stringify(policy.exemptStatuses)}))`,
      );
    }
    if (policy.exemptTags.length > 0) {
      conditions.push(
        sql`not exists (select 1 from json_each(${sessions.tags}) where value in (select value from json_each(${JSON.stringify(policy.exemptTags)})))`,
      );
    }
    return guarded('softDeleteExpiredSessions', () =>
      db
        .update(sessions)
        .set({ deletedAt: now().toISOString() })
        .where(and(...conditions))
        .run(),
    ).changes;
  }

  const deleteOne = (sessionId: string): void => {
    db.delete(events).where(eq(events.sessionId, sessionId)).run();
    db.delete(runs).where(eq(runs.sessionId, sessionId)).run();
    db.delete(sessionSequences).where(eq(sessionSequences.sessionId, sessionId)).run();
    db.delete(sessions).where(eq(sessions.id, sessionId)).run();
  };

  function hardDelete(policy: ResolvedRetentionPolicy): number {
    if (policy.hardDeleteAfterDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.hardDeleteAfterDays);
    let deleted = 0;
    for (;;) {
      const batch = guarded('hardDeleteExpiredSessions', () =>
        db
          .select({ id: sessions.id })
          .from(sessions)
          .where(and(isNotNull(sessions.deletedAt), lt(sessions.deletedAt, before)))
          .limit(policy.batchSize)
          .all(),
      );
      if (batch.length === 0) return deleted;
      guarded('hardDeleteExpiredSessions', () =>
        db.transaction(
          () => {
            for (const { id } of batch) deleteOne(id);
          },
          { behavior: 'immediate' },
        ),
      );
      deleted += batch.length;
    }
  }

  function prune(sessionId: string, policy: ResolvedRetentionPolicy): number {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const protectedTypes = JSON.stringify(policy.protectedEventTypes);
    const firstTypes = JSON.stringify(policy.pruneEventTypesFirst);
    const deleteOldest = (excess: number, filter: SQL): number =>
      db.run(
        sql`delete from ${events} where ${events.id} in (select ${events.id} from ${events} where ${events.sessionId} = ${sessionId} and ${filter} order by ${events.sequence} limit ${excess})`,
      ).changes;
    return guarded('pruneSessionEvents', () =>
      db.transaction(
        () => {
          const total =
            db
              .select({ total: sql<number>`count(*)` })
              .from(events)
              .where(eq(events.sessionId, sessionId))
              .get()?.total ?? 0;
          let excess = total - policy.maxEventsPerSession;
          if (excess <= 0) return 0;
          const notProtected = sql`${events.type} not in (select value from json_each(${protectedTypes}))`;
          let pruned = deleteOldest(
            excess,
            sql`${events.type} in (select value from json_each(${firstTypes})) and ${notProtected}`,
          );
          excess -= pruned;
          if (excess > 0) pruned += deleteOldest(excess, notProtected);
          return pruned;
        },
        { behavior: 'immediate' },
      ),
    );
  }

  function pruneAll(policy: ResolvedRetentionPolicy): number {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const over = guarded('pruneSessionEvents', () =>
      db
        .select({ sessionId: events.sessionId })
        .from(events)
        .groupBy(events.sessionId)
        .having(sql`count(*) > ${policy.maxEventsPerSession}`)
        .all(),
    );
    let pruned = 0;
    for (const { sessionId } of over) pruned += prune(sessionId, policy);
    return pruned;
  }

  function cleanOrphanedSequences(): number {
    return guarded('cleanOrphanedSequences', () =>
      db
        .delete(sessionSequences)
        .where(
          sql`not exists (select 1 from ${sessions} where ${sessions.id} = ${sessionSequences.sessionId})`,
        )
        .run(),
    ).changes;
  }

  /** Which of these session ids have no session row. */
  async function missingSessions(ids: string[]): Promise<Set<string>> {
    const found = guarded('cleanOrphanedArtifacts', () =>
      db
        .select({ id: sessions.id })
        .from(sessions)
        .where(sql`${sessions.id} in (select value from json_each(${JSON.stringify(ids)}))`)
        .all(),
    );
    const present = new Set(found.map((row) => row.id));
    return new Set(ids.filter((id) => !present.has(id)));
  }

  async function cleanArtifacts(policy: ResolvedRetentionPolicy): Promise<number> {
    try {
      return await sweepOrphanedArtifacts(artifacts, missingSessions, policy.batchSize);
    } catch (error) {
      if (AsmError.isInstance(error)) throw error;
      throw new AsmError(
        'maintenance_error',
        `cleanOrphanedArtifacts failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
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
        cleanOrphanedSequences,
      });
    },

    async cleanOrphanedArtifacts(policy?: RetentionPolicy): Promise<number> {
      ensureOpen();
      return cleanArtifacts(resolveRetentionPolicy(policy));
    },

    async softDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number> {
      ensureOpen();
      return softDelete(resolveRetentionPolicy(policy));
    },

    async hardDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number> {
      ensureOpen();
      return hardDelete(resolveRetentionPolicy(policy));
    },

    async pruneSessionEvents(sessionId: string, policy?: RetentionPolicy): Promise<number> {
      ensureOpen();
      return prune(sessionId, resolveRetentionPolicy(policy));
    },

    async healthCheck(): Promise<string[]> {
      ensureOpen();
      return guarded('healthCheck', () => {
        const issues: string[] = [];
        const orphanEvents =
          db
            .select({ total: sql<number>`count(*)` })
            .from(events)
            .where(sql`not exists (select 1 from ${sessions} where ${sessions.id} = ${events.sessionId})`)
            .get()?.total ?? 0;
        if (orphanEvents > 0) issues.push(`${orphanEvents} events reference non-existent sessions`);
        const orphanRuns =
          db
            .select({ total: sql<number>`count(*)` })
            .from(runs)
            .where(sql`not exists (select 1 from ${sessions} where ${sessions.id} = ${runs.sessionId})`)
            .get()?.total ?? 0;
        if (orphanRuns > 0) issues.push(`${orphanRuns} runs reference non-existent sessions`);
        // A counter behind the log would hand out a taken number (a counter ahead is normal after pruning).
        const prefix = store.tablePrefix;
        const behind = database
          .prepare(
            `SELECT e.session_id AS sessionId, max(e.sequence) AS maxSequence, q.last_sequence AS counter
             FROM "${prefix}events" e LEFT JOIN "${prefix}session_sequences" q ON q.session_id = e.session_id
             GROUP BY e.session_id HAVING coalesce(q.last_sequence, 0) < max(e.sequence)`,
          )
          .all() as Array<{ sessionId: string; maxSequence: number; counter: number | null }>;
        for (const row of behind) {
          issues.push(
            `Sequence mismatch for ${row.sessionId}: counter=${row.counter ?? 'none'}, max_sequence=${row.maxSequence}`,
          );
        }
        return issues;
      });
    },
  };
}

export type { MaintenanceReport, RetentionPolicy };
export { resolveRetentionPolicy };
