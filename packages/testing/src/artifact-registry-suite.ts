import {
  type ArtifactRecord,
  type ArtifactRegistration,
  type ArtifactRegistry,
  AsmError,
  createInMemoryArtifactStore,
  sha256Hex,
  withArtifactRegistry,
} from '@asm/core';
import { describe, expect, it } from 'vitest';

/** Options of `testArtifactRegistry`. */
export interface TestArtifactRegistryOptions {
  /** Shown in test names. */
  name?: string;
  /** Creates a registry. Tests use random keys and session ids, so registries may share a database. */
  create: () => ArtifactRegistry | Promise<ArtifactRegistry>;
  /** Releases what `create` made. */
  cleanup?: (registry: ArtifactRegistry) => void | Promise<void>;
  /** Per-test timeout in ms. Default 15,000. */
  timeoutMs?: number;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await errorOf(promise);
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The conformance suite of core's `ArtifactRegistry`: register as an upsert by key (keeping
 * `createdAt`), input validation, lookup, list by session and run in `(createdAt, key)` order with
 * keyset paging and cursor validation, idempotent unregister, stats, and `withArtifactRegistry` over
 * the registry (size and SHA-256 recorded on put, a checksum mismatch on get, the row removed on
 * delete).
 */
export function testArtifactRegistry(options: TestArtifactRegistryOptions): void {
  const timeout = options.timeoutMs ?? 15_000;
  const withRegistry = (body: (registry: ArtifactRegistry) => Promise<void>) => async () => {
    const registry = await options.create();
    try {
      await body(registry);
    } finally {
      await options.cleanup?.(registry);
    }
  };
  const unique = () => `${process.pid}_${Math.random().toString(16).slice(2)}`;
  const entry = (key: string, overrides: Partial<ArtifactRegistration> = {}): ArtifactRegistration => ({
    key,
    byteSize: 5,
    sha256: sha256Hex('hello'),
    backend: 'file',
    reference: `/var/lib/asm/${key}`,
    ...overrides,
  });

  describe(`ArtifactRegistry conformance: ${options.name ?? 'registry'}`, () => {
    it(
      'register - stores every field and lookup returns it; unknown keys are undefined',
      withRegistry(async (registry) => {
        expect(registry.specificationVersion).toBe('v1');
        const key = `suite/${unique()}/patch.diff`;
        const sessionId = `ses_${unique()}`;
        const record = await registry.register(
          entry(key, {
            sessionId,
            runId: `run_${unique()}`,
            contentType: 'text/x-diff',
            metadata: { kind: 'workspace_patch', files: ['a.ts', 'b.ts'], nested: { n: 1 } },
          }),
        );
        expect(record).toMatchObject({
          key,
          byteSize: 5,
          sha256: sha256Hex('hello'),
          backend: 'file',
          reference: `/var/lib/asm/${key}`,
          contentType: 'text/x-diff',
          sessionId,
          metadata: { kind: 'workspace_patch', files: ['a.ts', 'b.ts'], nested: { n: 1 } },
        });
        expect(Number.isNaN(Date.parse(record.createdAt))).toBe(false);
        expect(record.updatedAt).toBe(record.createdAt);
        expect(await registry.lookup(key)).toEqual(record);

        const bare = await registry.register(entry(`suite/${unique()}/bare`));
        expect(bare.metadata).toEqual({});
        for (const field of ['sessionId', 'runId', 'contentType'] as const) expect(field in bare).toBe(false);
        expect(await registry.lookup(bare.key)).toEqual(bare);
        expect(await registry.lookup(`suite/${unique()}/missing`)).toBeUndefined();
      }),
      timeout,
    );

    it(
      'register - is an upsert by key: keeps createdAt, replaces the rest',
      withRegistry(async (registry) => {
        const key = `suite/${unique()}/blob`;
        const first = await registry.register(
          entry(key, { sessionId: `ses_${unique()}`, contentType: 'a/b' }),
        );
        await sleep(5);
        const second = await registry.register(
          entry(key, {
            byteSize: 11,
            sha256: sha256Hex('hello world'),
            backend: 's3',
            reference: 's3://b/k',
          }),
        );
        expect(second.createdAt).toBe(first.createdAt);
        expect(Date.parse(second.updatedAt)).toBeGreaterThan(Date.parse(first.updatedAt));
        expect(second).toMatchObject({ byteSize: 11, backend: 's3', reference: 's3://b/k' });
        expect('sessionId' in second).toBe(false);
        expect('contentType' in second).toBe(false);
        expect(await registry.lookup(key)).toEqual(second);
      }),
      timeout,
    );

    it(
      'register - rejects invalid input with validation_error and writes nothing',
      withRegistry(async (registry) => {
        const key = `suite/${unique()}/bad`;
        const bad: Array<Partial<ArtifactRegistration>> = [
          { key: '../escape' },
          { key: '' },
          { byteSize: -1 },
          { byteSize: 1.5 },
          { sha256: 'abc' },
          { sha256: sha256Hex('x').toUpperCase() },
          { backend: '' },
          { reference: '' },
          { sessionId: 42 as unknown as string },
          { metadata: [] as unknown as Record<string, unknown> },
          { metadata: { big: 1n } as unknown as Record<string, unknown> },
        ];
        for (const overrides of bad) {
          expect(
            await code(registry.register(entry(key, overrides))),
            JSON.stringify(Object.keys(overrides)),
          ).toBe('validation_error');
        }
        expect(await registry.lookup(key)).toBeUndefined();
        expect(await code(registry.lookup('/abs'))).toBe('validation_error');
        expect(await code(registry.unregister('a/../../b'))).toBe('validation_error');
      }),
      timeout,
    );

    it(
      'list - filters by session and run, in (createdAt, key) order, with keyset paging',
      withRegistry(async (registry) => {
        const sessionId = `ses_${unique()}`;
        const runId = `run_${unique()}`;
        const prefix = `suite/${unique()}`;
        const made: ArtifactRecord[] = [];
        for (let index = 0; index < 7; index++) {
          made.push(
            await registry.register(
              entry(`${prefix}/a${index}`, { sessionId, ...(index % 2 === 0 ? { runId } : {}) }),
            ),
          );
        }
        await registry.register(entry(`${prefix}/other`, { sessionId: `ses_${unique()}` }));
        const order = (records: ArtifactRecord[]) =>
          [...records]
            .sort(
              (left, right) =>
                Date.parse(left.createdAt) - Date.parse(right.createdAt) || (left.key < right.key ? -1 : 1),
            )
            .map((record) => record.key);
        const all = await registry.list({ sessionId });
        expect(all.items.map((record) => record.key)).toEqual(order(made));
        expect(all.nextCursor).toBeUndefined();
        expect((await registry.list({ sessionId, runId })).items.map((record) => record.key)).toEqual(
          order(made.filter((_, index) => index % 2 === 0)),
        );
        expect((await registry.list({ runId })).items).toHaveLength(4);

        const paged: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await registry.list({
            sessionId,
            limit: 3,
            ...(cursor === undefined ? {} : { cursor }),
          });
          paged.push(...page.items.map((record) => record.key));
          cursor = page.nextCursor;
          pages++;
          // A record removed mid-way does not upset the cursor.
          if (pages === 1) await registry.unregister(`${prefix}/a6`);
        } while (cursor !== undefined && pages < 10);
        expect(paged).toEqual(order(made).filter((key) => key !== `${prefix}/a6`));
        expect(pages).toBe(2);
        expect((await registry.list({ sessionId: `ses_${unique()}` })).items).toEqual([]);
      }),
      timeout,
    );

    it(
      'list - a tampered, malformed or foreign cursor and a bad limit are validation_error',
      withRegistry(async (registry) => {
        const sessionId = `ses_${unique()}`;
        for (let index = 0; index < 3; index++) {
          await registry.register(entry(`suite/${unique()}/c${index}`, { sessionId }));
        }
        const { nextCursor } = await registry.list({ sessionId, limit: 1 });
        expect(nextCursor).toBeDefined();
        const [payload, signature] = nextCursor!.split('.');
        const forged = `${Buffer.from(JSON.stringify({ r: 'artifacts', o: 'createdAtAsc', k: ['x', 'y'] })).toString('base64url')}.${signature}`;
        for (const cursor of [`${nextCursor}x`, 'not-a-cursor', forged, `${payload}`]) {
          expect(await code(registry.list({ sessionId, cursor }))).toBe('validation_error');
        }
        expect(await code(registry.list({ limit: 0 }))).toBe('validation_error');
        expect(await code(registry.list({ limit: 1_001 }))).toBe('validation_error');
      }),
      timeout,
    );

    it(
      'unregister - removes the record, is idempotent, and stats add up per session and run',
      withRegistry(async (registry) => {
        const sessionId = `ses_${unique()}`;
        const runId = `run_${unique()}`;
        const keys = [`suite/${unique()}/s1`, `suite/${unique()}/s2`, `suite/${unique()}/s3`];
        await registry.register(entry(keys[0]!, { sessionId, byteSize: 10, runId }));
        await registry.register(entry(keys[1]!, { sessionId, byteSize: 32 }));
        await registry.register(entry(keys[2]!, { sessionId, byteSize: 2 ** 40 }));
        expect(await registry.stats({ sessionId })).toEqual({ artifactCount: 3, totalBytes: 42 + 2 ** 40 });
        expect(await registry.stats({ sessionId, runId })).toEqual({ artifactCount: 1, totalBytes: 10 });
        expect(await registry.stats({ sessionId: `ses_${unique()}` })).toEqual({
          artifactCount: 0,
          totalBytes: 0,
        });
        expect(await registry.unregister(keys[2]!)).toBe(true);
        expect(await registry.unregister(keys[2]!)).toBe(false);
        expect(await registry.lookup(keys[2]!)).toBeUndefined();
        expect(await registry.stats({ sessionId })).toEqual({ artifactCount: 2, totalBytes: 42 });
        const overall = await registry.stats();
        expect(overall.artifactCount).toBeGreaterThanOrEqual(2);
      }),
      timeout,
    );

    it(
      'withArtifactRegistry - records size, sha256 and backend on put, verifies on get, forgets on delete',
      withRegistry(async (registry) => {
        const blobs = createInMemoryArtifactStore();
        const artifacts = withArtifactRegistry(blobs, registry, {
          backend: 'memory',
          reference: (key) => `mem://${key}`,
        });
        const sessionId = `ses_${unique()}`;
        const key = `suite/${unique()}/workspace.patch`;
        await artifacts.put(key, 'diff --git ✓', {
          sessionId,
          contentType: 'text/x-diff',
          metadata: { files: 1 },
        });
        const bytes = new TextEncoder().encode('diff --git ✓');
        expect(await registry.lookup(key)).toMatchObject({
          key,
          byteSize: bytes.byteLength,
          sha256: sha256Hex(bytes),
          backend: 'memory',
          reference: `mem://${key}`,
          sessionId,
          contentType: 'text/x-diff',
          metadata: { files: 1 },
        });
        expect(new TextDecoder().decode(await artifacts.get(key))).toBe('diff --git ✓');

        // The bytes change behind the registry's back: get refuses them.
        await blobs.put(key, 'diff --git X');
        const error = await errorOf(artifacts.get(key));
        expect(AsmError.isInstance(error)).toBe(true);
        expect((error as AsmError).code).toBe('storage_read_failed');
        expect((error as AsmError).details).toMatchObject({
          reason: 'checksum_mismatch',
          key,
          expectedSha256: sha256Hex(bytes),
          actualSha256: sha256Hex('diff --git X'),
        });
        // Putting through the wrapper again re-registers, and get is happy again.
        await artifacts.put(key, 'diff --git X');
        expect(new TextDecoder().decode(await artifacts.get(key))).toBe('diff --git X');
        expect((await registry.lookup(key))?.sessionId).toBeUndefined();

        await artifacts.delete(key);
        await artifacts.delete(key);
        expect(await artifacts.get(key)).toBeUndefined();
        expect(await registry.lookup(key)).toBeUndefined();
        expect(await blobs.get(key)).toBeUndefined();

        // Bad options write neither the blob nor the row.
        const rejected = `suite/${unique()}/rejected`;
        expect(await code(artifacts.put(rejected, 'x', { sessionId: '' }))).toBe('validation_error');
        expect(await blobs.get(rejected)).toBeUndefined();
        expect(await registry.lookup(rejected)).toBeUndefined();
      }),
      timeout,
    );
  });
}
