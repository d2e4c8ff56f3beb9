import {
  AsmError,
  type ConcurrencyLimiter,
  createInMemoryEventBus,
  createSessionManager,
  type EventBus,
  type ProviderAdapter,
  type Run,
  type SessionManager,
  type SessionManagerOptions,
  type SessionStore,
  supportsSessionQuery,
} from '@asm/core';
import { defaultInstanceId, type MultiInstanceOptions, resolveMultiInstance } from './coordination.js';
import { failInterruptedRun, LEASE_HOLDER_LOST_MESSAGE, PROCESS_STOPPED_MESSAGE } from './recovery.js';
import { createSessionServer, type SessionServer, type SessionServerOptions } from './session-server.js';

/**
 * Options of `createSessionRuntime`. With `lease` and `control` (and usually a shared `bus`), several
 * runtimes in several processes share the sessions of one store: see `MultiInstanceOptions`.
 */
export interface SessionRuntimeOptions extends MultiInstanceOptions {
  store: SessionStore;
  provider: ProviderAdapter;
  /** Live fan-out shared by every server (default: an in-process bus). */
  bus?: EventBus;
  /** Caps sessions (one slot per started server) and runs across every server. */
  limiter?: ConcurrencyLimiter;
  /** Options of the shared manager. */
  managerOptions?: Omit<SessionManagerOptions, 'store' | 'provider' | 'bus'>;
  /** Defaults for every server the runtime starts. */
  serverDefaults?: Pick<SessionServerOptions, 'maxConcurrentRuns' | 'maxQueuedRuns' | 'defaultRunOptions'>;
}

/** What `start` accepts: attach to a session or create one, plus per-server settings. */
export type StartServerOptions = Pick<
  SessionServerOptions,
  'sessionId' | 'session' | 'maxConcurrentRuns' | 'maxQueuedRuns' | 'defaultRunOptions'
>;

/** Result of `recoverInterruptedRuns`. */
export interface RecoveryReport {
  /** Runs found `running` and marked failed. */
  recoveredRunIds: string[];
  /** With several instances: sessions skipped because a live instance holds their lease. */
  skippedSessionIds?: string[];
}

/**
 * A registry of session servers over one store, provider, bus and limiter: starts, finds and stops
 * them by session id, and closes them all on shutdown.
 */
export class SessionRuntime {
  readonly manager: SessionManager;
  /** With several instances: this runtime's instance id (the holder id of its leases). */
  readonly instanceId: string | undefined;
  private readonly servers = new Map<string, SessionServer>();
  private readonly starting = new Map<string, Promise<SessionServer>>();
  private closed = false;

  /** @internal Use `createSessionRuntime`. */
  constructor(private readonly options: SessionRuntimeOptions & { bus: EventBus }) {
    this.manager = createSessionManager({
      ...(options.managerOptions ?? {}),
      store: options.store,
      provider: options.provider,
      bus: options.bus,
    });
    this.instanceId =
      options.lease !== undefined || options.control !== undefined
        ? (options.instanceId ?? defaultInstanceId())
        : undefined;
    // Fails fast (validation_error) on half-configured multi-instance options.
    resolveMultiInstance(
      { ...options, ...(this.instanceId === undefined ? {} : { instanceId: this.instanceId }) },
      'check',
    );
  }

  /**
   * Starts a server for a session (or returns the one already running for `sessionId`). With a
   * limiter, takes a session slot first (`max_sessions_exceeded` when none is free).
   */
  async start(options: StartServerOptions): Promise<SessionServer> {
    if (this.closed) throw new AsmError('invalid_operation', 'The session runtime is closed');
    if (options.sessionId !== undefined) {
      const existing = this.servers.get(options.sessionId) ?? (await this.starting.get(options.sessionId));
      if (existing) return existing;
    }
    const starting = this.startServer(options);
    if (options.sessionId !== undefined) this.starting.set(options.sessionId, starting);
    try {
      return await starting;
    } finally {
      if (options.sessionId !== undefined) this.starting.delete(options.sessionId);
    }
  }

  /** The running server of a session, if any. */
  get(sessionId: string): SessionServer | undefined {
    return this.servers.get(sessionId);
  }

  /** Session ids with a running server. */
  list(): string[] {
    return [...this.servers.keys()];
  }

  /** Closes one server (queued runs are cancelled) and frees its session slot. */
  async stop(sessionId: string, options: { cancelInFlight?: boolean } = {}): Promise<void> {
    const server = this.servers.get(sessionId);
    if (!server) return;
    this.servers.delete(sessionId);
    await server.close(options);
    await this.options.limiter?.releaseSessionSlot(sessionId);
  }

  /** Closes every server. The store, provider and bus stay open: they belong to the app. */
  async close(options: { cancelInFlight?: boolean } = {}): Promise<void> {
    this.closed = true;
    await Promise.all([...this.servers.keys()].map((sessionId) => this.stop(sessionId, options)));
  }

  /**
   * Crash recovery: every run left `running` by a crash is marked `failed` with `internal_error`
   * ("interrupted") and a `run_failed` event. Call it on start, before any run executes.
   *
   * With several instances (`lease`), a session whose lease a live instance holds is skipped (its
   * runs may be executing there); for any other session this runtime takes the lease for the time of
   * the recovery, so two instances never recover, or execute, the same session at once. Session
   * servers also do this for their own session whenever they take its lease.
   */
  async recoverInterruptedRuns(): Promise<RecoveryReport> {
    const store = this.options.store;
    const lease = this.options.lease;
    const recovered: string[] = [];
    const skipped: string[] = [];
    for (const [sessionId, running] of await runningRunsBySession(store)) {
      if (lease === undefined || this.instanceId === undefined) {
        for (const run of running) {
          await failInterruptedRun(store, this.options.bus, run, { message: PROCESS_STOPPED_MESSAGE });
          recovered.push(run.id);
        }
        continue;
      }
      const server = this.servers.get(sessionId);
      const held = server?.isLeaseHolder
        ? undefined
        : await lease.acquire(sessionId, this.instanceId, this.leaseTtlMs());
      if (held === undefined) {
        skipped.push(sessionId);
        continue;
      }
      try {
        for (const run of await store.listRuns(sessionId, { status: 'running' })) {
          await failInterruptedRun(store, this.options.bus, run, {
            message: LEASE_HOLDER_LOST_MESSAGE,
            details: { reason: 'lease_holder_lost', recoveredBy: this.instanceId, leaseToken: held.token },
          });
          recovered.push(run.id);
        }
      } finally {
        await lease.release(sessionId, this.instanceId).catch(() => false);
      }
    }
    return lease === undefined
      ? { recoveredRunIds: recovered }
      : { recoveredRunIds: recovered, skippedSessionIds: skipped };
  }

  private leaseTtlMs(): number {
    return this.options.leaseTtlMs ?? 15_000;
  }

  private multiInstanceOptions(): MultiInstanceOptions {
    const { lease, control, leaseTtlMs, pollIntervalMs, remoteCancelTimeoutMs } = this.options;
    if (lease === undefined && control === undefined) return {};
    return {
      ...(lease === undefined ? {} : { lease }),
      ...(control === undefined ? {} : { control }),
      ...(this.instanceId === undefined ? {} : { instanceId: this.instanceId }),
      ...(leaseTtlMs === undefined ? {} : { leaseTtlMs }),
      ...(pollIntervalMs === undefined ? {} : { pollIntervalMs }),
      ...(remoteCancelTimeoutMs === undefined ? {} : { remoteCancelTimeoutMs }),
    };
  }

  private async startServer(options: StartServerOptions): Promise<SessionServer> {
    const limiter = this.options.limiter;
    let server: SessionServer | undefined;
    let slotSessionId = options.sessionId;
    if (slotSessionId !== undefined) await limiter?.acquireSessionSlot(slotSessionId);
    try {
      server = await createSessionServer({
        ...(this.options.serverDefaults ?? {}),
        ...options,
        manager: this.manager,
        ...(limiter === undefined ? {} : { limiter }),
        ...this.multiInstanceOptions(),
      });
      if (slotSessionId === undefined) {
        slotSessionId = server.sessionId;
        await limiter?.acquireSessionSlot(slotSessionId);
      }
    } catch (error) {
      if (slotSessionId !== undefined) await limiter?.releaseSessionSlot(slotSessionId);
      await server?.close();
      throw error;
    }
    this.servers.set(server.sessionId, server);
    return server;
  }
}

/** Creates a runtime of session servers over one store and provider (see `SessionRuntimeOptions`). */
export function createSessionRuntime(options: SessionRuntimeOptions): SessionRuntime {
  return new SessionRuntime({ ...options, bus: options.bus ?? createInMemoryEventBus() });
}

/**
 * The runs left `running`, by session. A store with `SessionQuery` answers in one paged search
 * across sessions; any other store is asked session by session.
 */
async function runningRunsBySession(store: SessionStore): Promise<Map<string, Run[]>> {
  const bySession = new Map<string, Run[]>();
  if (supportsSessionQuery(store)) {
    let cursor: string | undefined;
    do {
      const page = await store.searchRuns({ status: 'running', limit: 1_000, ...(cursor ? { cursor } : {}) });
      for (const run of page.items) {
        const runs = bySession.get(run.sessionId);
        if (runs) runs.push(run);
        else bySession.set(run.sessionId, [run]);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return bySession;
  }
  for (const session of await store.listSessions()) {
    const running = await store.listRuns(session.id, { status: 'running' });
    if (running.length > 0) bySession.set(session.id, running);
  }
  return bySession;
}
