import {
  AsmError,
  createInMemoryEventBus,
  createInMemoryStore,
  createSessionManager,
  type ErrorCode,
  followSessionEvents,
  isTerminalRunEventType,
  type RunExtension,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockProvider } from '../src/fakes/index.js';

const stores: SessionStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

function setup(settings: Parameters<typeof createMockProvider>[0] = {}, config = {}) {
  const store = createInMemoryStore();
  stores.push(store);
  const provider = createMockProvider(settings);
  const manager = createSessionManager({ store, provider, config });
  return { store, provider, manager };
}

async function caught(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<AsmError> {
  const error = await caught(promise);
  expect(error.code).toBe(code);
  return error;
}

function types(events: StoredEvent[]): string[] {
  return events.map((event) => event.type);
}

describe('runOnce', () => {
  it('runs the whole lifecycle and stores an ordered log', async () => {
    const { manager, store } = setup({ response: 'Hello there friend', model: 'claude-haiku-4-5' });
    const result = await manager.runOnce('Say hello');
    expect(result.output.content).toBe('Hello there friend');
    const events = await store.getEvents(result.sessionId);
    expect(types(events)).toEqual([
      'session_created',
      'session_started',
      'message_sent',
      'run_started',
      'message_streamed',
      'message_streamed',
      'message_streamed',
      'message_received',
      'token_usage_updated',
      'run_completed',
      'session_completed',
    ]);
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(events[2]?.data).toEqual({ role: 'user', content: 'Say hello' });
    const run = await manager.getRun(result.runId);
    expect(run?.status).toBe('completed');
    expect(run?.output?.content).toBe('Hello there friend');
    expect(run?.tokenUsage.outputTokens).toBeGreaterThan(0);
    expect(run?.startedAt).toBeDefined();
    expect(run?.endedAt).toBeDefined();
    expect((await manager.getSession(result.sessionId))?.status).toBe('completed');
  });

  it('computes cost from the pricing table, and the provider-reported cost wins', async () => {
    const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000 };
    const priced = setup({ model: 'claude-haiku-4-5', tokenUsage: usage });
    const result = await priced.manager.runOnce('hi');
    expect(result.costUsd).toBeCloseTo(1 + 5, 6);
    expect((await priced.manager.getRun(result.runId))?.costUsd).toBeCloseTo(6, 6);

    const reported = setup({ model: 'claude-haiku-4-5', tokenUsage: usage, costUsd: 0.25 });
    expect((await reported.manager.runOnce('hi')).costUsd).toBe(0.25);

    const unknown = setup({ model: 'some-unpriced-model', tokenUsage: usage });
    expect((await unknown.manager.runOnce('hi')).costUsd).toBeUndefined();
  });

  it('delivers stored events to onEvent in order, with their sequence numbers', async () => {
    const { manager, store } = setup({ deltas: 50 });
    const seen: StoredEvent[] = [];
    const result = await manager.runOnce('go', { onEvent: (event) => seen.push(event) });
    const stored = await store.getEvents(result.sessionId, { runId: result.runId });
    expect(seen.map((event) => event.sequence)).toEqual(stored.map((event) => event.sequence));
    expect(result.events.map((event) => event.id)).toEqual(stored.map((event) => event.id));
  });

  it('batches a burst of deltas into few appendEvents calls, keeping order', async () => {
    const store = createInMemoryStore();
    stores.push(store);
    let batches = 0;
    const counting: SessionStore = {
      ...store,
      appendEvents: (events) => {
        batches++;
        return store.appendEvents(events);
      },
    } as SessionStore;
    // Spreading loses the prototype-less methods' `this`? The in-memory store is a plain object of closures.
    const manager = createSessionManager({
      store: counting,
      provider: createMockProvider({ deltas: 2_000 }),
    });
    const result = await manager.runOnce('burst');
    const events = await store.getEvents(result.sessionId, { types: ['message_streamed'] });
    expect(events).toHaveLength(2_000);
    expect(batches).toBeLessThan(20);
  });

  it('marks the session failed and rethrows when the run fails', async () => {
    const { manager, store } = setup({
      failWith: { code: 'provider_rate_limited', kind: 'rate_limit', status: 429 },
    });
    const error = await expectCode(manager.runOnce('hi'), 'provider_rate_limited');
    expect(error.retryable).toBe(true);
    const runId = error.details.runId as string;
    const run = await manager.getRun(runId);
    expect(run?.status).toBe('failed');
    expect(run?.error?.code).toBe('provider_rate_limited');
    expect(run?.error?.providerError?.provider).toBe('mock');
    const events = await store.getEvents(run!.sessionId);
    const runEvents = events.filter((event) => event.runId === runId);
    expect(runEvents.at(-1)?.type).toBe('run_failed');
    expect(runEvents.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
    expect(runEvents.at(-1)?.data).toMatchObject({ errorCode: 'provider_rate_limited' });
    expect(events.at(-1)?.type).toBe('session_failed');
    expect((await manager.getSession(run!.sessionId))?.status).toBe('failed');
  });

  it('leaves an existing session active when given a sessionId', async () => {
    const { manager } = setup();
    const session = await manager.startSession();
    await manager.runOnce('one', { sessionId: session.id });
    expect((await manager.getSession(session.id))?.status).toBe('active');
  });
});

describe('cancellation and timeouts', () => {
  it('cancelRun aborts a streaming run, keeps the partial output, and ends it cancelled', async () => {
    const { manager, store, provider } = setup({ deltas: 1_000, chunkDelayMs: 2 });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'long answer');
    let streamed = 0;
    const execution = manager.executeRun(run.id, {
      onEvent: (event) => {
        if (event.type === 'message_streamed' && ++streamed === 5)
          void manager.cancelRun(run.id, { reason: 'user stop' });
      },
    });
    const error = await expectCode(execution, 'cancelled');
    expect(error.details.status).toBe('cancelled');
    expect(provider.cancelledRuns).toContain(run.id);
    const stored = await manager.getRun(run.id);
    expect(stored?.status).toBe('cancelled');
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.at(-1)?.type).toBe('run_cancelled');
    expect(events.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
    expect(events.filter((event) => event.type === 'message_streamed').length).toBeGreaterThanOrEqual(5);
  });

  it('cancels through the caller signal', async () => {
    const { manager } = setup({ stall: true });
    const controller = new AbortController();
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'wait');
    const execution = manager.executeRun(run.id, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'run_started') controller.abort();
      },
    });
    await expectCode(execution, 'cancelled');
    expect((await manager.getRun(run.id))?.status).toBe('cancelled');
  });

  it('cancels a pending run without calling the provider', async () => {
    const { manager, provider, store } = setup();
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'never');
    const cancelled = await manager.cancelRun(run.id);
    expect(cancelled.status).toBe('cancelled');
    expect(provider.calls).toHaveLength(0);
    expect(types(await store.getEvents(session.id, { runId: run.id }))).toEqual(['run_cancelled']);
    await expectCode(manager.executeRun(run.id), 'invalid_transition');
  });

  it('times out a stalled run with run_timeout', async () => {
    const { manager, store } = setup({ stall: true });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'stall');
    const error = await expectCode(manager.executeRun(run.id, { timeoutMs: 50 }), 'timeout');
    expect(error.retryable).toBe(true);
    expect((await manager.getRun(run.id))?.status).toBe('timeout');
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.at(-1)?.type).toBe('run_timeout');
    expect(events.at(-1)?.data).toMatchObject({ timeoutMs: 50 });
  });

  it('finalizes after the grace period when the adapter ignores the abort, dropping late events', async () => {
    const { manager, store } = setup(
      { deltas: 200, chunkDelayMs: 5, ignoreAbort: true },
      { executeGraceTimeoutMs: 30 },
    );
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'stubborn');
    await expectCode(manager.executeRun(run.id, { timeoutMs: 40 }), 'timeout');
    const before = (await store.getEvents(session.id)).length;
    await new Promise((resolve) => setTimeout(resolve, 60));
    const after = await store.getEvents(session.id, { runId: run.id });
    expect(after.at(-1)?.type).toBe('run_timeout');
    expect((await store.getEvents(session.id)).length).toBe(before);
  });

  it('rejects an invalid timeout', async () => {
    const { manager } = setup();
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'x');
    await expectCode(manager.executeRun(run.id, { timeoutMs: -5 }), 'validation_error');
  });
});

describe('state machines', () => {
  it('enforces session transitions and writes their events', async () => {
    const { manager, store } = setup();
    const session = await manager.startSession({ agentId: 'agent-1' });
    expect(session.status).toBe('pending');
    await manager.activateSession(session.id);
    await manager.activateSession(session.id);
    await manager.pauseSession(session.id);
    await expectCode(manager.startRun(session.id, 'x'), 'invalid_transition');
    await manager.resumeSession(session.id);
    await manager.completeSession(session.id);
    await expectCode(manager.pauseSession(session.id), 'invalid_transition');
    await expectCode(manager.startRun(session.id, 'x'), 'invalid_transition');
    const reopened = await manager.startRun(session.id, 'again', { reopen: true });
    expect(reopened.status).toBe('pending');
    expect((await manager.getSession(session.id))?.status).toBe('active');
    await manager.failSession(session.id, new AsmError('provider_error', 'boom'));
    await expectCode(manager.activateSession(session.id, { reopen: true }), 'invalid_transition');
    expect(types(await store.getEvents(session.id))).toEqual([
      'session_created',
      'session_started',
      'session_paused',
      'session_resumed',
      'session_completed',
      'session_started',
      'session_failed',
    ]);
  });

  it('refuses to execute a run twice', async () => {
    const { manager } = setup();
    const result = await manager.runOnce('once');
    await expectCode(manager.executeRun(result.runId), 'invalid_transition');
  });

  it('reports missing sessions and runs', async () => {
    const { manager } = setup();
    await expectCode(manager.startRun('ses_missing', 'x'), 'session_not_found');
    await expectCode(manager.executeRun('run_missing'), 'run_not_found');
    await expectCode(manager.cancelRun('run_missing'), 'run_not_found');
  });

  it('negotiates capabilities before creating a run', async () => {
    const { manager } = setup();
    const session = await manager.startSession();
    const error = await expectCode(
      manager.startRun(session.id, 'x', { requiredCapabilities: ['code_execution'] }),
      'missing_required_capability',
    );
    expect(error.message).toContain('code_execution');
    expect(await manager.listRuns(session.id)).toHaveLength(0);
    const run = await manager.startRun(session.id, 'x', {
      requiredCapabilities: ['sampling'],
      optionalCapabilities: ['file_access'],
    });
    expect(run.metadata.capabilityWarnings).toHaveLength(1);
  });
});

describe('continuation', () => {
  it("replays the transcript of earlier runs in 'auto' mode when the provider has no native resume", async () => {
    const { manager, provider } = setup({ response: 'First answer' });
    const first = await manager.runOnce('First question');
    await manager.activateSession(first.sessionId, { reopen: true });
    await manager.runOnce('Second question', { sessionId: first.sessionId });
    const continuation = provider.calls[1]!.options.continuation;
    expect(continuation.mode).toBe('replay');
    expect(continuation.transcript?.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'First question'],
      ['assistant', 'First answer'],
    ]);
  });

  it('resumes natively when the provider recorded a session for itself', async () => {
    const { manager, provider } = setup({ supportsNativeContinuation: true });
    const session = await manager.startSession();
    const first = await manager.runOnce('one', { sessionId: session.id });
    expect(first.providerSessionId).toBe('mock_session_1');
    const stored = await manager.getSession(session.id);
    expect(stored?.metadata.providerSessions).toMatchObject({
      mock: { providerSessionId: 'mock_session_1' },
    });
    await manager.runOnce('two', { sessionId: session.id });
    expect(provider.calls[1]!.options.continuation).toMatchObject({
      mode: 'native',
      providerSessionId: 'mock_session_1',
    });
    await manager.runOnce('three', { sessionId: session.id, continuation: 'replay' });
    expect(provider.calls[2]!.options.continuation.mode).toBe('replay');
    await manager.runOnce('four', { sessionId: session.id, continuation: false });
    expect(provider.calls[3]!.options.continuation.mode).toBe('none');
  });

  it("rejects 'native' where the provider cannot resume, and boolean true", async () => {
    const { manager } = setup();
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'x');
    await expectCode(manager.executeRun(run.id, { continuation: 'native' }), 'invalid_operation');
    const other = await manager.startRun(session.id, 'y');
    await expectCode(
      manager.executeRun(other.id, { continuation: true as unknown as 'auto' }),
      'validation_error',
    );
  });
});

describe('adapter events', () => {
  it('stores an unknown event type as error_occurred with the original type', async () => {
    const { manager, store } = setup({
      events: [{ type: 'assistant_delta' as 'message_streamed', data: { kind: 'text', delta: 'x' } }],
    });
    const result = await manager.runOnce('x');
    const events = await store.getEvents(result.sessionId, { types: ['error_occurred'] });
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({
      errorCode: 'invalid_event_type',
      originalType: 'assistant_delta',
    });
  });

  it('replaces an oversized event with error_occurred and keeps the run going', async () => {
    const { manager, store } = setup(
      {
        events: [
          {
            type: 'tool_call_completed',
            data: { toolCallId: 't1', toolName: 'read', toolOutput: 'x'.repeat(5_000) },
          },
        ],
      },
      { maxEventDataBytes: 1_000 },
    );
    const result = await manager.runOnce('x');
    const errors = await store.getEvents(result.sessionId, { types: ['error_occurred'] });
    expect(errors[0]?.data).toMatchObject({
      errorCode: 'validation_error',
      originalType: 'tool_call_completed',
    });
    expect((await manager.getRun(result.runId))?.status).toBe('completed');
  });

  it('writes run_started first even when the adapter forgets it', async () => {
    const { store } = setup();
    const silent = createMockProvider();
    const original = silent.execute;
    const manager = createSessionManager({
      store,
      provider: {
        ...silent,
        execute: (run, session, options) =>
          original(run, session, {
            ...options,
            emit: (event) => {
              if (event.type !== 'run_started') options.emit(event);
            },
          }),
      },
    });
    const result = await manager.runOnce('x');
    const events = await store.getEvents(result.sessionId, { runId: result.runId });
    expect(events[0]?.type).toBe('message_sent');
    expect(events[1]?.type).toBe('run_started');
    expect(events.filter((event) => event.type === 'run_started')).toHaveLength(1);
  });

  it('fails the run with a storage error when the store stops accepting events', async () => {
    const store = createInMemoryStore();
    stores.push(store);
    let calls = 0;
    const flaky = {
      ...store,
      appendEvents: async (events: Parameters<SessionStore['appendEvents']>[0]) => {
        if (++calls > 1) throw new AsmError('storage_write_failed', 'disk full');
        return store.appendEvents(events);
      },
    } as SessionStore;
    const provider = createMockProvider({ deltas: 300, chunkDelayMs: 1 });
    const manager = createSessionManager({ store: flaky, provider });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'x');
    await expectCode(manager.executeRun(run.id), 'storage_write_failed');
    expect(provider.cancelledRuns).toContain(run.id);
    expect((await manager.getRun(run.id))?.status).toBe('failed');
  });

  it('gives storage_connection_failed on a closed store', async () => {
    const { manager, store } = setup();
    await store.close();
    await expectCode(manager.startSession(), 'storage_connection_failed');
  });
});

describe('tools and extensions', () => {
  const call = { id: 'toolu_1', name: 'bash', input: { command: 'ls' } };

  it('denies a tool the run rules deny', async () => {
    const { manager, provider, store } = setup({ toolCalls: [call] });
    const result = await manager.runOnce('x', { toolRules: { deny: ['ba*'] } });
    expect(provider.calls[0]!.toolDecisions[0]).toMatchObject({ allow: false });
    expect(types(await store.getEvents(result.sessionId, { types: ['tool_call_failed'] }))).toEqual([
      'tool_call_failed',
    ]);
  });

  it('waits for a person when an extension asks, and runs the tool once approved', async () => {
    const ask: RunExtension = { name: 'ask', authorizeToolCall: () => 'ask' };
    const { manager, provider, store } = setup({ toolCalls: [call] });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'x');
    const execution = manager.executeRun(run.id, {
      extensions: [ask],
      onEvent: (event) => {
        if (event.type === 'tool_approval_requested') {
          void manager.approveToolCall(run.id, call.id, { input: { command: 'ls -la' }, approvedBy: 'ada' });
        }
      },
    });
    await execution;
    expect(provider.calls[0]!.toolDecisions[0]).toEqual({ allow: true, input: { command: 'ls -la' } });
    expect(
      types(
        await store.getEvents(session.id, {
          runId: run.id,
          types: ['tool_approval_requested', 'tool_approval_granted', 'tool_call_completed'],
        }),
      ),
    ).toEqual(['tool_approval_requested', 'tool_approval_granted', 'tool_call_completed']);
  });

  it('denies the tool when approval times out', async () => {
    const ask: RunExtension = { name: 'ask', authorizeToolCall: () => 'ask' };
    const { manager, provider } = setup(
      { toolCalls: [call] },
      { toolApprovalTimeoutMs: 40, eventStreamPollIntervalMs: 10 },
    );
    await manager.runOnce('x', { extensions: [ask] });
    expect(provider.calls[0]!.toolDecisions[0]).toMatchObject({ allow: false });
  });

  it('refuses a run in beforeRun without calling the provider', async () => {
    const refuse: RunExtension = {
      name: 'budget',
      beforeRun: () => {
        throw new AsmError('policy_violation', 'zero budget');
      },
    };
    const { manager, provider } = setup();
    const error = await expectCode(manager.runOnce('x', { extensions: [refuse] }), 'policy_violation');
    expect(provider.calls).toHaveLength(0);
    expect((await manager.getRun(error.details.runId as string))?.status).toBe('failed');
  });

  it('lets an extension stop a run from onEvent', async () => {
    const limit: RunExtension = {
      name: 'limit',
      onEvent: (event, context) => {
        if (event.type === 'message_streamed' && event.sequence > 10) {
          context.emit({ type: 'policy_violation', data: { policy: 'limit', kind: 'max_deltas' } });
          context.abort(new AsmError('policy_violation', 'too many deltas'));
        }
      },
    };
    const { manager, store } = setup({ deltas: 500, chunkDelayMs: 0 });
    const error = await expectCode(manager.runOnce('x', { extensions: [limit] }), 'policy_violation');
    const events = await store.getEvents(error.details.sessionId as string, {
      runId: error.details.runId as string,
    });
    expect(events.at(-1)?.type).toBe('run_failed');
    expect(events.some((event) => event.type === 'policy_violation')).toBe(true);
  });
});

describe('streamSessionEvents', () => {
  it('backfills, then follows live events until told to stop', async () => {
    const { manager } = setup({ deltas: 20, chunkDelayMs: 1 });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'follow me');
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const event of manager.streamSessionEvents(session.id, {
        stopWhen: (event) => event.type === 'run_completed',
      })) {
        seen.push(event);
      }
    })();
    await manager.executeRun(run.id);
    await reading;
    expect(seen[0]?.type).toBe('session_created');
    expect(seen.at(-1)?.type).toBe('run_completed');
    expect(seen.map((event) => event.sequence)).toEqual(seen.map((_, index) => index + 1));
  });

  it('stops when the consumer breaks out', async () => {
    const { manager } = setup();
    const result = await manager.runOnce('x');
    let count = 0;
    for await (const _event of manager.streamSessionEvents(result.sessionId)) {
      if (++count === 3) break;
    }
    expect(count).toBe(3);
  });
});

describe('with an event bus', () => {
  it('publishes stored events so a reader that cannot poll follows the run live', async () => {
    const store = createInMemoryStore();
    stores.push(store);
    const bus = createInMemoryEventBus();
    const provider = createMockProvider({ deltas: 30, chunkDelayMs: 1 });
    const manager = createSessionManager({ store, provider, bus });
    const blindStore = {
      ...store,
      supportsLongPoll: false,
      getEvents: (sessionId: string, query?: Parameters<SessionStore['getEvents']>[1]) =>
        store.getEvents(sessionId, { ...query, waitMs: 0 }),
    } as SessionStore;
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'live please');
    const seen: StoredEvent[] = [];
    const reading = (async () => {
      for await (const event of followSessionEvents(blindStore, session.id, {
        bus,
        waitMs: 60_000,
        pollIntervalMs: 60_000,
        stopWhen: (event) => event.type === 'run_completed',
      })) {
        seen.push(event);
      }
    })();
    await manager.executeRun(run.id);
    await reading;
    const stored = await store.getEvents(session.id);
    expect(seen.map((event) => event.id)).toEqual(stored.map((event) => event.id));
    await bus.close();
  });
});

describe('redaction', () => {
  const secret = 'password=hunter2hunter2';

  it('hands onEvent what was stored (redacted) by default', async () => {
    const { manager, store } = setup({
      events: [{ type: 'message_received', data: { role: 'assistant', content: secret } }],
    });
    const seen: StoredEvent[] = [];
    const result = await manager.runOnce(`my ${secret}`, { onEvent: (event) => seen.push(event) });
    const stored = JSON.stringify(await store.getEvents(result.sessionId));
    expect(stored).not.toContain('hunter2');
    expect(JSON.stringify(seen)).not.toContain('hunter2');
    expect((await manager.getRun(result.runId))?.input).toBe('my [REDACTED]');
  });

  it('hands onEvent the unredacted data only when the app opts in', async () => {
    const store = createInMemoryStore();
    stores.push(store);
    const provider = createMockProvider({
      events: [{ type: 'message_received', data: { role: 'assistant', content: secret } }],
    });
    const manager = createSessionManager({ store, provider, redaction: { unredactedOnEvent: true } });
    const seen: StoredEvent[] = [];
    const result = await manager.runOnce('hello', { onEvent: (event) => seen.push(event) });
    expect(JSON.stringify(seen)).toContain('hunter2');
    expect(JSON.stringify(await store.getEvents(result.sessionId))).not.toContain('hunter2');
  });

  it('stores secrets as they are when redaction is off', async () => {
    const store = createInMemoryStore();
    stores.push(store);
    const manager = createSessionManager({ store, provider: createMockProvider(), redaction: false });
    const result = await manager.runOnce(secret);
    expect(JSON.stringify(await store.getEvents(result.sessionId))).toContain('hunter2');
  });
});

describe('beforeFinish extensions', () => {
  it('write their events before the terminal event and add run metadata', async () => {
    const closing: RunExtension = {
      name: 'closing',
      beforeFinish: (outcome, context) => {
        context.emit({
          type: 'workspace_diff_computed',
          data: { filesChanged: 2, ok: outcome.result !== undefined },
        });
        return { metadata: { workspace: { filesChanged: 2 } } };
      },
    };
    const { manager, store } = setup();
    const result = await manager.runOnce('x', { extensions: [closing] });
    const events = await store.getEvents(result.sessionId, { runId: result.runId });
    expect(events.at(-2)?.type).toBe('workspace_diff_computed');
    expect(events.at(-1)?.type).toBe('run_completed');
    expect(result.metadata.workspace).toEqual({ filesChanged: 2 });
    expect((await manager.getRun(result.runId))?.metadata.workspace).toEqual({ filesChanged: 2 });
  });

  it('fail the run when they throw', async () => {
    const broken: RunExtension = {
      name: 'broken',
      beforeFinish: () => {
        throw new AsmError('persistence_error', 'artifact upload failed');
      },
    };
    const { manager } = setup();
    const error = await expectCode(manager.runOnce('x', { extensions: [broken] }), 'persistence_error');
    expect((await manager.getRun(error.details.runId as string))?.status).toBe('failed');
  });
});
