import { describe, expect, it } from 'vitest';
import {
  type ArtifactStore,
  AsmError,
  createCompositeArtifactStore,
  createInMemoryArtifactStore,
} from '../src/index.js';

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);

/** An in-memory store whose operations can be made to fail, counting the calls it gets. */
function faulty(name: string) {
  const inner = createInMemoryArtifactStore();
  const failing = new Set<'put' | 'get' | 'delete'>();
  const calls: string[] = [];
  let failure: () => unknown = () =>
    new AsmError('storage_connection_failed', `${name} is down`, { details: { store: name } });
  const guard = (operation: 'put' | 'get' | 'delete', key: string) => {
    calls.push(`${operation} ${key}`);
    if (failing.has(operation)) throw failure();
  };
  const store: ArtifactStore = {
    specificationVersion: 'v1',
    async put(key, data, options) {
      guard('put', key);
      await inner.put(key, data, options);
    },
    async get(key) {
      guard('get', key);
      return inner.get(key);
    },
    async delete(key) {
      guard('delete', key);
      await inner.delete(key);
    },
  };
  return {
    store,
    inner,
    calls,
    fail(...operations: ('put' | 'get' | 'delete')[]) {
      for (const operation of operations) failing.add(operation);
    },
    failWith(make: () => unknown) {
      failure = make;
    },
    heal() {
      failing.clear();
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!AsmError.isInstance(error)) throw new Error(`Expected an AsmError, got ${String(error)}`);
  return error;
}

describe('createCompositeArtifactStore - routing', () => {
  it('sends keys under a route prefix to that store only, and the rest to primary and secondaries', async () => {
    const primary = faulty('primary');
    const secondary = faulty('secondary');
    const patches = faulty('patches');
    const large = faulty('large');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [secondary.store],
      routes: [
        { prefix: 'patches/', store: patches.store },
        { prefix: 'patches/large/', store: large.store },
      ],
    });
    await composite.put('patches/run_1.diff', 'small');
    await composite.put('patches/large/run_2.diff', 'big');
    await composite.put('notes/a.txt', 'note');
    expect(patches.calls).toEqual(['put patches/run_1.diff']);
    expect(large.calls).toEqual(['put patches/large/run_2.diff']); // the longest prefix wins
    expect(primary.calls).toEqual(['put notes/a.txt']);
    expect(secondary.calls).toEqual(['put notes/a.txt']);
    expect(text(await patches.inner.get('patches/run_1.diff'))).toBe('small');
    expect(text(await composite.get('patches/large/run_2.diff'))).toBe('big');
    expect(text(await secondary.inner.get('notes/a.txt'))).toBe('note');
    expect(await composite.has?.('patches/run_1.diff')).toBe(true);
    expect(await composite.has?.('patches/missing')).toBe(false);
    await composite.delete('patches/run_1.diff');
    expect(await patches.inner.get('patches/run_1.diff')).toBeUndefined();
    expect(primary.calls).not.toContain('delete patches/run_1.diff');
  });

  it('a routed store that fails fails the call, and the primary is not consulted', async () => {
    const primary = faulty('primary');
    const routed = faulty('routed');
    routed.fail('get');
    await primary.inner.put('r/x', 'shadow');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      routes: [{ prefix: 'r/', store: routed.store }],
    });
    const error = await failure(composite.get('r/x'));
    expect(error.code).toBe('storage_connection_failed');
    expect(primary.calls).toEqual([]);
  });

  it('validates keys before any backend is called', async () => {
    const primary = faulty('primary');
    const composite = createCompositeArtifactStore({ primary: primary.store });
    for (const bad of ['../x', '/x', '']) {
      expect((await failure(composite.put(bad, 'x'))).code).toBe('validation_error');
      expect((await failure(composite.get(bad))).code).toBe('validation_error');
    }
    expect(primary.calls).toEqual([]);
  });

  it('checks its options eagerly', () => {
    const store = createInMemoryArtifactStore();
    const field = (options: unknown) => {
      try {
        createCompositeArtifactStore(options as Parameters<typeof createCompositeArtifactStore>[0]);
        return undefined;
      } catch (error) {
        return AsmError.isInstance(error) && error.code === 'validation_error' ? error.details.field : error;
      }
    };
    expect(field({})).toBe('primary');
    expect(field({ primary: { ...store, specificationVersion: 'v2' } })).toBe('primary');
    expect(field({ primary: store, secondaries: store })).toBe('secondaries');
    expect(field({ primary: store, secondaries: [{}] })).toBe('secondaries[0]');
    expect(field({ primary: store, routes: [{ prefix: '', store }] })).toBe('routes[0].prefix');
    expect(
      field({
        primary: store,
        routes: [
          { prefix: 'a/', store },
          { prefix: 'a/', store },
        ],
      }),
    ).toBe('routes[1].prefix');
    expect(field({ primary: store, secondaryWrites: 'sometimes' })).toBe('secondaryWrites');
    expect(
      field({ primary: store, secondaries: [store], routes: [{ prefix: 'x/', store }] }),
    ).toBeUndefined();
  });
});

describe('createCompositeArtifactStore - write-through and read fallback', () => {
  it('reads fall back to a secondary when the primary misses, and repair the primary', async () => {
    const primary = faulty('primary');
    const secondary = faulty('secondary');
    await secondary.inner.put('k', 'from secondary');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [secondary.store],
    });
    expect(text(await composite.get('k'))).toBe('from secondary');
    expect(text(await primary.inner.get('k'))).toBe('from secondary');
    expect(await composite.has?.('k')).toBe(true);
    expect(await composite.get('absent')).toBeUndefined();
  });

  it('reads fall back to a secondary when the primary fails; readRepair: false leaves the primary alone', async () => {
    const primary = faulty('primary');
    const first = faulty('first');
    const second = faulty('second');
    await second.inner.put('k', 'from second');
    first.fail('get');
    primary.fail('get');
    const seen: string[] = [];
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [first.store, second.store],
      readRepair: false,
      onSecondaryError: (error, context) =>
        seen.push(`${context.operation} ${context.secondary} ${error.code}`),
    });
    expect(text(await composite.get('k'))).toBe('from second');
    expect(seen).toEqual(['get 0 storage_connection_failed']);
    expect(primary.calls).toEqual(['get k']);
  });

  it('a miss everywhere with a failed store is that failure, not undefined', async () => {
    const primary = faulty('primary');
    const secondary = faulty('secondary');
    primary.fail('get');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [secondary.store],
    });
    const error = await failure(composite.get('k'));
    expect(error.code).toBe('storage_connection_failed');
    expect(error.details.store).toBe('primary');
  });

  it('a failed primary put fails the call and writes no secondary', async () => {
    const primary = faulty('primary');
    const secondary = faulty('secondary');
    primary.fail('put');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [secondary.store],
    });
    expect((await failure(composite.put('k', 'x'))).code).toBe('storage_connection_failed');
    expect(secondary.calls).toEqual([]);
  });

  it("secondaryWrites 'required': a failed secondary put fails the call, naming it; the primary keeps the write", async () => {
    const primary = faulty('primary');
    const good = faulty('good');
    const bad = faulty('bad');
    bad.fail('put');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [good.store, bad.store],
    });
    const error = await failure(composite.put('k', 'x'));
    expect(error.code).toBe('storage_write_failed');
    expect(error.retryable).toBe(true); // every failed secondary failed with a retryable error
    expect(error.details).toMatchObject({
      operation: 'put',
      key: 'k',
      failedSecondaries: [{ secondary: 1, code: 'storage_connection_failed' }],
    });
    expect(text(await primary.inner.get('k'))).toBe('x');
    expect(text(await good.inner.get('k'))).toBe('x');
  });

  it("secondaryWrites 'best_effort': a failed secondary is reported and the call succeeds", async () => {
    const primary = faulty('primary');
    const bad = faulty('bad');
    bad.fail('put', 'delete');
    const seen: string[] = [];
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [bad.store],
      secondaryWrites: 'best_effort',
      onSecondaryError: (error, context) => {
        seen.push(`${context.operation} ${context.key} ${error.code}`);
        throw new Error('a throwing listener is ignored');
      },
    });
    await composite.put('k', 'x');
    await composite.delete('k');
    expect(seen).toEqual(['put k storage_connection_failed', 'delete k storage_connection_failed']);
  });

  it('delete reaches every store even when the primary fails, then reports the failure', async () => {
    const primary = faulty('primary');
    const secondary = faulty('secondary');
    const composite = createCompositeArtifactStore({
      primary: primary.store,
      secondaries: [secondary.store],
    });
    await composite.put('k', 'x');
    primary.fail('delete');
    expect((await failure(composite.delete('k'))).code).toBe('storage_connection_failed');
    expect(await secondary.inner.get('k')).toBeUndefined();
    primary.heal();
    await composite.delete('k');
    await composite.delete('k');
    expect(await composite.get('k')).toBeUndefined();
  });

  it('wraps a non-AsmError thrown by a backend as storage_error', async () => {
    const primary = faulty('primary');
    primary.failWith(() => new Error('disk on fire'));
    primary.fail('put');
    const composite = createCompositeArtifactStore({ primary: primary.store });
    const error = await failure(composite.put('k', 'x'));
    expect(error.code).toBe('storage_error');
    expect(error.message).toContain('disk on fire');
    expect(error.details).toEqual({ operation: 'put', key: 'k' });
  });

  it('forwards the content type to every store it writes to', async () => {
    const received: (string | undefined)[] = [];
    const recording = (): ArtifactStore => {
      const inner = createInMemoryArtifactStore();
      return {
        ...inner,
        async put(key, data, options) {
          received.push(options?.contentType);
          await inner.put(key, data, options);
        },
      };
    };
    const composite = createCompositeArtifactStore({ primary: recording(), secondaries: [recording()] });
    await composite.put('k', 'x', { contentType: 'text/x-diff' });
    expect(received).toEqual(['text/x-diff', 'text/x-diff']);
  });
});
