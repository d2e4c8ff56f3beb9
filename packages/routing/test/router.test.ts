import diagnosticsChannel from 'node:diagnostics_channel';
import {
  type AdapterEvent,
  AsmError,
  createInMemoryRouterState,
  createRun,
  type ErrorCode,
  isTerminalRunEventType,
  type ProviderAdapter,
  type RouterStateStore,
} from '@asm/core';
import { createMockProvider, type MockFailure, type MockProvider } from '@asm/testing/fakes';
import { describe, expect, it } from 'vitest';
import { createRouter, ROUTER_CHANNELS, type RouterOptions, type RoutingDecision } from '../src/index.js';
import { dataOf, executeDirect, fakeClock, testSession, typesOf } from './helpers.js';

/** The mock fails after streaming its answer unless told otherwise: fail before any text. */
function down(code: ErrorCode): MockFailure {
  return { code, afterDeltas: 0 };
}

function mocks(...names: string[]): MockProvider[] {
  return names.map((name) => createMockProvider({ name, response: `answer from ${name}` }));
}

/** A router without health side effects, so orders are easy to read. */
function plainRouter(providers: ProviderAdapter[], options: RouterOptions = {}) {
  return createRouter({ providers, sticky: false, cooldownMs: 0, circuitBreaker: false, ...options });
}

function routingOf(result: { metadata?: Record<string, unknown> } | undefined): RoutingDecision {
  return result?.metadata?.routing as RoutingDecision;
}

/** Attempt order of one run, read from the routing decision. */
function attemptsOf(decision: RoutingDecision | undefined): string[] {
  return (decision?.attempts ?? []).map((attempt) => attempt.provider);
}

describe('createRouter - the adapter', () => {
  it('is a ProviderAdapter named router whose capabilities are the union of its providers', () => {
    const a = createMockProvider({ name: 'a', capabilities: [{ name: 'streaming', type: 'sampling' }] });
    const b = createMockProvider({
      name: 'b',
      capabilities: [
        { name: 'streaming', type: 'sampling' },
        { name: 'bash', type: 'code_execution' },
      ],
    });
    const router = createRouter({ providers: [a, b] });
    expect(router.specificationVersion).toBe('v1');
    expect(router.name).toBe('router');
    expect(router.providerIds()).toEqual(['a', 'b']);
    expect(router.capabilities()).toEqual([
      { name: 'streaming', type: 'sampling' },
      { name: 'bash', type: 'code_execution' },
    ]);
    expect(router.supportsNativeContinuation).toBe(false);
    b.configure({ supportsNativeContinuation: true });
    expect(router.supportsNativeContinuation).toBe(true);
    expect(() => router.validateConfig()).not.toThrow();
  });

  it('register / unregister - providers can be added and removed after creation', async () => {
    const [a, b] = mocks('a', 'b');
    const router = createRouter({ providers: { first: a! } });
    router.register('second', b!);
    expect(router.providerIds()).toEqual(['first', 'second']);
    expect(await router.unregister('first')).toBe(true);
    expect(await router.unregister('first')).toBe(false);
    const outcome = await executeDirect(router);
    expect(outcome.result?.provider).toBe('second');
    expect(b!.calls).toHaveLength(1);
    expect(a!.calls).toHaveLength(0);
  });

  it('unregister - forgets the provider health', async () => {
    const [a, b] = mocks('a', 'b');
    const router = createRouter({ providers: [a!, b!], sticky: false });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    expect((await router.status()).health.a?.failureCount).toBe(1);
    await router.unregister('a');
    router.register('a', a!);
    expect((await router.status()).health.a).toMatchObject({ failureCount: 0, coolingDown: false });
    expect((await router.status()).providers).toEqual(['b', 'a']);
  });

  it('register - rejects an empty id, a non-adapter and the router itself with validation_error', () => {
    const router = createRouter();
    const codes: unknown[] = [];
    for (const call of [
      () => router.register('', createMockProvider()),
      () => router.register('x', {} as ProviderAdapter),
      () => router.register('self', router),
    ]) {
      try {
        call();
      } catch (error) {
        codes.push(AsmError.isInstance(error) && error.code);
      }
    }
    expect(codes).toEqual(['validation_error', 'validation_error', 'validation_error']);
  });

  it('createRouter - rejects invalid options with validation_error naming the field', () => {
    for (const [options, field] of [
      [{ strategy: 'fastest' }, 'strategy'],
      [{ maxAttempts: 0 }, 'maxAttempts'],
      [{ weights: { a: -1 } }, 'weights.a'],
      [{ stickyTtlMs: 0 }, 'stickyTtlMs'],
    ] as const) {
      let caught: unknown;
      try {
        createRouter(options as unknown as RouterOptions);
      } catch (error) {
        caught = error;
      }
      expect(AsmError.isInstance(caught) && caught.details.field).toBe(field);
    }
  });

  it('execute - with no provider at all rejects with provider_unavailable and emits nothing', async () => {
    const outcome = await executeDirect(createRouter());
    expect(outcome.error?.code).toBe('provider_unavailable');
    expect(outcome.error?.message).toBe('No eligible providers for this run');
    expect(outcome.events).toEqual([]);
  });
});

describe('createRouter - strategies', () => {
  const failAll = (...providers: MockProvider[]) => {
    for (const provider of providers) provider.configure({ failWith: down('provider_unavailable') });
  };

  it('priority - tries the prefer list first, then registration order', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    failAll(a!, b!, c!);
    const router = plainRouter([a!, b!, c!], { prefer: ['c', 'a'], maxAttempts: 5 });
    const outcome = await executeDirect(router);
    expect(attemptsOf(outcome.error?.details.routing as RoutingDecision)).toEqual(['c', 'a', 'b']);
  });

  it('priority - a per-run prefer overrides the router prefer', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    const router = plainRouter([a!, b!, c!], { prefer: ['c'] });
    const outcome = await executeDirect(router, { adapterOptions: { routing: { prefer: ['b'] } } });
    expect(outcome.result?.provider).toBe('b');
    expect(routingOf(outcome.result).routingCandidates).toEqual(['b', 'a', 'c']);
  });

  it('weighted - orders by weight, ties broken by prefer', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    failAll(a!, b!, c!);
    const router = plainRouter([a!, b!, c!], {
      strategy: 'weighted',
      weights: { a: 1, b: 2, c: 1 },
      prefer: ['c'],
    });
    const outcome = await executeDirect(router);
    expect(attemptsOf(outcome.error?.details.routing as RoutingDecision)).toEqual(['b', 'c', 'a']);
  });

  it('weighted - recent failures lower a provider score until it succeeds again', async () => {
    const [a, b] = mocks('a', 'b');
    const router = plainRouter([a!, b!], { strategy: 'weighted', weights: { a: 1.2, b: 1 } });
    a!.configure({ failWith: down('provider_timeout') });
    const first = await executeDirect(router);
    expect(attemptsOf(routingOf(first.result))).toEqual(['a', 'b']);
    // a: 1.2 - 0.5 x 1 = 0.7 < b: 1
    a!.configure({ failWith: undefined });
    const second = await executeDirect(router);
    expect(routingOf(second.result).routingCandidates).toEqual(['b', 'a']);
    b!.configure({ failWith: down('provider_timeout') });
    const third = await executeDirect(router);
    expect(attemptsOf(routingOf(third.result))).toEqual(['b', 'a']);
    // a succeeded (reset to 1.2); b failed once (0.5).
    b!.configure({ failWith: undefined });
    const fourth = await executeDirect(router);
    expect(fourth.result?.provider).toBe('a');
  });

  it('round-robin - successive runs start at successive providers', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    const router = plainRouter([a!, b!, c!], { strategy: 'round-robin' });
    const served: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) served.push((await executeDirect(router)).result?.provider);
    expect(served).toEqual(['a', 'b', 'c', 'a']);
  });

  it('exclude - excluded providers are never used; a per-run exclude replaces the router one', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    const router = plainRouter([a!, b!, c!], { exclude: ['a'] });
    const routerWide = await executeDirect(router);
    expect(routerWide.result?.provider).toBe('b');
    expect(routingOf(routerWide.result).skipped).toEqual([{ provider: 'a', reason: 'excluded' }]);
    const perRun = await executeDirect(router, { adapterOptions: { routing: { exclude: ['a', 'b'] } } });
    expect(perRun.result?.provider).toBe('c');
    const replaced = await executeDirect(router, { adapterOptions: { routing: { exclude: ['b'] } } });
    expect(replaced.result?.provider).toBe('a');
  });
});

describe('createRouter - capability filtering', () => {
  const chat = () =>
    createMockProvider({ name: 'chat', capabilities: [{ name: 'streaming', type: 'sampling' }] });
  const coder = () =>
    createMockProvider({
      name: 'coder',
      capabilities: [
        { name: 'streaming', type: 'sampling' },
        { name: 'bash', type: 'code_execution' },
        { name: 'python', type: 'code_execution', enabled: false },
      ],
    });

  it('requiredCapabilities by type keeps only providers that have that type', async () => {
    const router = plainRouter([chat(), coder()]);
    const outcome = await executeDirect(router, {
      adapterOptions: { routing: { requiredCapabilities: ['code_execution'] } },
    });
    expect(outcome.result?.provider).toBe('coder');
    expect(routingOf(outcome.result).skipped).toEqual([{ provider: 'chat', reason: 'capabilities' }]);
  });

  it('requiredCapabilities by type and name needs that exact, enabled capability', async () => {
    const router = plainRouter([chat(), coder()], {
      requiredCapabilities: [{ type: 'code_execution', name: 'python' }],
    });
    const outcome = await executeDirect(router);
    expect(outcome.error?.code).toBe('provider_unavailable');
    expect(outcome.error?.details.skipped).toEqual([
      { provider: 'chat', reason: 'capabilities' },
      { provider: 'coder', reason: 'capabilities' },
    ]);
    const bash = await executeDirect(router, {
      adapterOptions: { routing: { requiredCapabilities: [{ type: 'code_execution', name: 'bash' }] } },
    });
    expect(bash.result?.provider).toBe('coder');
  });

  it('per-run routing options are checked, and removed before the provider sees the adapter options', async () => {
    const provider = createMockProvider({ name: 'a' });
    const router = plainRouter([provider]);
    const bad = await executeDirect(router, { adapterOptions: { routing: { prefered: ['a'] } } });
    expect(bad.error?.code).toBe('validation_error');
    expect(bad.error?.details.field).toBe('adapterOptions.routing.prefered');
    const badType = await executeDirect(router, {
      adapterOptions: { routing: { requiredCapabilities: ['teleport'] } },
    });
    expect(badType.error?.code).toBe('invalid_capability_type');
    await executeDirect(router, { adapterOptions: { routing: { maxAttempts: 1 }, model: 'm' } });
    expect(provider.calls.at(-1)?.options.adapterOptions).toEqual({ model: 'm' });
    await executeDirect(router, { adapterOptions: { routing: { maxAttempts: 1 } } });
    expect(provider.calls.at(-1)?.options.adapterOptions).toBeUndefined();
  });
});

describe('createRouter - failover', () => {
  it('a retryable error moves to the next provider; the events record every attempt', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ failWith: down('provider_rate_limited') });
    const router = plainRouter([a!, b!]);
    const outcome = await executeDirect(router);
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.provider).toBe('b');
    expect(outcome.result?.output.content).toBe('answer from b');

    const types = typesOf(outcome.events);
    expect(types.filter((type) => type === 'run_started')).toHaveLength(1);
    expect(types[0]).toBe('run_started');
    expect(types.filter((type) => isTerminalRunEventType(type))).toEqual(['run_completed']);
    expect(types.at(-1)).toBe('run_completed');

    const converted = outcome.events.find(
      (event) => event.type === 'error_occurred' && dataOf(event).attempt === 1,
    );
    expect(dataOf(converted)).toMatchObject({
      attempt: 1,
      provider: 'a',
      code: 'provider_rate_limited',
      errorCode: 'provider_rate_limited',
      terminalType: 'run_failed',
      routedProvider: 'a',
      routingAttempt: 1,
    });
    expect(dataOf(converted).failoverFrom).toBeUndefined();
    const recovered = outcome.events.find((event) => event.type === 'error_recovered');
    expect(dataOf(recovered)).toMatchObject({
      attempt: 2,
      provider: 'b',
      failoverFrom: 'a',
      model: 'mock-model-1',
      routedProvider: 'b',
      routingAttempt: 2,
      failoverReason: 'provider_rate_limited',
    });
    expect(types.indexOf('error_recovered')).toBeGreaterThan(types.lastIndexOf('error_occurred'));

    for (const event of outcome.events) {
      const data = dataOf(event);
      expect(data.routingCandidates).toEqual(['a', 'b']);
      expect(['a', 'b']).toContain(data.routedProvider);
      expect(event.provider).toBe(data.routedProvider);
    }
    const routing = routingOf(outcome.result);
    expect(routing).toMatchObject({
      routedProvider: 'b',
      routingAttempt: 2,
      routingCandidates: ['a', 'b'],
      failoverFrom: 'a',
      failoverReason: 'provider_rate_limited',
      strategy: 'priority',
    });
    expect(routing.attempts.map((attempt) => [attempt.provider, attempt.outcome, attempt.next])).toEqual([
      ['a', 'failed', 'failover'],
      ['b', 'completed', undefined],
    ]);
    expect(routing.attempts[0]?.error).toMatchObject({
      code: 'provider_rate_limited',
      action: 'wait_and_retry',
    });
  });

  it('failover follows classifyError: provider_unavailable, provider_timeout and timeout all move on', async () => {
    for (const code of ['provider_unavailable', 'provider_timeout', 'timeout'] as const) {
      const [a, b] = mocks('a', 'b');
      a!.configure({ failWith: down(code) });
      const outcome = await executeDirect(plainRouter([a!, b!]));
      expect(outcome.result?.provider).toBe('b');
    }
  });

  it('a non-retryable error stops at once with its own code and terminal event', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ failWith: down('provider_authentication_failed') });
    const outcome = await executeDirect(plainRouter([a!, b!]));
    expect(outcome.error?.code).toBe('provider_authentication_failed');
    expect(outcome.error?.providerError?.provider).toBe('a');
    expect(b!.calls).toHaveLength(0);
    const routing = outcome.error?.details.routing as RoutingDecision;
    expect(routing.attempts).toHaveLength(1);
    expect(routing.attempts[0]).toMatchObject({ provider: 'a', next: 'stop', stopReason: 'not_retryable' });
    expect(typesOf(outcome.events).at(-1)).toBe('run_failed');
    expect(dataOf(outcome.events.at(-1))).toMatchObject({
      errorCode: 'provider_authentication_failed',
      routedProvider: 'a',
    });
  });

  it('an adapter that throws a plain Error fails the run with provider_error (not retryable)', async () => {
    const broken: ProviderAdapter = {
      specificationVersion: 'v1',
      name: 'broken',
      capabilities: () => [],
      execute: async () => {
        throw new TypeError('boom');
      },
    };
    const [b] = mocks('b');
    const outcome = await executeDirect(plainRouter([broken, b!]));
    expect(outcome.error?.code).toBe('provider_error');
    expect(outcome.error?.message).toBe('boom');
    expect(typesOf(outcome.events)).toEqual(['run_started', 'run_failed']);
    expect(b!.calls).toHaveLength(0);
  });

  it('exhaustion - provider_unavailable with every attempt error in details.attempts', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    a!.configure({ failWith: down('provider_rate_limited') });
    b!.configure({
      failWith: { code: 'provider_timeout', message: 'b timed out', status: 504, afterDeltas: 0 },
    });
    c!.configure({ failWith: down('provider_unavailable') });
    const outcome = await executeDirect(plainRouter([a!, b!, c!], { maxAttempts: 2 }));
    expect(outcome.error?.code).toBe('provider_unavailable');
    expect(outcome.error?.message).toBe('No more providers available for failover');
    expect(c!.calls).toHaveLength(0);
    expect(outcome.error?.details.attempts).toEqual([
      expect.objectContaining({ attempt: 1, provider: 'a', code: 'provider_rate_limited', retryable: true }),
      expect.objectContaining({
        attempt: 2,
        provider: 'b',
        code: 'provider_timeout',
        message: 'b timed out',
      }),
    ]);
    const types = typesOf(outcome.events);
    expect(types.filter((type) => type === 'run_started')).toHaveLength(1);
    expect(types.filter((type) => isTerminalRunEventType(type))).toEqual(['run_failed']);
    expect(dataOf(outcome.events.at(-1))).toMatchObject({
      errorCode: 'provider_unavailable',
      routedProvider: 'b',
    });
    expect(
      outcome.events.filter((event) => event.type === 'error_occurred' && dataOf(event).code !== undefined),
    ).toHaveLength(2);
  });

  it('failoverAfterOutput off (default) - an attempt that streamed text fails the run instead', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ deltas: 3, chunk: 'part ', failWith: { code: 'provider_unavailable', afterDeltas: 2 } });
    const outcome = await executeDirect(plainRouter([a!, b!]));
    expect(outcome.error?.code).toBe('provider_unavailable');
    expect(outcome.error?.details.failoverSuppressed).toBe('output_already_shown');
    expect(b!.calls).toHaveLength(0);
    expect(typesOf(outcome.events).at(-1)).toBe('run_failed');
    const routing = outcome.error?.details.routing as RoutingDecision;
    expect(routing.attempts[0]?.stopReason).toBe('output_already_shown');
  });

  it('failoverAfterOutput off - thinking deltas are not output shown to the user', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({
      events: [{ type: 'message_streamed', data: { kind: 'thinking', delta: 'hmm' } }],
      failWith: down('provider_unavailable'),
    });
    const outcome = await executeDirect(plainRouter([a!, b!]));
    expect(outcome.result?.provider).toBe('b');
  });

  it('failoverAfterOutput on - fails over and replays the partial answer to the next provider', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ deltas: 3, chunk: 'part ', failWith: { code: 'provider_unavailable', afterDeltas: 2 } });
    const earlier = { role: 'user' as const, content: 'earlier turn', metadata: {} };
    const outcome = await executeDirect(plainRouter([a!, b!], { failoverAfterOutput: true }), {
      input: 'Question?',
      continuation: { mode: 'replay', transcript: { sessionId: 's', messages: [earlier], metadata: {} } },
    });
    expect(outcome.result?.provider).toBe('b');
    const continuation = b!.calls[0]!.options.continuation;
    expect(continuation.mode).toBe('replay');
    expect(continuation.transcript?.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'earlier turn'],
      ['user', 'Question?'],
      ['assistant', 'part part '],
    ]);
    expect(continuation.transcript?.messages.at(-1)).toMatchObject({
      partial: true,
      metadata: { source: 'routing_failover', provider: 'a', attempt: 1 },
    });
  });

  it('failover without output - the next provider gets the same continuation (none stays none)', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(plainRouter([a!, b!]));
    expect(b!.calls[0]!.options.continuation.mode).toBe('none');
  });

  it('a transcript that cannot be loaded for the failover fails the run with that error and a terminal event', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ failWith: down('provider_unavailable'), supportsNativeContinuation: true });
    const router = plainRouter([a!, b!]);
    const session = testSession();
    const run = { ...createRun({ sessionId: session.id, input: 'hi' }), status: 'running' as const };
    const events: AdapterEvent[] = [];
    const error = await router
      .execute(run, session, {
        signal: new AbortController().signal,
        emit: (event) => events.push(event),
        continuation: {
          mode: 'native',
          providerSessionId: 'x',
          loadTranscript: async () => {
            throw new AsmError('storage_read_failed', 'store down');
          },
        },
        authorizeToolCall: async () => ({ allow: true }),
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(AsmError.isInstance(error) && error.code).toBe('storage_read_failed');
    expect(b!.calls).toHaveLength(0);
    expect(typesOf(events)).toEqual(['run_started', 'error_occurred', 'error_occurred', 'run_failed']);
  });

  it('a provider that fails without any event still gets run_started, then error_occurred', async () => {
    const silent: ProviderAdapter = {
      specificationVersion: 'v1',
      name: 'silent',
      capabilities: () => [],
      execute: async () => {
        throw new AsmError('provider_unavailable', 'down');
      },
    };
    const [b] = mocks('b');
    const outcome = await executeDirect(plainRouter([silent, b!]));
    const types = typesOf(outcome.events);
    expect(types.slice(0, 3)).toEqual(['run_started', 'error_occurred', 'error_recovered']);
    expect(outcome.events[0]?.provider).toBe('silent');
    expect(dataOf(outcome.events[1])).toMatchObject({
      attempt: 1,
      provider: 'silent',
      code: 'provider_unavailable',
    });
    expect(dataOf(outcome.events[1]).terminalType).toBeUndefined();
  });
});

describe('createRouter - health and circuit breaker', () => {
  it('health cooldown - a provider that failed goes to the back until the cooldown is over', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      circuitBreaker: false,
      cooldownMs: 10_000,
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    expect((await executeDirect(router)).result?.provider).toBe('b');
    a!.configure({ failWith: undefined });
    const during = await executeDirect(router);
    expect(during.result?.provider).toBe('b');
    expect(routingOf(during.result)).toMatchObject({ routingCandidates: ['b', 'a'], coolingDown: ['a'] });
    expect((await router.status()).health.a).toMatchObject({ failureCount: 1, coolingDown: true });
    clock.advance(10_000);
    expect((await executeDirect(router)).result?.provider).toBe('a');
    expect((await router.status()).health.a).toMatchObject({ failureCount: 0, coolingDown: false });
  });

  it('breaker - closed -> open after the threshold; an open provider is skipped', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 2, cooldownMs: 1_000 },
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    expect((await router.status()).health.a?.breaker).toMatchObject({ state: 'closed', failureCount: 1 });
    await executeDirect(router);
    expect((await router.status()).health.a?.breaker).toMatchObject({ state: 'open', failureCount: 2 });
    const callsBefore = a!.calls.length;
    const skipped = await executeDirect(router);
    expect(a!.calls).toHaveLength(callsBefore);
    expect(routingOf(skipped.result)).toMatchObject({
      routingCandidates: ['b'],
      skipped: [{ provider: 'a', reason: 'circuit_open' }],
    });
  });

  it('breaker - open -> half_open after the cooldown: one probe goes, and a failed probe reopens it', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 1_000 },
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    clock.advance(999);
    expect((await router.status()).health.a?.breaker?.state).toBe('open');
    clock.advance(1);
    expect((await router.status()).health.a?.breaker?.state).toBe('half_open');
    const probe = await executeDirect(router);
    expect(routingOf(probe.result).attempts[0]).toMatchObject({
      provider: 'a',
      probe: true,
      next: 'failover',
    });
    expect((await router.status()).health.a?.breaker).toMatchObject({ state: 'open', openedAt: clock.now() });
  });

  it('breaker - half_open counts probes: while the probe runs, other runs skip the provider', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 1_000, halfOpenMaxProbes: 1 },
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    clock.advance(1_000);
    a!.configure({ failWith: undefined, stall: true });
    const controller = new AbortController();
    const probeStarted = new Promise<void>((resolve) => {
      void executeDirect(router, {
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'run_started') resolve();
        },
      });
    });
    await probeStarted;
    expect((await router.status()).health.a?.breaker).toMatchObject({ state: 'half_open', probeCount: 1 });
    a!.configure({ stall: false });
    const other = await executeDirect(router);
    expect(other.result?.provider).toBe('b');
    expect(routingOf(other.result).skipped).toEqual([{ provider: 'a', reason: 'circuit_open' }]);
    controller.abort();
  });

  it('breaker - a cancelled probe gives its slot back, so the next run can probe', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 1_000 },
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    clock.advance(1_000);
    a!.configure({ failWith: undefined, stall: true });
    const controller = new AbortController();
    const cancelled = await executeDirect(router, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'run_started') controller.abort();
      },
    });
    expect(cancelled.error?.code).toBe('cancelled');
    expect((await router.status()).health.a?.breaker).toMatchObject({ state: 'half_open', probeCount: 0 });
    a!.configure({ stall: false });
    const probe = await executeDirect(router);
    expect(probe.result?.provider).toBe('a');
    expect(routingOf(probe.result).attempts[0]?.probe).toBe(true);
  });

  it('breaker - half_open -> closed: a successful probe closes it', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      sticky: false,
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 1_000 },
      now: clock.now,
    });
    a!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router);
    clock.advance(1_000);
    a!.configure({ failWith: undefined });
    const probe = await executeDirect(router);
    expect(probe.result?.provider).toBe('a');
    expect(routingOf(probe.result).attempts[0]?.probe).toBe(true);
    expect((await router.status()).health.a?.breaker).toEqual({
      state: 'closed',
      failureCount: 0,
      probeCount: 0,
    });
    const next = await executeDirect(router);
    expect(routingOf(next.result).attempts[0]).toMatchObject({ provider: 'a', probe: false });
  });

  it('cancelled runs and validation errors do not count against a provider', async () => {
    const [a] = mocks('a');
    const router = createRouter({ providers: [a!], sticky: false });
    a!.configure({ failWith: down('invalid_input') });
    await executeDirect(router);
    a!.configure({ failWith: undefined, stall: true });
    const controller = new AbortController();
    const pending = executeDirect(router, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'run_started') controller.abort();
      },
    });
    expect((await pending).error?.code).toBe('cancelled');
    expect((await router.status()).health.a).toMatchObject({ failureCount: 0, coolingDown: false });
  });

  it('two routers on one state store share one view of a provider', async () => {
    const state = createInMemoryRouterState();
    const clock = fakeClock();
    const build = () => {
      const [a, b] = mocks('a', 'b');
      return {
        a: a!,
        router: createRouter({
          providers: [a!, b!],
          state,
          sticky: false,
          cooldownMs: 0,
          now: clock.now,
          circuitBreaker: { failureThreshold: 1 },
        }),
      };
    };
    const one = build();
    const two = build();
    one.a.configure({ failWith: down('provider_unavailable') });
    await executeDirect(one.router);
    const outcome = await executeDirect(two.router);
    expect(outcome.result?.provider).toBe('b');
    expect(two.a.calls).toHaveLength(0);
    expect(routingOf(outcome.result).skipped).toEqual([{ provider: 'a', reason: 'circuit_open' }]);
    const separate = createRouter({ providers: mocks('a', 'b'), state, stateScope: 'other', sticky: false });
    expect((await executeDirect(separate)).result?.provider).toBe('a');
  });

  it('a failing state store never fails a run; the error goes to the state channel', async () => {
    const broken: RouterStateStore = {
      specificationVersion: 'v1',
      getProviderStates: async () => Promise.reject(new AsmError('storage_connection_failed')),
      updateProviderState: async () => Promise.reject(new AsmError('storage_connection_failed')),
      deleteProviderState: async () => Promise.reject(new AsmError('storage_connection_failed')),
      getStickyBinding: async () => Promise.reject(new AsmError('storage_connection_failed')),
      setStickyBinding: async () => Promise.reject(new AsmError('storage_connection_failed')),
      deleteStickyBinding: async () => Promise.reject(new AsmError('storage_connection_failed')),
      close: async () => {},
    };
    const operations: string[] = [];
    const listener = (message: unknown) => operations.push((message as { operation: string }).operation);
    diagnosticsChannel.subscribe(ROUTER_CHANNELS.stateError, listener);
    try {
      const [a, b] = mocks('a', 'b');
      a!.configure({ failWith: down('provider_unavailable') });
      const outcome = await executeDirect(createRouter({ providers: [a!, b!], state: broken }));
      expect(outcome.result?.provider).toBe('b');
      expect(operations).toEqual(
        expect.arrayContaining([
          'getProviderStates',
          'getStickyBinding',
          'updateProviderState',
          'setStickyBinding',
        ]),
      );
    } finally {
      diagnosticsChannel.unsubscribe(ROUTER_CHANNELS.stateError, listener);
    }
  });
});

describe('createRouter - stickiness', () => {
  it('runs of one session go to the provider that served it last', async () => {
    const [a, b] = mocks('a', 'b');
    const router = createRouter({ providers: [a!, b!] });
    const session = testSession();
    const first = await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    expect(first.result?.provider).toBe('b');
    const second = await executeDirect(router, { session });
    expect(second.result?.provider).toBe('b');
    expect(routingOf(second.result).sticky).toEqual({ key: session.id, provider: 'b', applied: true });
    const otherSession = await executeDirect(router);
    expect(otherSession.result?.provider).toBe('a');
  });

  it('a binding expires after stickyTtlMs', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({ providers: [a!, b!], stickyTtlMs: 60_000, now: clock.now });
    const session = testSession();
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    clock.advance(59_999);
    expect((await executeDirect(router, { session })).result?.provider).toBe('b');
    // That run renewed the binding for another 60 s.
    clock.advance(60_000);
    const expired = await executeDirect(router, { session });
    expect(expired.result?.provider).toBe('a');
    expect(routingOf(expired.result).sticky).toEqual({ key: session.id, applied: false });
  });

  it('an unhealthy sticky provider is passed over, and the session rebinds on success', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      cooldownMs: 0,
      circuitBreaker: { failureThreshold: 1, cooldownMs: 10_000 },
      now: clock.now,
    });
    const session = testSession();
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    b!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router, { adapterOptions: { routing: { prefer: ['b'], sticky: false } } });
    b!.configure({ failWith: undefined });
    const moved = await executeDirect(router, { session });
    expect(moved.result?.provider).toBe('a');
    expect(routingOf(moved.result).sticky).toEqual({ key: session.id, provider: 'b', applied: false });
    clock.advance(10_000);
    expect((await executeDirect(router, { session })).result?.provider).toBe('a');
  });

  it('a sticky provider in its health cooldown is passed over', async () => {
    const clock = fakeClock();
    const [a, b] = mocks('a', 'b');
    const router = createRouter({
      providers: [a!, b!],
      circuitBreaker: false,
      cooldownMs: 5_000,
      now: clock.now,
    });
    const session = testSession();
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    b!.configure({ failWith: down('provider_unavailable') });
    await executeDirect(router, { adapterOptions: { routing: { prefer: ['b'], sticky: false } } });
    b!.configure({ failWith: undefined });
    const moved = await executeDirect(router, { session });
    expect(moved.result?.provider).toBe('a');
    expect(routingOf(moved.result)).toMatchObject({
      routingCandidates: ['a', 'b'],
      sticky: { key: session.id, provider: 'b', applied: false },
    });
  });

  it('sticky: false, per run or per router, ignores bindings; stickyKey groups runs of different sessions', async () => {
    const [a, b] = mocks('a', 'b');
    const router = createRouter({ providers: [a!, b!] });
    const session = testSession();
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    const off = await executeDirect(router, { session, adapterOptions: { routing: { sticky: false } } });
    expect(off.result?.provider).toBe('a');
    await executeDirect(router, { adapterOptions: { routing: { stickyKey: 'tenant-1', prefer: ['b'] } } });
    const grouped = await executeDirect(router, { adapterOptions: { routing: { stickyKey: 'tenant-1' } } });
    expect(grouped.result?.provider).toBe('b');
  });

  it('native continuation - the sticky provider resumes its own recorded session', async () => {
    const [a, b] = mocks('a', 'b');
    b!.configure({ supportsNativeContinuation: true });
    const router = createRouter({ providers: [a!, b!] });
    const session = testSession({
      providerSessions: { b: { providerSessionId: 'thread_b', updatedAt: '' } },
    });
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    const replay = {
      mode: 'replay' as const,
      transcript: { sessionId: session.id, messages: [], metadata: {} },
    };
    const resumed = await executeDirect(router, { session, continuation: replay });
    expect(resumed.result).toMatchObject({ provider: 'b', providerSessionId: 'thread_b' });
    expect(b!.calls.at(-1)?.options.continuation).toMatchObject({
      mode: 'native',
      providerSessionId: 'thread_b',
    });
    expect(routingOf(resumed.result).attempts[0]?.continuation).toBe('native');

    await executeDirect(router, {
      session,
      continuation: replay,
      adapterOptions: { routing: { nativeContinuation: false } },
    });
    expect(b!.calls.at(-1)?.options.continuation.mode).toBe('replay');
  });

  it('native continuation - a failover from a native attempt replays the transcript', async () => {
    const [a, b] = mocks('a', 'b');
    b!.configure({ supportsNativeContinuation: true });
    const router = createRouter({ providers: [a!, b!], cooldownMs: 0 });
    const session = testSession({
      providerSessions: { b: { providerSessionId: 'thread_b', updatedAt: '' } },
    });
    await executeDirect(router, { session, adapterOptions: { routing: { prefer: ['b'] } } });
    b!.configure({ failWith: down('provider_unavailable') });
    const transcript = {
      sessionId: session.id,
      messages: [{ role: 'user' as const, content: 'earlier', metadata: {} }],
      metadata: {},
    };
    const outcome = await executeDirect(router, { session, continuation: { mode: 'replay', transcript } });
    expect(outcome.result?.provider).toBe('a');
    expect(b!.calls.at(-1)?.options.continuation.mode).toBe('native');
    expect(a!.calls.at(-1)?.options.continuation).toMatchObject({ mode: 'replay', transcript });
  });
});

describe('createRouter - cancellation', () => {
  it('the run signal reaches the provider serving the attempt', async () => {
    const [a, b] = mocks('a', 'b');
    a!.configure({ stall: true });
    const router = plainRouter([a!, b!]);
    const controller = new AbortController();
    let runId = '';
    const outcome = await executeDirect(router, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'run_started') {
          runId = a!.calls[0]!.run.id;
          controller.abort(new AsmError('cancelled', 'stop please'));
        }
      },
    });
    expect(outcome.error?.code).toBe('cancelled');
    expect(outcome.error?.message).toBe('stop please');
    expect(a!.cancelledRuns).toEqual([runId]);
    expect(b!.calls).toHaveLength(0);
    expect(typesOf(outcome.events).at(-1)).toBe('run_cancelled');
  });

  it('router.cancel(runId) aborts the provider currently serving the run (after a failover)', async () => {
    const [a, b, c] = mocks('a', 'b', 'c');
    a!.configure({ failWith: down('provider_unavailable') });
    b!.configure({ stall: true });
    const router = plainRouter([a!, b!, c!]);
    let activeSeen: Record<string, string> | undefined;
    const outcome = await executeDirect(router, {
      onEvent: (event) => {
        if (event.type === 'error_recovered') {
          const runId = b!.calls[0]!.run.id;
          void router.status().then((status) => {
            activeSeen = status.activeRuns;
            router.cancel(runId, 'user pressed stop');
          });
        }
      },
    });
    expect(outcome.error?.code).toBe('cancelled');
    expect(outcome.error?.message).toBe('user pressed stop');
    expect(Object.values(activeSeen ?? {})).toEqual(['b']);
    expect(b!.cancelledRuns).toHaveLength(1);
    expect(a!.cancelledRuns).toHaveLength(0);
    expect(c!.calls).toHaveLength(0);
    expect((await router.status()).activeRuns).toEqual({});
  });

  it('router.cancel of a run it is not executing throws run_not_found', () => {
    const router = createRouter({ providers: mocks('a') });
    let caught: unknown;
    try {
      router.cancel('run_unknown');
    } catch (error) {
      caught = error;
    }
    expect(AsmError.isInstance(caught) && caught.code).toBe('run_not_found');
  });

  it('an aborted signal before execute rejects with cancelled and calls nobody', async () => {
    const [a] = mocks('a');
    const controller = new AbortController();
    controller.abort();
    const outcome = await executeDirect(plainRouter([a!]), { signal: controller.signal });
    expect(outcome.error?.code).toBe('cancelled');
    expect(a!.calls).toHaveLength(0);
  });
});

describe('createRouter - diagnostics channels', () => {
  it('publishes attempt start, failure and stop messages', async () => {
    const messages: [string, Record<string, unknown>][] = [];
    const listeners = Object.entries({
      start: ROUTER_CHANNELS.attemptStart,
      stop: ROUTER_CHANNELS.attemptStop,
      failure: ROUTER_CHANNELS.attemptFailure,
    }).map(([kind, channel]) => {
      const listener = (message: unknown) => messages.push([kind, message as Record<string, unknown>]);
      diagnosticsChannel.subscribe(channel, listener);
      return () => diagnosticsChannel.unsubscribe(channel, listener);
    });
    try {
      const [a, b] = mocks('a', 'b');
      a!.configure({ failWith: down('provider_timeout') });
      await executeDirect(plainRouter([a!, b!], { name: 'edge' }));
      expect(messages.map(([kind, message]) => [kind, message.provider, message.attempt])).toEqual([
        ['start', 'a', 1],
        ['failure', 'a', 1],
        ['start', 'b', 2],
        ['stop', 'b', 2],
      ]);
      expect(messages[1]![1]).toMatchObject({
        router: 'edge',
        errorCode: 'provider_timeout',
        retryable: true,
        willFailover: true,
        candidates: ['a', 'b'],
      });
      expect(typeof messages[3]![1].durationMs).toBe('number');
    } finally {
      for (const stop of listeners) stop();
    }
  });
});
