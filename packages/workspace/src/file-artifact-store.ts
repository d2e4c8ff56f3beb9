import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type ArtifactStore, AsmError, validateArtifactKey } from '@asm/core';

/**
 * An `ArtifactStore` on the filesystem: each key is a file under `root` (folders created as
 * needed); writes go to a temporary file first and are renamed into place, so a reader never sees
 * half a blob.
 */
export function createFileArtifactStore(options: { root: string }): ArtifactStore {
  if (typeof options?.root !== 'string' || options.root === '') {
    throw new AsmError('validation_error', 'root is required', { details: { field: 'root' } });
  }
  const fileOf = (key: string) => {
    validateArtifactKey(key);
    return join(options.root, key);
  };
  return {
    specificationVersion: 'v1',
    async put(key, data) {
      const file = fileOf(key);
      try {
        await mkdir(dirname(file), { recursive: true });
        const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
        await writeFile(temporary, data);
        await rename(temporary, file);
      } catch (error) {
        throw AsmError.from(error, 'storage_write_failed', `Writing artifact ${key} failed`);
      }
    },
    async get(key) {
      const file = fileOf(key);
      try {
        return new Uint8Array(await readFile(file));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw AsmError.from(error, 'storage_read_failed', `Reading artifact ${key} failed`);
      }
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
  };
}
