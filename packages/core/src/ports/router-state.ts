/** The state of a provider's circuit breaker. */
export type CircuitState = 'closed' | 'open' | 'half_open';

/**
 * A circuit breaker as stored: its state only. Its settings (threshold, cooldown, probes) belong to
 * the router, so two routers sharing state may still differ in how they judge it.
 */
export interface CircuitBreakerSnapshot {
  state: CircuitState;
  /** Failures counted since the breaker last closed. */
  failureCount: number;
  /** When the breaker last opened, in epoch milliseconds by the router's clock. */
  openedAt?: number;
  /** Probes let through since the breaker went half-open. */
  probeCount: number;
  /** When the last probe was let through, in epoch milliseconds by the router's clock. */
  lastProbeAt?: number;
}

/** What routers know about one provider: its health and its circuit breaker. */
export interface ProviderHealthState {
  /** Failures since the last success (the health cooldown and the weighted penalty read it). */
  failureCount: number;
  /** When the last failure happened, in epoch milliseconds by the router's clock. */
  lastFailureAt?: number;
  /** When the last success happened, in epoch milliseconds by the router's clock. */
  lastSuccessAt?: number;
  /** The provider's circuit breaker; absent while it has none (a router without breakers). */
  breaker?: CircuitBreakerSnapshot;
}

/** A session bound to the provider that served it last. */
export interface StickyBinding {
  /** The provider (its routing id). */
  provider: string;
  /** When the binding stops counting, in epoch milliseconds by the router's clock. */
  expiresAt: number;
}

/**
 * Shared state of a provider router: per-provider health and circuit breakers, and sticky
 * session bindings. An in-process default lives in core (`createInMemoryRouterState`); a Redis one
 * lets several app instances share one view of which provider is down.
 *
 * Every key lives in a `scope`: routers that pass the same scope share state (a router's scope
 * defaults to its name). Times are epoch milliseconds by the router's clock, so the store never
 * compares them with its own; only `ttlMs` is measured by the store.
 *
 * Contract (proved by `testRouterStateStore` from `@asm/testing`):
 * - `updateProviderState` is an atomic read-modify-write: concurrent updates of one provider, from
 *   one process or many, never lose one another's changes. `update` receives the current value (or
 *   `undefined`) and returns the next one; it must be pure, because an implementation with
 *   optimistic concurrency (WATCH/MULTI, compare-and-set) may call it again with a fresher value.
 *   The value returned by the last call is the one stored and resolved. If `update` throws, nothing
 *   is stored and the promise rejects with that error;
 * - values are copied in and out: mutating an object passed in or returned never changes the store;
 * - `setStickyBinding` replaces any binding of the key (last writer wins); the store may drop a
 *   binding once `ttlMs` has passed by its own clock, and keeps it at least that long unless deleted;
 *   callers still check `expiresAt` themselves;
 * - deleting what does not exist is a no-op;
 * - after `close()` every call rejects with `AsmError` `storage_connection_failed`; `close` is
 *   idempotent.
 */
export interface RouterStateStore {
  /** The port version this store implements. */
  readonly specificationVersion: 'v1';
  /** The stored state of each named provider that has one (providers without state are absent). */
  getProviderStates(
    scope: string,
    providers: readonly string[],
  ): Promise<Record<string, ProviderHealthState>>;
  /** Atomically replaces a provider's state with `update(current)`; resolves with the stored value. */
  updateProviderState(
    scope: string,
    provider: string,
    update: (current: ProviderHealthState | undefined) => ProviderHealthState,
  ): Promise<ProviderHealthState>;
  /** Forgets a provider's state. */
  deleteProviderState(scope: string, provider: string): Promise<void>;
  /** The binding of a sticky key (usually a session id), or `undefined`. */
  getStickyBinding(scope: string, key: string): Promise<StickyBinding | undefined>;
  /** Binds a sticky key to a provider; the store may forget it after `ttlMs` (a positive number). */
  setStickyBinding(scope: string, key: string, binding: StickyBinding, ttlMs: number): Promise<void>;
  /** Forgets a sticky binding. */
  deleteStickyBinding(scope: string, key: string): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}
