import type { Page } from './session-query.js';

/**
 * What a registry knows about one artifact: its size and SHA-256, where the blob lives, and which
 * session and run it belongs to. The registry keeps metadata only, never the bytes.
 */
export interface ArtifactRecord {
  /** The artifact key (as given to `ArtifactStore.put`); unique in the registry. */
  key: string;
  /** Size of the blob in bytes. */
  byteSize: number;
  /** SHA-256 of the blob, 64 lowercase hex characters. */
  sha256: string;
  /** The kind of store holding the blob, such as `'file'`, `'s3'` or `'memory'`. */
  backend: string;
  /** Where the blob lives in that store (a path, an object key, a URL). */
  reference: string;
  contentType?: string;
  /** The session the artifact belongs to; maintenance removes the artifact once the session is gone. */
  sessionId?: string;
  runId?: string;
  /** JSON-serializable extras. Default `{}`. */
  metadata: Record<string, unknown>;
  /** When the key was first registered (ISO-8601 UTC). Re-registering keeps it. */
  createdAt: string;
  /** When the key was last registered (ISO-8601 UTC). */
  updatedAt: string;
}

/** What `ArtifactRegistry.register` takes: a record without its timestamps. */
export type ArtifactRegistration = Omit<ArtifactRecord, 'createdAt' | 'updatedAt' | 'metadata'> & {
  metadata?: Record<string, unknown>;
};

/** Filters of `ArtifactRegistry.list`. Filters combine with AND. */
export interface ArtifactListFilter {
  sessionId?: string;
  runId?: string;
  /** Default 50, at most 1,000. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** Totals of `ArtifactRegistry.stats`. */
export interface ArtifactStats {
  artifactCount: number;
  totalBytes: number;
}

/**
 * The artifact registry port: a table of artifact metadata (spec PERS-artifact-registry), kept next
 * to an `ArtifactStore` by `withArtifactRegistry` so that size and checksum are recorded on `put`
 * and verified on `get`. Contract (proved by `testArtifactRegistry` from `@asm/testing`):
 *
 * - `register` is an upsert by key: a new key gets `createdAt = updatedAt = now`; an existing key
 *   keeps its `createdAt` and takes every other field from the new registration (fields left out
 *   are cleared). Invalid input is `validation_error` and writes nothing.
 * - `lookup` of an unknown key is `undefined`.
 * - `list` returns records in `(createdAt, key)` order, paged with an opaque keyset cursor that stays
 *   valid while records are added or removed; a malformed or foreign cursor is `validation_error`.
 * - `unregister` is idempotent; it resolves `true` when it removed a record.
 * - A registry bound to a store (SQLite, PostgreSQL) rejects with `storage_connection_failed` once
 *   that store is closed.
 */
export interface ArtifactRegistry {
  readonly specificationVersion: 'v1';
  register(registration: ArtifactRegistration): Promise<ArtifactRecord>;
  lookup(key: string): Promise<ArtifactRecord | undefined>;
  list(filter?: ArtifactListFilter): Promise<Page<ArtifactRecord>>;
  unregister(key: string): Promise<boolean>;
  /** How many artifacts, and how many bytes, match the filter (all when no filter). */
  stats(filter?: { sessionId?: string; runId?: string }): Promise<ArtifactStats>;
}
