import {
  type AdapterEvent,
  AsmError,
  CAPABILITY_TYPES,
  createInMemoryStore,
  createRun,
  createSession,
  createSessionManager,
  type ErrorCode,
  type ExecuteOptions,
  type ExecuteResult,
  type ExecuteRunOptions,
  isTerminalRunEventType,
  type ProviderAdapter,
  type RunInput,
  type Session,
  type StoredEvent,
  type Transcript,
} from '@asm/core';
import { describe, expect, it } from 'vitest';

/** One scenario of the provider suite: how to build the adapter and what to ask it. */
export interface ProviderScenario {
  /** Shown in test names. */
  name?: string;
  /** Builds the adapter for this scenario; defaults to the suite's `create`. */
  create?: (scenario: ProviderScenario) => ProviderAdapter | Promise<ProviderAdapter>;
  /** Run input. Default `'Say hello'`. */
  input?: RunInput;
  /** Session context (for example a `systemPrompt`). */
  context?: Session['context'];
  /** Extra options for `executeRun` (tools, permission mode, adapter options…). */
  executeOptions?: ExecuteRunOptions;
  /** Anything the `create` function wants to read (a fake server scenario, a model name…). */
  settings?: Record<string, unknown>;
  /** Releases what `create` started for this scenario. */
  cleanup?: (adapter: ProviderAdapter) => void | Promise<void>;
}

/** A scenario that must fail with `code`. */
export interface ProviderErrorScenario extends ProviderScenario {
  code: ErrorCode;
}

/** A scenario the suite cancels once the adapter has emitted `after` (default `run_started`). */
export interface ProviderCancelScenario extends ProviderScenario {
  after?: AdapterEvent['type'];
}

/** Options of `testProviderAdapter`. */
export interface TestProviderAdapterOptions {
  /** Name of the suite (the adapter). */
  name: string;
  /** Builds an adapter for a scenario, unless the scenario has its own `create`. */
  create?: (scenario: ProviderScenario) => ProviderAdapter | Promise<ProviderAdapter>;
  scenarios: {
    /** A run that completes. `expectUsage` (default true): token usage is reported (> 0). */
    success: ProviderScenario & { expectUsage?: boolean; expectText?: boolean };
    /** Runs that fail, each with the code it must fail with. */
    errors?: ProviderErrorScenario[];
    /** A run that can be cancelled while it streams or waits. */
    cancel?: ProviderCancelScenario;
  };
  /** Per-test timeout in ms. Default 15,000. */
  timeoutMs?: number;
}

interface DirectOutcome {
  events: AdapterEvent[];
  eventsAfterSettle: number;
  result?: ExecuteResult;
  error?: unknown;
}

async function build(
  options: TestProviderAdapterOptions,
  scenario: ProviderScenario,
): Promise<ProviderAdapter> {
  const create = scenario.create ?? options.create;
  if (!create) throw new Error(`Scenario ${scenario.name ?? ''} has no create() and the suite has none`);
  return create(scenario);
}

async function withAdapter<T>(
  options: TestProviderAdapterOptions,
  scenario: ProviderScenario,
  body: (adapter: ProviderAdapter) => Promise<T>,
): Promise<T> {
  const adapter = await build(options, scenario);
  try {
    return await body(adapter);
  } finally {
    await scenario.cleanup?.(adapter);
  }
}

/** Calls `execute` directly, recording what the adapter emits (also after it settled). */
async function executeDirectly(
  adapter: ProviderAdapter,
  scenario: ProviderScenario,
  control: { abortAfter?: AdapterEvent['type'] } = {},
): Promise<DirectOutcome> {
  const session = createSession({ agentId: 'conformance', context: scenario.context ?? {} });
  session.status = 'active';
  const run = {
    ...createRun({ sessionId: session.id, input: scenario.input ?? 'Say hello' }),
    status: 'running' as const,
  };
  const controller = new AbortController();
  const events: AdapterEvent[] = [];
  let settled = false;
  let eventsAfterSettle = 0;
  const transcript: Transcript = { sessionId: session.id, messages: [], metadata: {} };
  const executeOptions: ExecuteOptions = {
    signal: controller.signal,
    emit(event) {
      if (settled) eventsAfterSettle++;
      events.push(event);
      if (
        control.abortAfter !== undefined &&
        event.type === control.abortAfter &&
        !controller.signal.aborted
      ) {
        setTimeout(
          () => controller.abort(new AsmError('cancelled', 'Cancelled by the conformance suite')),
          10,
        );
      }
    },
    continuation: { mode: 'none', loadTranscript: async () => transcript },
    authorizeToolCall: async () => ({ allow: true }),
  };
  if (scenario.context?.systemPrompt !== undefined)
    executeOptions.systemPrompt = scenario.context.systemPrompt;
  const outcome: DirectOutcome = { events, eventsAfterSettle: 0 };
  try {
    outcome.result = await adapter.execute(run, session, executeOptions);
  } catch (error) {
    outcome.error = error;
  }
  settled = true;
  await new Promise((resolve) => setTimeout(resolve, 50));
  outcome.eventsAfterSettle = eventsAfterSettle;
  return outcome;
}

function expectEventOrder(events: { type: string }[], terminal: string): void {
  expect(events.length).toBeGreaterThan(0);
  expect(events[0]?.type).toBe('run_started');
  const terminals = events.filter((event) => isTerminalRunEventType(event.type));
  expect(terminals.map((event) => event.type)).toEqual([terminal]);
  expect(events.at(-1)?.type).toBe(terminal);
}

function expectAsmErrorCode(error: unknown, code: ErrorCode): void {
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  expect((error as AsmError).code).toBe(code);
}

function expectContiguous(events: StoredEvent[]): void {
  events.forEach((event, index) => {
    if (index > 0) expect(event.sequence).toBe(events[index - 1]!.sequence + 1);
  });
}

/**
 * The conformance suite every provider adapter runs: event order (`run_started` first, exactly one
 * terminal event last, nothing after it), usage reported, errors mapped to `AsmError` codes, and
 * cancellation through the abort signal, both called directly and through a `SessionManager` over
 * the in-memory store.
 */
export function testProviderAdapter(options: TestProviderAdapterOptions): void {
  const timeout = options.timeoutMs ?? 15_000;
  const { success, errors = [], cancel } = options.scenarios;

  describe(`ProviderAdapter conformance: ${options.name}`, () => {
    it(
      'declares specificationVersion v1, a name and valid capabilities',
      async () => {
        await withAdapter(options, success, async (adapter) => {
          expect(adapter.specificationVersion).toBe('v1');
          expect(typeof adapter.name).toBe('string');
          expect(adapter.name.length).toBeGreaterThan(0);
          const capabilities = adapter.capabilities();
          expect(Array.isArray(capabilities)).toBe(true);
          for (const capability of capabilities) {
            expect(typeof capability.name).toBe('string');
            expect(CAPABILITY_TYPES).toContain(capability.type);
          }
        });
      },
      timeout,
    );

    it(
      'execute - emits run_started first and run_completed last, and reports usage',
      async () => {
        await withAdapter(options, success, async (adapter) => {
          const outcome = await executeDirectly(adapter, success);
          expect(outcome.error).toBeUndefined();
          expectEventOrder(outcome.events, 'run_completed');
          expect(outcome.eventsAfterSettle).toBe(0);
          const result = outcome.result!;
          expect(typeof result.output.content).toBe('string');
          if (success.expectText !== false) expect(result.output.content.length).toBeGreaterThan(0);
          for (const key of [
            'inputTokens',
            'outputTokens',
            'cacheReadTokens',
            'cacheWriteTokens',
            'totalTokens',
          ] as const) {
            expect(typeof result.tokenUsage[key]).toBe('number');
            expect(result.tokenUsage[key]).toBeGreaterThanOrEqual(0);
          }
          if (success.expectUsage !== false) {
            expect(result.tokenUsage.inputTokens + result.tokenUsage.outputTokens).toBeGreaterThan(0);
          }
          const streamed = outcome.events.filter((event) => event.type === 'message_streamed');
          for (const event of streamed) {
            expect(['text', 'thinking', 'plan']).toContain(
              (event.data as { kind?: string } | undefined)?.kind,
            );
          }
        });
      },
      timeout,
    );

    it(
      'runOnce - persists an ordered log ending in one run_completed',
      async () => {
        await withAdapter(options, success, async (adapter) => {
          const store = createInMemoryStore();
          const manager = createSessionManager({ store, provider: adapter });
          const result = await manager.runOnce(success.input ?? 'Say hello', {
            ...(success.executeOptions ?? {}),
            ...(success.context ? { context: success.context } : {}),
          });
          const run = await manager.getRun(result.runId);
          expect(run?.status).toBe('completed');
          const events = await store.getEvents(result.sessionId, { runId: result.runId });
          expectContiguous(events);
          expect(events.at(-1)?.type).toBe('run_completed');
          expect(events.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
          expect(events.filter((event) => event.type === 'run_started')).toHaveLength(1);
          expect(result.events.map((event) => event.id)).toEqual(events.map((event) => event.id));
          await store.close();
        });
      },
      timeout,
    );

    for (const scenario of errors) {
      const label = scenario.name ?? scenario.code;
      it(
        `execute - ${label} rejects with AsmError ${scenario.code}`,
        async () => {
          await withAdapter(options, scenario, async (adapter) => {
            const outcome = await executeDirectly(adapter, scenario);
            expectAsmErrorCode(outcome.error, scenario.code);
            expect(outcome.result).toBeUndefined();
            expect(outcome.eventsAfterSettle).toBe(0);
            if (outcome.events.length > 0) {
              expect(outcome.events[0]?.type).toBe('run_started');
              const terminals = outcome.events.filter((event) => isTerminalRunEventType(event.type));
              expect(terminals.length).toBeLessThanOrEqual(1);
              if (terminals.length === 1) expect(outcome.events.at(-1)?.type).toBe('run_failed');
            }
          });
        },
        timeout,
      );

      it(
        `runOnce - ${label} fails the run with ${scenario.code} and one run_failed`,
        async () => {
          await withAdapter(options, scenario, async (adapter) => {
            const store = createInMemoryStore();
            const manager = createSessionManager({ store, provider: adapter });
            const error = await manager
              .runOnce(scenario.input ?? 'Say hello', scenario.executeOptions ?? {})
              .then(
                () => undefined,
                (caught: unknown) => caught,
              );
            expectAsmErrorCode(error, scenario.code);
            const runId = (error as AsmError).details.runId as string;
            const run = await manager.getRun(runId);
            expect(run?.status).toBe('failed');
            expect(run?.error?.code).toBe(scenario.code);
            const events = await store.getEvents(run!.sessionId, { runId });
            expect(events.at(-1)?.type).toBe('run_failed');
            expect(events.at(-1)?.data.errorCode).toBe(scenario.code);
            expect(events.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
            await store.close();
          });
        },
        timeout,
      );
    }

    if (cancel) {
      const after = cancel.after ?? 'run_started';
      it(
        `execute - an aborted signal rejects with cancelled (aborted after ${after})`,
        async () => {
          await withAdapter(options, cancel, async (adapter) => {
            const outcome = await executeDirectly(adapter, cancel, { abortAfter: after });
            expectAsmErrorCode(outcome.error, 'cancelled');
            expect(outcome.eventsAfterSettle).toBe(0);
          });
        },
        timeout,
      );

      it(
        'cancelRun - ends the run cancelled with one run_cancelled last',
        async () => {
          await withAdapter(options, cancel, async (adapter) => {
            const store = createInMemoryStore();
            const manager = createSessionManager({ store, provider: adapter });
            const session = await manager.startSession({
              ...(cancel.context ? { context: cancel.context } : {}),
            });
            const run = await manager.startRun(session.id, cancel.input ?? 'Say hello');
            let triggered = false;
            const execution = manager
              .executeRun(run.id, {
                ...(cancel.executeOptions ?? {}),
                onEvent: (event) => {
                  if (event.type === after && !triggered) {
                    triggered = true;
                    void manager.cancelRun(run.id, { reason: 'conformance' });
                  }
                },
              })
              .then(
                () => undefined,
                (caught: unknown) => caught,
              );
            const error = await execution;
            expectAsmErrorCode(error, 'cancelled');
            expect((await manager.getRun(run.id))?.status).toBe('cancelled');
            const events = await store.getEvents(session.id, { runId: run.id });
            expect(events.at(-1)?.type).toBe('run_cancelled');
            expect(events.filter((event) => isTerminalRunEventType(event.type))).toHaveLength(1);
            await store.close();
          });
        },
        timeout,
      );
    }
  });
}
