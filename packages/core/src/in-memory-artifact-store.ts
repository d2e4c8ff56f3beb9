import { AsmError } from './errors.js';
import type { ArtifactStore } from './ports/artifact-store.js';

/** Checks an artifact key: non-empty, no `..` segments, no leading slash, printable. */
export function validateArtifactKey(key: unknown): asserts key is string {
  if (
    typeof key !== 'string' ||
    key === '' ||
    key.startsWith('/') ||
    key.split(/[\\/]/).some((segment) => segment === '..' || segment === '') ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
    /[\u0000-\u001f]/.test(key)
  ) {
    throw new AsmError('validation_error', `Invalid artifact key: ${JSON.stringify(key)}`, {
      details: { field: 'key' },
    });
  }
}

/** An `ArtifactStore` in this process's memory. */
export function createInMemoryArtifactStore(): ArtifactStore {
  const blobs = new Map<string, Uint8Array>();
  return {
    specificationVersion: 'v1',
    async put(key, data) {
      validateArtifactKey(key);
      blobs.set(key, typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data));
    },
    async get(key) {
      validateArtifactKey(key);
      const blob = blobs.get(key);
      return blob === undefined ? undefined : new Uint8Array(blob);
    },
    async delete(key) {
      validateArtifactKey(key);
      blobs.delete(key);
    },
    async has(key) {
      validateArtifactKey(key);
      return blobs.has(key);
    },
  };
}
