/**
 * The SQLite schema of `@asm/sqlite`, defined with drizzle-orm. drizzle-kit generates the shipped
 * migrations from the tables exported at the bottom of this file (`pnpm db:generate`).
 *
 * Every table and index name starts with the default prefix `asm_`. A store opened with another
 * `tablePrefix` builds the same tables with `createTables(prefix)`, and the migration runner rewrites
 * the quoted `asm_` names of the shipped SQL to that prefix. Keep it that way: names of tables and
 * indexes start with `asm_`; column names never do.
 *
 * Conventions: JSON values are `text` columns holding `JSON.stringify` output (parsed by the store,
 * so a corrupt row is reported with its table, column and id); timestamps are `text` in the UTC form
 * of `Date.prototype.toISOString()` (`2026-01-02T03:04:05.678Z`), so text order is time order.
 *
 * This file imports nothing but drizzle-orm, so drizzle-kit can load it on its own.
 */
import { sql } from 'drizzle-orm';
import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** The prefix the shipped migrations are written with. */
export const DEFAULT_TABLE_PREFIX = 'asm_';

/** Builds the tables with their names prefixed by `prefix`. */
export function createTables(prefix: string) {
  const sessions = sqliteTable(
    `${prefix}sessions`,
    {
      id: text('id').primaryKey(),
      agentId: text('agent_id').notNull(),
      status: text('status').notNull(),
      parentSessionId: text('parent_session_id'),
      metadata: text('metadata').notNull().default('{}'),
      context: text('context').notNull().default('{}'),
      tags: text('tags').notNull().default('[]'),
      createdAt: text('created_at').notNull(),
      updatedAt: text('updated_at').notNull(),
      deletedAt: text('deleted_at'),
    },
    (table) => [
      index(`${prefix}sessions_status_idx`).on(table.status),
      index(`${prefix}sessions_agent_idx`).on(table.agentId),
      index(`${prefix}sessions_created_idx`).on(table.createdAt, table.id),
      index(`${prefix}sessions_updated_idx`).on(table.updatedAt, table.id),
      index(`${prefix}sessions_deleted_idx`).on(table.deletedAt),
    ],
  );

  const runs = sqliteTable(
    `${prefix}runs`,
    {
      id: text('id').primaryKey(),
      sessionId: text('session_id')
        .notNull()
        .references(() => sessions.id, { onDelete: 'cascade' }),
      status: text('status').notNull(),
      input: text('input').notNull(),
      output: text('output'),
      error: text('error'),
      metadata: text('metadata').notNull().default('{}'),
      turnCount: integer('turn_count').notNull().default(0),
      tokenUsage: text('token_usage').notNull(),
      costUsd: real('cost_usd'),
      provider: text('provider'),
      providerMetadata: text('provider_metadata').notNull().default('{}'),
      createdAt: text('created_at').notNull(),
      startedAt: text('started_at'),
      endedAt: text('ended_at'),
    },
    (table) => [
      index(`${prefix}runs_session_created_idx`).on(table.sessionId, table.createdAt, table.id),
      index(`${prefix}runs_status_idx`).on(table.status),
      index(`${prefix}runs_provider_idx`).on(table.provider),
      // 0002_query_indexes: `searchRuns` across sessions, in time order.
      index(`${prefix}runs_created_idx`).on(table.createdAt, table.id),
    ],
  );

  const events = sqliteTable(
    `${prefix}events`,
    {
      id: text('id').primaryKey(),
      sessionId: text('session_id')
        .notNull()
        .references(() => sessions.id, { onDelete: 'cascade' }),
      sequence: integer('sequence').notNull(),
      type: text('type').notNull(),
      timestamp: text('timestamp').notNull(),
      runId: text('run_id'),
      data: text('data').notNull().default('{}'),
      metadata: text('metadata').notNull().default('{}'),
      schemaVersion: integer('schema_version').notNull().default(1),
      provider: text('provider'),
      correlationId: text('correlation_id'),
    },
    (table) => [
      uniqueIndex(`${prefix}events_session_sequence_idx`).on(table.sessionId, table.sequence),
      index(`${prefix}events_run_idx`).on(table.runId, table.sequence),
      index(`${prefix}events_session_type_idx`).on(table.sessionId, table.type, table.sequence),
      // 0002_query_indexes: `searchEvents` across sessions in time order (the keyset of its cursors),
      // and by correlation id. The latter is partial: most events have none, and cost it nothing.
      index(`${prefix}events_time_idx`).on(table.timestamp, table.sessionId, table.sequence),
      index(`${prefix}events_correlation_idx`)
        .on(table.correlationId)
        .where(sql.raw('"correlation_id" IS NOT NULL')),
    ],
  );

  /** The last sequence number handed out per session: never reused, even after events are pruned. */
  const sessionSequences = sqliteTable(`${prefix}session_sequences`, {
    sessionId: text('session_id')
      .primaryKey()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    lastSequence: integer('last_sequence').notNull().default(0),
  });

  /**
   * The artifact registry (0001_artifact_registry): one row per artifact key, with its size, SHA-256
   * and where the blob lives. No foreign key, as in the reference library: a session's rows outlive
   * it until maintenance removes them with their blobs.
   */
  const artifacts = sqliteTable(
    `${prefix}artifacts`,
    {
      key: text('key').primaryKey(),
      sessionId: text('session_id'),
      runId: text('run_id'),
      contentType: text('content_type'),
      byteSize: integer('byte_size').notNull(),
      checksumSha256: text('checksum_sha256').notNull(),
      storageBackend: text('storage_backend').notNull(),
      storageRef: text('storage_ref').notNull(),
      metadata: text('metadata').notNull().default('{}'),
      createdAt: text('created_at').notNull(),
      updatedAt: text('updated_at').notNull(),
    },
    (table) => [
      index(`${prefix}artifacts_created_idx`).on(table.createdAt, table.key),
      index(`${prefix}artifacts_session_idx`).on(table.sessionId, table.createdAt, table.key),
      index(`${prefix}artifacts_run_idx`).on(table.runId, table.createdAt, table.key),
    ],
  );

  return { sessions, runs, events, sessionSequences, artifacts };
}

/** The tables of a store, as built by `createTables`. */
export type SqliteTables = ReturnType<typeof createTables>;

const defaultTables = createTables(DEFAULT_TABLE_PREFIX);

/** `asm_sessions` (default prefix). */
export const sessions = defaultTables.sessions;
/** `asm_runs` (default prefix). */
export const runs = defaultTables.runs;
/** `asm_events` (default prefix). */
export const events = defaultTables.events;
/** `asm_session_sequences` (default prefix). */
export const sessionSequences = defaultTables.sessionSequences;
/** `asm_artifacts` (default prefix): the artifact registry. */
export const artifacts = defaultTables.artifacts;
