import {
  AsmError,
  createInMemoryStore,
  createSessionManager,
  EVENT_SCHEMA_VERSION,
  type ExecuteRunOptions,
  newEventId,
  nowIso,
  type ProviderAdapter,
  type RunInput,
  type SessionManager,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';

/** Options of `streamRun`. */
export interface StreamRunOptions {
  provider: ProviderAdapter;
  input: RunInput;
  /** Where the run is recorded. Default: a new in-memory store, closed when the stream ends. */
  store?: SessionStore;
  /** Run in this existing session instead of a new one. */
  sessionId?: string;
  agentId?: string;
  /** Options of the run (tools, continuation, timeout…); `onEvent` is still called. */
  runOptions?: Omit<ExecuteRunOptions, 'signal'>;
  /** Ends the stream (and cancels the run) after this long without an event. Default 120,000 ms. */
  idleTimeoutMs?: number;
  /** Cancels the run and ends the stream. */
  signal?: AbortSignal;
}

/**
 * One run as a stream of its stored events. It never throws: when the run fails, is cancelled, or
 * goes quiet for `idleTimeoutMs`, the last item is a synthetic `error_occurred` (not stored; its
 * `sequence` is 0 and `metadata.synthetic` is true) with `errorCode` and `errorMessage`. Breaking
 * out of the loop cancels the run.
 */
export function streamRun(options: StreamRunOptions): AsyncIterable<StoredEvent> {
  return {
    [Symbol.asyncIterator]() {
      return new RunStream(options).iterator();
    },
  };
}

class RunStream {
  private readonly buffer: StoredEvent[] = [];
  private wake: (() => void) | undefined;
  private finished = false;
  private failure: AsmError | undefined;
  private sessionId: string | undefined;
  private readonly controller = new AbortController();
  private readonly manager: SessionManager;
  private readonly ownsStore: boolean;
  private readonly store: SessionStore;
  private execution: Promise<void> | undefined;

  constructor(private readonly options: StreamRunOptions) {
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? createInMemoryStore();
    this.manager = createSessionManager({ store: this.store, provider: options.provider });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private start(): void {
    const external = this.options.signal;
    const onAbort = () => this.controller.abort(new AsmError('cancelled', 'The stream was cancelled'));
    if (external?.aborted) onAbort();
    else external?.addEventListener('abort', onAbort, { once: true });
    this.execution = this.manager
      .runOnce(this.options.input, {
        ...(this.options.runOptions ?? {}),
        ...(this.options.sessionId === undefined ? {} : { sessionId: this.options.sessionId }),
        ...(this.options.agentId === undefined ? {} : { agentId: this.options.agentId }),
        signal: this.controller.signal,
        onEvent: (event) => {
          this.sessionId = event.sessionId;
          this.buffer.push(event);
          this.notify();
          try {
            this.options.runOptions?.onEvent?.(event);
          } catch {
            // The app's listener must not break the stream.
          }
        },
      })
      .then(
        () => undefined,
        (error: unknown) => {
          this.failure = AsmError.from(error);
        },
      )
      .finally(() => {
        external?.removeEventListener('abort', onAbort);
        this.finished = true;
        this.notify();
      });
  }

  private errorEvent(error: AsmError): StoredEvent {
    return {
      id: newEventId(),
      type: 'error_occurred',
      timestamp: nowIso(),
      sessionId: this.sessionId ?? (error.details.sessionId as string | undefined) ?? '',
      ...(typeof error.details.runId === 'string' ? { runId: error.details.runId } : {}),
      data: {
        errorCode: error.code,
        errorMessage: error.message,
        ...(error.providerError ? { providerError: error.providerError } : {}),
      },
      metadata: { synthetic: true },
      schemaVersion: EVENT_SCHEMA_VERSION,
      sequence: 0,
    };
  }

  private async cleanup(): Promise<void> {
    if (!this.finished) this.controller.abort(new AsmError('cancelled', 'The stream consumer stopped'));
    await this.execution;
    if (this.ownsStore) await this.store.close();
  }

  iterator(): AsyncIterator<StoredEvent> {
    const idleTimeoutMs = this.options.idleTimeoutMs ?? 120_000;
    let done = false;
    let idleFailure: AsmError | undefined;
    return {
      next: async (): Promise<IteratorResult<StoredEvent>> => {
        if (done) return { done: true, value: undefined };
        if (!this.execution) this.start();
        while (this.buffer.length === 0 && !this.finished && !idleFailure) {
          const woke = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), idleTimeoutMs);
            this.wake = () => {
              clearTimeout(timer);
              resolve(true);
            };
          });
          if (!woke && this.buffer.length === 0 && !this.finished) {
            idleFailure = new AsmError('timeout', `stream idle timeout after ${idleTimeoutMs} ms`);
          }
        }
        const event = this.buffer.shift();
        if (event) return { done: false, value: event };
        done = true;
        const failure = idleFailure ?? this.failure;
        await this.cleanup();
        return failure ? { done: false, value: this.errorEvent(failure) } : { done: true, value: undefined };
      },
      return: async (): Promise<IteratorResult<StoredEvent>> => {
        done = true;
        if (this.execution) await this.cleanup();
        return { done: true, value: undefined };
      },
    };
  }
}
