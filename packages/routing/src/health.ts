import type { ProviderHealthState } from '@asm/core';
import {
  acquireProbe,
  type CircuitBreaker,
  type CircuitBreakerSettings,
  createCircuitBreaker,
  isAllowed,
  recordFailure,
  recordSuccess,
  releaseProbe,
  toBreakerSnapshot,
} from './circuit-breaker.js';

/**
 * Pure functions over a provider's stored health (`ProviderHealthState` from `@asm/core`): the
 * failure count and cooldown of spec ROUTE-health, plus its circuit breaker. `breaker` settings are
 * `undefined` when the router runs without circuit breakers.
 */

/** A fresh state: no failures, a closed breaker (when breakers are on). */
export function initialHealth(breaker: CircuitBreakerSettings | undefined): ProviderHealthState {
  return breaker === undefined
    ? { failureCount: 0 }
    : { failureCount: 0, breaker: { state: 'closed', failureCount: 0, probeCount: 0 } };
}

/** The breaker of a state (a closed one when the state has none yet). */
export function breakerOf(
  state: ProviderHealthState | undefined,
  settings: CircuitBreakerSettings,
): CircuitBreaker {
  return createCircuitBreaker(settings, state?.breaker);
}

/** True while a provider that failed is in its cooldown (`failureCount > 0` and `cooldownMs` not over). */
export function isCoolingDown(
  state: ProviderHealthState | undefined,
  cooldownMs: number,
  now: number,
): boolean {
  if (state === undefined || state.failureCount === 0 || cooldownMs <= 0) return false;
  return now - (state.lastFailureAt ?? Number.NEGATIVE_INFINITY) < cooldownMs;
}

/** Why a provider cannot take a run now, or `undefined` when it can. */
export function unavailableReason(
  state: ProviderHealthState | undefined,
  options: { cooldownMs: number; breaker: CircuitBreakerSettings | undefined; now: number },
): 'cooldown' | 'circuit_open' | undefined {
  if (options.breaker !== undefined && state?.breaker !== undefined) {
    if (!isAllowed(breakerOf(state, options.breaker), options.now)) return 'circuit_open';
  }
  if (isCoolingDown(state, options.cooldownMs, options.now)) return 'cooldown';
  return undefined;
}

/**
 * Takes the right to call the provider at `now`: always granted with a closed breaker (the state is
 * unchanged); a half-open breaker counts the probe. `granted` says whether the call may go.
 */
export function acquireCall(
  state: ProviderHealthState | undefined,
  settings: CircuitBreakerSettings,
  now: number,
): { state: ProviderHealthState; granted: boolean; probe: boolean } {
  const base = state ?? initialHealth(settings);
  const decision = acquireProbe(breakerOf(base, settings), now);
  return {
    state: { ...base, breaker: toBreakerSnapshot(decision.breaker) },
    granted: decision.allowed,
    probe: decision.probe,
  };
}

/** A success: the failure count resets and the breaker closes. */
export function healthAfterSuccess(
  state: ProviderHealthState | undefined,
  settings: CircuitBreakerSettings | undefined,
  now: number,
): ProviderHealthState {
  const next: ProviderHealthState = { failureCount: 0, lastSuccessAt: now };
  if (state?.lastFailureAt !== undefined) next.lastFailureAt = state.lastFailureAt;
  if (settings !== undefined) next.breaker = toBreakerSnapshot(recordSuccess(breakerOf(state, settings)));
  return next;
}

/** A failure at `now`: the failure count grows, and the breaker counts it (and may open). */
export function healthAfterFailure(
  state: ProviderHealthState | undefined,
  settings: CircuitBreakerSettings | undefined,
  now: number,
): ProviderHealthState {
  const next: ProviderHealthState = { failureCount: (state?.failureCount ?? 0) + 1, lastFailureAt: now };
  if (state?.lastSuccessAt !== undefined) next.lastSuccessAt = state.lastSuccessAt;
  if (settings !== undefined)
    next.breaker = toBreakerSnapshot(recordFailure(breakerOf(state, settings), now));
  return next;
}

/** A probe that ended without a verdict (cancelled, or a validation error) gives its slot back. */
export function healthAfterAbandonedProbe(
  state: ProviderHealthState | undefined,
  settings: CircuitBreakerSettings,
): ProviderHealthState {
  const base = state ?? initialHealth(settings);
  return { ...base, breaker: toBreakerSnapshot(releaseProbe(breakerOf(base, settings))) };
}
