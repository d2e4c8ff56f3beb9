import { randomBytes } from 'node:crypto';
import {
  AsmError,
  type ConcurrencyLimiter,
  type ControlMessage,
  createInMemoryEventBus,
  createSessionManager,
  type EventBus,
  type EventType,
  type ExecuteRunOptions,
  followSessionEvents,
  isTerminalRunStatus,
  type LeaseGrant,
  type NewSessionAttributes,
  type ProviderAdapter,
  type Run,
  type RunInput,
  type RunResult,
  type SessionManager,
  type SessionManagerOptions,
  type SessionStore,
  type StartRunOptions,
  type StoredEvent,
} from '@asm/core';
import {
  advertises,
  type ControlOperation,
  type ControlState,
  checkOperation,
  errorOfRecord,
  type OperationOutcome,
  type OperationRecord,
  type OperationResult,
  type OperationStatus,
  type PausableProvider,
  readOperationHistory,
  recordOperation,
  stateOf,
} from './control-operations.js';
import {
  CONTROL,
  type MultiInstanceOptions,
  resolveMultiInstance,
  SessionCoordinator,
} from './coordination.js';
import { failInterruptedRun, LEASE_HOLDER_LOST_MESSAGE } from './recovery.js';
import { type Outcome, outcomeFromStore } from './stored-outcome.js';

/** Options of one run submitted to a session server: execute options plus run attributes. */
export type SubmitRunOptions = Omit<ExecuteRunOptions, 'signal'> & Pick<StartRunOptions, 'metadata' | 'id'>;

/** Options of `createSessionServer`. */
export interface SessionServerOptions extends MultiInstanceOptions {
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
  /** Queued run ids, oldest first (on this instance: a follower queues nothing). */
  queuedRuns: string[];
  queuedCount: number;
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  subscribers: number;
  closed: boolean;
  /** With several instances: this instance's id. */
  instanceId?: string;
  /** With several instances: whether this instance holds the session's lease (and executes its runs). */
  leaseHolder?: boolean;
  /** With several instances: the fencing token of the lease this instance holds. */
  leaseToken?: number;
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

interface QueuedRun {
  runId: string;
  /** Per-run options; `undefined` for a run submitted on another instance (read from the run). */
  options: SubmitRunOptions | undefined;
}

/** Per-run options that cannot travel to another instance (functions, live objects). */
const LOCAL_ONLY_OPTIONS = ['onEvent', 'tools', 'extensions', 'workspace'] as const;
/** Per-run options persisted on the run (`metadata.runtimeOptions`) for whichever instance executes it. */
const PORTABLE_OPTIONS = [
  'continuation',
  'continuationOptions',
  'timeoutMs',
  'toolRules',
  'maxOutputTokens',
  'permissionMode',
  'adapterOptions',
] as const;

/** The portable per-run options, JSON-safe (`Infinity` timeouts become `null`). */
function portableOptions(options: SubmitRunOptions): Record<string, unknown> {
  const portable: Record<string, unknown> = {};
  for (const key of PORTABLE_OPTIONS) {
    const value = options[key];
    if (value === undefined) continue;
    portable[key] = key === 'timeoutMs' && !Number.isFinite(value as number) ? null : value;
  }
  return portable;
}

/** The per-run options stored on a run by `portableOptions`. */
function optionsOfRun(run: Run): SubmitRunOptions {
  const stored = run.metadata.runtimeOptions;
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return {};
  const options = { ...(stored as Record<string, unknown>) };
  if (options.timeoutMs === null) options.timeoutMs = Number.POSITIVE_INFINITY;
  return options as SubmitRunOptions;
}

let lastIdMs = 0;
let idCounter = 0;

/**
 * A run id that sorts after every id this process made before (`run_` + 12 hex of milliseconds,
 * 4 hex of a counter, 16 random hex). Stores order runs by `createdAt`, then by id: with these ids,
 * runs submitted within one millisecond keep their submission order too.
 */
function monotonicRunId(): string {
  const now = Date.now();
  if (now > lastIdMs) {
    lastIdMs = now;
    idCounter = 0;
  } else if (++idCounter > 0xffff) {
    lastIdMs++;
    idCounter = 0;
  }
  const random = randomBytes(8).toString('hex');
  return `run_${lastIdMs.toString(16).padStart(12, '0')}${idCounter.toString(16).padStart(4, '0')}${random}`;
}

/**
 * One session's run queue: runs execute in FIFO order, at most `maxConcurrentRuns` at a time, every
 * run persisted as pending before it waits. Created with `createSessionServer`.
 *
 * With `lease` and `control` (several instances sharing one store), only the instance holding the
 * session's lease executes its runs; any instance can submit, await, cancel and subscribe. See the
 * package README, "Several instances".
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
  /** Multi-instance only. */
  private readonly coordinator: SessionCoordinator | undefined;
  /** Aborts a run in flight when the lease is lost (multi-instance only). */
  private readonly controllers = new Map<string, AbortController>();
  /** Wakes waiters that re-read the store (remote awaits, cancels, drains). */
  private readonly changeWaiters = new Set<() => void>();
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  /** Control operations on one run apply one at a time (per run id). */
  private readonly operationChains = new Map<string, Promise<unknown>>();

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
    const settings = resolveMultiInstance(options, sessionId);
    this.coordinator =
      settings === undefined
        ? undefined
        : new SessionCoordinator(settings, {
            becameHolder: (grant) => this.becameHolder(grant),
            lostLease: (reason) => this.lostLease(reason),
            message: (message) => this.onControlMessage(message),
            holderTick: () => void this.refreshQueue(),
            changed: () => this.notifyChange(),
          });
  }

  /** With several instances: this instance's id; otherwise `undefined`. */
  get instanceId(): string | undefined {
    return this.coordinator?.settings.instanceId;
  }

  /** With several instances: whether this instance holds the lease now. Always true for a lone server. */
  get isLeaseHolder(): boolean {
    return this.coordinator === undefined ? true : this.coordinator.isHolder;
  }

  /** @internal Joins the group of instances (called by `createSessionServer`). */
  async startCoordination(): Promise<void> {
    await this.coordinator?.start();
  }

  /**
   * Persists a pending run and queues it; returns its id at once. Rejects with `max_runs_exceeded`
   * when the queue is full, `invalid_operation` after `close()`.
   *
   * With several instances the run is queued durably (pending in the store) and the lease holder
   * executes it, wherever it was submitted; per-run options must then be JSON data (`onEvent`,
   * `tools`, `extensions` and `workspace` belong in every instance's `defaultRunOptions`).
   */
  async submitRun(input: RunInput, options: SubmitRunOptions = {}): Promise<string> {
    if (this.closed) throw new AsmError('invalid_operation', 'The session server is closed');
    if (this.coordinator) return this.submitShared(input, options);
    if (this.queue.length >= this.maxQueuedRuns && this.inFlight.size >= this.maxConcurrentRuns) {
      throw this.queueFull();
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
   * With several instances, a run executing elsewhere is awaited through the store.
   */
  awaitRun(runId: string, options: { timeoutMs?: number } = {}): Promise<RunResult> {
    const known = this.outcomes.get(runId);
    if (known) return known.ok ? Promise.resolve(known.result) : Promise.reject(known.error);
    if (!this.inFlight.has(runId) && !this.queue.some((queued) => queued.runId === runId)) {
      if (this.coordinator) return this.awaitStored(runId, options.timeoutMs);
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
   *
   * With several instances, a run queued or executing on another instance is cancelled there: the
   * request goes to the lease holder over the control bus (repeated until the run ends), and this
   * resolves once the run has ended (`timeout` after `remoteCancelTimeoutMs`).
   */
  async cancelRun(runId: string, reason?: string): Promise<void> {
    const local = this.cancelLocal(runId, reason);
    if (local) {
      await local;
      return;
    }
    if (this.outcomes.has(runId)) return;
    if (this.coordinator) {
      await this.cancelShared(runId, reason);
      return;
    }
    await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
  }

  /**
   * Interrupts a run: with a provider that advertises an `interrupt` capability (Claude Code), its own
   * graceful interrupt (the adapter turns the abort into `interrupt()`); elsewhere a cancel. A queued
   * run is cancelled without calling the provider. The run ends `cancelled`; the operation is
   * recorded (state `interrupted`). Repeating it is a no-op. Resolves with the record, rejects with
   * the recorded error. With several instances it applies on the instance executing the run.
   */
  interruptRun(runId: string, options: { reason?: string } = {}): Promise<OperationRecord> {
    return this.applyOperation(runId, 'interrupt', options.reason);
  }

  /**
   * Pauses a run in flight, where the provider advertises enabled `pause` and `resume` capabilities
   * and implements `pause(runId)` (`PausableProvider`); otherwise `capability_not_supported`
   * (recorded). Idempotent while paused; `invalid_operation` for a run that ended or is not executing.
   */
  pauseRun(runId: string): Promise<OperationRecord> {
    return this.applyOperation(runId, 'pause');
  }

  /** Resumes a paused run (see `pauseRun`); a no-op when it is not paused, `invalid_operation` once it ended. */
  resumeRun(runId: string): Promise<OperationRecord> {
    return this.applyOperation(runId, 'resume');
  }

  /**
   * Applies a control operation (`interrupt`, `cancel`, `pause`, `resume`) and records it as a
   * `control_operation` event of the session (its history survives restarts and reads the same on
   * every instance). Unlike `cancelRun`, `cancel` here is recorded.
   */
  async applyOperation(
    runId: string,
    operation: ControlOperation,
    reason?: string,
  ): Promise<OperationRecord> {
    const checked = checkOperation(operation);
    if (this.coordinator && !this.coordinator.isHolder) return this.requestOperation(runId, checked, reason);
    return this.applyHere(runId, checked, { ...(reason === undefined ? {} : { reason }) });
  }

  /** Cancels each run (recorded), in parallel; one result per run id. */
  async cancelAll(
    runIds: readonly string[],
    options: { reason?: string } = {},
  ): Promise<Record<string, OperationResult>> {
    return this.applyToAll(runIds, 'cancel', options.reason);
  }

  /** Interrupts every run of the session that is queued or executing; one result per run id. */
  async interruptSession(options: { reason?: string } = {}): Promise<Record<string, OperationResult>> {
    const open = await this.manager.store.listRuns(this.sessionId, { status: ['pending', 'running'] });
    const local = [...this.inFlight.keys(), ...this.queue.map((queued) => queued.runId)];
    const runIds = [...new Set([...open.map((run) => run.id), ...local])];
    return this.applyToAll(runIds, 'interrupt', options.reason);
  }

  /** A run's control state, last operation and history (from the session log). */
  async operationStatus(runId: string): Promise<OperationStatus> {
    const history = await readOperationHistory(this.manager.store, this.sessionId, runId);
    const status: OperationStatus = { runId, state: stateOf(history), history };
    const last = history[history.length - 1];
    if (last !== undefined) status.lastOperation = last;
    return status;
  }

  /** A run's operation history, oldest first, failures included. */
  async operationHistory(runId: string): Promise<OperationRecord[]> {
    return readOperationHistory(this.manager.store, this.sessionId, runId);
  }

  /** Queue and in-flight runs, limits and subscribers (and, with several instances, the lease). */
  status(): SessionServerStatus {
    const status: SessionServerStatus = {
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
    if (this.coordinator) {
      status.instanceId = this.coordinator.settings.instanceId;
      status.leaseHolder = this.coordinator.isHolder;
      const token = this.coordinator.currentGrant?.token;
      if (token !== undefined) status.leaseToken = token;
    }
    return status;
  }

  /**
   * Resolves when nothing is queued or in flight; rejects with `timeout` after `timeoutMs`. With
   * several instances: when the session has no pending or running run in the store.
   */
  drain(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.coordinator) return this.drainShared(options.timeoutMs);
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
   *
   * With several instances, queued runs are not cancelled: they stay pending in the store for the
   * next lease holder (their `awaitRun` callers here reject with `invalid_operation`). The lease is
   * released (and the others told) once the runs in flight ended.
   */
  async close(options: { cancelInFlight?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (this.coordinator) {
      this.coordinator.stop();
      this.handOverQueue();
    }
    for (const queued of [...this.queue]) await this.cancelRun(queued.runId, 'Session server closed');
    if (options.cancelInFlight) {
      for (const runId of [...this.inFlight.keys()])
        await this.manager.cancelRun(runId, { reason: 'Session server closed' });
    }
    await Promise.allSettled([...this.inFlight.values()]);
    await this.coordinator?.release();
    this.notifyChange();
  }

  // ---------------------------------------------------------------- one instance and shared

  private queueFull(): AsmError {
    return new AsmError('max_runs_exceeded', `Maximum queued runs exceeded (${this.maxQueuedRuns})`, {
      retryable: true,
      details: { sessionId: this.sessionId, maxQueuedRuns: this.maxQueuedRuns },
    });
  }

  /**
   * Cancels a run queued or executing here. Returns `undefined` when the run is neither (so the
   * caller looks elsewhere), otherwise a promise that settles once it is done.
   */
  private cancelLocal(runId: string, reason: string | undefined): Promise<void> | undefined {
    const index = this.queue.findIndex((queued) => queued.runId === runId);
    if (index >= 0) {
      this.queue.splice(index, 1);
      return (async () => {
        await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
        this.settle(runId, {
          ok: false,
          error: new AsmError('cancelled', reason ?? 'Run cancelled', {
            details: { runId, status: 'cancelled' },
          }),
        });
        this.notifyIdle();
      })();
    }
    if (this.inFlight.has(runId)) {
      return this.manager.cancelRun(runId, reason === undefined ? {} : { reason }).then(() => undefined);
    }
    return undefined;
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inFlight.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }

  /**
   * Starts queued runs into free slots. With several instances, the store is read first (every start
   * follows a read of the pending runs), so a run submitted earlier on another instance goes first.
   */
  private pump(): void {
    if (this.coordinator) {
      void this.refreshQueue();
      return;
    }
    this.startQueued();
  }

  private startQueued(): void {
    if (this.coordinator && !this.coordinator.canStartRuns()) return;
    while (this.inFlight.size < this.maxConcurrentRuns && this.queue.length > 0) {
      const next = this.queue.shift()!;
      const execution = this.execute(next).finally(() => {
        this.inFlight.delete(next.runId);
        this.controllers.delete(next.runId);
        this.pump();
        this.notifyIdle();
      });
      this.inFlight.set(next.runId, execution);
    }
  }

  private async execute(queued: QueuedRun): Promise<void> {
    let perRun = queued.options;
    let controller: AbortController | undefined;
    if (this.coordinator) {
      // Another instance may have cancelled it, or it was submitted elsewhere: read it first.
      const run = await this.manager.getRun(queued.runId).catch(() => undefined);
      if (run === undefined || run.status !== 'pending') {
        const outcome =
          run === undefined
            ? undefined
            : await outcomeFromStore(this.manager.store, run).catch(() => undefined);
        if (outcome) this.settle(queued.runId, outcome);
        else this.handOverWaiters(queued.runId);
        return;
      }
      perRun ??= optionsOfRun(run);
      controller = new AbortController();
      this.controllers.set(queued.runId, controller);
    }
    const runOptions = perRun ?? {};
    const options: ExecuteRunOptions = {
      ...this.defaults,
      ...runOptions,
      ...(this.defaults.adapterOptions || runOptions.adapterOptions
        ? {
            adapterOptions: {
              ...(this.defaults.adapterOptions ?? {}),
              ...(runOptions.adapterOptions ?? {}),
            },
          }
        : {}),
      ...(controller === undefined ? {} : { signal: controller.signal }),
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
    if (this.coordinator) {
      void this.coordinator.publish(CONTROL.runFinished, runId, {
        status: outcome.ok ? 'completed' : (outcome.error.details.status ?? outcome.error.code),
      });
    }
    this.notifyChange();
  }

  // ---------------------------------------------------------------- several instances

  private notifyChange(): void {
    for (const wake of [...this.changeWaiters]) wake();
  }

  /** Resolves on the next change (a control message, a tick, a settled run) or after `ms`. */
  private waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      this.changeWaiters.add(done);
    });
  }

  private get pollIntervalMs(): number {
    return this.coordinator?.settings.pollIntervalMs ?? 1_000;
  }

  private async submitShared(input: RunInput, options: SubmitRunOptions): Promise<string> {
    const coordinator = this.coordinator!;
    for (const key of LOCAL_ONLY_OPTIONS) {
      if (options[key] !== undefined) {
        throw new AsmError(
          'validation_error',
          `${key} cannot travel to the instance that executes the run; set it in defaultRunOptions on every instance${key === 'onEvent' ? ', or use subscribe()' : ''}`,
          { details: { field: key } },
        );
      }
    }
    const pending = await this.manager.store.listRuns(this.sessionId, { status: 'pending' });
    if (pending.length >= this.maxQueuedRuns) throw this.queueFull();
    const portable = portableOptions(options);
    const run = await this.manager.startRun(this.sessionId, input, {
      metadata: {
        ...(options.metadata ?? {}),
        ...(Object.keys(portable).length > 0 ? { runtimeOptions: portable } : {}),
      },
      id: options.id ?? monotonicRunId(),
    });
    if (coordinator.isHolder) {
      this.enqueue({ runId: run.id, options });
      this.pump();
    }
    await coordinator.publish(CONTROL.runSubmitted, run.id);
    return run.id;
  }

  /** Adds a run to the local queue (the next read of the store puts it in its place). */
  private enqueue(entry: QueuedRun): void {
    if (
      this.inFlight.has(entry.runId) ||
      this.outcomes.has(entry.runId) ||
      this.queue.some((queued) => queued.runId === entry.runId)
    ) {
      return;
    }
    this.queue.push(entry);
  }

  /**
   * Orders the local queue as the store orders the pending runs (FIFO across instances), adding the
   * ones submitted elsewhere. Local entries the read did not see (newer, or no longer pending) go
   * last; `execute` skips a run that is no longer pending.
   */
  private mergePending(pending: Run[]): void {
    const local = new Map(this.queue.map((queued) => [queued.runId, queued]));
    const ordered: QueuedRun[] = [];
    for (const run of pending) {
      if (this.inFlight.has(run.id) || this.outcomes.has(run.id)) continue;
      ordered.push(local.get(run.id) ?? { runId: run.id, options: undefined });
      local.delete(run.id);
    }
    this.queue.splice(0, this.queue.length, ...ordered, ...local.values());
  }

  /** Holder: loads the session's pending runs from the store into the queue (coalesced). */
  private refreshQueue(): Promise<void> {
    if (!this.coordinator?.isHolder || this.closed) return Promise.resolve();
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const pending = await this.manager.store.listRuns(this.sessionId, { status: 'pending' });
          if (!this.coordinator?.isHolder || this.closed) return;
          this.mergePending(pending);
          this.startQueued();
        } catch {
          // The store is unreachable: the next tick tries again.
        }
      } while (this.refreshAgain);
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Just took the lease: fail the runs a previous holder left `running`, then load the queue. */
  private async becameHolder(grant: LeaseGrant): Promise<void> {
    try {
      const running = await this.manager.store.listRuns(this.sessionId, { status: 'running' });
      for (const run of running) {
        if (this.inFlight.has(run.id)) continue;
        await failInterruptedRun(this.manager.store, this.bus, run, {
          message: LEASE_HOLDER_LOST_MESSAGE,
          details: { reason: 'lease_holder_lost', recoveredBy: grant.holderId, leaseToken: grant.token },
        });
        await this.coordinator?.publish(CONTROL.runFinished, run.id, { status: 'failed' });
      }
    } catch {
      // The store is unreachable: the runs are recovered by the next holder or the next acquisition.
    }
    await this.refreshQueue();
  }

  /** Lost the lease: stop executing here; queued runs stay pending for the next holder. */
  private lostLease(reason: 'lease_lost' | 'lease_unreachable'): void {
    this.handOverQueue();
    for (const controller of this.controllers.values()) {
      controller.abort(
        new AsmError('internal_error', 'Run interrupted: this instance lost the session lease', {
          details: { reason },
        }),
      );
    }
    this.notifyIdle();
  }

  /** Empties the local queue (the runs stay pending in the store); their callers wait through the store. */
  private handOverQueue(): void {
    for (const queued of this.queue.splice(0)) this.handOverWaiters(queued.runId);
  }

  /** Moves the local waiters of a run to a wait through the store. */
  private handOverWaiters(runId: string): void {
    const waiting = this.waiters.get(runId);
    if (waiting === undefined) return;
    this.waiters.delete(runId);
    this.awaitStored(runId, undefined).then(
      (result) => {
        for (const waiter of waiting) waiter({ ok: true, result });
      },
      (error: unknown) => {
        for (const waiter of waiting) waiter({ ok: false, error: AsmError.from(error) });
      },
    );
  }

  private onControlMessage(message: ControlMessage): void {
    if (!this.coordinator?.isHolder || this.closed) return;
    if (message.type === CONTROL.runSubmitted) {
      void this.refreshQueue();
    } else if (message.type === CONTROL.operationRequested && message.runId !== undefined) {
      const operation = message.data?.operation;
      const reason = typeof message.data?.reason === 'string' ? message.data.reason : undefined;
      const requestId = typeof message.data?.requestId === 'string' ? message.data.requestId : undefined;
      if (requestId !== undefined && typeof operation === 'string') {
        let checked: ControlOperation;
        try {
          checked = checkOperation(operation);
        } catch {
          return;
        }
        void this.applyHere(message.runId, checked, {
          requestId,
          requestedBy: message.from,
          ...(reason === undefined ? {} : { reason }),
        }).catch(() => undefined);
      } else if (operation === 'cancel') {
        void this.cancelAsHolder(message.runId, reason).catch(() => undefined);
      }
    }
  }

  /** Holder: cancels a run of this session wherever it is in the pipeline here. */
  private async cancelAsHolder(runId: string, reason: string | undefined): Promise<void> {
    const local = this.cancelLocal(runId, reason);
    if (local) return local;
    if (this.outcomes.has(runId)) return;
    await this.refreshQueue();
    const queued = this.cancelLocal(runId, reason);
    if (queued) return queued;
    const run = await this.manager.getRun(runId);
    if (run?.sessionId === this.sessionId && run.status === 'pending') {
      await this.manager.cancelRun(runId, reason === undefined ? {} : { reason });
      await this.coordinator?.publish(CONTROL.runFinished, runId, { status: 'cancelled' });
    }
  }

  private async applyToAll(
    runIds: readonly string[],
    operation: ControlOperation,
    reason: string | undefined,
  ): Promise<Record<string, OperationResult>> {
    const results: Record<string, OperationResult> = {};
    await Promise.all(
      runIds.map(async (runId) => {
        try {
          results[runId] = { ok: true, record: await this.applyOperation(runId, operation, reason) };
        } catch (error) {
          results[runId] = { ok: false, error: AsmError.from(error) };
        }
      }),
    );
    return results;
  }

  /**
   * Applies an operation on this instance (the lease holder, a lone server, or any instance while
   * nobody holds the lease), one at a time per run, and records it. A request id already in the
   * history is not applied again: its record is returned (or its error thrown).
   */
  private applyHere(
    runId: string,
    operation: ControlOperation,
    request: { reason?: string; requestId?: string; requestedBy?: string },
  ): Promise<OperationRecord> {
    const previous = this.operationChains.get(runId) ?? Promise.resolve();
    const next = previous.then(
      () => this.applyNow(runId, operation, request),
      () => this.applyNow(runId, operation, request),
    );
    this.operationChains.set(runId, next);
    const cleanup = () => {
      if (this.operationChains.get(runId) === next) this.operationChains.delete(runId);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  private async applyNow(
    runId: string,
    operation: ControlOperation,
    request: { reason?: string; requestId?: string; requestedBy?: string },
  ): Promise<OperationRecord> {
    const run = await this.requireOwnRun(runId);
    const history = await readOperationHistory(this.manager.store, this.sessionId, runId);
    if (request.requestId !== undefined) {
      const done = history.find((record) => record.requestId === request.requestId);
      if (done) {
        if (done.result === 'ok') return done;
        throw errorOfRecord(done);
      }
    }
    const state = stateOf(history);
    const outcome: OperationOutcome = {
      runId,
      operation,
      state,
      ...(request.reason === undefined ? {} : { reason: request.reason }),
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      ...(request.requestedBy === undefined ? {} : { requestedBy: request.requestedBy }),
      ...(this.instanceId === undefined ? {} : { appliedBy: this.instanceId }),
    };
    try {
      Object.assign(outcome, await this.perform(run, operation, state, request.reason));
    } catch (error) {
      outcome.error = AsmError.from(error);
    }
    const record = await recordOperation(this.manager.store, this.bus, this.sessionId, outcome);
    if (this.coordinator) {
      void this.coordinator.publish(CONTROL.operationApplied, runId, {
        ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      });
    }
    this.notifyChange();
    if (outcome.error) throw outcome.error;
    return record;
  }

  /** Does what an operation asks; returns the new state (and how), or throws why it could not. */
  private async perform(
    run: Run,
    operation: ControlOperation,
    state: ControlState,
    reason: string | undefined,
  ): Promise<Pick<OperationOutcome, 'state' | 'noop' | 'method'>> {
    const provider = this.manager.provider as PausableProvider;
    const ended = isTerminalRunStatus(run.status);
    if (operation === 'interrupt' || operation === 'cancel') {
      const target: ControlState = operation === 'interrupt' ? 'interrupted' : 'cancelled';
      if (state === target || ended) return { state, noop: true };
      const why = reason ?? (operation === 'interrupt' ? 'Run interrupted' : 'Run cancelled');
      if (this.queue.some((queued) => queued.runId === run.id)) {
        await this.cancelLocal(run.id, why);
        return { state: target, method: 'dequeued' };
      }
      if (this.inFlight.has(run.id)) {
        await this.manager.cancelRun(run.id, { reason: why });
        const interrupting = operation === 'interrupt' && advertises(provider, 'interrupt');
        return { state: target, method: interrupting ? 'provider_interrupt' : 'cancel' };
      }
      // Pending and not queued here yet, or (`invalid_operation`) running in another process.
      await this.manager.cancelRun(run.id, { reason: why });
      await this.coordinator?.publish(CONTROL.runFinished, run.id, { status: 'cancelled' });
      return { state: target, method: 'store' };
    }
    if (!advertises(provider, operation)) {
      throw new AsmError(
        'capability_not_supported',
        `Provider ${provider.name} does not support ${operation}`,
        {
          details: { runId: run.id, operation, provider: provider.name },
        },
      );
    }
    if (ended || state === 'cancelled' || state === 'interrupted') {
      throw new AsmError('invalid_operation', `Cannot ${operation} run ${run.id}: it has ended`, {
        details: { runId: run.id, operation, status: run.status },
      });
    }
    if (operation === 'pause' ? state === 'paused' : state !== 'paused') return { state, noop: true };
    if (!this.inFlight.has(run.id)) {
      throw new AsmError('invalid_operation', `Cannot ${operation} run ${run.id}: it is not executing`, {
        details: { runId: run.id, operation, status: run.status },
      });
    }
    const method = provider[operation];
    if (typeof method !== 'function') {
      throw new AsmError('provider_error', `Adapter does not support ${operation}`, {
        details: { runId: run.id, operation, provider: provider.name },
      });
    }
    try {
      await method.call(provider, run.id);
    } catch (error) {
      throw AsmError.from(error, 'provider_error');
    }
    return { state: operation === 'pause' ? 'paused' : 'running' };
  }

  /** A follower asks the holder to apply an operation and waits for its record in the log. */
  private async requestOperation(
    runId: string,
    operation: ControlOperation,
    reason: string | undefined,
  ): Promise<OperationRecord> {
    const coordinator = this.coordinator!;
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    const request = {
      requestId,
      requestedBy: coordinator.settings.instanceId,
      ...(reason === undefined ? {} : { reason }),
    };
    const deadline = Date.now() + coordinator.settings.remoteCancelTimeoutMs;
    for (;;) {
      const history = await readOperationHistory(this.manager.store, this.sessionId, runId);
      const done = history.find((record) => record.requestId === requestId);
      if (done) {
        if (done.result === 'ok') return done;
        throw errorOfRecord(done);
      }
      const run = await this.requireOwnRun(runId);
      if (coordinator.isHolder) return this.applyHere(runId, operation, request);
      if (
        run.status !== 'running' &&
        (await coordinator.settings.lease.holder(this.sessionId)) === undefined
      ) {
        // Nobody executes this session: a pending or finished run can be dealt with from here.
        return this.applyHere(runId, operation, request);
      }
      await coordinator.publish(CONTROL.operationRequested, runId, { operation, ...request });
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AsmError(
          'timeout',
          `The ${operation} of run ${runId} was not applied within ${coordinator.settings.remoteCancelTimeoutMs} ms`,
          {
            details: { runId, operation, requestId },
          },
        );
      }
      await this.waitForChange(Math.min(left, this.pollIntervalMs));
    }
  }

  /** A run of this session, or `run_not_found`. */
  private async requireOwnRun(runId: string): Promise<Run> {
    const run = await this.manager.getRun(runId);
    if (run === undefined || run.sessionId !== this.sessionId) {
      throw new AsmError('run_not_found', `Run ${runId} is not a run of session ${this.sessionId}`, {
        details: { runId, sessionId: this.sessionId },
      });
    }
    return run;
  }

  /** Waits for a run to finish by re-reading the store on every change and poll tick. */
  private async awaitStored(runId: string, timeoutMs: number | undefined): Promise<RunResult> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      const known = this.outcomes.get(runId);
      if (known) {
        if (known.ok) return known.result;
        throw known.error;
      }
      const outcome = await outcomeFromStore(this.manager.store, await this.requireOwnRun(runId));
      if (outcome) {
        if (outcome.ok) return outcome.result;
        throw outcome.error;
      }
      if (this.closed) {
        throw new AsmError('invalid_operation', `The session server closed before run ${runId} finished`, {
          details: { runId, sessionId: this.sessionId },
        });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AsmError('timeout', `Run ${runId} did not finish within ${timeoutMs} ms`, {
          details: { runId },
        });
      }
      await this.waitForChange(Math.min(left, this.pollIntervalMs));
    }
  }

  private async cancelShared(runId: string, reason: string | undefined): Promise<void> {
    const coordinator = this.coordinator!;
    const deadline = Date.now() + coordinator.settings.remoteCancelTimeoutMs;
    const data = { operation: 'cancel', ...(reason === undefined ? {} : { reason }) };
    for (;;) {
      const run = await this.requireOwnRun(runId);
      if (isTerminalRunStatus(run.status)) return;
      if (coordinator.isHolder) {
        await this.cancelAsHolder(runId, reason);
      } else if (
        run.status === 'pending' &&
        (await coordinator.settings.lease.holder(this.sessionId)) === undefined
      ) {
        // Nobody executes this session right now: cancel it in the store.
        await this.manager
          .cancelRun(runId, reason === undefined ? {} : { reason })
          .catch((error: unknown) => {
            if (!(AsmError.isInstance(error) && error.code === 'invalid_operation')) throw error;
          });
        await coordinator.publish(CONTROL.runFinished, runId, { status: 'cancelled' });
      } else {
        // Repeated until the run ends: the request may be lost, or reach a holder that is handing over.
        await coordinator.publish(CONTROL.operationRequested, runId, data);
      }
      const after = await this.requireOwnRun(runId);
      if (isTerminalRunStatus(after.status)) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new AsmError(
          'timeout',
          `Run ${runId} was not cancelled within ${coordinator.settings.remoteCancelTimeoutMs} ms`,
          {
            details: { runId, status: after.status },
          },
        );
      }
      await this.waitForChange(Math.min(left, this.pollIntervalMs));
    }
  }

  private async drainShared(timeoutMs: number | undefined): Promise<void> {
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
    for (;;) {
      if (this.isIdle()) {
        const open = await this.manager.store.listRuns(this.sessionId, {
          status: ['pending', 'running'],
          limit: 1,
        });
        if (open.length === 0 && this.isIdle()) return;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new AsmError('timeout', `Session server did not drain within ${timeoutMs} ms`);
      await this.waitForChange(Math.min(left, this.pollIntervalMs));
    }
  }
}

/**
 * Starts a session server: attaches to `sessionId` (activating it when pending or paused) or creates
 * and activates a new session, and returns the server. With `lease` and `control`, it joins the
 * session's group of instances (and tries the lease once) before it resolves.
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
  // Checked before anything is written.
  resolveMultiInstance(options, options.sessionId ?? 'unknown');
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
  const server = new SessionServer(sessionId, manager, bus, options);
  await server.startCoordination();
  return server;
}
