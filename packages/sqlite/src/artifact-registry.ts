/**
 * The artifact registry on SQLite (core's `ArtifactRegistry`): the `<prefix>artifacts` table of
 * migration `0001_artifact_registry`, in the database of a store made by `createSqliteStore`.
 */
import {
  type ArtifactRecord,
  type ArtifactRegistry,
  artifactListCursor,
  checkArtifactListFilter,
  checkArtifactRegistration,
  nowIso,
  type Page,
  validateArtifactKey,
} from '@asm/core';
import { and, asc, count, eq, type SQL, sql, sum } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { closedStoreError, corruptJsonError, type OperationKind, toStorageError } from './errors.js';
import { toJson } from './rows.js';
import { createTables } from './schema.js';
import type { SqliteSessionStore } from './sqlite-store.js';

/** An `ArtifactRegistry` in a SQLite store's database. */
export interface SqliteArtifactRegistry extends ArtifactRegistry {
  /** The prefix of the store's tables (the registry is `<prefix>artifacts`). */
  readonly tablePrefix: string;
}

type ArtifactRow = ReturnType<typeof createTables>['artifacts']['$inferSelect'];

function recordOf(row: ArtifactRow, table: string): ArtifactRecord {
  let metadata: Record<string, unknown>;
  try {
    metadata = JSON.parse(row.metadata) as Record<string, unknown>;
  } catch (error) {
    throw corruptJsonError(table, 'metadata', row.key, error);
  }
  const record: ArtifactRecord = {
    key: row.key,
    byteSize: row.byteSize,
    sha256: row.checksumSha256,
    backend: row.storageBackend,
    reference: row.storageRef,
    metadata,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
  if (row.contentType !== null) record.contentType = row.contentType;
  if (row.sessionId !== null) record.sessionId = row.sessionId;
  if (row.runId !== null) record.runId = row.runId;
  return record;
}

/**
 * The artifact registry of a SQLite store (same connection, same table prefix). `register` is one
 * `INSERT … ON CONFLICT(key) DO UPDATE` (keeping `createdAt`); `list` pages on the
 * `(created_at, key)` indexes. Write failures are `storage_write_failed`, read failures
 * `query_error`, a closed store `storage_connection_failed`.
 *
 * ```ts
 * const store = createSqliteStore({ path: 'asm.db' });
 * const artifacts = withArtifactRegistry(createFileArtifactStore({ root: 'artifacts' }),
 *   createSqliteArtifactRegistry(store), { backend: 'file' });
 * ```
 */
export function createSqliteArtifactRegistry(store: SqliteSessionStore): SqliteArtifactRegistry {
  const { artifacts } = createTables(store.tablePrefix);
  const tableName = `${store.tablePrefix}artifacts`;
  const database = store.database;
  const db = drizzle({ client: database });

  function guarded<T>(operation: string, kind: OperationKind, body: () => T): T {
    if (store.closed || !database.open) throw closedStoreError();
    try {
      return body();
    } catch (error) {
      throw toStorageError(error, operation, kind);
    }
  }

  return {
    specificationVersion: 'v1',
    tablePrefix: store.tablePrefix,

    async register(registration) {
      const checked = checkArtifactRegistration(registration);
      const now = nowIso();
      const values = {
        key: checked.key,
        sessionId: checked.sessionId ?? null,
        runId: checked.runId ?? null,
        contentType: checked.contentType ?? null,
        byteSize: checked.byteSize,
        checksumSha256: checked.sha256,
        storageBackend: checked.backend,
        storageRef: checked.reference,
        metadata: toJson(checked.metadata, 'artifact', 'metadata'),
        updatedAt: now,
      };
      const row = guarded('registerArtifact', 'write', () =>
        db
          .insert(artifacts)
          .values({ ...values, createdAt: now })
          .onConflictDoUpdate({ target: artifacts.key, set: values })
          .returning()
          .get(),
      );
      return recordOf(row, tableName);
    },

    async lookup(key) {
      validateArtifactKey(key);
      const row = guarded('lookupArtifact', 'query', () =>
        db.select().from(artifacts).where(eq(artifacts.key, key)).get(),
      );
      return row === undefined ? undefined : recordOf(row, tableName);
    },

    async list(filter): Promise<Page<ArtifactRecord>> {
      const checked = checkArtifactListFilter(filter);
      const conditions: SQL[] = [];
      if (checked.sessionId !== undefined) conditions.push(eq(artifacts.sessionId, checked.sessionId));
      if (checked.runId !== undefined) conditions.push(eq(artifacts.runId, checked.runId));
      if (checked.after !== undefined) {
        conditions.push(
          sql`(${artifacts.createdAt}, ${artifacts.key}) > (${checked.after.createdAt}, ${checked.after.key})`,
        );
      }
      const rows = guarded('listArtifacts', 'query', () =>
        db
          .select()
          .from(artifacts)
          .where(and(...conditions))
          .orderBy(asc(artifacts.createdAt), asc(artifacts.key))
          .limit(checked.limit + 1)
          .all(),
      );
      const items = rows.slice(0, checked.limit).map((row) => recordOf(row, tableName));
      const page: Page<ArtifactRecord> = { items };
      if (rows.length > checked.limit) page.nextCursor = artifactListCursor(items.at(-1)!);
      return page;
    },

    async unregister(key) {
      validateArtifactKey(key);
      const result = guarded('unregisterArtifact', 'write', () =>
        db.delete(artifacts).where(eq(artifacts.key, key)).run(),
      );
      return result.changes > 0;
    },

    async stats(filter = {}) {
      const checked = checkArtifactListFilter({ sessionId: filter.sessionId, runId: filter.runId });
      const conditions: SQL[] = [];
      if (checked.sessionId !== undefined) conditions.push(eq(artifacts.sessionId, checked.sessionId));
      if (checked.runId !== undefined) conditions.push(eq(artifacts.runId, checked.runId));
      const row = guarded('artifactStats', 'query', () =>
        db
          .select({ artifactCount: count(), totalBytes: sum(artifacts.byteSize) })
          .from(artifacts)
          .where(and(...conditions))
          .get(),
      );
      return { artifactCount: row?.artifactCount ?? 0, totalBytes: Number(row?.totalBytes ?? 0) };
    },
  };
}
