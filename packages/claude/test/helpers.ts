import {
  type AdapterEvent,
  createRun,
  createSession,
  type ExecuteOptions,
  type ExecuteResult,
  type ProviderAdapter,
  type RunInput,
  type Session,
  type ToolCall,
  type ToolDecision,
  type Transcript,
} from '@asm/core';

/** What a direct `execute` call produced. */
export interface DirectOutcome {
  events: AdapterEvent[];
  result?: ExecuteResult;
  error?: unknown;
  authorized: ToolCall[];
}

/** Options of `executeDirectly`. */
export interface DirectOptions extends Partial<Omit<ExecuteOptions, 'emit' | 'continuation' | 'signal'>> {
  input?: RunInput;
  transcript?: Transcript;
  controller?: AbortController;
  /** Aborts the run (with `reason`) when this returns true for an emitted event. */
  abortWhen?: (event: AdapterEvent, events: AdapterEvent[]) => boolean;
  abortReason?: unknown;
  decide?: (call: ToolCall) => ToolDecision;
  session?: Session;
  runId?: string;
}

/** Calls `execute` without a manager, recording every event. */
export async function executeDirectly(
  provider: ProviderAdapter,
  options: DirectOptions = {},
): Promise<DirectOutcome> {
  const session = options.session ?? { ...createSession({ agentId: 'test' }), status: 'active' as const };
  const run = {
    ...createRun({
      sessionId: session.id,
      input: options.input ?? 'Say hello',
      ...(options.runId ? { id: options.runId } : {}),
    }),
    status: 'running' as const,
  };
  const controller = options.controller ?? new AbortController();
  const events: AdapterEvent[] = [];
  const authorized: ToolCall[] = [];
  const transcript = options.transcript ?? { sessionId: session.id, messages: [], metadata: {} };
  const {
    input: _input,
    transcript: _transcript,
    controller: _controller,
    abortWhen,
    abortReason,
    decide,
    session: _session,
    runId: _runId,
    ...rest
  } = options;
  const executeOptions: ExecuteOptions = {
    authorizeToolCall: async (call) => {
      authorized.push(call);
      return decide ? decide(call) : { allow: true };
    },
    ...rest,
    signal: controller.signal,
    emit(event) {
      events.push(event);
      if (abortWhen && !controller.signal.aborted && abortWhen(event, events)) controller.abort(abortReason);
    },
    continuation: options.transcript
      ? { mode: 'replay', transcript, loadTranscript: async () => transcript }
      : { mode: 'none', loadTranscript: async () => transcript },
  };
  const outcome: DirectOutcome = { events, authorized };
  try {
    outcome.result = await provider.execute(run, session, executeOptions);
  } catch (error) {
    outcome.error = error;
  }
  return outcome;
}

/** The event types, in order. */
export const typesOf = (events: AdapterEvent[]) => events.map((event) => event.type);

/** Waits until `check` is true (polling), or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
