/**
 * Retention and maintenance for a PostgreSQL store (spec 2.5 and 11.5): soft delete of expired
 * sessions, hard delete after a grace period, pruning of long event logs (streamed deltas first,
 * protected types never), cleanup of orphaned artifacts and sequence counters, and a health check.
 * Nothing runs on its own: call `runMaintenance` from your scheduler (one instance at a time is
 * enough; concurrent runs are safe, they only repeat work).
 *
 * The policy, its defaults and the report are those of `@asm/sqlite`'s `createSqliteMaintenance`.
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
import type pg from 'pg';
import { createPostgresArtifactRegistry } from './artifact-registry.js';
import { isTransient, toStorageError } from './errors.js';
import { type PostgresSessionStore, storeInternals } from './postgres-store.js';

/**
 * Options of `createPostgresMaintenance`: the clock, and the artifact registry (with the blob store)
 * to clean. Without `artifacts`, the store's own registry table is cleaned, rows only.
 */
export interface PostgresMaintenanceOptions extends StoreMaintenanceOptions {}

/** Retention and health operations on one Postgres store (core's `StoreMaintenance`). */
export type PostgresMaintenance = StoreMaintenance;

const DAY_MS = 86_400_000;

/**
 * Retention and maintenance over a store made by `createPostgresStore` (same pool, same schema).
 *
 * - Hard delete removes a batch of sessions with their runs, events and sequence counters in one
 *   transaction, counters first (their row locks wait for appends in flight, as `deleteSession`).
 * - Pruning locks the session's counter row while it deletes, and never deletes the counter, so
 *   sequence numbers are not reused and `getEvents` cursors stay valid.
 * - Orphaned artifacts are those of sessions that no longer exist (hard-deleted ones included) and,
 *   when a blob store is given, registry rows whose blob is gone.
 * - Failures of the single-step methods are `maintenance_error` (retryable when the database was
 *   unreachable); `runMaintenance` collects them in the report instead.
 */
export function createPostgresMaintenance(
  store: PostgresSessionStore,
  options: PostgresMaintenanceOptions = {},
): PostgresMaintenance {
  const found = typeof store === 'object' && store !== null ? storeInternals(store) : undefined;
  if (found === undefined) {
    throw new AsmError(
      'validation_error',
      'createPostgresMaintenance needs a store made by createPostgresStore',
      {
        details: { field: 'store' },
      },
    );
  }
  const { pool, names, ensureOpen } = found;
  const now = options.now ?? (() => new Date());
  const artifacts: MaintenanceArtifacts = options.artifacts ?? {
    registry: createPostgresArtifactRegistry(store),
  };

  /** Runs a step: store open (and migrated), failures as `maintenance_error`. */
  async function guarded<T>(operation: string, body: () => Promise<T>): Promise<T> {
    ensureOpen();
    await store.ready();
    try {
      return await body();
    } catch (error) {
      if (AsmError.isInstance(error)) throw error;
      const mapped = toStorageError(error, operation, 'maintenance_error');
      throw new AsmError('maintenance_error', mapped.message, {
        details: mapped.details,
        cause: error,
        retryable: isTransient(error),
      });
    }
  }

  /** Runs `body` in one transaction on one connection. */
  async function transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const result = await body(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } catch (error) {
      if (isTransient(error)) broken = error as Error;
      throw error;
    } finally {
      client.release(broken);
    }
  }

  function cutoff(days: number): string {
    return new Date(now().getTime() - days * DAY_MS).toISOString();
  }

  async function softDelete(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxCompletedSessionAgeDays === Number.POSITIVE_INFINITY) return 0;
    const deletedAt = now().toISOString();
    const result = await pool.query(
      `UPDATE ${names.sessions} SET deleted_at = $1::timestamptz, deleted_at_iso = $2::text
WHERE deleted_at IS NULL AND updated_at < $3::timestamptz
  AND status <> ALL($4::text[]) AND NOT (tags && $5::text[])`,
      [
        deletedAt,
        deletedAt,
        cutoff(policy.maxCompletedSessionAgeDays),
        policy.exemptStatuses,
        policy.exemptTags,
      ],
    );
    return result.rowCount ?? 0;
  }

  async function hardDelete(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.hardDeleteAfterDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.hardDeleteAfterDays);
    let deleted = 0;
    for (;;) {
      const batch = await pool.query<{ id: string }>(
        `SELECT id FROM ${names.sessions} WHERE deleted_at IS NOT NULL AND deleted_at < $1::timestamptz
ORDER BY deleted_at LIMIT $2`,
        [before, policy.batchSize],
      );
      if (batch.rows.length === 0) return deleted;
      const ids = batch.rows.map((row) => row.id);
      const count = await transaction(async (client) => {
        // Counters first: their row locks wait for appends and run saves in flight (as deleteSession).
        await client.query(`DELETE FROM ${names.sessionSequences} WHERE session_id = ANY($1::text[])`, [ids]);
        await client.query(`DELETE FROM ${names.events} WHERE session_id = ANY($1::text[])`, [ids]);
        await client.query(`DELETE FROM ${names.runs} WHERE session_id = ANY($1::text[])`, [ids]);
        const removed = await client.query(`DELETE FROM ${names.sessions} WHERE id = ANY($1::text[])`, [ids]);
        return removed.rowCount ?? 0;
      });
      deleted += count;
      if (count === 0) return deleted;
    }
  }

  async function prune(sessionId: string, policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    return transaction(async (client) => {
      // Appends to this session wait until the pruning commits.
      await client.query(`SELECT 1 FROM ${names.sessionSequences} WHERE session_id = $1 FOR NO KEY UPDATE`, [
        sessionId,
      ]);
      const total = await client.query<{ total: number }>(
        `SELECT count(*)::int4 AS total FROM ${names.events} WHERE session_id = $1`,
        [sessionId],
      );
      let excess = (total.rows[0]?.total ?? 0) - policy.maxEventsPerSession;
      if (excess <= 0) return 0;
      const deleteOldest = async (limit: number, onlyTypes: string[] | null): Promise<number> => {
        const result = await client.query(
          `DELETE FROM ${names.events} WHERE id IN (
  SELECT id FROM ${names.events}
  WHERE session_id = $1 AND type <> ALL($2::text[]) AND ($3::text[] IS NULL OR type = ANY($3::text[]))
  ORDER BY sequence LIMIT $4)`,
          [sessionId, policy.protectedEventTypes, onlyTypes, limit],
        );
        return result.rowCount ?? 0;
      };
      let pruned = await deleteOldest(excess, policy.pruneEventTypesFirst);
      excess -= pruned;
      if (excess > 0) pruned += await deleteOldest(excess, null);
      return pruned;
    });
  }

  async function pruneAll(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const over = await pool.query<{ session_id: string }>(
      `SELECT session_id FROM ${names.events} GROUP BY session_id HAVING count(*) > $1`,
      [policy.maxEventsPerSession],
    );
    let pruned = 0;
    for (const { session_id: sessionId } of over.rows) pruned += await prune(sessionId, policy);
    return pruned;
  }

  async function cleanOrphanedSequences(): Promise<number> {
    const result = await pool.query(
      `DELETE FROM ${names.sessionSequences} AS q
WHERE NOT EXISTS (SELECT 1 FROM ${names.sessions} AS s WHERE s.id = q.session_id)`,
    );
    return result.rowCount ?? 0;
  }

  /** Which of these session ids have no session row. */
  async function missingSessions(ids: string[]): Promise<Set<string>> {
    const present = await pool.query<{ id: string }>(
      `SELECT id FROM ${names.sessions} WHERE id = ANY($1::text[])`,
      [ids],
    );
    const found = new Set(present.rows.map((row) => row.id));
    return new Set(ids.filter((id) => !found.has(id)));
  }

  async function cleanArtifacts(policy: ResolvedRetentionPolicy): Promise<number> {
    return sweepOrphanedArtifacts(artifacts, missingSessions, policy.batchSize);
  }

  return {
    async runMaintenance(policy?: RetentionPolicy): Promise<MaintenanceReport> {
      const resolved = resolveRetentionPolicy(policy);
      ensureOpen();
      return runMaintenanceSteps({
        softDeleteExpiredSessions: () => guarded('softDeleteExpiredSessions', () => softDelete(resolved)),
        hardDeleteExpiredSessions: () => guarded('hardDeleteExpiredSessions', () => hardDelete(resolved)),
        pruneSessionEvents: () => guarded('pruneSessionEvents', () => pruneAll(resolved)),
        cleanOrphanedArtifacts: () => guarded('cleanOrphanedArtifacts', () => cleanArtifacts(resolved)),
        cleanOrphanedSequences: () => guarded('cleanOrphanedSequences', cleanOrphanedSequences),
      });
    },

    async cleanOrphanedArtifacts(policy?: RetentionPolicy): Promise<number> {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('cleanOrphanedArtifacts', () => cleanArtifacts(resolved));
    },

    async softDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number> {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('softDeleteExpiredSessions', () => softDelete(resolved));
    },

    async hardDeleteExpiredSessions(policy?: RetentionPolicy): Promise<number> {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('hardDeleteExpiredSessions', () => hardDelete(resolved));
    },

    async pruneSessionEvents(sessionId: string, policy?: RetentionPolicy): Promise<number> {
      if (typeof sessionId !== 'string') {
        throw new AsmError('validation_error', 'sessionId must be a string', {
          details: { field: 'sessionId' },
        });
      }
      const resolved = resolveRetentionPolicy(policy);
      return guarded('pruneSessionEvents', () => prune(sessionId, resolved));
    },

    async healthCheck(): Promise<string[]> {
      return guarded('healthCheck', async () => {
        const issues: string[] = [];
        const [orphans, behind, uncounted] = await Promise.all([
          pool.query<{ events: number; runs: number }>(
            `SELECT
  (SELECT count(*)::int4 FROM ${names.events} AS e WHERE NOT EXISTS (SELECT 1 FROM ${names.sessions} AS s WHERE s.id = e.session_id)) AS events,
  (SELECT count(*)::int4 FROM ${names.runs} AS r WHERE NOT EXISTS (SELECT 1 FROM ${names.sessions} AS s WHERE s.id = r.session_id)) AS runs`,
          ),
          // A counter behind the log would hand out a taken number (a counter ahead is normal after pruning).
          pool.query<{ session_id: string; max_sequence: number; counter: number | null }>(
            `SELECT e.session_id, max(e.sequence) AS max_sequence, q.last_sequence AS counter
FROM ${names.events} AS e LEFT JOIN ${names.sessionSequences} AS q ON q.session_id = e.session_id
GROUP BY e.session_id, q.last_sequence HAVING coalesce(q.last_sequence, 0) < max(e.sequence)
ORDER BY e.session_id`,
          ),
          // Appends to a session without its counter row fail with session_not_found.
          pool.query<{ total: number }>(
            `SELECT count(*)::int4 AS total FROM ${names.sessions} AS s
WHERE NOT EXISTS (SELECT 1 FROM ${names.sessionSequences} AS q WHERE q.session_id = s.id)`,
          ),
        ]);
        const { events = 0, runs = 0 } = orphans.rows[0] ?? {};
        if (events > 0) issues.push(`${events} events reference non-existent sessions`);
        if (runs > 0) issues.push(`${runs} runs reference non-existent sessions`);
        for (const row of behind.rows) {
          issues.push(
            `Sequence mismatch for ${row.session_id}: counter=${row.counter ?? 'none'}, max_sequence=${row.max_sequence}`,
          );
        }
        const missing = uncounted.rows[0]?.total ?? 0;
        if (missing > 0) issues.push(`${missing} sessions have no sequence counter (appends to them fail)`);
        return issues;
      });
    },
  };
}

export type { MaintenanceReport, RetentionPolicy };
export { resolveRetentionPolicy };
