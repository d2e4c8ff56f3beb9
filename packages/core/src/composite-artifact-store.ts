import { AsmError } from './errors.js';
import { validateArtifactKey } from './in-memory-artifact-store.js';
import type { ArtifactStore } from './ports/artifact-store.js';

/** Keys under `prefix` go to `store`, and only to it. */
export interface CompositeArtifactRoute {
  /** A non-empty key prefix, such as `'patches/'`. The longest matching prefix wins. */
  prefix: string;
  store: ArtifactStore;
}

/** Which operation of a composite store a secondary failed in. */
export type CompositeArtifactOperation = 'put' | 'get' | 'delete' | 'has';

/** Options of `createCompositeArtifactStore`. */
export interface CompositeArtifactStoreOptions {
  /** Where every key that matches no route is written first and read first. */
  primary: ArtifactStore;
  /**
   * Write-through copies of the primary's keys: `put` and `delete` reach them after the primary, and
   * `get` falls back to them, in order, when the primary misses the key or fails.
   */
  secondaries?: ArtifactStore[];
  /** Keys under a prefix that bypass primary and secondaries and live in one other store. */
  routes?: CompositeArtifactRoute[];
  /**
   * `required` (default): a `put` or `delete` fails when a secondary fails (the primary keeps what it
   * did: there are no cross-store transactions). `best_effort`: secondary failures are passed to
   * `onSecondaryError` and the call succeeds once the primary did.
   */
  secondaryWrites?: 'required' | 'best_effort';
  /** After a `get` served by a secondary, copy the bytes back into the primary. Default true. */
  readRepair?: boolean;
  /**
   * Told about secondary failures during reads (`get`, `has`), failed read repairs, and secondary
   * write failures in `best_effort` mode. A throwing listener is ignored.
   */
  onSecondaryError?: (
    error: AsmError,
    context: { operation: CompositeArtifactOperation; key: string; secondary: number },
  ) => void;
}

const isArtifactStore = (value: unknown): value is ArtifactStore =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as ArtifactStore).put === 'function' &&
  typeof (value as ArtifactStore).get === 'function' &&
  typeof (value as ArtifactStore).delete === 'function';

function checkStore(value: unknown, field: string): ArtifactStore {
  if (!isArtifactStore(value)) {
    throw new AsmError('validation_error', `${field} must be an ArtifactStore (put, get, delete)`, {
      details: { field },
    });
  }
  if (value.specificationVersion !== 'v1') {
    throw new AsmError(
      'validation_error',
      `${field} implements ArtifactStore specification ${String(value.specificationVersion)}; this core supports v1`,
      { details: { field, specificationVersion: value.specificationVersion } },
    );
  }
  return value;
}

/** A backend's failure as the taxonomy says: an `AsmError` passes through, anything else is `storage_error`. */
const asAsmError = (error: unknown, operation: CompositeArtifactOperation, key: string): AsmError =>
  AsmError.isInstance(error)
    ? error
    : new AsmError('storage_error', `Artifact backend failed to ${operation} ${key}: ${String(error)}`, {
        cause: error,
        details: { operation, key },
      });

const exists = async (store: ArtifactStore, key: string): Promise<boolean> =>
  typeof store.has === 'function' ? store.has(key) : (await store.get(key)) !== undefined;

/**
 * An `ArtifactStore` made of other artifact stores:
 *
 * - **routes by key prefix**: `{ prefix: 'patches/', store: s3 }` sends every key under `patches/`
 *   to `s3` alone (the longest matching prefix wins);
 * - **write-through copies**: every other key is written to `primary`, then to each of
 *   `secondaries`; reads try the primary, then the secondaries in order (a hit in a secondary is
 *   copied back into the primary unless `readRepair: false`); deletes reach all of them.
 *
 * Contract (proved by `testArtifactStore`): keys are validated before any backend is called; `put`
 * overwrites (in every store it writes to); `get` is `undefined` only when no store has the key and
 * none failed, otherwise the first failure is thrown; `delete` is idempotent and is tried on every
 * store even when one fails. Errors from a backend pass through unchanged when they are `AsmError`s,
 * anything else becomes `storage_error`. There are no cross-store transactions: a `put` that fails on
 * a secondary leaves the primary written.
 *
 * The reference library's composite (spec PERS-composite) bundles a session store and an artifact
 * store behind one process; in TypeScript the manager and the workspace extension take their
 * `artifactStore` directly, so the composite here composes artifact backends instead (a fast local
 * disk in front of S3, patches on S3 and the rest on disk). As there, a failing artifact backend
 * never affects session operations, which do not go through it.
 *
 * ```ts
 * const artifacts = createCompositeArtifactStore({
 *   primary: createFileArtifactStore({ root: '.asm/artifacts' }),
 *   secondaries: [createS3ArtifactStore({ bucket: 'backup' })],
 *   routes: [{ prefix: 'exports/', store: createS3ArtifactStore({ bucket: 'exports' }) }],
 *   secondaryWrites: 'best_effort',
 *   onSecondaryError: (error, { key }) => console.warn(`backup of ${key} failed`, error.code),
 * });
 * ```
 */
export function createCompositeArtifactStore(options: CompositeArtifactStoreOptions): ArtifactStore {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError('validation_error', 'createCompositeArtifactStore needs options with a primary store');
  }
  const primary = checkStore(options.primary, 'primary');
  if (options.secondaries !== undefined && !Array.isArray(options.secondaries)) {
    throw new AsmError('validation_error', 'secondaries must be an array of ArtifactStores', {
      details: { field: 'secondaries' },
    });
  }
  const secondaries = (options.secondaries ?? []).map((store, index) =>
    checkStore(store, `secondaries[${index}]`),
  );
  if (options.routes !== undefined && !Array.isArray(options.routes)) {
    throw new AsmError('validation_error', 'routes must be an array of { prefix, store }', {
      details: { field: 'routes' },
    });
  }
  const seen = new Set<string>();
  const routes = (options.routes ?? []).map((route, index) => {
    if (typeof route?.prefix !== 'string' || route.prefix === '') {
      throw new AsmError('validation_error', `routes[${index}].prefix must be a non-empty string`, {
        details: { field: `routes[${index}].prefix` },
      });
    }
    if (seen.has(route.prefix)) {
      throw new AsmError('validation_error', `Two routes have the prefix ${JSON.stringify(route.prefix)}`, {
        details: { field: `routes[${index}].prefix` },
      });
    }
    seen.add(route.prefix);
    return { prefix: route.prefix, store: checkStore(route.store, `routes[${index}].store`) };
  });
  routes.sort((a, b) => b.prefix.length - a.prefix.length);
  const secondaryWrites = options.secondaryWrites ?? 'required';
  if (secondaryWrites !== 'required' && secondaryWrites !== 'best_effort') {
    throw new AsmError('validation_error', "secondaryWrites must be 'required' or 'best_effort'", {
      details: { field: 'secondaryWrites' },
    });
  }
  const readRepair = options.readRepair ?? true;

  const report = (error: AsmError, operation: CompositeArtifactOperation, key: string, secondary: number) => {
    try {
      options.onSecondaryError?.(error, { operation, key, secondary });
    } catch {
      // A throwing listener must not turn a successful call into a failure.
    }
  };

  const routeOf = (key: string): ArtifactStore | undefined => {
    validateArtifactKey(key);
    return routes.find((route) => key.startsWith(route.prefix))?.store;
  };

  /** Runs a write on every secondary; in `required` mode the first failure is thrown after all settled. */
  const writeSecondaries = async (
    operation: 'put' | 'delete',
    key: string,
    write: (store: ArtifactStore) => Promise<void>,
  ): Promise<void> => {
    const results = await Promise.allSettled(secondaries.map((store) => write(store)));
    const failures: { index: number; error: AsmError }[] = [];
    results.forEach((result, index) => {
      if (result.status === 'rejected')
        failures.push({ index, error: asAsmError(result.reason, operation, key) });
    });
    if (failures.length === 0) return;
    if (secondaryWrites === 'best_effort') {
      for (const failure of failures) report(failure.error, operation, key, failure.index);
      return;
    }
    const first = failures[0] as { index: number; error: AsmError };
    throw new AsmError(
      'storage_write_failed',
      `Artifact ${key}: ${operation} succeeded on the primary store but failed on ${failures.length} of ${secondaries.length} secondary store(s): ${first.error.message}`,
      {
        cause: first.error,
        retryable: failures.every((failure) => failure.error.retryable),
        details: {
          operation,
          key,
          failedSecondaries: failures.map((failure) => ({
            secondary: failure.index,
            code: failure.error.code,
            message: failure.error.message,
          })),
        },
      },
    );
  };

  return {
    specificationVersion: 'v1',

    async put(key, data, putOptions) {
      const routed = routeOf(key);
      const write = async (store: ArtifactStore) => {
        await (putOptions === undefined ? store.put(key, data) : store.put(key, data, putOptions));
      };
      if (routed) {
        await write(routed).catch((error: unknown) => {
          throw asAsmError(error, 'put', key);
        });
        return;
      }
      await write(primary).catch((error: unknown) => {
        throw asAsmError(error, 'put', key);
      });
      await writeSecondaries('put', key, write);
    },

    async get(key) {
      const routed = routeOf(key);
      if (routed) {
        return routed.get(key).catch((error: unknown) => {
          throw asAsmError(error, 'get', key);
        });
      }
      let firstError: AsmError | undefined;
      try {
        const bytes = await primary.get(key);
        if (bytes !== undefined) return bytes;
      } catch (error) {
        firstError = asAsmError(error, 'get', key);
      }
      for (const [index, store] of secondaries.entries()) {
        let bytes: Uint8Array | undefined;
        try {
          bytes = await store.get(key);
        } catch (error) {
          const failure = asAsmError(error, 'get', key);
          firstError ??= failure;
          report(failure, 'get', key, index);
          continue;
        }
        if (bytes === undefined) continue;
        if (readRepair) {
          try {
            await primary.put(key, bytes);
          } catch (error) {
            report(asAsmError(error, 'put', key), 'put', key, index);
          }
        }
        return bytes;
      }
      if (firstError) throw firstError;
      return undefined;
    },

    async delete(key) {
      const routed = routeOf(key);
      if (routed) {
        await routed.delete(key).catch((error: unknown) => {
          throw asAsmError(error, 'delete', key);
        });
        return;
      }
      // Every copy is deleted even when the primary fails, so a retry has less to do.
      const [fromPrimary, fromSecondaries] = await Promise.allSettled([
        primary.delete(key),
        writeSecondaries('delete', key, (store) => store.delete(key)),
      ]);
      if (fromPrimary.status === 'rejected') throw asAsmError(fromPrimary.reason, 'delete', key);
      if (fromSecondaries.status === 'rejected') throw fromSecondaries.reason;
    },

    async has(key) {
      const routed = routeOf(key);
      if (routed) {
        return exists(routed, key).catch((error: unknown) => {
          throw asAsmError(error, 'has', key);
        });
      }
      let firstError: AsmError | undefined;
      for (const [index, store] of [primary, ...secondaries].entries()) {
        try {
          if (await exists(store, key)) return true;
        } catch (error) {
          const failure = asAsmError(error, 'has', key);
          firstError ??= failure;
          if (index > 0) report(failure, 'has', key, index - 1);
        }
      }
      if (firstError) throw firstError;
      return false;
    },
  } satisfies ArtifactStore;
}
