import {
  AsmError,
  createInMemoryStore,
  createSessionManager,
  emptyTokenUsage,
  isTerminalRunEventType,
  type ProviderAdapter,
  type ProviderSessionRecord,
} from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';
import { describe, expect, it } from 'vitest';
import { createRouter, type RoutingDecision } from '../src/index.js';

function setup() {
  const a = createMockProvider({ name: 'a', response: 'from a' });
  const b = createMockProvider({ name: 'b', response: 'from b', supportsNativeContinuation: true });
  const router = createRouter({ providers: [a, b] });
  const store = createInMemoryStore();
  const manager = createSessionManager({ store, provider: router });
  return { a, b, router, store, manager };
}

describe('router behind a SessionManager', () => {
  it('after a failover the log has one run_started and one terminal event, and records every attempt', async () => {
    const { a, b, store, manager } = setup();
    a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    const result = await manager.runOnce('Hello?');

    expect(result.provider).toBe('b');
    expect(result.output.content).toBe('from b');
    const run = await manager.getRun(result.runId);
    expect(run?.status).toBe('completed');
    expect(run?.provider).toBe('b');

    const events = await store.getEvents(result.sessionId, { runId: result.runId });
    const types = events.map((event) => event.type);
    expect(types.filter((type) => type === 'run_started')).toHaveLength(1);
    expect(types.filter((type) => isTerminalRunEventType(type))).toEqual(['run_completed']);
    expect(types.at(-1)).toBe('run_completed');
    events.forEach((event, index) => {
      if (index > 0) expect(event.sequence).toBe(events[index - 1]!.sequence + 1);
    });

    const started = events.find((event) => event.type === 'run_started')!;
    expect(started.provider).toBe('a');
    expect(started.data).toMatchObject({
      routedProvider: 'a',
      routingAttempt: 1,
      routingCandidates: ['a', 'b'],
    });

    const converted = events.find((event) => event.type === 'error_occurred' && event.data.attempt === 1)!;
    expect(converted.provider).toBe('a');
    expect(converted.data).toMatchObject({
      attempt: 1,
      provider: 'a',
      code: 'provider_unavailable',
      terminalType: 'run_failed',
    });
    const recovered = events.find((event) => event.type === 'error_recovered')!;
    expect(recovered.provider).toBe('b');
    expect(recovered.data).toMatchObject({
      attempt: 2,
      provider: 'b',
      failoverFrom: 'a',
      routedProvider: 'b',
      routingAttempt: 2,
      failoverReason: 'provider_unavailable',
    });
    const completed = events.at(-1)!;
    expect(completed.provider).toBe('b');
    expect(completed.data).toMatchObject({ routedProvider: 'b', routingAttempt: 2, failoverFrom: 'a' });

    // Every event the router passed on carries the routing data; message_sent is the manager's.
    for (const event of events.filter((stored) => stored.type !== 'message_sent')) {
      expect(event.data.routedProvider).toBeDefined();
      expect(event.data.routingCandidates).toEqual(['a', 'b']);
    }

    const routing = result.metadata.routing as RoutingDecision;
    expect(routing).toMatchObject({ routedProvider: 'b', routingAttempt: 2, failoverFrom: 'a' });
    expect(routing.attempts.map((attempt) => attempt.provider)).toEqual(['a', 'b']);
    expect((await manager.getRun(result.runId))?.providerMetadata.routing).toMatchObject({
      routedProvider: 'b',
    });

    // The native session is recorded for the concrete provider, not for the router.
    const session = await manager.getSession(result.sessionId);
    const sessions = session?.metadata.providerSessions as Record<string, ProviderSessionRecord>;
    expect(Object.keys(sessions)).toEqual(['b']);
    expect(sessions.b?.providerSessionId).toBe(result.providerSessionId);
    expect(b.calls).toHaveLength(1);
  });

  it('the next run of the session sticks to the routed provider and resumes its native session', async () => {
    const { a, b, manager } = setup();
    a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    const session = await manager.startSession({});
    const first = await manager.executeRun((await manager.startRun(session.id, 'one')).id);
    a.configure({ failWith: undefined });
    const second = await manager.executeRun((await manager.startRun(session.id, 'two')).id);
    expect(second.provider).toBe('b');
    expect(b.calls.at(-1)?.options.continuation).toMatchObject({
      mode: 'native',
      providerSessionId: first.providerSessionId,
    });
    expect(second.providerSessionId).toBe(first.providerSessionId);

    // An explicit continuation: 'replay' is honoured even for the sticky provider.
    await manager.executeRun((await manager.startRun(session.id, 'replay me')).id, {
      continuation: 'replay',
    });
    expect(b.calls.at(-1)?.options.continuation.mode).toBe('replay');

    // Replay where native resume is not wanted: continuation 'replay' with nativeContinuation off.
    await manager.executeRun((await manager.startRun(session.id, 'three')).id, {
      adapterOptions: { routing: { nativeContinuation: false } },
    });
    const replayed = b.calls.at(-1)?.options.continuation;
    expect(replayed?.mode).toBe('replay');
    expect(replayed?.transcript?.messages.map((message) => message.content)).toEqual([
      'one',
      'from b',
      'two',
      'from b',
      'replay me',
      'from b',
    ]);
  });

  it('exhaustion fails the run with provider_unavailable, one run_failed last and every attempt error', async () => {
    const { a, b, store, manager } = setup();
    a.configure({ failWith: { code: 'provider_rate_limited', afterDeltas: 0 } });
    b.configure({ failWith: { code: 'provider_timeout', afterDeltas: 0 } });
    const error = await manager.runOnce('Hello?').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(AsmError.isInstance(error) && error.code).toBe('provider_unavailable');
    const runId = (error as AsmError).details.runId as string;
    const run = await manager.getRun(runId);
    expect(run?.status).toBe('failed');
    expect(run?.error?.details?.attempts).toEqual([
      expect.objectContaining({ provider: 'a', code: 'provider_rate_limited' }),
      expect.objectContaining({ provider: 'b', code: 'provider_timeout' }),
    ]);
    const events = await store.getEvents(run!.sessionId, { runId });
    expect(events.filter((event) => event.type === 'run_started')).toHaveLength(1);
    expect(events.filter((event) => isTerminalRunEventType(event.type)).map((event) => event.type)).toEqual([
      'run_failed',
    ]);
    expect(events.at(-1)?.data).toMatchObject({ errorCode: 'provider_unavailable' });
    expect(
      events.filter((event) => event.type === 'error_occurred' && event.data.attempt !== undefined),
    ).toHaveLength(2);
  });

  it('cancelRun reaches the provider serving the run and ends it cancelled with one run_cancelled', async () => {
    const { a, b, store, manager } = setup();
    a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    b.configure({ stall: true });
    const session = await manager.startSession({});
    const run = await manager.startRun(session.id, 'wait');
    const error = await manager
      .executeRun(run.id, {
        onEvent: (event) => {
          if (event.type === 'error_recovered') void manager.cancelRun(run.id);
        },
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(AsmError.isInstance(error) && error.code).toBe('cancelled');
    expect(b.cancelledRuns).toEqual([run.id]);
    expect((await manager.getRun(run.id))?.status).toBe('cancelled');
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.at(-1)?.type).toBe('run_cancelled');
    expect(events.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
  });

  it('per-run routing options travel in executeRun adapterOptions.routing', async () => {
    const { a, b, manager } = setup();
    const result = await manager.runOnce('Hi', {
      adapterOptions: { routing: { prefer: ['b'] }, temperature: 0 },
    });
    expect(result.provider).toBe('b');
    expect(b.calls[0]?.options.adapterOptions).toEqual({ temperature: 0 });
    expect(a.calls).toHaveLength(0);
  });
});

describe('router behind a SessionManager: the run keeps the serving provider model', () => {
  it('after a failover to an adapter that reports no model, the failed attempt model is not the run model', async () => {
    const a = createMockProvider({ name: 'a', model: 'model-of-a' });
    a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    // An adapter like @asm/shell: a run_started without a model, and no model in its result.
    const b: ProviderAdapter = {
      specificationVersion: 'v1',
      name: 'b',
      capabilities: () => a.capabilities(),
      async execute(_run, _session, { emit }) {
        emit({ type: 'run_started', data: {} });
        emit({ type: 'run_completed', data: { stopReason: 'end_turn' } });
        return { output: { content: 'from b', stopReason: 'end_turn' }, tokenUsage: emptyTokenUsage() };
      },
    };
    const manager = createSessionManager({
      store: createInMemoryStore(),
      provider: createRouter({ providers: [a, b] }),
    });
    const result = await manager.runOnce('Hello?');
    expect(result.provider).toBe('b');
    const run = await manager.getRun(result.runId);
    expect(run?.provider).toBe('b');
    expect(run?.providerMetadata.model).not.toBe('model-of-a');
  });

  it('the model of the attempt that served the run is kept (from error_recovered)', async () => {
    const a = createMockProvider({ name: 'a', model: 'model-of-a' });
    a.configure({ failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    const b = createMockProvider({ name: 'b', model: 'model-of-b' });
    const manager = createSessionManager({
      store: createInMemoryStore(),
      provider: createRouter({ providers: [a, b] }),
    });
    const result = await manager.runOnce('Hello?');
    expect((await manager.getRun(result.runId))?.providerMetadata.model).toBe('model-of-b');
  });
});
