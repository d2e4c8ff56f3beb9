/**
 * The PostgreSQL schema of `@asm/postgres`, defined with drizzle-orm (pg-core). drizzle-kit generates
 * the shipped migrations from the tables exported at the bottom of this file (`pnpm db:generate`).
 *
 * The tables are written without a schema, so the generated SQL is schema-free; the migration runner
 * applies it with `search_path` set to the store's schema. A store builds the same tables bound to its
 * schema with `createTables(schema)` (used by the drizzle queries), and the hot path names them with
 * `qualifiedNames(schema)`.
 *
 * Conventions:
 * - Every timestamp of a session or run is kept twice: the ISO-8601 string exactly as the app gave it
 *   (`*_iso`, `text`, returned as is) and the instant as `timestamptz` (µs, for ordering and for SQL).
 * - An event's `timestamp` string is kept as given (`timestamp`, `text`); its instant is
 *   `occurred_at` (`timestamptz`, floored to the microsecond) plus `occurred_at_ns` (the 0–999
 *   nanoseconds below the microsecond), so ordering and the inclusive `since` filter are exact at any
 *   precision an ISO string can carry.
 * - JSON values are `jsonb`. There are no foreign keys (as in the reference library): the store
 *   deletes a session's runs, events and counter in one transaction, under the counter's row lock.
 *
 * This file imports nothing but drizzle-orm, so drizzle-kit can load it on its own.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  doublePrecision,
  index,
  integer,
  jsonb,
  PgSchema,
  pgTable,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

/** The schema a store uses when none is given. */
export const DEFAULT_SCHEMA = 'asm';

/** Table names (the same in every schema). */
export const TABLE_NAMES = {
  sessions: 'asm_sessions',
  runs: 'asm_runs',
  events: 'asm_events',
  sessionSequences: 'asm_session_sequences',
  artifacts: 'asm_artifacts',
  migrations: 'asm_migrations',
} as const;

/**
 * An event's instant cut to the millisecond, as UTC `timestamp`: the time key of `searchEvents`
 * (the same millisecond `Date.parse` gives, as in core's in-memory query). Immutable, so indexable;
 * queries must spell it exactly like this for PostgreSQL to use `asm_events_session_time_idx`.
 */
export const EVENT_MILLIS = `date_trunc('milliseconds', ("occurred_at" AT TIME ZONE 'UTC'))`;

/**
 * A session's `updated_at` or a run's `created_at` cut to the millisecond: the time key of
 * `searchSessions` and `searchRuns`, spelled as the queries spell it (see `millis` in
 * `session-query.ts`) so PostgreSQL can read their order from an index.
 */
const millisOf = (column: string): string => `date_trunc('milliseconds', ("${column}" AT TIME ZONE 'UTC'))`;
/**
 * A run's total tokens (0 when absent): the sort key of `searchRuns({ orderBy: 'totalTokensDesc' })`.
 * Queries must spell it exactly like this for PostgreSQL to use `asm_runs_tokens_idx`.
 */
export const RUN_TOTAL_TOKENS = `coalesce(("token_usage"->>'totalTokens')::float8, 0)`;
/** An id in code point order (`COLLATE "C"`), as every query order compares ids. */
const byCodePoint = (column: string): string => `"${column}" COLLATE "C"`;

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 6, mode: 'string' });

/** Builds the tables, bound to `schema` (`undefined`: unqualified, as in the migrations). */
export function createTables(schema?: string) {
  // `new PgSchema` rather than `pgSchema()`, which refuses 'public': every name must be qualified.
  const table = (schema === undefined ? pgTable : new PgSchema(schema).table) as typeof pgTable;

  const sessions = table(
    TABLE_NAMES.sessions,
    {
      id: text('id').primaryKey(),
      agentId: text('agent_id').notNull(),
      status: text('status').notNull(),
      parentSessionId: text('parent_session_id'),
      metadata: jsonb('metadata').notNull().default({}),
      context: jsonb('context').notNull().default({}),
      tags: text('tags').array().notNull().default([]),
      createdAt: instant('created_at').notNull(),
      createdAtIso: text('created_at_iso').notNull(),
      updatedAt: instant('updated_at').notNull(),
      updatedAtIso: text('updated_at_iso').notNull(),
      deletedAt: instant('deleted_at'),
      deletedAtIso: text('deleted_at_iso'),
    },
    (columns) => [
      index('asm_sessions_status_idx').on(columns.status),
      index('asm_sessions_agent_idx').on(columns.agentId),
      index('asm_sessions_created_idx').on(columns.createdAt, columns.id),
      // 0003_query_indexes: `searchSessions` in its default order (updatedAtDesc).
      index('asm_sessions_updated_idx').on(sql.raw(millisOf('updated_at')), sql.raw(byCodePoint('id'))),
    ],
  );

  const runs = table(
    TABLE_NAMES.runs,
    {
      id: text('id').primaryKey(),
      sessionId: text('session_id').notNull(),
      status: text('status').notNull(),
      input: jsonb('input'),
      output: jsonb('output'),
      error: jsonb('error'),
      metadata: jsonb('metadata').notNull().default({}),
      turnCount: integer('turn_count').notNull().default(0),
      tokenUsage: jsonb('token_usage').notNull(),
      costUsd: doublePrecision('cost_usd'),
      provider: text('provider'),
      providerMetadata: jsonb('provider_metadata').notNull().default({}),
      createdAt: instant('created_at').notNull(),
      createdAtIso: text('created_at_iso').notNull(),
      startedAt: instant('started_at'),
      startedAtIso: text('started_at_iso'),
      endedAt: instant('ended_at'),
      endedAtIso: text('ended_at_iso'),
    },
    (columns) => [
      index('asm_runs_session_created_idx').on(columns.sessionId, columns.createdAt, columns.id),
      index('asm_runs_status_idx').on(columns.status),
      index('asm_runs_provider_idx').on(columns.provider),
      // 0003_query_indexes: `searchRuns` across sessions, in time order and by total tokens.
      index('asm_runs_created_idx').on(sql.raw(millisOf('created_at')), sql.raw(byCodePoint('id'))),
      index('asm_runs_tokens_idx').on(sql.raw(RUN_TOTAL_TOKENS), sql.raw(byCodePoint('id'))),
    ],
  );

  const events = table(
    TABLE_NAMES.events,
    {
      id: text('id').primaryKey(),
      sessionId: text('session_id').notNull(),
      sequence: integer('sequence').notNull(),
      type: text('type').notNull(),
      timestamp: text('timestamp').notNull(),
      occurredAt: instant('occurred_at').notNull(),
      occurredAtNs: smallint('occurred_at_ns').notNull().default(0),
      runId: text('run_id'),
      data: jsonb('data').notNull(),
      metadata: jsonb('metadata').notNull().default({}),
      schemaVersion: integer('schema_version').notNull().default(1),
      provider: text('provider'),
      correlationId: text('correlation_id'),
    },
    (columns) => [
      uniqueIndex('asm_events_session_sequence_idx').on(columns.sessionId, columns.sequence),
      index('asm_events_run_idx').on(columns.runId, columns.sequence),
      index('asm_events_session_type_idx').on(columns.sessionId, columns.type, columns.sequence),
      // `searchEvents` of one session in time order (0001_query): the instant cut to the millisecond,
      // the order key the query cursors carry (see `EVENT_MILLIS`).
      index('asm_events_session_time_idx').on(columns.sessionId, sql.raw(EVENT_MILLIS), columns.sequence),
      // 0003_query_indexes: `searchEvents` across sessions in time order and in sequence order (ids
      // by code point, which asm_events_session_sequence_idx, in the database's collation, does not
      // give), both the keysets of its cursors; and by correlation id, partial: most events have none,
      // and cost it nothing.
      index('asm_events_time_idx').on(
        sql.raw(EVENT_MILLIS),
        sql.raw(byCodePoint('session_id')),
        columns.sequence,
      ),
      index('asm_events_session_order_idx').on(sql.raw(byCodePoint('session_id')), columns.sequence),
      index('asm_events_correlation_idx')
        .on(columns.correlationId)
        .where(sql.raw('"correlation_id" IS NOT NULL')),
    ],
  );

  /**
   * The last sequence number handed out per session. The row exists exactly as long as the session:
   * `saveSession` creates it, `deleteSession` deletes it. Appends take its row lock.
   */
  const sessionSequences = table(TABLE_NAMES.sessionSequences, {
    sessionId: text('session_id').primaryKey(),
    lastSequence: integer('last_sequence').notNull().default(0),
  });

  /**
   * The artifact registry (0002_artifact_registry): one row per artifact key, with its size, SHA-256
   * and where the blob lives. Its timestamps are written by the registry itself (millisecond ISO
   * strings), so `timestamptz` alone keeps them exactly.
   */
  const artifacts = table(
    TABLE_NAMES.artifacts,
    {
      key: text('key').primaryKey(),
      sessionId: text('session_id'),
      runId: text('run_id'),
      contentType: text('content_type'),
      byteSize: bigint('byte_size', { mode: 'number' }).notNull(),
      checksumSha256: text('checksum_sha256').notNull(),
      storageBackend: text('storage_backend').notNull(),
      storageRef: text('storage_ref').notNull(),
      metadata: jsonb('metadata').notNull().default({}),
      createdAt: instant('created_at').notNull(),
      updatedAt: instant('updated_at').notNull(),
    },
    (columns) => [
      index('asm_artifacts_created_idx').on(columns.createdAt, columns.key),
      index('asm_artifacts_session_idx').on(columns.sessionId, columns.createdAt, columns.key),
      index('asm_artifacts_run_idx').on(columns.runId, columns.createdAt, columns.key),
    ],
  );

  return { sessions, runs, events, sessionSequences, artifacts };
}

/** The tables of a store, as built by `createTables`. */
export type PostgresTables = ReturnType<typeof createTables>;

const unqualified = createTables();

/** `asm_sessions`, unqualified (what drizzle-kit reads). */
export const sessions = unqualified.sessions;
/** `asm_runs`, unqualified (what drizzle-kit reads). */
export const runs = unqualified.runs;
/** `asm_events`, unqualified (what drizzle-kit reads). */
export const events = unqualified.events;
/** `asm_session_sequences`, unqualified (what drizzle-kit reads). */
export const sessionSequences = unqualified.sessionSequences;
/** `asm_artifacts`, unqualified (what drizzle-kit reads): the artifact registry. */
export const artifacts = unqualified.artifacts;
