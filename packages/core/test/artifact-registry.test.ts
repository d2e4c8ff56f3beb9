import { describe, expect, it } from 'vitest';
import {
  type ArtifactRegistry,
  type ArtifactStore,
  AsmError,
  createEvent,
  createInMemoryArtifactRegistry,
  createInMemoryArtifactStore,
  createInMemoryMaintenance,
  createInMemoryStore,
  createSession,
  type NewEvent,
  runMaintenanceSteps,
  sha256Hex,
  sweepOrphanedArtifacts,
  withArtifactRegistry,
} from '../src/index.js';

async function errorOf(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

/** An artifact store without the optional `has`, counting its reads. */
function withoutHas(store: ArtifactStore): ArtifactStore & { gets: number } {
  const counted = {
    specificationVersion: 'v1' as const,
    gets: 0,
    put: store.put.bind(store),
    delete: store.delete.bind(store),
    async get(key: string) {
      counted.gets++;
      return store.get(key);
    },
  };
  return counted;
}

describe('withArtifactRegistry', () => {
  it('requires a backend name', () => {
    const make = () =>
      withArtifactRegistry(createInMemoryArtifactStore(), createInMemoryArtifactRegistry(), { backend: '' });
    expect(make).toThrow(/backend/);
  });

  it('returns a blob with no registry row as is, and a row without its blob as undefined', async () => {
    const blobs = createInMemoryArtifactStore();
    const registry = createInMemoryArtifactRegistry();
    const artifacts = withArtifactRegistry(blobs, registry, { backend: 'memory' });
    await blobs.put('old/blob', 'from before the registry');
    expect(new TextDecoder().decode(await artifacts.get('old/blob'))).toBe('from before the registry');
    await artifacts.put('new/blob', 'x');
    await blobs.delete('new/blob');
    expect(await artifacts.get('new/blob')).toBeUndefined();
    expect(await artifacts.has('new/blob')).toBe(false);
    expect((await registry.lookup('new/blob'))?.reference).toBe('new/blob');
  });

  it('detects a truncated blob; verify: false skips the check', async () => {
    const blobs = createInMemoryArtifactStore();
    const registry = createInMemoryArtifactRegistry();
    await withArtifactRegistry(blobs, registry, { backend: 'memory' }).put('k', 'abcdef');
    await blobs.put('k', 'abc');
    const error = await errorOf(withArtifactRegistry(blobs, registry, { backend: 'memory' }).get('k'));
    expect(error.code).toBe('storage_read_failed');
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ reason: 'checksum_mismatch', expectedBytes: 6, actualBytes: 3 });
    expect(error.message).toMatch(/checksum/);
    const unchecked = withArtifactRegistry(blobs, registry, { backend: 'memory', verify: false });
    expect(new TextDecoder().decode(await unchecked.get('k'))).toBe('abc');
  });

  it('a failing registry fails put after the blob is written, and delete after the blob is gone', async () => {
    const blobs = createInMemoryArtifactStore();
    const broken: ArtifactRegistry = {
      ...createInMemoryArtifactRegistry(),
      register: async () => {
        throw new AsmError('storage_write_failed', 'registry down');
      },
      unregister: async () => {
        throw new AsmError('storage_write_failed', 'registry down');
      },
    };
    const artifacts = withArtifactRegistry(blobs, broken, { backend: 'memory' });
    expect((await errorOf(artifacts.put('k', 'bytes'))).code).toBe('storage_write_failed');
    expect(await blobs.has?.('k')).toBe(true);
    expect((await errorOf(artifacts.delete('k'))).code).toBe('storage_write_failed');
    expect(await blobs.has?.('k')).toBe(false);
  });
});

describe('sweepOrphanedArtifacts', () => {
  it('pages through the registry, deletes orphans with their blobs, and probes with get when has is missing', async () => {
    const registry = createInMemoryArtifactRegistry();
    const blobs = withoutHas(createInMemoryArtifactStore());
    for (let index = 0; index < 7; index++) {
      const key = `a/${index}`;
      if (index !== 3) await blobs.put(key, key);
      await registry.register({
        key,
        byteSize: 3,
        sha256: sha256Hex(key),
        backend: 'memory',
        reference: key,
        sessionId: index % 2 === 0 ? 'ses_gone' : 'ses_live',
      });
    }
    const asked: string[][] = [];
    const cleaned = await sweepOrphanedArtifacts(
      { registry, store: blobs },
      async (ids) => {
        asked.push(ids);
        return new Set(ids.filter((id) => id === 'ses_gone'));
      },
      2,
    );
    // 4 rows of the gone session, plus a/3 whose blob never existed.
    expect(cleaned).toBe(5);
    expect((await registry.list()).items.map((record) => record.key)).toEqual(['a/1', 'a/5']);
    expect(await blobs.get('a/0')).toBeUndefined();
    expect(new TextDecoder().decode(await blobs.get('a/1'))).toBe('a/1');
    expect(asked.length).toBe(4);
    expect(blobs.gets).toBeGreaterThan(0);
  });
});

describe('runMaintenanceSteps', () => {
  it('reports a thrown non-Error by its text and keeps going', async () => {
    const report = await runMaintenanceSteps({
      softDeleteExpiredSessions: () => 1,
      hardDeleteExpiredSessions: () => {
        throw 'disk on fire';
      },
      pruneSessionEvents: async () => 3,
      cleanOrphanedArtifacts: async () => {
        throw new Error('registry gone');
      },
      cleanOrphanedSequences: () => 5,
    });
    expect(report).toMatchObject({
      sessionsSoftDeleted: 1,
      sessionsHardDeleted: 0,
      eventsPruned: 3,
      artifactsCleaned: 0,
      orphanedSequencesCleaned: 5,
      errors: ['hardDeleteExpiredSessions: disk on fire', 'cleanOrphanedArtifacts: registry gone'],
    });
  });
});

describe('createInMemoryMaintenance', () => {
  it('refuses a store it did not make', () => {
    expect(() => createInMemoryMaintenance({} as ReturnType<typeof createInMemoryStore>)).toThrow(
      /createInMemoryStore/,
    );
  });

  it('a long-poll parked after pruning wakes with the next sequence', async () => {
    const store = createInMemoryStore();
    const maintenance = createInMemoryMaintenance(store);
    const session = createSession({ agentId: 'agent_poll' });
    await store.saveSession(session);
    await store.appendEvents(
      Array.from(
        { length: 5 },
        () => createEvent({ type: 'message_streamed', sessionId: session.id }) as NewEvent,
      ),
    );
    expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 1 })).toBe(4);
    const waiting = store.getEvents(session.id, { after: 5, waitMs: 30_000 });
    expect(store.activeLongPolls).toBe(1);
    await store.appendEvent(createEvent({ type: 'message_sent', sessionId: session.id }) as NewEvent);
    expect((await waiting).map((event) => event.sequence)).toEqual([6]);
    expect((await store.exportSession(session.id)).events.map((event) => event.sequence)).toEqual([5, 6]);
    expect((await store.searchEvents({ sessionIds: [session.id] })).items).toHaveLength(2);
    await store.close();
  });
});
