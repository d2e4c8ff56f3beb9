import {
  type AdapterEvent,
  AsmError,
  abortError,
  type Capability,
  type ErrorCode,
  type ExecuteOptions,
  type ExecuteResult,
  normalizeProviderError,
  normalizeTokenUsage,
  type ProviderAdapter,
  type ProviderErrorKind,
  type Run,
  type Session,
  type TokenUsage,
  type ToolCall,
  type ToolDecision,
} from '@asm/core';

/** How the mock fails. */
export interface MockFailure {
  code: ErrorCode;
  message?: string;
  /** Fail after this many streamed deltas (default: after streaming all of them, before the answer completes). */
  afterDeltas?: number;
  kind?: ProviderErrorKind;
  status?: number;
}

/** Settings of `createMockProvider`. Every field can be changed later with `mock.configure()`. */
export interface MockProviderSettings {
  /** Adapter name, also the event provider. Default `mock`. */
  name?: string;
  capabilities?: Capability[];
  /** Pretend the provider can resume its own sessions (ids `mock_session_<n>`). Default false. */
  supportsNativeContinuation?: boolean;
  /** The answer. Streamed word by word unless `deltas` is set. Default `Hello from the mock provider.` */
  response?: string;
  /** Stream exactly this many deltas of `chunk` instead of the words of `response`. */
  deltas?: number;
  /** Text of each delta when `deltas` is set. Default `x`. */
  chunk?: string;
  /**
   * Pause between deltas. `0` yields to the event loop after each delta (as a network stream does);
   * undefined streams without yielding. Default undefined.
   */
  chunkDelayMs?: number;
  /** Pause before the first event. Default 0. */
  delayMs?: number;
  /** Fail with this error code (or failure description). */
  failWith?: ErrorCode | MockFailure;
  /** After `run_started`, wait until the run is aborted. */
  stall?: boolean;
  /** Ignore the abort signal (a misbehaving adapter), to test the manager's grace timeout. */
  ignoreAbort?: boolean;
  /** Extra events emitted after `run_started`, before streaming. */
  events?: AdapterEvent[];
  /** Tool calls to make (each is authorized through `authorizeToolCall` first). */
  toolCalls?: ToolCall[];
  /** Reported usage. Default: input ≈ prompt chars / 4, output ≈ answer chars / 4. */
  tokenUsage?: Partial<TokenUsage>;
  /** Model reported on `run_started`. Default `mock-model-1`. */
  model?: string;
  /** Cost the provider reports itself. */
  costUsd?: number;
  /** Settings the mock "cannot honour", reported as warnings. */
  warnings?: string[];
}

/** One recorded `execute` call. */
export interface MockProviderCall {
  run: Run;
  session: Session;
  options: ExecuteOptions;
  emitted: AdapterEvent[];
  toolDecisions: ToolDecision[];
  outcome?: 'completed' | 'failed' | 'cancelled';
}

/** A scripted provider that records its calls. */
export interface MockProvider extends ProviderAdapter {
  /** Every `execute` call, in order. */
  readonly calls: MockProviderCall[];
  /** Ids of runs that ended because their signal was aborted. */
  readonly cancelledRuns: string[];
  /** Changes settings for later calls. */
  configure(settings: Partial<MockProviderSettings>): void;
  /** Forgets recorded calls. */
  reset(): void;
}

const DEFAULT_CAPABILITIES: Capability[] = [
  { name: 'streaming', type: 'sampling' },
  { name: 'tool_use', type: 'tool' },
];

/**
 * A scripted provider for tests: streams N deltas, fails with any code, stalls until aborted,
 * makes tool calls, and records every call. It honours the same contract as real adapters
 * (`run_started` first, one terminal event last, rejects with `AsmError`), and passes
 * `testProviderAdapter`.
 */
export function createMockProvider(initial: MockProviderSettings = {}): MockProvider {
  let settings: MockProviderSettings = { ...initial };
  const calls: MockProviderCall[] = [];
  const cancelledRuns: string[] = [];
  let sessionCounter = 0;
  const name = initial.name ?? 'mock';

  async function execute(run: Run, session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const current = { ...settings };
    const call: MockProviderCall = { run, session, options, emitted: [], toolDecisions: [] };
    calls.push(call);
    const signal = current.ignoreAbort ? new AbortController().signal : options.signal;
    const emit = (event: AdapterEvent) => {
      call.emitted.push(event);
      options.emit(event);
    };
    const checkAbort = () => {
      if (signal.aborted) {
        cancelledRuns.push(run.id);
        call.outcome = 'cancelled';
        emit({ type: 'run_cancelled', data: { reason: 'aborted' } });
        throw abortError(signal);
      }
    };

    if (current.delayMs) await wait(current.delayMs, signal);
    checkAbort();

    const model = current.model ?? 'mock-model-1';
    const providerSessionId =
      options.continuation.mode === 'native' && options.continuation.providerSessionId
        ? options.continuation.providerSessionId
        : current.supportsNativeContinuation
          ? `mock_session_${++sessionCounter}`
          : undefined;
    emit({
      type: 'run_started',
      data: {
        model,
        ...(providerSessionId ? { providerSessionId } : {}),
        ...(current.warnings?.length ? { warnings: current.warnings } : {}),
      },
    });

    for (const event of current.events ?? []) {
      checkAbort();
      emit(event);
    }

    for (const toolCall of current.toolCalls ?? []) {
      checkAbort();
      emit({
        type: 'tool_call_started',
        data: { toolCallId: toolCall.id, toolName: toolCall.name, toolInput: toolCall.input },
      });
      const decision = await options.authorizeToolCall(toolCall, { signal });
      call.toolDecisions.push(decision);
      checkAbort();
      if (decision.allow) {
        emit({
          type: 'tool_call_completed',
          data: {
            toolCallId: toolCall.id,
            toolName: toolCall.name,
            toolInput: decision.input ?? toolCall.input,
            toolOutput: { ok: true },
          },
        });
      } else {
        emit({
          type: 'tool_call_failed',
          data: {
            toolCallId: toolCall.id,
            toolName: toolCall.name,
            toolInput: toolCall.input,
            errorMessage: decision.reason,
          },
        });
      }
    }

    const failure = normalizeFailure(current.failWith);
    const pieces = deltasOf(current);
    let content = '';
    for (let index = 0; index < pieces.length; index++) {
      if (failure?.afterDeltas !== undefined && index === failure.afterDeltas) fail(failure);
      checkAbort();
      const delta = pieces[index]!;
      content += delta;
      emit({ type: 'message_streamed', data: { kind: 'text', delta } });
      if (current.chunkDelayMs !== undefined) {
        if (current.chunkDelayMs > 0) await wait(current.chunkDelayMs, signal);
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }

    if (current.stall) {
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      checkAbort();
    }
    if (failure) fail(failure);
    checkAbort();

    const promptChars = JSON.stringify(run.input ?? '').length;
    const tokenUsage = normalizeTokenUsage(
      current.tokenUsage ?? {
        inputTokens: Math.ceil(promptChars / 4),
        outputTokens: Math.ceil(content.length / 4),
      },
    );
    emit({ type: 'message_received', data: { role: 'assistant', content } });
    emit({ type: 'token_usage_updated', data: { ...tokenUsage } });
    emit({ type: 'run_completed', data: { stopReason: 'end_turn' } });
    call.outcome = 'completed';
    const result: ExecuteResult = { output: { content, stopReason: 'end_turn' }, tokenUsage, model };
    if (providerSessionId) result.providerSessionId = providerSessionId;
    if (current.costUsd !== undefined) result.costUsd = current.costUsd;
    if (current.warnings?.length) result.warnings = current.warnings;
    return result;

    function fail(failure: MockFailure): never {
      const message = failure.message ?? `Mock failure: ${failure.code}`;
      const providerError = normalizeProviderError(name, {
        kind: failure.kind ?? 'unknown',
        message,
        ...(failure.status === undefined ? {} : { status: failure.status }),
      });
      call.outcome = 'failed';
      emit({
        type: 'error_occurred',
        data: { errorCode: failure.code, errorMessage: message, providerError },
      });
      emit({ type: 'run_failed', data: { errorCode: failure.code, errorMessage: message, providerError } });
      throw new AsmError(failure.code, message, { providerError });
    }
  }

  const provider: MockProvider = {
    specificationVersion: 'v1',
    name,
    get supportsNativeContinuation() {
      return settings.supportsNativeContinuation === true;
    },
    capabilities: () => [...(settings.capabilities ?? DEFAULT_CAPABILITIES)],
    execute,
    calls,
    cancelledRuns,
    configure(next) {
      settings = { ...settings, ...next };
    },
    reset() {
      calls.length = 0;
      cancelledRuns.length = 0;
    },
  };
  return provider;
}

function normalizeFailure(failWith: MockProviderSettings['failWith']): MockFailure | undefined {
  if (failWith === undefined) return undefined;
  return typeof failWith === 'string' ? { code: failWith } : failWith;
}

function deltasOf(settings: MockProviderSettings): string[] {
  if (settings.deltas !== undefined) return new Array<string>(settings.deltas).fill(settings.chunk ?? 'x');
  const response = settings.response ?? 'Hello from the mock provider.';
  return response.match(/\S+\s*/g) ?? [];
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
