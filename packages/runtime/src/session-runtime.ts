import {
  AsmError,
  type ConcurrencyLimiter,
  createEvent,
  createInMemoryEventBus,
  createSessionManager,
  type EventBus,
  type NewEvent,
  type ProviderAdapter,
  type SessionManager,
  type SessionManagerOptions,
  type SessionStore,
  transitionRun,
} from '@asm/core';
import { createSessionServer, type SessionServer, type SessionServerOptions } from './session-server.js';

/** Options of `createSessionRuntime`. */
export interface SessionRuntimeOptions {
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
}

/**
 * A registry of session servers over one store, provider, bus and limiter: starts, finds and stops
 * them by session id, and closes them all on shutdown.
 */
export class SessionRuntime {
  readonly manager: SessionManager;
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
   * Crash recovery for a single process: every run left `running` (by a crash of this process) is
   * marked `failed` with `internal_error` "interrupted" and a `run_failed` event. Call it on start,
   * before any run executes. With several instances sharing a store, leave this to the instance that
   * holds the session's lease (a live instance's runs look `running` too).
   */
  async recoverInterruptedRuns(): Promise<RecoveryReport> {
    const store = this.options.store;
    const recovered: string[] = [];
    for (const session of await store.listSessions()) {
      for (const run of await store.listRuns(session.id, { status: 'running' })) {
        const failed = {
          ...transitionRun(run, 'failed'),
          error: {
            code: 'internal_error' as const,
            message: 'Run interrupted: the process executing it stopped',
          },
        };
        await store.saveRun(failed);
        const event = createEvent({
          type: 'run_failed',
          sessionId: session.id,
          runId: run.id,
          provider: run.provider ?? 'session_manager',
          data: {
            errorCode: 'internal_error',
            errorMessage: 'Run interrupted: the process executing it stopped',
            details: { recovered: true },
          },
        });
        const stored = await store.appendEvent(event as NewEvent);
        await this.options.bus.publish([stored]).catch(() => undefined);
        recovered.push(run.id);
      }
    }
    return { recoveredRunIds: recovered };
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

/** Creates a runtime of session servers over one store and provider. */
export function createSessionRuntime(options: SessionRuntimeOptions): SessionRuntime {
  return new SessionRuntime({ ...options, bus: options.bus ?? createInMemoryEventBus() });
}
