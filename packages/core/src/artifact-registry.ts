/**
 * The artifact registry (spec PERS-artifact-registry): input checks shared by every registry, the
 * in-memory registry, `withArtifactRegistry` (an `ArtifactStore` that records size, SHA-256 and
 * backend on `put`, verifies them on `get` and forgets them on `delete`), and the orphan sweep every
 * store's maintenance runs.
 */
import { createHash } from 'node:crypto';
import { AsmError } from './errors.js';
import { nowIso } from './ids.js';
import { validateArtifactKey } from './in-memory-artifact-store.js';
import type {
  ArtifactListFilter,
  ArtifactRecord,
  ArtifactRegistration,
  ArtifactRegistry,
  ArtifactStats,
} from './ports/artifact-registry.js';
import type { ArtifactStore } from './ports/artifact-store.js';
import type { Page } from './ports/session-query.js';
import { checkQueryLimit, decodeQueryCursorKey, encodeQueryCursor } from './query.js';

/** The order (and cursor binding) of `ArtifactRegistry.list`. */
const LIST_ORDER = 'createdAtAsc';

/** The SHA-256 of some bytes (or of a string's UTF-8 bytes), as 64 lowercase hex characters. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function invalid(field: string, message: string): AsmError {
  return new AsmError('validation_error', `Invalid artifact registration: ${message}`, {
    details: { field },
  });
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalid(field, `${field} must be a non-empty string`);
  return value;
}

/**
 * Checks a registration and returns a normalized copy (optional fields left out when absent,
 * `metadata` defaulting to `{}`). Anything wrong is `validation_error` naming the field.
 */
export function checkArtifactRegistration(registration: ArtifactRegistration): ArtifactRegistration & {
  metadata: Record<string, unknown>;
} {
  if (typeof registration !== 'object' || registration === null) {
    throw invalid('registration', 'registration must be an object');
  }
  const { key, byteSize, sha256, backend, reference, metadata = {} } = registration;
  validateArtifactKey(key);
  if (typeof byteSize !== 'number' || !Number.isSafeInteger(byteSize) || byteSize < 0) {
    throw invalid('byteSize', 'byteSize must be a non-negative integer');
  }
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw invalid('sha256', 'sha256 must be 64 lowercase hex characters');
  }
  if (typeof backend !== 'string' || backend === '')
    throw invalid('backend', 'backend must be a non-empty string');
  if (typeof reference !== 'string' || reference === '') {
    throw invalid('reference', 'reference must be a non-empty string');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('metadata', 'metadata must be a plain object');
  }
  let copy: Record<string, unknown>;
  try {
    copy = JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
  } catch (error) {
    throw new AsmError(
      'validation_error',
      'Invalid artifact registration: metadata must be JSON-serializable',
      {
        details: { field: 'metadata' },
        cause: error,
      },
    );
  }
  const checked: ArtifactRegistration & { metadata: Record<string, unknown> } = {
    key,
    byteSize,
    sha256,
    backend,
    reference,
    metadata: copy,
  };
  const contentType = optionalText(registration.contentType, 'contentType');
  const sessionId = optionalText(registration.sessionId, 'sessionId');
  const runId = optionalText(registration.runId, 'runId');
  if (contentType !== undefined) checked.contentType = contentType;
  if (sessionId !== undefined) checked.sessionId = sessionId;
  if (runId !== undefined) checked.runId = runId;
  return checked;
}

/** A checked `ArtifactListFilter`: the page size and, from the cursor, the `(createdAt, key)` to start after. */
export interface CheckedArtifactListFilter {
  sessionId?: string;
  runId?: string;
  limit: number;
  after?: { createdAt: string; key: string };
}

/** Checks a list filter (limit default 50, at most 1,000; the cursor must be a registry cursor). */
export function checkArtifactListFilter(filter: ArtifactListFilter = {}): CheckedArtifactListFilter {
  if (typeof filter !== 'object' || filter === null) {
    throw new AsmError('validation_error', 'filter must be an object', { details: { field: 'filter' } });
  }
  const checked: CheckedArtifactListFilter = { limit: checkQueryLimit(filter.limit, 50) };
  for (const field of ['sessionId', 'runId'] as const) {
    const value = filter[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') {
      throw new AsmError('validation_error', `${field} must be a string`, { details: { field } });
    }
    checked[field] = value;
  }
  if (filter.cursor !== undefined) {
    const [createdAt, key] = decodeQueryCursorKey(filter.cursor, 'artifacts', LIST_ORDER, [
      'string',
      'string',
    ]);
    checked.after = { createdAt: createdAt as string, key: key as string };
  }
  return checked;
}

/** The cursor of `list` pointing after this record. */
export function artifactListCursor(record: Pick<ArtifactRecord, 'createdAt' | 'key'>): string {
  return encodeQueryCursor('artifacts', LIST_ORDER, [record.createdAt, record.key]);
}

/** Sorts records by `(createdAt, key)` and cuts the page a checked filter asks for. */
export function artifactPageOf(
  records: ArtifactRecord[],
  filter: CheckedArtifactListFilter,
): Page<ArtifactRecord> {
  const compare = (
    left: { createdAt: string; key: string },
    right: { createdAt: string; key: string },
  ): number =>
    Date.parse(left.createdAt) - Date.parse(right.createdAt) ||
    (left.key < right.key ? -1 : left.key > right.key ? 1 : 0);
  const sorted = records
    .filter(
      (record) =>
        (filter.sessionId === undefined || record.sessionId === filter.sessionId) &&
        (filter.runId === undefined || record.runId === filter.runId),
    )
    .sort(compare);
  const after = filter.after;
  const start = after === undefined ? 0 : sorted.findIndex((record) => compare(record, after) > 0);
  const from = start < 0 ? sorted.length : start;
  const items = sorted.slice(from, from + filter.limit);
  const page: Page<ArtifactRecord> = { items };
  const last = items.at(-1);
  if (last !== undefined && from + filter.limit < sorted.length) page.nextCursor = artifactListCursor(last);
  return page;
}

function copyRecord(record: ArtifactRecord): ArtifactRecord {
  return { ...record, metadata: structuredClone(record.metadata) };
}

/**
 * An `ArtifactRegistry` in this process's memory (the reference implementation; records are copied
 * in and out).
 */
export function createInMemoryArtifactRegistry(): ArtifactRegistry {
  const records = new Map<string, ArtifactRecord>();
  return {
    specificationVersion: 'v1',
    async register(registration) {
      const checked = checkArtifactRegistration(registration);
      const now = nowIso();
      const record: ArtifactRecord = {
        ...checked,
        createdAt: records.get(checked.key)?.createdAt ?? now,
        updatedAt: now,
      };
      records.set(record.key, record);
      return copyRecord(record);
    },
    async lookup(key) {
      validateArtifactKey(key);
      const record = records.get(key);
      return record === undefined ? undefined : copyRecord(record);
    },
    async list(filter) {
      const page = artifactPageOf([...records.values()], checkArtifactListFilter(filter));
      return { ...page, items: page.items.map(copyRecord) };
    },
    async unregister(key) {
      validateArtifactKey(key);
      return records.delete(key);
    },
    async stats(filter = {}) {
      const checked = checkArtifactListFilter({ sessionId: filter.sessionId, runId: filter.runId });
      const stats: ArtifactStats = { artifactCount: 0, totalBytes: 0 };
      for (const record of records.values()) {
        if (checked.sessionId !== undefined && record.sessionId !== checked.sessionId) continue;
        if (checked.runId !== undefined && record.runId !== checked.runId) continue;
        stats.artifactCount++;
        stats.totalBytes += record.byteSize;
      }
      return stats;
    },
  };
}

/** What `put` of a registering store accepts besides the content type. */
export interface RegisteredPutOptions {
  contentType?: string;
  /** Links the artifact to a session: maintenance deletes it once the session is gone. */
  sessionId?: string;
  runId?: string;
  metadata?: Record<string, unknown>;
}

/** Options of `withArtifactRegistry`. */
export interface ArtifactRegistryBinding {
  /** Recorded as each artifact's `backend`, such as `'file'` or `'s3'`. */
  backend: string;
  /** The `reference` recorded for a key (where the blob lives). Default: the key itself. */
  reference?: (key: string) => string;
  /** Check size and SHA-256 on every `get`. Default `true`. */
  verify?: boolean;
}

/** An `ArtifactStore` that keeps an `ArtifactRegistry` in step (made by `withArtifactRegistry`). */
export interface RegisteredArtifactStore extends ArtifactStore {
  put(key: string, data: Uint8Array | string, options?: RegisteredPutOptions): Promise<void>;
  /** Whether the wrapped store holds a blob under `key` (its `has`, or a `get`). */
  has(key: string): Promise<boolean>;
  /** The registry the store writes to. */
  readonly registry: ArtifactRegistry;
  /** The store holding the bytes. */
  readonly artifacts: ArtifactStore;
}

/**
 * Wraps an `ArtifactStore` so that it keeps a registry in step:
 *
 * - `put` writes the blob, then registers its size, SHA-256, backend and reference (with the
 *   session, run, content type and metadata given in the options). The blob comes first, so a
 *   registered row always had its bytes; if registering fails, `put` rejects and the blob stays
 *   unregistered.
 * - `get` reads the blob and, when the key is registered, checks its size and SHA-256: a mismatch is
 *   `storage_read_failed` with `details.reason: 'checksum_mismatch'` (and the expected and actual
 *   digests). A blob with no registry row is returned as is (it predates the registry); a row whose
 *   blob is missing reads as `undefined` (maintenance removes such rows).
 * - `delete` deletes the blob, then the row (both idempotent).
 */
export function withArtifactRegistry(
  artifacts: ArtifactStore,
  registry: ArtifactRegistry,
  binding: ArtifactRegistryBinding,
): RegisteredArtifactStore {
  if (typeof binding?.backend !== 'string' || binding.backend === '') {
    throw new AsmError('validation_error', 'backend must be a non-empty string', {
      details: { field: 'backend' },
    });
  }
  const referenceOf = binding.reference ?? ((key: string) => key);
  const verify = binding.verify ?? true;
  return {
    specificationVersion: 'v1',
    registry,
    artifacts,
    async put(key, data, options = {}) {
      validateArtifactKey(key);
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      const registration: ArtifactRegistration = {
        key,
        byteSize: bytes.byteLength,
        sha256: sha256Hex(bytes),
        backend: binding.backend,
        reference: referenceOf(key),
      };
      if (options.contentType !== undefined) registration.contentType = options.contentType;
      if (options.sessionId !== undefined) registration.sessionId = options.sessionId;
      if (options.runId !== undefined) registration.runId = options.runId;
      if (options.metadata !== undefined) registration.metadata = options.metadata;
      // Checked before the blob is written, so bad options write nothing.
      checkArtifactRegistration(registration);
      await artifacts.put(
        key,
        bytes,
        options.contentType === undefined ? undefined : { contentType: options.contentType },
      );
      await registry.register(registration);
    },
    async get(key) {
      const blob = await artifacts.get(key);
      if (blob === undefined || !verify) return blob;
      const record = await registry.lookup(key);
      if (record === undefined) return blob;
      const actual = sha256Hex(blob);
      if (blob.byteLength !== record.byteSize || actual !== record.sha256) {
        throw new AsmError(
          'storage_read_failed',
          `Artifact ${key} does not match its registry checksum (expected ${record.byteSize} bytes, sha256 ${record.sha256}; read ${blob.byteLength} bytes, sha256 ${actual})`,
          {
            retryable: false,
            details: {
              reason: 'checksum_mismatch',
              key,
              backend: record.backend,
              expectedSha256: record.sha256,
              actualSha256: actual,
              expectedBytes: record.byteSize,
              actualBytes: blob.byteLength,
            },
          },
        );
      }
      return blob;
    },
    async delete(key) {
      await artifacts.delete(key);
      await registry.unregister(key);
    },
    async has(key) {
      return blobExists(artifacts, key);
    },
  };
}

/** Whether `store` holds a blob under `key` (its `has` when it has one, otherwise a `get`). */
export async function blobExists(store: ArtifactStore, key: string): Promise<boolean> {
  if (typeof store.has === 'function') return store.has(key);
  return (await store.get(key)) !== undefined;
}

/** What maintenance needs to clean orphaned artifacts (the `artifacts` option of every maintenance factory). */
export interface MaintenanceArtifacts {
  /** The registry whose rows are checked. */
  registry: ArtifactRegistry;
  /**
   * Where the blobs live. With it, an orphaned artifact's blob is deleted with its row, and rows
   * whose blob is gone are removed too; without it only rows are removed.
   */
  store?: ArtifactStore;
}

/**
 * The orphan sweep of maintenance: walks the registry in pages of `batchSize` and removes
 * (1) artifacts linked to a session that no longer exists, blob and row, and (2) when a blob store is
 * given, rows whose blob is gone. Artifacts without a session are never orphans by rule (1).
 * `missingSessions` returns which of the given session ids do not exist. Resolves with the number of
 * rows removed.
 */
export async function sweepOrphanedArtifacts(
  artifacts: MaintenanceArtifacts,
  missingSessions: (sessionIds: string[]) => Promise<ReadonlySet<string>>,
  batchSize: number,
): Promise<number> {
  const { registry, store } = artifacts;
  const limit = Math.min(Math.max(1, Math.floor(batchSize)), 1_000);
  let cleaned = 0;
  let cursor: string | undefined;
  do {
    const page = await registry.list(cursor === undefined ? { limit } : { limit, cursor });
    const sessionIds = [
      ...new Set(page.items.flatMap((record) => (record.sessionId === undefined ? [] : [record.sessionId]))),
    ];
    const missing = sessionIds.length === 0 ? new Set<string>() : await missingSessions(sessionIds);
    for (const record of page.items) {
      if (record.sessionId !== undefined && missing.has(record.sessionId)) {
        await store?.delete(record.key);
        if (await registry.unregister(record.key)) cleaned++;
      } else if (store !== undefined && !(await blobExists(store, record.key))) {
        if (await registry.unregister(record.key)) cleaned++;
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return cleaned;
}
