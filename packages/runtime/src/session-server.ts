import {
  AsmError,
  type ConcurrencyLimiter,
  createInMemoryEventBus,
  createSessionManager,
  type EventBus,
  type EventType,
  type ExecuteRunOptions,
  followSessionEvents,
  type NewSessionAttributes,
  type ProviderAdapter,
  type RunInput,
  type RunResult,
  type SessionManager,
  type SessionManagerOptions,
  type SessionStore,
  type StartRunOptions,
  type StoredEvent,
} from '@asm/core';

/** Options of one run submitted to a session server: execute options plus run attributes. */
export type SubmitRunOptions = Omit<ExecuteRunOptions, 'signal'> & Pick<StartRunOptions, 'metadata' | 'id'>;

/** Options of `createSessionServer`. */
export interface SessionServerOptions {
  /** A manager to run through; otherwise one is made from `store`, `provider` and `bus`. */
  manager?: SessionManager;
  store?: SessionStore;
  provider?: ProviderAdapter;
  /**
   * Live fan-out for subscribers when the server makes its own manager (default: an in-process bus).
   * With `manager`, the manager's own bus is used (or the store's long-poll when it has none).
   */
  bus?: EventBus;
  /** Manager options used when the server makes its own manager. */
  managerOptions?: Omit<SessionManagerOptions, 'store' | 'provider' | 'bus'>;
  /** Attach to this existing session (activated if pending or paused)… */
  sessionId?: string;
  /** …or create a new one with these attributes. */
  session?: Partial<NewSessionAttributes>;
  /** Runs in flight at once. Default 1: runs of a session execute one after the other. */
  maxConcurrentRuns?: number;
  /** Runs waiting in the queue. Default 100; past it `submitRun` rejects with `max_runs_exceeded`. */
  maxQueuedRuns?: number;
  /** Defaults for every run (per-run options win; `adapterOptions` are merged). */
  defaultRunOptions?: SubmitRunOptions;
  /** A limiter shared with other servers: a run slot is acquired before each run starts. */
  limiter?: ConcurrencyLimiter;
  /** How many finished results `awaitRun` remembers. Default 1,000. */
  maxRememberedResults?: number;
}

/** What `status()` reports. */
export interface SessionServerStatus {
  sessionId: string;
  inFlightRuns: string[];
  inFlightCount: number;
  /** Queued run ids, oldest first. */
  queuedRuns: string[];
  queuedCount: number;
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  subscribers: number;
  closed: boolean;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** First sequence to deliver (inclusive). Default 1: the whole log. */
  fromSequence?: number;
  runId?: string;
  types?: EventType[];
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** Live events buffered for a slow consumer before it falls back to reading the store. Default 1,000. */
  maxBufferedEvents?: number;
}

type Outcome = { ok: true; result: RunResult } | { ok: false; error: AsmError };

interface QueuedRun {
  runId: string;
  options: SubmitRunOptions;
}

/**
 * One session's run queue: runs execute in FIFO order, at most `maxConcurrentRuns` at a time, every
 * run persisted as pending before it waits. Created with `createSessionServer`.
 */
export class SessionServer {
  readonly sessionId: string;
  readonly manager: SessionManager;
  private readonly bus: EventBus | undefined;
  private readonly maxConcurrentRuns: number;
  private readonly maxQueuedRuns: number;
  private readonly maxRemembered: number;
  private readonly defaults: SubmitRunOptions;
  private readonly limiter: ConcurrencyLimiter | undefined;
  private readonly queue: QueuedRun[] = [];
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly waiters = new Map<string, ((outcome: Outcome) => void)[]>();
  private readonly idleWaiters = new Set<() => void>();
  private subscriberCount = 0;
  private closed = false;

  /** @internal Use `createSessionServer`. */
  constructor(
    sessionId: string,
    manager: SessionManager,
    bus: EventBus | undefined,
    options: SessionServerOptions,
  ) {
    this.sessionId = sessionId;
    this.manager = manager;
    this.bus = bus;
    this.maxConcurrentRuns = options.maxConcurrentRuns ?? 1;
    this.maxQueuedRuns = options.maxQueuedRuns ?? 100;
    this.maxRemembered = options.maxRememberedResults ?? 1_000;
    this.defaults = options.defaultRunOptions ?? {};
    this.limiter = options.limiter;
  }

  /**
   * Persists a pending run and queues it; returns its id at once. Rejects with `max_runs_exceeded`
   * when the queue is full, `invalid_operation` after `close()`.
   */
  async submitRun(input: RunInput, options: SubmitRunOptions = {}): Promise<string> {
    if (this.closed) throw new AsmError('invalid_operation', 'The session server is closed');
    if (this.queue.length >= this.maxQueuedRuns && this.inFlight.size >= this.maxConcurrentRuns) {
      throw new AsmError('max_runs_exceeded', `Maximum queued runs exceeded (${this.maxQueuedRuns})`, {
        retryable: true,
        details: { sessionId: this.sessionId, maxQueuedRuns: this.maxQueuedRuns },
      });
    }
    const run = await this.manager.startRun(this.sessionId, input, {
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(options.id === undefined ? {} : { id: options.id }),
    });
    this.queue.push({ runId: run.id, options });
    this.pump();
    return run.id;
  }

  /**
   * Waits for a run of this server to finish: resolves with its result, rejects with its error.
   * Finished results are remembered (the last `maxRememberedResults`), so awaiting late works.
   */
  awaitRun(runId: string, options: { timeoutMs?: number } = {}): Promise<RunResult> {
    const known = this.outcomes.get(runId);
    if (known) return known.ok ? Promise.resolve(known.result) : Promise.reject(known.error);
    if (!this.inFlight.has(runId) && !this.queue.some((queued) => queued.runId === runId)) {
      return Promise.reject(
        new AsmError('run_not_found', `Run ${runId} is not queued, executing or remembered by this server`, {
          details: { runId, sessionId: this.sessionId },
        }),
      );
    }
    return new Promise<RunResult>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = (outcome: Outcome) => {
        clearTimeout(timer);
        if (outcome.ok) resolve(outcome.result);
        else reject(outcome.error);
      };
      const list = this.waiters.get(runId) ?? [];
      list.push(waiter);
      this.waiters.set(runId, list);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const current = this.waiters.get(runId);
          current?.splice(current.indexOf(waiter), 1);
          reject(
            new AsmError('timeout', `Run ${runId} did not finish within ${options.timeoutMs} ms`, {
              details: { runId },
            }),
          );
        }, options.timeoutMs);
      }
    });
  }

  /** `submitRun` then `awaitRun`. */
  async executeRun(
    input: RunInput,
    options: SubmitRunOptions & { timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const runId = await this.submitRun(input, options);
    return this.awaitRun(runId, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  }

  /**
   * Cancels a run: a queued run ends `cancelled` without calling the provider; a run in flight is
   * aborted through its signal. A finished run is left as it is.
   */
  async cancelRun(runId: string, reason?: string): Promise<void> {
    const index = this.queue.findIndex((queued) => queued.runId === runId);
    if (index >= 0) {
      this.queue.splice(index, 1);
      await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
      this.settle(runId, {
        ok: false,
        error: new AsmError('cancelled', reason ?? 'Run cancelled', {
          details: { runId, status: 'cancelled' },
        }),
      });
      this.notifyIdle();
      return;
    }
    if (this.inFlight.has(runId)) {
      await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
      return;
    }
    if (this.outcomes.has(runId)) return;
    await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
  }

  /** Queue and in-flight runs, limits and subscribers. */
  status(): SessionServerStatus {
    return {
      sessionId: this.sessionId,
      inFlightRuns: [...this.inFlight.keys()],
      inFlightCount: this.inFlight.size,
      queuedRuns: this.queue.map((queued) => queued.runId),
      queuedCount: this.queue.length,
      maxConcurrentRuns: this.maxConcurrentRuns,
      maxQueuedRuns: this.maxQueuedRuns,
      subscribers: this.subscriberCount,
      closed: this.closed,
    };
  }

  /** Resolves when nothing is queued or in flight; rejects with `timeout` after `timeoutMs`. */
  drain(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      this.idleWaiters.add(done);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.idleWaiters.delete(done);
          reject(new AsmError('timeout', `Session server did not drain within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
    });
  }

  /**
   * The session's stored events from `fromSequence`, then live ones as they are stored, with no gap
   * and no duplicate at the seam. A slow consumer does not grow memory without bound: past
   * `maxBufferedEvents` it reads from the store instead. Break out of the loop or abort to stop.
   */
  subscribe(options: SubscribeOptions = {}): AsyncIterable<StoredEvent> {
    const fromSequence = options.fromSequence ?? 1;
    if (!Number.isInteger(fromSequence) || fromSequence < 0) {
      throw new AsmError('validation_error', 'fromSequence must be an integer >= 0', {
        details: { field: 'fromSequence' },
      });
    }
    const server = this;
    return {
      [Symbol.asyncIterator]() {
        server.subscriberCount++;
        const iterator = followSessionEvents(server.manager.store, server.sessionId, {
          after: Math.max(0, fromSequence - 1),
          ...(server.bus === undefined ? {} : { bus: server.bus }),
          ...(options.runId === undefined ? {} : { runId: options.runId }),
          ...(options.types === undefined ? {} : { types: options.types }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.maxBufferedEvents === undefined
            ? {}
            : { maxBufferedEvents: options.maxBufferedEvents }),
        });
        let counted = true;
        const release = () => {
          if (counted) {
            counted = false;
            server.subscriberCount--;
          }
        };
        return {
          async next() {
            const step = await iterator.next();
            if (step.done) release();
            return step;
          },
          async return() {
            release();
            await iterator.return(undefined);
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  /**
   * Stops accepting runs, cancels the queued ones, and waits for the runs in flight to finish
   * (pass `cancelInFlight: true` to cancel them too). Idempotent.
   */
  async close(options: { cancelInFlight?: boolean } = {}): Promise<void> {
    this.closed = true;
    for (const queued of [...this.queue]) await this.cancelRun(queued.runId, 'Session server closed');
    if (options.cancelInFlight) {
      for (const runId of [...this.inFlight.keys()])
        await this.manager.cancelRun(runId, { reason: 'Session server closed' });
    }
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }

  private pump(): void {
    while (this.inFlight.size < this.maxConcurrentRuns && this.queue.length > 0) {
      const next = this.queue.shift()!;
      const execution = this.execute(next).finally(() => {
        this.inFlight.delete(next.runId);
        this.pump();
        this.notifyIdle();
      });
      this.inFlight.set(next.runId, execution);
    }
  }

  private async execute(queued: QueuedRun): Promise<void> {
    const options: ExecuteRunOptions = {
      ...this.defaults,
      ...queued.options,
      ...(this.defaults.adapterOptions || queued.options.adapterOptions
        ? {
            adapterOptions: {
              ...(this.defaults.adapterOptions ?? {}),
              ...(queued.options.adapterOptions ?? {}),
            },
          }
        : {}),
    };
    let acquired = false;
    try {
      if (this.limiter) {
        await this.limiter.acquireRunSlot(this.sessionId, queued.runId);
        acquired = true;
      }
      const result = await this.manager.executeRun(queued.runId, options);
      this.settle(queued.runId, { ok: true, result });
    } catch (error) {
      const failure = AsmError.from(error);
      if (!acquired && this.limiter) {
        // The run never started: record why it did not, so it does not stay pending forever.
        await this.manager.getRun(queued.runId).then(async (run) => {
          if (run?.status === 'pending')
            await this.manager.cancelRun(queued.runId, { reason: failure.message });
        });
      }
      this.settle(queued.runId, { ok: false, error: failure });
    } finally {
      if (acquired) await this.limiter?.releaseRunSlot(queued.runId);
    }
  }

  private settle(runId: string, outcome: Outcome): void {
    this.outcomes.set(runId, outcome);
    if (this.outcomes.size > this.maxRemembered) {
      const oldest = this.outcomes.keys().next().value;
      if (oldest !== undefined) this.outcomes.delete(oldest);
    }
    const waiting = this.waiters.get(runId) ?? [];
    this.waiters.delete(runId);
    for (const waiter of waiting) waiter(outcome);
  }
}

/**
 * Starts a session server: attaches to `sessionId` (activating it when pending or paused) or creates
 * and activates a new session, and returns the server.
 */
export async function createSessionServer(options: SessionServerOptions): Promise<SessionServer> {
  const maxConcurrentRuns = options.maxConcurrentRuns ?? 1;
  if (!Number.isInteger(maxConcurrentRuns) || maxConcurrentRuns < 1) {
    throw new AsmError('validation_error', 'maxConcurrentRuns must be an integer >= 1', {
      details: { field: 'maxConcurrentRuns' },
    });
  }
  const maxQueuedRuns = options.maxQueuedRuns ?? 100;
  if (!Number.isInteger(maxQueuedRuns) || maxQueuedRuns < 0) {
    throw new AsmError('validation_error', 'maxQueuedRuns must be an integer >= 0', {
      details: { field: 'maxQueuedRuns' },
    });
  }
  let manager = options.manager;
  let bus: EventBus | undefined;
  if (manager) {
    // Readers can only listen on the bus the manager publishes to; without one they long-poll the store.
    bus = manager.bus;
  } else {
    if (!options.store || !options.provider) {
      throw new AsmError(
        'validation_error',
        'createSessionServer needs a manager, or a store and a provider',
      );
    }
    bus = options.bus ?? createInMemoryEventBus();
    manager = createSessionManager({
      ...(options.managerOptions ?? {}),
      store: options.store,
      provider: options.provider,
      bus,
    });
  }
  let sessionId: string;
  if (options.sessionId !== undefined) {
    const session = await manager.getSession(options.sessionId);
    if (!session) {
      throw new AsmError('session_not_found', `Session not found: ${options.sessionId}`, {
        details: { sessionId: options.sessionId },
      });
    }
    if (session.status === 'pending' || session.status === 'paused')
      await manager.activateSession(session.id);
    sessionId = session.id;
  } else if (options.session !== undefined) {
    const session = await manager.startSession(options.session);
    await manager.activateSession(session.id);
    sessionId = session.id;
  } else {
    throw new AsmError('validation_error', 'createSessionServer needs sessionId or session', {
      details: { field: 'sessionId' },
    });
  }
  return new SessionServer(sessionId, manager, bus, options);
}
