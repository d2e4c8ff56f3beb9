/**
 * The artifact registry on PostgreSQL (core's `ArtifactRegistry`): the `asm_artifacts` table of
 * migration `0002_artifact_registry`, in the schema of a store made by `createPostgresStore`.
 */
import {
  type ArtifactRecord,
  type ArtifactRegistry,
  AsmError,
  artifactListCursor,
  checkArtifactListFilter,
  checkArtifactRegistration,
  type ErrorCode,
  nowIso,
  type Page,
  validateArtifactKey,
} from '@asm/core';
import { toStorageError } from './errors.js';
import { type PostgresSessionStore, storeInternals } from './postgres-store.js';

/** An `ArtifactRegistry` in a PostgreSQL store's schema. */
export type PostgresArtifactRegistry = ArtifactRegistry;

interface ArtifactRow {
  key: string;
  session_id: string | null;
  run_id: string | null;
  content_type: string | null;
  byte_size: string | number;
  checksum_sha256: string;
  storage_backend: string;
  storage_ref: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** Timestamps come back in the registry's own form (`toISOString()`, millisecond precision). */
const ISO = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`;
const COLUMNS = `key, session_id, run_id, content_type, byte_size, checksum_sha256, storage_backend, storage_ref, metadata, ${ISO('created_at')}, ${ISO('updated_at')}`;

function recordOf(row: ArtifactRow): ArtifactRecord {
  const record: ArtifactRecord = {
    key: row.key,
    byteSize: Number(row.byte_size),
    sha256: row.checksum_sha256,
    backend: row.storage_backend,
    reference: row.storage_ref,
    metadata: row.metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.content_type !== null) record.contentType = row.content_type;
  if (row.session_id !== null) record.sessionId = row.session_id;
  if (row.run_id !== null) record.runId = row.run_id;
  return record;
}

/**
 * The artifact registry of a PostgreSQL store (same pool, same schema). `register` is one
 * `INSERT … ON CONFLICT (key) DO UPDATE` (keeping `created_at`), so concurrent registrations of a key
 * from many instances leave one row; `list` pages on the `(created_at, key)` indexes. Write failures
 * are `storage_write_failed`, read failures `query_error`, an unreachable database
 * `storage_connection_failed` (retryable), a closed store `storage_connection_failed`.
 *
 * ```ts
 * const store = createPostgresStore({ connectionString: process.env.DATABASE_URL });
 * const artifacts = withArtifactRegistry(createFileArtifactStore({ root: '/var/lib/asm' }),
 *   createPostgresArtifactRegistry(store), { backend: 'file' });
 * ```
 */
export function createPostgresArtifactRegistry(store: PostgresSessionStore): PostgresArtifactRegistry {
  const found = typeof store === 'object' && store !== null ? storeInternals(store) : undefined;
  if (found === undefined) {
    throw new AsmError(
      'validation_error',
      'createPostgresArtifactRegistry needs a store made by createPostgresStore',
      {
        details: { field: 'store' },
      },
    );
  }
  const { pool, names, ensureOpen } = found;

  async function query<T>(
    operation: string,
    fallback: ErrorCode,
    text: string,
    values: unknown[],
  ): Promise<T[]> {
    ensureOpen();
    await store.ready();
    try {
      return (await pool.query(text, values)).rows as T[];
    } catch (error) {
      throw toStorageError(error, operation, fallback);
    }
  }

  function filterClause(filter: { sessionId?: string; runId?: string }, values: unknown[]): string[] {
    const conditions: string[] = [];
    if (filter.sessionId !== undefined) {
      values.push(filter.sessionId);
      conditions.push(`session_id = $${values.length}`);
    }
    if (filter.runId !== undefined) {
      values.push(filter.runId);
      conditions.push(`run_id = $${values.length}`);
    }
    return conditions;
  }

  return {
    specificationVersion: 'v1',

    async register(registration) {
      const checked = checkArtifactRegistration(registration);
      const now = nowIso();
      const [row] = await query<ArtifactRow>(
        'registerArtifact',
        'storage_write_failed',
        `INSERT INTO ${names.artifacts} AS a (key, session_id, run_id, content_type, byte_size, checksum_sha256,
  storage_backend, storage_ref, metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::timestamptz, $10::timestamptz)
ON CONFLICT (key) DO UPDATE SET session_id = EXCLUDED.session_id, run_id = EXCLUDED.run_id,
  content_type = EXCLUDED.content_type, byte_size = EXCLUDED.byte_size,
  checksum_sha256 = EXCLUDED.checksum_sha256, storage_backend = EXCLUDED.storage_backend,
  storage_ref = EXCLUDED.storage_ref, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
RETURNING ${COLUMNS}`,
        [
          checked.key,
          checked.sessionId ?? null,
          checked.runId ?? null,
          checked.contentType ?? null,
          checked.byteSize,
          checked.sha256,
          checked.backend,
          checked.reference,
          JSON.stringify(checked.metadata),
          now,
        ],
      );
      return recordOf(row!);
    },

    async lookup(key) {
      validateArtifactKey(key);
      const [row] = await query<ArtifactRow>(
        'lookupArtifact',
        'query_error',
        `SELECT ${COLUMNS} FROM ${names.artifacts} WHERE key = $1`,
        [key],
      );
      return row === undefined ? undefined : recordOf(row);
    },

    async list(filter): Promise<Page<ArtifactRecord>> {
      const checked = checkArtifactListFilter(filter);
      const values: unknown[] = [];
      const conditions = filterClause(checked, values);
      if (checked.after !== undefined) {
        values.push(checked.after.createdAt, checked.after.key);
        conditions.push(`(created_at, key) > ($${values.length - 1}::timestamptz, $${values.length})`);
      }
      values.push(checked.limit + 1);
      const rows = await query<ArtifactRow>(
        'listArtifacts',
        'query_error',
        `SELECT ${COLUMNS} FROM ${names.artifacts}
${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
ORDER BY created_at, key LIMIT $${values.length}`,
        values,
      );
      const items = rows.slice(0, checked.limit).map(recordOf);
      const page: Page<ArtifactRecord> = { items };
      if (rows.length > checked.limit) page.nextCursor = artifactListCursor(items.at(-1)!);
      return page;
    },

    async unregister(key) {
      validateArtifactKey(key);
      const rows = await query<{ key: string }>(
        'unregisterArtifact',
        'storage_write_failed',
        `DELETE FROM ${names.artifacts} WHERE key = $1 RETURNING key`,
        [key],
      );
      return rows.length > 0;
    },

    async stats(filter = {}) {
      const checked = checkArtifactListFilter({ sessionId: filter.sessionId, runId: filter.runId });
      const values: unknown[] = [];
      const conditions = filterClause(checked, values);
      const [row] = await query<{ artifact_count: number; total_bytes: string }>(
        'artifactStats',
        'query_error',
        `SELECT count(*)::int4 AS artifact_count, coalesce(sum(byte_size), 0)::text AS total_bytes
FROM ${names.artifacts} ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}`,
        values,
      );
      return { artifactCount: row?.artifact_count ?? 0, totalBytes: Number(row?.total_bytes ?? 0) };
    },
  };
}
