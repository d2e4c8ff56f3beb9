import {
  AsmError,
  type ControlBus,
  createInMemoryControlBus,
  createInMemoryEventBus,
  createInMemorySessionLease,
  createInMemoryStore,
  createRun,
  createSession,
  type EventBus,
  type SessionLease,
  type SessionStore,
  transitionRun,
} from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSessionRuntime,
  createSessionServer,
  LEASE_HOLDER_LOST_MESSAGE,
  type SessionRuntime,
} from '../src/index.js';
import { scriptedProvider } from './scripted-provider.js';

/** One "process": a runtime with its own manager and provider, sharing store, bus, lease and control. */
interface Instance {
  name: string;
  runtime: SessionRuntime;
  executed: string[];
}

interface Cluster {
  store: SessionStore;
  bus: EventBus;
  lease: SessionLease;
  control: ControlBus;
  start(name: string): Instance;
}

const opened: SessionRuntime[] = [];
afterEach(async () => {
  for (const runtime of opened.splice(0)) await runtime.close({ cancelInFlight: true });
});

function cluster(): Cluster {
  const store = createInMemoryStore();
  const bus = createInMemoryEventBus();
  const lease = createInMemorySessionLease();
  const control = createInMemoryControlBus();
  return {
    store,
    bus,
    lease,
    control,
    start(name) {
      const executed: string[] = [];
      const runtime = createSessionRuntime({
        store,
        bus,
        lease,
        control,
        instanceId: name,
        provider: scriptedProvider((runId) => executed.push(runId)),
        leaseTtlMs: 1_000,
        pollIntervalMs: 100,
        remoteCancelTimeoutMs: 20_000,
      });
      opened.push(runtime);
      return { name, runtime, executed };
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function newSessionId(store: SessionStore): Promise<string> {
  return (await store.saveSession(createSession({ agentId: 'shared' }))).id;
}

describe('several instances (in-process doubles of the shared backends)', () => {
  it('only the lease holder executes; a run submitted on a follower runs there and is awaited anywhere', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const a = shared.start('a');
    const b = shared.start('b');
    const onA = await a.runtime.start({ sessionId });
    const onB = await b.runtime.start({ sessionId });
    expect(onA.status()).toMatchObject({ instanceId: 'a', leaseHolder: true });
    expect(onB.status()).toMatchObject({ instanceId: 'b', leaseHolder: false });

    const runId = await onB.submitRun('hello from b', { timeoutMs: 10_000, metadata: { origin: 'b' } });
    const result = await onB.awaitRun(runId, { timeoutMs: 20_000 });
    expect(result).toMatchObject({ runId, sessionId, status: 'completed', provider: 'mock' });
    expect(result.events.map((event) => event.type)).toContain('run_completed');
    expect((await onA.awaitRun(runId)).runId).toBe(runId);
    expect(a.executed).toEqual([runId]);
    expect(b.executed).toEqual([]);
    const stored = await shared.store.getRun(runId);
    expect(stored?.metadata).toMatchObject({ origin: 'b', runtimeOptions: { timeoutMs: 10_000 } });
  });

  it('keeps FIFO order across instances and never runs two at once', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const a = shared.start('a');
    const b = shared.start('b');
    const onA = await a.runtime.start({ sessionId });
    const onB = await b.runtime.start({ sessionId });
    const submitted: string[] = [];
    for (let index = 0; index < 10; index++) {
      submitted.push(await (index % 2 === 0 ? onB : onA).submitRun(`run ${index}`));
    }
    await onB.drain({ timeoutMs: 20_000 });
    expect(a.executed).toEqual(submitted);
    expect(b.executed).toEqual([]);
    const runs = await shared.store.listRuns(sessionId);
    for (let index = 1; index < runs.length; index++) {
      // One at a time: each run started after the previous one ended.
      expect(runs[index]!.startedAt! >= runs[index - 1]!.endedAt!).toBe(true);
    }
  });

  it('a cancel issued on a follower reaches the run executing on the holder, and a queued run there', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const a = shared.start('a');
    const b = shared.start('b');
    const onA = await a.runtime.start({ sessionId });
    const onB = await b.runtime.start({ sessionId });
    const stalled = await onB.submitRun('stall here');
    const queued = await onB.submitRun('queued behind');
    await waitFor(() => a.executed.includes(stalled));
    await onB.cancelRun(queued, 'not needed');
    expect((await shared.store.getRun(queued))?.status).toBe('cancelled');
    await onB.cancelRun(stalled, 'stop it');
    expect((await shared.store.getRun(stalled))?.status).toBe('cancelled');
    expect(await codeOf(onA.awaitRun(stalled))).toBe('cancelled');
    expect(await codeOf(onB.awaitRun(queued))).toBe('cancelled');
    expect(a.executed).toEqual([stalled]);
    const terminal = await shared.store.getEvents(sessionId, {
      types: ['run_completed', 'run_failed', 'run_cancelled', 'run_timeout'],
    });
    expect(terminal.map((event) => [event.runId, event.type])).toEqual([
      [queued, 'run_cancelled'],
      [stalled, 'run_cancelled'],
    ]);
    // Cancelling again, or a finished run, is a no-op.
    await onB.cancelRun(stalled);
    expect(await codeOf(onB.cancelRun('run_00000000000000000000000000000000'))).toBe('run_not_found');
  });

  it('a graceful close hands the lease over at once, and queued runs stay pending for the next holder', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const a = shared.start('a');
    const b = shared.start('b');
    const onA = await a.runtime.start({ sessionId });
    const onB = await b.runtime.start({ sessionId });
    const first = await onA.submitRun('stall first');
    const second = await onB.submitRun('second');
    await waitFor(() => a.executed.includes(first));
    await a.runtime.close({ cancelInFlight: true });
    expect((await shared.store.getRun(first))?.status).toBe('cancelled');
    const result = await onB.awaitRun(second, { timeoutMs: 20_000 });
    expect(result.status).toBe('completed');
    expect(b.executed).toEqual([second]);
    expect(onB.status().leaseHolder).toBe(true);
  });

  it('after a dead holder lease expires, the next holder fails the run it left running and moves the queue on', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    // A "dead" instance: it holds the lease (TTL 300 ms, never renewed) and left a run running.
    const grant = await shared.lease.acquire(sessionId, 'dead-instance', 300);
    const orphan = transitionRun(createRun({ sessionId, input: 'orphan' }), 'running');
    await shared.store.saveRun({ ...orphan, provider: 'mock' });
    const b = shared.start('b');
    const onB = await b.runtime.start({ sessionId });
    const next = await onB.submitRun('next in line');
    const error = await onB.awaitRun(orphan.id, { timeoutMs: 20_000 }).then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
    expect(error?.code).toBe('internal_error');
    expect(error?.message).toBe(LEASE_HOLDER_LOST_MESSAGE);
    expect(error?.details).toMatchObject({ reason: 'lease_holder_lost', recoveredBy: 'b', status: 'failed' });
    expect((await onB.awaitRun(next, { timeoutMs: 20_000 })).status).toBe('completed');
    const failed = await shared.store.getEvents(sessionId, { runId: orphan.id, types: ['run_failed'] });
    expect(failed).toHaveLength(1);
    expect(failed[0]?.data).toMatchObject({
      errorCode: 'internal_error',
      errorMessage: LEASE_HOLDER_LOST_MESSAGE,
    });
    expect(onB.status().leaseToken).toBeGreaterThan(grant!.token);
    expect(b.executed).toEqual([next]);
  });

  it('a holder that loses its lease aborts its run (internal_error), takes the lease back and goes on', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const a = shared.start('a');
    const onA = await a.runtime.start({ sessionId });
    const stalled = await onA.submitRun('stall forever');
    const after = await onA.submitRun('after the loss');
    await waitFor(() => a.executed.includes(stalled));
    // Someone else's view of the world: the lease vanished (an operator, an expiry during a stall).
    expect(await shared.lease.release(sessionId, 'a')).toBe(true);
    const error = await onA.awaitRun(stalled).then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
    expect(error?.code).toBe('internal_error');
    expect(error?.details.reason).toBe('lease_lost');
    expect((await onA.awaitRun(after, { timeoutMs: 20_000 })).status).toBe('completed');
    expect(onA.status().leaseHolder).toBe(true);
  });

  it('recoverInterruptedRuns skips sessions a live instance holds and recovers the others', async () => {
    const shared = cluster();
    const [live, orphaned] = [await newSessionId(shared.store), await newSessionId(shared.store)];
    for (const sessionId of [live, orphaned]) {
      await shared.store.saveRun(transitionRun(createRun({ sessionId, input: 'x' }), 'running'));
    }
    await shared.lease.acquire(live, 'someone-alive', 60_000);
    const b = shared.start('b');
    const report = await b.runtime.recoverInterruptedRuns();
    expect(report.skippedSessionIds).toEqual([live]);
    expect(report.recoveredRunIds).toHaveLength(1);
    expect((await shared.store.listRuns(orphaned))[0]).toMatchObject({
      status: 'failed',
      error: { code: 'internal_error', message: LEASE_HOLDER_LOST_MESSAGE },
    });
    expect((await shared.store.listRuns(live))[0]?.status).toBe('running');
    expect(await shared.lease.holder(orphaned)).toBeUndefined();
  });

  it('validates multi-instance options and refuses per-run options that cannot travel', async () => {
    const shared = cluster();
    const sessionId = await newSessionId(shared.store);
    const provider = scriptedProvider();
    expect(() => createSessionRuntime({ store: shared.store, provider, lease: shared.lease })).toThrow(
      /control/,
    );
    expect(
      await codeOf(
        createSessionServer({ store: shared.store, provider, sessionId, control: shared.control }),
      ),
    ).toBe('validation_error');
    expect(
      await codeOf(
        createSessionServer({
          store: shared.store,
          provider,
          sessionId,
          lease: shared.lease,
          control: shared.control,
          leaseTtlMs: 0,
        }),
      ),
    ).toBe('validation_error');
    const a = shared.start('a');
    const server = await a.runtime.start({ sessionId });
    expect(await codeOf(server.submitRun('x', { onEvent: () => undefined }))).toBe('validation_error');
    expect(await codeOf(server.submitRun('x', { tools: [] }))).toBe('validation_error');
  });
});
