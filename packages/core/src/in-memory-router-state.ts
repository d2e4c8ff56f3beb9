import { AsmError } from './errors.js';
import type { ProviderHealthState, RouterStateStore, StickyBinding } from './ports/router-state.js';

/** Options of `createInMemoryRouterState`. */
export interface InMemoryRouterStateOptions {
  /** The clock that measures sticky `ttlMs` (epoch ms). Default `Date.now`. */
  now?: () => number;
}

interface StoredBinding {
  binding: StickyBinding;
  dropAt: number;
}

function requireName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new AsmError('validation_error', `${field} must be a non-empty string`, { details: { field } });
  }
  return value;
}

function checkProviderState(value: unknown): ProviderHealthState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AsmError('validation_error', 'A provider state must be an object', {
      details: { field: 'state' },
    });
  }
  const failureCount = (value as ProviderHealthState).failureCount;
  if (typeof failureCount !== 'number' || !Number.isFinite(failureCount) || failureCount < 0) {
    throw new AsmError('validation_error', 'A provider state needs a non-negative failureCount', {
      details: { field: 'failureCount' },
    });
  }
  return value as ProviderHealthState;
}

function checkBinding(binding: unknown, ttlMs: unknown): StickyBinding {
  const record = binding as Partial<StickyBinding> | undefined;
  if (typeof record !== 'object' || record === null) {
    throw new AsmError('validation_error', 'A sticky binding must be an object', {
      details: { field: 'binding' },
    });
  }
  requireName(record.provider, 'binding.provider');
  if (typeof record.expiresAt !== 'number' || !Number.isFinite(record.expiresAt)) {
    throw new AsmError('validation_error', 'binding.expiresAt must be a finite number', {
      details: { field: 'binding.expiresAt' },
    });
  }
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new AsmError('validation_error', 'ttlMs must be a positive number', {
      details: { field: 'ttlMs' },
    });
  }
  return record as StickyBinding;
}

/**
 * A `RouterStateStore` for one process: the default state of `@asm/routing` routers. Updates are
 * atomic because each one reads and writes within one synchronous step. Values are copied in and
 * out; sticky bindings are dropped once their `ttlMs` has passed (lazily, and by a sweep every
 * 1,024 writes).
 */
export function createInMemoryRouterState(options: InMemoryRouterStateOptions = {}): RouterStateStore {
  const now = options.now ?? Date.now;
  const providers = new Map<string, ProviderHealthState>();
  const bindings = new Map<string, StoredBinding>();
  let closed = false;
  let setsSinceSweep = 0;

  // Bindings of sessions nobody asks about again would pile up: sweep expired ones now and then.
  const sweep = () => {
    const at = now();
    for (const [key, stored] of bindings) if (stored.dropAt <= at) bindings.delete(key);
  };

  const ensureOpen = () => {
    if (closed) {
      throw new AsmError('storage_connection_failed', 'The router state store is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  };
  // A NUL separator cannot appear in a key built from two non-empty strings by accident.
  const keyOf = (scope: string, name: string) => `${scope}\u0000${name}`;

  return {
    specificationVersion: 'v1',
    async getProviderStates(scope, names) {
      ensureOpen();
      requireName(scope, 'scope');
      const result: Record<string, ProviderHealthState> = {};
      for (const name of names) {
        const state = providers.get(keyOf(scope, requireName(name, 'provider')));
        if (state !== undefined) result[name] = structuredClone(state);
      }
      return result;
    },
    async updateProviderState(scope, name, update) {
      ensureOpen();
      const key = keyOf(requireName(scope, 'scope'), requireName(name, 'provider'));
      const current = providers.get(key);
      const next = checkProviderState(update(current === undefined ? undefined : structuredClone(current)));
      const stored = structuredClone(next);
      providers.set(key, stored);
      return structuredClone(stored);
    },
    async deleteProviderState(scope, name) {
      ensureOpen();
      providers.delete(keyOf(requireName(scope, 'scope'), requireName(name, 'provider')));
    },
    async getStickyBinding(scope, key) {
      ensureOpen();
      const storeKey = keyOf(requireName(scope, 'scope'), requireName(key, 'key'));
      const stored = bindings.get(storeKey);
      if (stored === undefined) return undefined;
      if (stored.dropAt <= now()) {
        bindings.delete(storeKey);
        return undefined;
      }
      return { ...stored.binding };
    },
    async setStickyBinding(scope, key, binding, ttlMs) {
      ensureOpen();
      const storeKey = keyOf(requireName(scope, 'scope'), requireName(key, 'key'));
      const checked = checkBinding(binding, ttlMs);
      bindings.set(storeKey, {
        binding: { provider: checked.provider, expiresAt: checked.expiresAt },
        dropAt: now() + ttlMs,
      });
      if (++setsSinceSweep >= 1_024) {
        setsSinceSweep = 0;
        sweep();
      }
    },
    async deleteStickyBinding(scope, key) {
      ensureOpen();
      bindings.delete(keyOf(requireName(scope, 'scope'), requireName(key, 'key')));
    },
    async close() {
      closed = true;
      providers.clear();
      bindings.clear();
    },
  } satisfies RouterStateStore;
}
