import {
  AsmError,
  createConcurrencyLimiter,
  createInMemoryStore,
  createRun,
  createSession,
  type ErrorCode,
  type ProviderAdapter,
  type StoredEvent,
  transitionRun,
} from '@asm/core';
import { createMockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import { describe, expect, it } from 'vitest';
import { createSessionRuntime, createSessionServer, streamRun } from '../src/index.js';

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected AsmError ${code}, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code).toBe(code);
  return error as AsmError;
}

/** A mock provider that also records how many runs execute at once and their start order. */
function tracked(settings: MockProviderSettings = {}) {
  const mock = createMockProvider(settings);
  const stats = { active: 0, maxActive: 0, started: [] as string[] };
  const provider: ProviderAdapter = {
    ...mock,
    specificationVersion: 'v1',
    name: mock.name,
    capabilities: () => mock.capabilities(),
    execute: async (run, session, options) => {
      stats.active++;
      stats.maxActive = Math.max(stats.maxActive, stats.active);
      stats.started.push(run.id);
      try {
        return await mock.execute(run, session, options);
      } finally {
        stats.active--;
      }
    },
  };
  return { mock, provider, stats };
}

describe('createSessionServer', () => {
  it('starts runs in FIFO order and never more than maxConcurrentRuns at once', async () => {
    const store = createInMemoryStore();
    const { provider, stats } = tracked({ deltas: 3, chunkDelayMs: 1 });
    const server = await createSessionServer({
      store,
      provider,
      session: { agentId: 'fifo' },
      maxConcurrentRuns: 3,
    });
    const submitted: string[] = [];
    for (let index = 0; index < 100; index++) submitted.push(await server.submitRun(`run ${index}`));
    await server.drain({ timeoutMs: 20_000 });
    expect(stats.started).toEqual(submitted);
    expect(stats.maxActive).toBe(3);
    const results = await Promise.all(submitted.map((runId) => server.awaitRun(runId)));
    expect(results.every((result) => result.status === 'completed')).toBe(true);
    expect(server.status()).toMatchObject({ inFlightCount: 0, queuedCount: 0, maxConcurrentRuns: 3 });
    await store.close();
  });

  it('rejects with max_runs_exceeded when the queue is full', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider({ stall: true }),
      session: { agentId: 'full' },
      maxQueuedRuns: 2,
    });
    const first = await server.submitRun('in flight');
    await server.submitRun('queued 1');
    await server.submitRun('queued 2');
    const error = await expectCode(server.submitRun('one too many'), 'max_runs_exceeded');
    expect(error.retryable).toBe(true);
    expect(server.status()).toMatchObject({ inFlightRuns: [first], queuedCount: 2 });
    await server.close({ cancelInFlight: true });
    await store.close();
  });

  it('cancels a queued run without calling the provider, and an in-flight one through its signal', async () => {
    const store = createInMemoryStore();
    const { mock, provider, stats } = tracked({ stall: true });
    const server = await createSessionServer({ store, provider, session: { agentId: 'cancel' } });
    const inFlight = await server.submitRun('stalls');
    const queued = await server.submitRun('waits');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.cancelRun(queued, 'not needed');
    await expectCode(server.awaitRun(queued), 'cancelled');
    expect(stats.started).toEqual([inFlight]);
    expect((await server.manager.getRun(queued))?.status).toBe('cancelled');
    await server.cancelRun(inFlight);
    await expectCode(server.awaitRun(inFlight), 'cancelled');
    expect(mock.cancelledRuns).toEqual([inFlight]);
    expect((await server.manager.getRun(inFlight))?.status).toBe('cancelled');
    await server.drain({ timeoutMs: 1_000 });
    await store.close();
  });

  it('drain times out while a run is stuck', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider({ stall: true }),
      session: { agentId: 'd' },
    });
    await server.submitRun('stuck');
    await expectCode(server.drain({ timeoutMs: 30 }), 'timeout');
    await server.close({ cancelInFlight: true });
    await store.close();
  });

  it('remembers results for late awaiters and reports unknown runs', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider(),
      session: { agentId: 'r' },
    });
    const result = await server.executeRun('hello');
    expect((await server.awaitRun(result.runId)).output.content).toBe(result.output.content);
    await expectCode(server.awaitRun('run_unknown'), 'run_not_found');
    await store.close();
  });

  it('validates its options', async () => {
    const store = createInMemoryStore();
    const provider = createMockProvider();
    await expectCode(
      createSessionServer({ store, provider, session: { agentId: 'x' }, maxConcurrentRuns: 0 }),
      'validation_error',
    );
    await expectCode(createSessionServer({ store, provider }), 'validation_error');
    await expectCode(createSessionServer({ store, provider, sessionId: 'ses_missing' }), 'session_not_found');
    await store.close();
  });

  it('subscribe - backfills then follows with no gap or duplicate while runs append concurrently', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider({ deltas: 40, chunkDelayMs: 0 }),
      session: { agentId: 'sub' },
      maxConcurrentRuns: 2,
    });
    await server.executeRun('before subscribing');
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const event of server.subscribe({ fromSequence: 1 })) {
        seen.push(event);
        if (seen.filter((item) => item.type === 'run_completed').length === 5) break;
      }
    })();
    const runs = await Promise.all([1, 2, 3, 4].map((index) => server.submitRun(`concurrent ${index}`)));
    await Promise.all(runs.map((runId) => server.awaitRun(runId)));
    await reading;
    expect(seen.map((event) => event.sequence)).toEqual(seen.map((_, index) => index + 1));
    expect(server.status().subscribers).toBe(0);
    await store.close();
  });

  it('subscribe - a slow subscriber falls back to the store instead of buffering without bound', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider({ deltas: 2_000 }),
      session: { agentId: 'slow' },
    });
    const iterator = server.subscribe({ fromSequence: 1, maxBufferedEvents: 50 })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.sequence).toBe(1);
    await server.executeRun('a lot of deltas');
    const total = await store.getLatestSequence(server.sessionId);
    const sequences = [first.value!.sequence];
    while (sequences.length < total) sequences.push((await iterator.next()).value!.sequence);
    await iterator.return?.();
    expect(sequences).toEqual(Array.from({ length: total }, (_, index) => index + 1));
    await store.close();
  });

  it('close cancels queued runs and refuses new ones', async () => {
    const store = createInMemoryStore();
    const server = await createSessionServer({
      store,
      provider: createMockProvider({ stall: true }),
      session: { agentId: 'c' },
    });
    await server.submitRun('in flight');
    const queued = await server.submitRun('queued');
    await server.close({ cancelInFlight: true });
    expect((await server.manager.getRun(queued))?.status).toBe('cancelled');
    await expectCode(server.submitRun('late'), 'invalid_operation');
    await store.close();
  });
});

describe('createSessionRuntime', () => {
  it('starts, finds and stops servers, and enforces the session limit', async () => {
    const store = createInMemoryStore();
    const runtime = createSessionRuntime({
      store,
      provider: createMockProvider(),
      limiter: createConcurrencyLimiter({ maxSessions: 2, maxRuns: 10 }),
    });
    const first = await runtime.start({ session: { agentId: 'a' } });
    expect(await runtime.start({ sessionId: first.sessionId })).toBe(first);
    const second = await runtime.start({ session: { agentId: 'b' } });
    await expectCode(runtime.start({ session: { agentId: 'c' } }), 'max_sessions_exceeded');
    expect(runtime.list().sort()).toEqual([first.sessionId, second.sessionId].sort());
    expect(runtime.get(first.sessionId)).toBe(first);
    await runtime.stop(first.sessionId);
    expect(runtime.get(first.sessionId)).toBeUndefined();
    const third = await runtime.start({ session: { agentId: 'c' } });
    expect((await third.executeRun('hi')).status).toBe('completed');
    await runtime.close();
    expect(runtime.list()).toEqual([]);
    await store.close();
  });

  it('marks runs left running by a crash as failed, with run_failed', async () => {
    const store = createInMemoryStore();
    const session = { ...createSession({ agentId: 'crashed' }), status: 'active' as const };
    await store.saveSession(session);
    const run = transitionRun(createRun({ sessionId: session.id, input: 'x' }), 'running');
    await store.saveRun(run);
    const runtime = createSessionRuntime({ store, provider: createMockProvider() });
    expect(await runtime.recoverInterruptedRuns()).toEqual({ recoveredRunIds: [run.id] });
    const recovered = await store.getRun(run.id);
    expect(recovered?.status).toBe('failed');
    expect(recovered?.error).toMatchObject({ code: 'internal_error' });
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.map((event) => event.type)).toEqual(['run_failed']);
    expect(await runtime.recoverInterruptedRuns()).toEqual({ recoveredRunIds: [] });
    await store.close();
  });
});

describe('streamRun', () => {
  async function drain(iterable: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    for await (const event of iterable) events.push(event);
    return events;
  }

  it('yields the stored events of the run, in order, and ends with its terminal event', async () => {
    const events = await drain(
      streamRun({ provider: createMockProvider({ response: 'a b c' }), input: 'go' }),
    );
    expect(events[0]?.type).toBe('message_sent');
    expect(events.at(-1)?.type).toBe('run_completed');
    const first = events[0]!.sequence;
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => first + index));
  });

  it('ends with a synthetic error_occurred instead of throwing when the run fails', async () => {
    const events = await drain(
      streamRun({ provider: createMockProvider({ failWith: 'provider_rate_limited' }), input: 'go' }),
    );
    const last = events.at(-1)!;
    expect(last.type).toBe('error_occurred');
    expect(last.sequence).toBe(0);
    expect(last.metadata.synthetic).toBe(true);
    expect(last.data).toMatchObject({ errorCode: 'provider_rate_limited' });
  });

  it('cancels the run when the consumer breaks out', async () => {
    const provider = createMockProvider({ deltas: 10_000, chunkDelayMs: 1 });
    let count = 0;
    for await (const event of streamRun({ provider, input: 'long' })) {
      if (event.type === 'message_streamed' && ++count === 3) break;
    }
    expect(provider.cancelledRuns).toHaveLength(1);
  });

  it('ends with a timeout error and cancels the run after idleTimeoutMs without events', async () => {
    const provider = createMockProvider({ stall: true });
    const events = await drain(streamRun({ provider, input: 'quiet', idleTimeoutMs: 50 }));
    expect(events.at(-1)?.data).toMatchObject({ errorCode: 'timeout' });
    expect(provider.cancelledRuns).toHaveLength(1);
  });
});
