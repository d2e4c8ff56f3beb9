/**
 * Retention and maintenance for the Redis store (spec 2.5 and 11.5), core's `StoreMaintenance`:
 * soft delete of expired sessions, hard delete after a grace period, pruning of long event logs,
 * orphaned artifacts, leftovers of sessions that no longer exist, and a health check. Nothing runs on
 * its own: call `runMaintenance` from your scheduler.
 */
import {
  AsmError,
  type MaintenanceReport,
  type ResolvedRetentionPolicy,
  type RetentionPolicy,
  resolveRetentionPolicy,
  runMaintenanceSteps,
  type Session,
  type StoreMaintenance,
  type StoreMaintenanceOptions,
  sweepOrphanedArtifacts,
} from '@asm/core';
import { closedError, type OperationKind, toStorageError } from './errors.js';
import { keyLayout } from './keys.js';
import type { RedisSessionStore } from './redis-store.js';
import {
  CLEAN_ORPHANED_SESSION_DATA,
  HARD_DELETE_SESSION,
  PRUNE_EVENTS,
  REPLACE_SESSION_JSON,
  runScript,
} from './scripts.js';

/** Options of `createRedisMaintenance`: the clock, and the artifact registry (with the blob store) to clean. */
export interface RedisMaintenanceOptions extends StoreMaintenanceOptions {}

/** Retention and health operations on one Redis store (core's `StoreMaintenance`). */
export type RedisMaintenance = StoreMaintenance;

const DAY_MS = 86_400_000;
/** Index entries read per round trip. */
const CHUNK = 500;

/** `text` with the glob characters of a `SCAN MATCH` pattern escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}

/**
 * Retention and maintenance over a store made by `createRedisStore` (same client, same key prefix).
 *
 * - Sessions are read by walking the store's index of all sessions in chunks; soft and hard delete
 *   are compare-and-set scripts, so a session saved in the meantime is left alone.
 * - Pruning is one script per session over the limit: it deletes stream entries only, and keeps
 *   every event id, so the latest sequence never goes down, numbers are not reused, and appending a
 *   pruned event's id again returns its original sequence.
 * - Orphaned sequences are event-id hashes (and logs, runs) left by a session that no longer exists,
 *   found with `SCAN`; `healthCheck` also scans. Both walk every key under the prefix (O(keys)):
 *   schedule them off-peak on large databases.
 * - Single steps fail with `maintenance_error` (`storage_connection_failed` when Redis is
 *   unreachable); `runMaintenance` collects step failures in the report instead.
 */
export function createRedisMaintenance(
  store: RedisSessionStore,
  options: RedisMaintenanceOptions = {},
): RedisMaintenance {
  if (typeof store !== 'object' || store === null || typeof store.keyPrefix !== 'string' || !store.client) {
    throw new AsmError('validation_error', 'createRedisMaintenance needs a store made by createRedisStore', {
      details: { field: 'store' },
    });
  }
  const { client } = store;
  const keys = keyLayout(store.keyPrefix);
  const base = keys.base;
  const now = options.now ?? (() => new Date());
  const artifacts = options.artifacts;

  const ensureOpen = (): void => {
    if (store.closed) throw closedError('store');
  };

  /** Runs a step: store open, Redis failures as storage errors, anything else as `maintenance_error`. */
  async function guarded<T>(operation: string, kind: OperationKind, body: () => Promise<T>): Promise<T> {
    ensureOpen();
    try {
      return await body();
    } catch (error) {
      if (AsmError.isInstance(error)) throw error;
      const mapped = toStorageError(error, operation, kind);
      if (mapped.code === 'storage_connection_failed') throw mapped;
      throw new AsmError('maintenance_error', mapped.message, {
        cause: error,
        details: mapped.details,
      });
    }
  }

  const cutoff = (days: number): number => now().getTime() - days * DAY_MS;

  /** Calls `visit` with every stored session (id and JSON as stored), a chunk at a time. */
  async function eachSession(visit: (id: string, json: string) => void | Promise<void>): Promise<void> {
    for (let start = 0; ; start += CHUNK) {
      const ids = await client.zrange(keys.indexAll(), start, String(start + CHUNK - 1));
      if (ids.length === 0) return;
      const pipeline = client.pipeline();
      for (const id of ids) pipeline.hget(keys.session(id), 'json');
      const replies = (await pipeline.exec()) ?? [];
      for (let index = 0; index < ids.length; index++) {
        const [error, json] = replies[index] ?? [];
        if (error) throw error;
        if (typeof json === 'string') await visit(ids[index]!, json);
      }
      if (ids.length < CHUNK) return;
    }
  }

  /** Every key matching `pattern` (a suffix after the key base, glob-escaped base). */
  async function scanKeys(suffixPattern: string, visit: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, found] = await client.scan(
        cursor,
        'MATCH',
        `${globEscape(base)}${suffixPattern}`,
        'COUNT',
        1000,
      );
      cursor = next;
      if (found.length > 0) await visit(found);
    } while (cursor !== '0');
  }

  async function softDelete(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxCompletedSessionAgeDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.maxCompletedSessionAgeDays);
    const exemptStatuses = new Set<string>(policy.exemptStatuses);
    const candidates: Array<[string, string, Session]> = [];
    await eachSession((id, json) => {
      const session = JSON.parse(json) as Session;
      if (session.deletedAt !== undefined || exemptStatuses.has(session.status)) return;
      if (!(Date.parse(session.updatedAt) < before)) return;
      if (session.tags.some((tag) => policy.exemptTags.includes(tag))) return;
      candidates.push([id, json, session]);
    });
    const deletedAt = now().toISOString();
    let count = 0;
    for (const [id, json, session] of candidates) {
      const replaced = await runScript(client, REPLACE_SESSION_JSON, [
        base,
        id,
        json,
        JSON.stringify({ ...session, deletedAt }),
      ]);
      if (Number(replaced) === 1) count++;
    }
    return count;
  }

  async function hardDelete(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.hardDeleteAfterDays === Number.POSITIVE_INFINITY) return 0;
    const before = cutoff(policy.hardDeleteAfterDays);
    const expired: Array<[string, string]> = [];
    await eachSession((id, json) => {
      const { deletedAt } = JSON.parse(json) as Session;
      if (deletedAt !== undefined && Date.parse(deletedAt) < before) expired.push([id, json]);
    });
    let count = 0;
    for (const [id, json] of expired) {
      if (Number(await runScript(client, HARD_DELETE_SESSION, [base, id, json])) === 1) count++;
    }
    return count;
  }

  async function prune(sessionId: string, policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const pruned = await runScript(client, PRUNE_EVENTS, [
      base,
      sessionId,
      policy.maxEventsPerSession,
      policy.pruneEventTypesFirst.length,
      ...policy.pruneEventTypesFirst,
      policy.protectedEventTypes.length,
      ...policy.protectedEventTypes,
    ]);
    return Number(pruned);
  }

  async function pruneAll(policy: ResolvedRetentionPolicy): Promise<number> {
    if (policy.maxEventsPerSession === Number.POSITIVE_INFINITY) return 0;
    const over: string[] = [];
    for (let start = 0; ; start += CHUNK) {
      const ids = await client.zrange(keys.indexAll(), start, String(start + CHUNK - 1));
      if (ids.length === 0) break;
      const pipeline = client.pipeline();
      for (const id of ids) pipeline.xlen(keys.events(id));
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const [error, length] = replies[index] ?? [];
        if (error) throw error;
        if (Number(length) > policy.maxEventsPerSession) over.push(id);
      });
      if (ids.length < CHUNK) break;
    }
    let pruned = 0;
    for (const id of over) pruned += await prune(id, policy);
    return pruned;
  }

  /** Which of these session ids have no session hash. */
  async function missingSessions(ids: string[]): Promise<Set<string>> {
    const pipeline = client.pipeline();
    for (const id of ids) pipeline.exists(keys.session(id));
    const replies = (await pipeline.exec()) ?? [];
    const missing = new Set<string>();
    ids.forEach((id, index) => {
      const [error, exists] = replies[index] ?? [];
      if (error) throw error;
      if (Number(exists) === 0) missing.add(id);
    });
    return missing;
  }

  async function cleanArtifacts(policy: ResolvedRetentionPolicy): Promise<number> {
    if (artifacts === undefined) return 0;
    return sweepOrphanedArtifacts(artifacts, missingSessions, policy.batchSize);
  }

  async function cleanOrphanedSequences(): Promise<number> {
    const prefix = `${base}event-ids:`;
    let cleaned = 0;
    await scanKeys('event-ids:*', async (found) => {
      const missing = await missingSessions(found.map((key) => key.slice(prefix.length)));
      for (const id of missing) {
        cleaned += Number(await runScript(client, CLEAN_ORPHANED_SESSION_DATA, [base, id]));
      }
    });
    return cleaned;
  }

  async function healthCheck(): Promise<string[]> {
    const issues: string[] = [];
    // Logs whose session is gone.
    let orphanEvents = 0;
    const eventsPrefix = `${base}events:`;
    await scanKeys('events:*', async (found) => {
      const missing = await missingSessions(found.map((key) => key.slice(eventsPrefix.length)));
      for (const id of missing) orphanEvents += await client.xlen(keys.events(id));
    });
    if (orphanEvents > 0) issues.push(`${orphanEvents} events reference non-existent sessions`);
    // Runs whose session is gone.
    let orphanRuns = 0;
    await scanKeys('run:*', async (found) => {
      const pipeline = client.pipeline();
      for (const key of found) pipeline.hget(key, 'session');
      const replies = (await pipeline.exec()) ?? [];
      const owners = replies.map(([error, owner]) => {
        if (error) throw error;
        return typeof owner === 'string' ? owner : '';
      });
      const missing = await missingSessions([...new Set(owners)]);
      orphanRuns += owners.filter((owner) => missing.has(owner)).length;
    });
    if (orphanRuns > 0) issues.push(`${orphanRuns} runs reference non-existent sessions`);
    // A counter (the event-id hash length) behind the log would hand out a taken number.
    for (let start = 0; ; start += CHUNK) {
      const ids = await client.zrange(keys.indexAll(), start, String(start + CHUNK - 1));
      if (ids.length === 0) break;
      const pipeline = client.pipeline();
      for (const id of ids) {
        pipeline.hlen(keys.eventIds(id));
        pipeline.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
      }
      const replies = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const [counterError, counter] = replies[index * 2] ?? [];
        const [lastError, last] = replies[index * 2 + 1] ?? [];
        if (counterError) throw counterError;
        if (lastError) throw lastError;
        const entry = (last as Array<[string, string[]]>)[0];
        const maxSequence = entry === undefined ? 0 : Number.parseInt(entry[0], 10);
        if (Number(counter) < maxSequence) {
          issues.push(`Sequence mismatch for ${id}: counter=${Number(counter)}, max_sequence=${maxSequence}`);
        }
      });
      if (ids.length < CHUNK) break;
    }
    return issues;
  }

  return {
    async runMaintenance(policy?: RetentionPolicy): Promise<MaintenanceReport> {
      ensureOpen();
      const resolved = resolveRetentionPolicy(policy);
      return runMaintenanceSteps({
        softDeleteExpiredSessions: () =>
          guarded('softDeleteExpiredSessions', 'write', () => softDelete(resolved)),
        hardDeleteExpiredSessions: () =>
          guarded('hardDeleteExpiredSessions', 'write', () => hardDelete(resolved)),
        pruneSessionEvents: () => guarded('pruneSessionEvents', 'write', () => pruneAll(resolved)),
        cleanOrphanedArtifacts: () =>
          guarded('cleanOrphanedArtifacts', 'write', () => cleanArtifacts(resolved)),
        cleanOrphanedSequences: () => guarded('cleanOrphanedSequences', 'write', cleanOrphanedSequences),
      });
    },
    async softDeleteExpiredSessions(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('softDeleteExpiredSessions', 'write', () => softDelete(resolved));
    },
    async hardDeleteExpiredSessions(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('hardDeleteExpiredSessions', 'write', () => hardDelete(resolved));
    },
    async pruneSessionEvents(sessionId, policy) {
      if (typeof sessionId !== 'string') {
        throw new AsmError('validation_error', 'sessionId must be a string', {
          details: { field: 'sessionId' },
        });
      }
      const resolved = resolveRetentionPolicy(policy);
      return guarded('pruneSessionEvents', 'write', () => prune(sessionId, resolved));
    },
    async cleanOrphanedArtifacts(policy) {
      const resolved = resolveRetentionPolicy(policy);
      return guarded('cleanOrphanedArtifacts', 'write', () => cleanArtifacts(resolved));
    },
    async healthCheck() {
      return guarded('healthCheck', 'read', healthCheck);
    },
  };
}
