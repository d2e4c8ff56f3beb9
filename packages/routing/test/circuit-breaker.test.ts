import { AsmError, withConfig } from '@asm/core';
import { describe, expect, it } from 'vitest';
import {
  acquireProbe,
  breakerState,
  checkState,
  createCircuitBreaker,
  isAllowed,
  recordFailure,
  recordSuccess,
  releaseProbe,
  toBreakerSnapshot,
} from '../src/index.js';

const T0 = 1_000_000;

describe('circuit breaker', () => {
  it('createCircuitBreaker - starts closed with the configuration defaults (5 failures, 30 s, 1 probe)', () => {
    const breaker = createCircuitBreaker();
    expect(breaker.state).toBe('closed');
    expect(breaker.failureCount).toBe(0);
    expect(breaker.settings).toEqual({
      failureThreshold: 5,
      cooldownMs: 30_000,
      halfOpenMaxProbes: 1,
      probeTimeoutMs: 300_000,
    });
    expect(Object.isFrozen(breaker)).toBe(true);
    expect(isAllowed(breaker, T0)).toBe(true);
  });

  it('createCircuitBreaker - reads its defaults from the configuration and rejects bad settings', () => {
    const breaker = withConfig(
      { circuitBreakerFailureThreshold: 2, circuitBreakerHalfOpenMaxProbes: 3 },
      () => createCircuitBreaker(),
    );
    expect(breaker.settings.failureThreshold).toBe(2);
    expect(breaker.settings.halfOpenMaxProbes).toBe(3);
    for (const bad of [{ failureThreshold: 0 }, { cooldownMs: -1 }, { halfOpenMaxProbes: 1.5 }]) {
      let caught: unknown;
      try {
        createCircuitBreaker(bad);
      } catch (error) {
        caught = error;
      }
      expect(AsmError.isInstance(caught) && caught.code).toBe('validation_error');
    }
  });

  it('closed -> closed: failures below the threshold are counted and calls still pass', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 3 });
    breaker = recordFailure(breaker, T0);
    breaker = recordFailure(breaker, T0 + 1);
    expect(breaker.state).toBe('closed');
    expect(breaker.failureCount).toBe(2);
    expect(isAllowed(breaker, T0 + 2)).toBe(true);
    expect(acquireProbe(breaker, T0 + 2)).toMatchObject({ allowed: true, probe: false });
  });

  it('closed -> open: the threshold-th failure opens it and blocks calls during the cooldown', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 2, cooldownMs: 1_000 });
    breaker = recordFailure(recordFailure(breaker, T0), T0 + 10);
    expect(breaker.state).toBe('open');
    expect(breaker.openedAt).toBe(T0 + 10);
    expect(isAllowed(breaker, T0 + 10 + 999)).toBe(false);
    const decision = acquireProbe(breaker, T0 + 500);
    expect(decision.allowed).toBe(false);
    expect(decision.breaker.state).toBe('open');
  });

  it('open -> half_open: once the cooldown is over, checkState goes half-open with no probes', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000 });
    breaker = recordFailure(breaker, T0);
    expect(checkState(breaker, T0 + 999)).toBe(breaker);
    expect(breakerState(breaker, T0 + 999)).toBe('open');
    const half = checkState(breaker, T0 + 1_000);
    expect(half.state).toBe('half_open');
    expect(half.probeCount).toBe(0);
    expect(breakerState(breaker, T0 + 1_000)).toBe('half_open');
    expect(isAllowed(breaker, T0 + 1_000)).toBe(true);
    // The input value is left as it was.
    expect(breaker.state).toBe('open');
  });

  it('half_open: probes are counted and at most halfOpenMaxProbes go through', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100, halfOpenMaxProbes: 2 });
    breaker = recordFailure(breaker, T0);
    const first = acquireProbe(breaker, T0 + 100);
    expect(first).toMatchObject({ allowed: true, probe: true });
    expect(first.breaker).toMatchObject({ state: 'half_open', probeCount: 1, lastProbeAt: T0 + 100 });
    const second = acquireProbe(first.breaker, T0 + 101);
    expect(second).toMatchObject({ allowed: true, probe: true });
    expect(second.breaker.probeCount).toBe(2);
    const third = acquireProbe(second.breaker, T0 + 102);
    expect(third.allowed).toBe(false);
    expect(isAllowed(second.breaker, T0 + 102)).toBe(false);
  });

  it('half_open -> closed: a successful probe closes the breaker and resets every count', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100 });
    breaker = acquireProbe(recordFailure(breaker, T0), T0 + 100).breaker;
    const closed = recordSuccess(breaker);
    expect(toBreakerSnapshot(closed)).toEqual({ state: 'closed', failureCount: 0, probeCount: 0 });
    expect(isAllowed(closed, T0 + 101)).toBe(true);
  });

  it('half_open -> open: a failed probe opens it again with a new cooldown and no probes', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 100 });
    for (let i = 0; i < 3; i++) breaker = recordFailure(breaker, T0);
    breaker = acquireProbe(breaker, T0 + 100).breaker;
    expect(breaker.state).toBe('half_open');
    const reopened = recordFailure(breaker, T0 + 150);
    expect(reopened).toMatchObject({ state: 'open', openedAt: T0 + 150, probeCount: 0, failureCount: 4 });
    expect(isAllowed(reopened, T0 + 249)).toBe(false);
    expect(isAllowed(reopened, T0 + 250)).toBe(true);
  });

  it('open -> open: a failure while open (a call that started earlier) restarts the cooldown', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100 });
    breaker = recordFailure(breaker, T0);
    breaker = recordFailure(breaker, T0 + 50);
    expect(breaker).toMatchObject({ state: 'open', openedAt: T0 + 50, failureCount: 2 });
    expect(isAllowed(breaker, T0 + 120)).toBe(false);
  });

  it('half_open: a probe that never reports back gives its slot up after probeTimeoutMs', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100, probeTimeoutMs: 5_000 });
    breaker = acquireProbe(recordFailure(breaker, T0), T0 + 100).breaker;
    expect(acquireProbe(breaker, T0 + 4_000).allowed).toBe(false);
    const retaken = acquireProbe(breaker, T0 + 5_100);
    expect(retaken).toMatchObject({ allowed: true, probe: true });
    expect(retaken.breaker).toMatchObject({ probeCount: 1, lastProbeAt: T0 + 5_100 });
  });

  it('half_open: releaseProbe gives a slot back without a verdict; other states are unchanged', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100 });
    breaker = acquireProbe(recordFailure(breaker, T0), T0 + 100).breaker;
    expect(acquireProbe(breaker, T0 + 101).allowed).toBe(false);
    const released = releaseProbe(breaker);
    expect(released).toMatchObject({ state: 'half_open', probeCount: 0 });
    expect(acquireProbe(released, T0 + 102).allowed).toBe(true);
    const closed = createCircuitBreaker();
    expect(releaseProbe(closed)).toBe(closed);
  });

  it('closed: a success resets the failure count', () => {
    const breaker = recordSuccess(recordFailure(createCircuitBreaker(), T0));
    expect(breaker.failureCount).toBe(0);
    expect(recordSuccess(breaker)).toBe(breaker);
  });

  it('round-trips through a snapshot, as a RouterStateStore keeps it', () => {
    let breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 100, halfOpenMaxProbes: 2 });
    breaker = acquireProbe(recordFailure(breaker, T0), T0 + 100).breaker;
    const restored = createCircuitBreaker(
      breaker.settings,
      JSON.parse(JSON.stringify(toBreakerSnapshot(breaker))),
    );
    expect(toBreakerSnapshot(restored)).toEqual(toBreakerSnapshot(breaker));
    expect(acquireProbe(restored, T0 + 101).breaker.probeCount).toBe(2);
  });
});
