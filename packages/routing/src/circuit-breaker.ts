import { AsmError, type CircuitBreakerSnapshot, type CircuitState, getConfig } from '@asm/core';

/** Settings of a circuit breaker. */
export interface CircuitBreakerOptions {
  /** Failures (while closed) that open the breaker. Default `circuitBreakerFailureThreshold` (5). */
  failureThreshold?: number;
  /** How long an open breaker blocks before it goes half-open. Default `circuitBreakerCooldownMs` (30 s). */
  cooldownMs?: number;
  /** Probes a half-open breaker lets through at once. Default `circuitBreakerHalfOpenMaxProbes` (1). */
  halfOpenMaxProbes?: number;
  /**
   * A probe that has not reported back after this long no longer holds its slot, so a probe lost
   * with a crashed process cannot keep the breaker half-open forever. Default 300,000 (5 minutes).
   */
  probeTimeoutMs?: number;
}

/** Resolved settings of a circuit breaker. */
export type CircuitBreakerSettings = Required<CircuitBreakerOptions>;

/**
 * A circuit breaker: an immutable value. Every operation returns a new breaker and leaves its input
 * as it was, and takes the time (`now`, epoch ms) as an argument, so the breaker is easy to test with a
 * controllable clock and to store anywhere (`toBreakerSnapshot`).
 *
 * - `closed`: calls pass; each failure counts, and the `failureThreshold`-th opens the breaker.
 * - `open`: calls are blocked until `cooldownMs` has passed since it opened; then it is half-open.
 * - `half_open`: up to `halfOpenMaxProbes` probes pass (`acquireProbe` counts them); a success closes
 *   the breaker and resets it, a failure opens it again with a new cooldown.
 */
export interface CircuitBreaker extends Readonly<CircuitBreakerSnapshot> {
  readonly settings: Readonly<CircuitBreakerSettings>;
}

function positiveInteger(value: number, field: string, allowZero = false): number {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new AsmError(
      'validation_error',
      `${field} must be a ${allowZero ? 'non-negative' : 'positive'} integer`,
      { details: { field, value } },
    );
  }
  return value;
}

/** Resolves breaker options against the configuration defaults; invalid values are `validation_error`. */
export function resolveCircuitBreakerSettings(options: CircuitBreakerOptions = {}): CircuitBreakerSettings {
  return {
    failureThreshold: positiveInteger(
      options.failureThreshold ?? getConfig('circuitBreakerFailureThreshold'),
      'failureThreshold',
    ),
    cooldownMs: positiveInteger(
      options.cooldownMs ?? getConfig('circuitBreakerCooldownMs'),
      'cooldownMs',
      true,
    ),
    halfOpenMaxProbes: positiveInteger(
      options.halfOpenMaxProbes ?? getConfig('circuitBreakerHalfOpenMaxProbes'),
      'halfOpenMaxProbes',
    ),
    probeTimeoutMs: positiveInteger(options.probeTimeoutMs ?? 300_000, 'probeTimeoutMs'),
  };
}

function make(settings: CircuitBreakerSettings, snapshot: CircuitBreakerSnapshot): CircuitBreaker {
  const breaker: CircuitBreaker & Partial<CircuitBreakerSnapshot> = {
    settings,
    state: snapshot.state,
    failureCount: snapshot.failureCount,
    probeCount: snapshot.probeCount,
  };
  if (snapshot.openedAt !== undefined) breaker.openedAt = snapshot.openedAt;
  if (snapshot.lastProbeAt !== undefined) breaker.lastProbeAt = snapshot.lastProbeAt;
  return Object.freeze(breaker);
}

/**
 * A closed breaker with these settings, or the breaker a stored snapshot describes. Settings may
 * be options (resolved here) or already resolved.
 */
export function createCircuitBreaker(
  options: CircuitBreakerOptions = {},
  snapshot?: CircuitBreakerSnapshot,
): CircuitBreaker {
  const settings = Object.freeze(resolveCircuitBreakerSettings(options));
  return make(settings, snapshot ?? { state: 'closed', failureCount: 0, probeCount: 0 });
}

/** The breaker as plain data, for a `RouterStateStore`. */
export function toBreakerSnapshot(breaker: CircuitBreaker): CircuitBreakerSnapshot {
  const snapshot: CircuitBreakerSnapshot = {
    state: breaker.state,
    failureCount: breaker.failureCount,
    probeCount: breaker.probeCount,
  };
  if (breaker.openedAt !== undefined) snapshot.openedAt = breaker.openedAt;
  if (breaker.lastProbeAt !== undefined) snapshot.lastProbeAt = breaker.lastProbeAt;
  return snapshot;
}

function cooldownOver(breaker: CircuitBreaker, now: number): boolean {
  return now - (breaker.openedAt ?? Number.NEGATIVE_INFINITY) >= breaker.settings.cooldownMs;
}

/**
 * Applies the passage of time: an open breaker whose cooldown is over becomes half-open with no
 * probes counted. Any other breaker is returned as it is.
 */
export function checkState(breaker: CircuitBreaker, now: number): CircuitBreaker {
  if (breaker.state !== 'open' || !cooldownOver(breaker, now)) return breaker;
  return make(breaker.settings, {
    state: 'half_open',
    failureCount: breaker.failureCount,
    probeCount: 0,
    ...(breaker.openedAt === undefined ? {} : { openedAt: breaker.openedAt }),
  });
}

/** The state at time `now` (an open breaker past its cooldown reads as `half_open`). */
export function breakerState(breaker: CircuitBreaker, now: number): CircuitState {
  return checkState(breaker, now).state;
}

function probeSlotFree(breaker: CircuitBreaker, now: number): boolean {
  if (breaker.probeCount < breaker.settings.halfOpenMaxProbes) return true;
  // Every slot is held; a probe that never reported back gives its slot up after probeTimeoutMs.
  return now - (breaker.lastProbeAt ?? Number.NEGATIVE_INFINITY) >= breaker.settings.probeTimeoutMs;
}

/**
 * Whether a call may go through at `now`, without taking a probe slot: closed yes; open only once
 * its cooldown is over; half-open while a probe slot is free. Use `acquireProbe` to actually go.
 */
export function isAllowed(breaker: CircuitBreaker, now: number): boolean {
  const current = checkState(breaker, now);
  if (current.state === 'closed') return true;
  if (current.state === 'open') return false;
  return probeSlotFree(current, now);
}

/** Result of `acquireProbe`. */
export interface ProbeDecision {
  /** The breaker after the decision (half-open with one more probe counted when one was taken). */
  breaker: CircuitBreaker;
  /** True when the call may go through. */
  allowed: boolean;
  /** True when the call is a half-open probe (its outcome closes or reopens the breaker). */
  probe: boolean;
}

/**
 * Asks to make a call at `now`. Closed: allowed, nothing changes. Open with the cooldown over, or
 * half-open: allowed as a probe while fewer than `halfOpenMaxProbes` probes are out, and the probe is
 * counted. Otherwise blocked.
 */
export function acquireProbe(breaker: CircuitBreaker, now: number): ProbeDecision {
  const current = checkState(breaker, now);
  if (current.state === 'closed') return { breaker: current, allowed: true, probe: false };
  if (current.state === 'open' || !probeSlotFree(current, now)) {
    return { breaker: current, allowed: false, probe: false };
  }
  const timedOut = current.probeCount >= current.settings.halfOpenMaxProbes;
  const next = make(current.settings, {
    state: 'half_open',
    failureCount: current.failureCount,
    probeCount: timedOut ? 1 : current.probeCount + 1,
    lastProbeAt: now,
    ...(current.openedAt === undefined ? {} : { openedAt: current.openedAt }),
  });
  return { breaker: next, allowed: true, probe: true };
}

/**
 * Records a failed call at `now`. Closed: counts it and opens the breaker at the threshold. Half-open:
 * opens again (new cooldown, probes reset). Open: counts it and restarts the cooldown.
 */
export function recordFailure(breaker: CircuitBreaker, now: number): CircuitBreaker {
  const current = checkState(breaker, now);
  const failureCount = current.failureCount + 1;
  if (current.state === 'closed' && failureCount < current.settings.failureThreshold) {
    return make(current.settings, { state: 'closed', failureCount, probeCount: 0 });
  }
  return make(current.settings, { state: 'open', failureCount, openedAt: now, probeCount: 0 });
}

/**
 * Gives a probe slot back without a verdict (the probe was cancelled, or failed for a reason that
 * says nothing about the provider). Only a half-open breaker with probes out changes.
 */
export function releaseProbe(breaker: CircuitBreaker): CircuitBreaker {
  if (breaker.state !== 'half_open' || breaker.probeCount === 0) return breaker;
  return make(breaker.settings, {
    state: 'half_open',
    failureCount: breaker.failureCount,
    probeCount: breaker.probeCount - 1,
    ...(breaker.openedAt === undefined ? {} : { openedAt: breaker.openedAt }),
    ...(breaker.lastProbeAt === undefined ? {} : { lastProbeAt: breaker.lastProbeAt }),
  });
}

/** Records a successful call: the breaker closes with every count reset. */
export function recordSuccess(breaker: CircuitBreaker): CircuitBreaker {
  if (breaker.state === 'closed' && breaker.failureCount === 0 && breaker.probeCount === 0) return breaker;
  return make(breaker.settings, { state: 'closed', failureCount: 0, probeCount: 0 });
}
