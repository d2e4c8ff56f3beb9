import {
  AsmError,
  createInMemoryControlBus,
  createInMemoryEventBus,
  createInMemorySessionLease,
  createInMemoryStore,
  createSession,
  type SessionStore,
} from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createSessionRuntime, type OperationRecord, type SessionRuntime } from '../src/index.js';
import { type ScriptedProviderOptions, scriptedProvider } from './scripted-provider.js';

const opened: SessionRuntime[] = [];
afterEach(async () => {
  for (const runtime of opened.splice(0)) await runtime.close({ cancelInFlight: true });
});

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

/** A lone runtime and a server for a new session; `executed` lists the runs its provider started. */
async function lone(options: ScriptedProviderOptions = {}, store: SessionStore = createInMemoryStore()) {
  const executed: string[] = [];
  const controlCalls: string[] = [];
  const runtime = createSessionRuntime({
    store,
    provider: scriptedProvider({
      ...options,
      onExecute: (runId) => executed.push(runId),
      onControl: (operation, runId) => controlCalls.push(`${operation}:${runId}`),
    }),
  });
  opened.push(runtime);
  const server = await runtime.start({ session: { agentId: 'ops' } });
  return { store, runtime, server, executed, controlCalls };
}

describe('control operations on one instance', () => {
  it('interrupt - stops a run in flight (cancel where the provider has no interrupt), records it, and a repeat is a no-op', async () => {
    const { server, executed } = await lone();
    const runId = await server.submitRun('stall please');
    await waitFor(() => executed.includes(runId));
    const record = await server.interruptRun(runId, { reason: 'operator' });
    expect(record).toMatchObject({
      runId,
      operation: 'interrupt',
      result: 'ok',
      state: 'interrupted',
      noop: false,
      method: 'cancel',
      reason: 'operator',
    });
    expect(await codeOf(server.awaitRun(runId))).toBe('cancelled');
    const again = await server.interruptRun(runId);
    expect(again).toMatchObject({ result: 'ok', noop: true, state: 'interrupted' });
    const status = await server.operationStatus(runId);
    expect(status.state).toBe('interrupted');
    expect(status.history.map((entry) => [entry.operation, entry.noop])).toEqual([
      ['interrupt', false],
      ['interrupt', true],
    ]);
    expect(status.lastOperation?.sequence).toBe(again.sequence);
    // The run's own log still ends with its one terminal event: control events are session-level.
    const runEvents = await server.manager.store.getEvents(server.sessionId, { runId });
    expect(runEvents.at(-1)?.type).toBe('run_cancelled');
  });

  it('interrupt - uses the provider interrupt where it is advertised, and dequeues a run that has not started', async () => {
    const { server, executed } = await lone({ interrupt: true });
    const first = await server.submitRun('stall first');
    const second = await server.submitRun('never started');
    await waitFor(() => executed.includes(first));
    expect(await server.interruptRun(second)).toMatchObject({ method: 'dequeued', state: 'interrupted' });
    expect(await server.interruptRun(first)).toMatchObject({
      method: 'provider_interrupt',
      state: 'interrupted',
    });
    expect(executed).toEqual([first]);
    expect((await server.manager.getRun(second))?.status).toBe('cancelled');
  });

  it('pause and resume - capability_not_supported (recorded) unless the provider advertises them', async () => {
    const { server, executed } = await lone();
    const runId = await server.submitRun('stall');
    await waitFor(() => executed.includes(runId));
    expect(await codeOf(server.pauseRun(runId))).toBe('capability_not_supported');
    expect(await codeOf(server.resumeRun(runId))).toBe('capability_not_supported');
    const status = await server.operationStatus(runId);
    expect(status.state).toBe('unknown');
    expect(status.history.map((entry) => [entry.operation, entry.result, entry.error?.code])).toEqual([
      ['pause', 'error', 'capability_not_supported'],
      ['resume', 'error', 'capability_not_supported'],
    ]);
  });

  it('pause and resume - call the provider once per change, are idempotent, and refuse a run that ended', async () => {
    const { server, executed, controlCalls } = await lone({ pausable: true });
    const runId = await server.submitRun('stall');
    await waitFor(() => executed.includes(runId));
    expect(await server.pauseRun(runId)).toMatchObject({ state: 'paused', noop: false });
    expect(await server.pauseRun(runId)).toMatchObject({ state: 'paused', noop: true });
    expect(await server.resumeRun(runId)).toMatchObject({ state: 'running', noop: false });
    expect(await server.resumeRun(runId)).toMatchObject({ state: 'running', noop: true });
    expect(controlCalls).toEqual([`pause:${runId}`, `resume:${runId}`]);
    await server.cancelRun(runId);
    expect(await codeOf(server.resumeRun(runId))).toBe('invalid_operation');
    expect(await codeOf(server.pauseRun(runId))).toBe('invalid_operation');
    expect((await server.operationStatus(runId)).state).toBe('running');
  });

  it('pause - provider_error when the capability is advertised but not implemented; invalid_operation for a queued run', async () => {
    const { server, executed } = await lone({ advertisesPauseOnly: true });
    const first = await server.submitRun('stall');
    const queued = await server.submitRun('later');
    await waitFor(() => executed.includes(first));
    const error = await server.pauseRun(first).then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
    expect(error?.code).toBe('provider_error');
    expect(error?.message).toBe('Adapter does not support pause');
    expect(await codeOf(server.pauseRun(queued))).toBe('invalid_operation');
    expect(await codeOf(server.applyOperation(first, 'explode' as never))).toBe('validation_error');
  });

  it('cancelAll and interruptSession - one result per run, failures included', async () => {
    const { server, executed } = await lone();
    const running = await server.submitRun('stall a');
    const queued = await server.submitRun('stall b');
    await waitFor(() => executed.includes(running));
    const missing = 'run_ffffffffffffffffffffffffffffffff';
    const results = await server.cancelAll([queued, missing]);
    expect(results[queued]).toMatchObject({ ok: true, record: { state: 'cancelled', method: 'dequeued' } });
    expect(results[missing]?.ok).toBe(false);
    expect(!results[missing]?.ok && results[missing]?.error.code).toBe('run_not_found');
    const third = await server.submitRun('stall c');
    const interrupted = await server.interruptSession({ reason: 'shutting down' });
    expect(Object.keys(interrupted).sort()).toEqual([running, third].sort());
    for (const result of Object.values(interrupted))
      expect(result).toMatchObject({ ok: true, record: { state: 'interrupted' } });
    await server.drain({ timeoutMs: 20_000 });
    expect((await server.manager.store.listRuns(server.sessionId)).map((run) => run.status)).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
  });

  it('the history survives a restart: another runtime over the same store reads the same records', async () => {
    const store = createInMemoryStore();
    const { server, executed, runtime } = await lone({}, store);
    const runId = await server.submitRun('stall');
    await waitFor(() => executed.includes(runId));
    await server.interruptRun(runId);
    await codeOf(server.pauseRun(runId));
    const before = await server.operationHistory(runId);
    await runtime.close();
    const restarted = createSessionRuntime({ store, provider: scriptedProvider() });
    opened.push(restarted);
    const again = await restarted.start({ sessionId: server.sessionId });
    expect(await again.operationHistory(runId)).toEqual(before);
    expect((await again.operationStatus(runId)).state).toBe('interrupted');
    // Still idempotent after the restart.
    expect(await again.interruptRun(runId)).toMatchObject({ noop: true });
  });
});

describe('control operations across two instances (in-process doubles)', () => {
  it('a follower interrupts, pauses and resumes a run on the holder; each request applies once; the history reads the same on both', async () => {
    const store = createInMemoryStore();
    const bus = createInMemoryEventBus();
    const lease = createInMemorySessionLease();
    const control = createInMemoryControlBus();
    const sessionId = (await store.saveSession(createSession({ agentId: 'two' }))).id;
    const make = (name: string) => {
      const executed: string[] = [];
      const controlCalls: string[] = [];
      const runtime = createSessionRuntime({
        store,
        bus,
        lease,
        control,
        instanceId: name,
        leaseTtlMs: 2_000,
        pollIntervalMs: 20,
        provider: scriptedProvider({
          pausable: true,
          controlDelayMs: 200,
          onExecute: (runId) => executed.push(runId),
          onControl: (operation, runId) => controlCalls.push(`${operation}:${runId}`),
        }),
      });
      opened.push(runtime);
      return { runtime, executed, controlCalls };
    };
    const a = make('a');
    const b = make('b');
    const onA = await a.runtime.start({ sessionId });
    const onB = await b.runtime.start({ sessionId });
    const runId = await onB.submitRun('stall on a');
    await waitFor(() => a.executed.includes(runId));

    // The pause takes 200 ms while B re-sends its request every 20 ms: applied once all the same.
    const paused = await onB.pauseRun(runId);
    expect(paused).toMatchObject({ state: 'paused', appliedBy: 'a', requestedBy: 'b', noop: false });
    expect(await onB.resumeRun(runId)).toMatchObject({ state: 'running', appliedBy: 'a' });
    expect(a.controlCalls).toEqual([`pause:${runId}`, `resume:${runId}`]);
    expect(b.controlCalls).toEqual([]);
    const interrupted = await onB.interruptRun(runId);
    expect(interrupted).toMatchObject({ state: 'interrupted', method: 'cancel', appliedBy: 'a' });
    expect(await codeOf(onA.awaitRun(runId))).toBe('cancelled');
    expect(await codeOf(onB.pauseRun(runId))).toBe('invalid_operation');

    const onBothSides = [await onA.operationHistory(runId), await onB.operationHistory(runId)];
    expect(onBothSides[0]).toEqual(onBothSides[1]);
    expect(
      onBothSides[0]!.map((entry: OperationRecord) => [entry.operation, entry.result, entry.appliedBy]),
    ).toEqual([
      ['pause', 'ok', 'a'],
      ['resume', 'ok', 'a'],
      ['interrupt', 'ok', 'a'],
      ['pause', 'error', 'a'],
    ]);
  });
});
