/**
 * Blobs too large for an event (workspace patches, files an agent produced), stored under immutable
 * keys. Contract (proved by `testArtifactStore` from `@asm/testing`): `put` overwrites, `get` of a
 * missing key is `undefined`, `delete` is idempotent, bytes round-trip exactly.
 */
export interface ArtifactStore {
  readonly specificationVersion: 'v1';
  put(key: string, data: Uint8Array | string, options?: { contentType?: string }): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
  /**
   * Optional: whether a blob is stored under `key`, without reading it. Maintenance uses it to find
   * registry rows whose blob is gone; a store without it is probed with `get`.
   */
  has?(key: string): Promise<boolean>;
}
