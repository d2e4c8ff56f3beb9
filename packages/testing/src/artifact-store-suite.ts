import { type ArtifactStore, AsmError } from '@asm/core';
import { describe, expect, it } from 'vitest';

/** Options of `testArtifactStore`. */
export interface TestArtifactStoreOptions {
  name?: string;
  create: () => ArtifactStore | Promise<ArtifactStore>;
  cleanup?: (store: ArtifactStore) => void | Promise<void>;
}

/** The conformance suite every `ArtifactStore` runs. */
export function testArtifactStore(options: TestArtifactStoreOptions): void {
  const withStore = async (body: (store: ArtifactStore) => Promise<void>) => {
    const store = await options.create();
    try {
      await body(store);
    } finally {
      await options.cleanup?.(store);
    }
  };
  const key = (name: string) => `suite/${process.pid}-${Math.random().toString(16).slice(2)}/${name}`;

  describe(`ArtifactStore conformance: ${options.name ?? 'store'}`, () => {
    it('put/get - round-trips bytes and text exactly', async () => {
      await withStore(async (store) => {
        const bytes = new Uint8Array([0, 1, 2, 254, 255]);
        await store.put(key('bin'), bytes);
        expect(await store.get(key('bin').replace(/bin$/, 'missing'))).toBeUndefined();
        const binKey = key('b.bin');
        await store.put(binKey, bytes);
        expect(Array.from((await store.get(binKey)) ?? [])).toEqual([0, 1, 2, 254, 255]);
        const textKey = key('t.patch');
        await store.put(textKey, 'diff --git ✓ 日本');
        expect(new TextDecoder().decode(await store.get(textKey))).toBe('diff --git ✓ 日本');
      });
    });

    it('put - overwrites', async () => {
      await withStore(async (store) => {
        const name = key('o');
        await store.put(name, 'one');
        await store.put(name, 'two');
        expect(new TextDecoder().decode(await store.get(name))).toBe('two');
      });
    });

    it('delete - removes the blob and is idempotent', async () => {
      await withStore(async (store) => {
        const name = key('d');
        await store.put(name, 'x');
        await store.delete(name);
        await store.delete(name);
        expect(await store.get(name)).toBeUndefined();
      });
    });

    it('rejects keys that escape with .. or start with /', async () => {
      await withStore(async (store) => {
        for (const bad of ['../etc/passwd', '/abs', 'a/../../b', '']) {
          const error = await store.put(bad, 'x').catch((caught: unknown) => caught);
          expect(AsmError.isInstance(error) && error.code).toBe('validation_error');
        }
      });
    });
  });
}
