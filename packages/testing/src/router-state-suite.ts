import { AsmError, type ProviderHealthState, type RouterStateStore } from '@asm/core';
import { describe, expect, it } from 'vitest';

/** Options of `testRouterStateStore`. */
export interface TestRouterStateStoreOptions {
  /** Shown in test names. */
  name?: string;
  /** Creates a store. Tests use random scopes, so stores may share a server. */
  create: () => RouterStateStore | Promise<RouterStateStore>;
  /** Releases what `create` made (the suite closes the store itself only in the close test). */
  cleanup?: (store: RouterStateStore) => void | Promise<void>;
  /** Per-test timeout in ms. Default 15,000. */
  timeoutMs?: number;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The conformance suite every `RouterStateStore` runs: provider state round trips and copies,
 * atomic read-modify-write under concurrent updates (no lost update), a throwing update storing
 * nothing, scope isolation, deletes, sticky bindings with replacement and TTL expiry, and the
 * closed store's typed error.
 */
export function testRouterStateStore(options: TestRouterStateStoreOptions): void {
  const timeout = options.timeoutMs ?? 15_000;
  const withStore = async (body: (store: RouterStateStore) => Promise<void>) => {
    const store = await options.create();
    try {
      await body(store);
    } finally {
      await options.cleanup?.(store);
    }
  };
  const scope = () => `suite_${process.pid}_${Math.random().toString(16).slice(2)}`;
  const failure = (at: number): ((current: ProviderHealthState | undefined) => ProviderHealthState) => {
    return (current) => ({
      ...(current ?? { failureCount: 0 }),
      failureCount: (current?.failureCount ?? 0) + 1,
      lastFailureAt: at,
    });
  };

  describe(`RouterStateStore conformance: ${options.name ?? 'router state'}`, () => {
    it(
      'declares specificationVersion v1',
      async () => {
        await withStore(async (store) => {
          expect(store.specificationVersion).toBe('v1');
        });
      },
      timeout,
    );

    it(
      'getProviderStates - omits providers without state and returns what updates stored',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          expect(await store.getProviderStates(s, ['a', 'b'])).toEqual({});
          const state: ProviderHealthState = {
            failureCount: 2,
            lastFailureAt: 1_700_000_000_123,
            breaker: { state: 'open', failureCount: 5, openedAt: 1_700_000_000_000, probeCount: 0 },
          };
          const stored = await store.updateProviderState(s, 'a', () => state);
          expect(stored).toEqual(state);
          expect(await store.getProviderStates(s, ['a', 'b'])).toEqual({ a: state });
        });
      },
      timeout,
    );

    it(
      'updateProviderState - hands the current value to update and resolves with the stored one',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          const seen: (ProviderHealthState | undefined)[] = [];
          await store.updateProviderState(s, 'p', (current) => {
            seen.push(current);
            return { failureCount: 1, lastFailureAt: 10 };
          });
          const second = await store.updateProviderState(s, 'p', (current) => {
            seen.push(current);
            return { ...current!, failureCount: current!.failureCount + 1, lastSuccessAt: 20 };
          });
          expect(seen[0]).toBeUndefined();
          expect(seen.at(-1)).toEqual({ failureCount: 1, lastFailureAt: 10 });
          expect(second).toEqual({ failureCount: 2, lastFailureAt: 10, lastSuccessAt: 20 });
        });
      },
      timeout,
    );

    it(
      'updateProviderState - 50 concurrent updates of one provider lose none',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          await Promise.all(
            Array.from({ length: 50 }, (_, index) => store.updateProviderState(s, 'busy', failure(index))),
          );
          const states = await store.getProviderStates(s, ['busy']);
          expect(states.busy?.failureCount).toBe(50);
        });
      },
      timeout,
    );

    it(
      'updateProviderState - an update that throws stores nothing and rejects with its error',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          await store.updateProviderState(s, 'p', () => ({ failureCount: 3 }));
          const boom = new AsmError('internal_error', 'update failed');
          const error = await errorOf(
            store.updateProviderState(s, 'p', () => {
              throw boom;
            }),
          );
          expect(error).toBe(boom);
          expect((await store.getProviderStates(s, ['p'])).p).toEqual({ failureCount: 3 });
        });
      },
      timeout,
    );

    it(
      'values are copied in and out: mutating them never changes the store',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          const input: ProviderHealthState = {
            failureCount: 1,
            breaker: { state: 'closed', failureCount: 1, probeCount: 0 },
          };
          const returned = await store.updateProviderState(s, 'p', () => input);
          input.failureCount = 99;
          input.breaker!.state = 'open';
          returned.failureCount = 98;
          const read = await store.getProviderStates(s, ['p']);
          read.p!.failureCount = 97;
          const again = await store.getProviderStates(s, ['p']);
          expect(again.p).toEqual({
            failureCount: 1,
            breaker: { state: 'closed', failureCount: 1, probeCount: 0 },
          });
          await store.setStickyBinding(s, 'session', { provider: 'a', expiresAt: 5 }, 60_000);
          const binding = await store.getStickyBinding(s, 'session');
          binding!.provider = 'changed';
          expect(await store.getStickyBinding(s, 'session')).toEqual({ provider: 'a', expiresAt: 5 });
        });
      },
      timeout,
    );

    it(
      'scopes are isolated from one another',
      async () => {
        await withStore(async (store) => {
          const [one, two] = [scope(), scope()];
          await store.updateProviderState(one, 'p', () => ({ failureCount: 1 }));
          await store.setStickyBinding(one, 'session', { provider: 'p', expiresAt: 1 }, 60_000);
          expect(await store.getProviderStates(two, ['p'])).toEqual({});
          expect(await store.getStickyBinding(two, 'session')).toBeUndefined();
          const counted = await store.updateProviderState(two, 'p', failure(1));
          expect(counted.failureCount).toBe(1);
          expect((await store.getProviderStates(one, ['p'])).p?.failureCount).toBe(1);
        });
      },
      timeout,
    );

    it(
      'deleteProviderState - forgets one provider and is a no-op for unknown ones',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          await store.updateProviderState(s, 'a', () => ({ failureCount: 1 }));
          await store.updateProviderState(s, 'b', () => ({ failureCount: 2 }));
          await store.deleteProviderState(s, 'a');
          await store.deleteProviderState(s, 'never');
          expect(await store.getProviderStates(s, ['a', 'b'])).toEqual({ b: { failureCount: 2 } });
          const fresh = await store.updateProviderState(s, 'a', (current) => ({
            failureCount: current === undefined ? 0 : 100,
          }));
          expect(fresh.failureCount).toBe(0);
        });
      },
      timeout,
    );

    it(
      'setStickyBinding - binds, replaces (last writer wins) and deleteStickyBinding forgets',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          expect(await store.getStickyBinding(s, 'ses_1')).toBeUndefined();
          await store.setStickyBinding(s, 'ses_1', { provider: 'a', expiresAt: 1_000 }, 60_000);
          await store.setStickyBinding(s, 'ses_2', { provider: 'b', expiresAt: 2_000 }, 60_000);
          await store.setStickyBinding(s, 'ses_1', { provider: 'c', expiresAt: 3_000 }, 60_000);
          expect(await store.getStickyBinding(s, 'ses_1')).toEqual({ provider: 'c', expiresAt: 3_000 });
          await store.deleteStickyBinding(s, 'ses_1');
          await store.deleteStickyBinding(s, 'ses_missing');
          expect(await store.getStickyBinding(s, 'ses_1')).toBeUndefined();
          expect(await store.getStickyBinding(s, 'ses_2')).toEqual({ provider: 'b', expiresAt: 2_000 });
        });
      },
      timeout,
    );

    it(
      'setStickyBinding - a binding is gone once its ttlMs has passed',
      async () => {
        await withStore(async (store) => {
          const s = scope();
          await store.setStickyBinding(s, 'short', { provider: 'a', expiresAt: 1 }, 40);
          await store.setStickyBinding(s, 'long', { provider: 'b', expiresAt: 2 }, 60_000);
          // Generous margin: the store may drop the binding any time after 40 ms.
          await sleep(250);
          expect(await store.getStickyBinding(s, 'short')).toBeUndefined();
          expect(await store.getStickyBinding(s, 'long')).toEqual({ provider: 'b', expiresAt: 2 });
        });
      },
      timeout,
    );

    it(
      'close - later calls reject with storage_connection_failed, and close is idempotent',
      async () => {
        const store = await options.create();
        try {
          await store.close();
          await store.close();
          const calls: (() => Promise<unknown>)[] = [
            () => store.getProviderStates(scope(), ['p']),
            () => store.updateProviderState(scope(), 'p', () => ({ failureCount: 0 })),
            () => store.getStickyBinding(scope(), 'k'),
            () => store.setStickyBinding(scope(), 'k', { provider: 'p', expiresAt: 1 }, 1_000),
          ];
          for (const call of calls) {
            const error = await errorOf(Promise.resolve().then(call));
            expect(AsmError.isInstance(error) && error.code).toBe('storage_connection_failed');
          }
        } finally {
          await options.cleanup?.(store);
        }
      },
      timeout,
    );
  });
}
