import { type CapabilityType, negotiateCapabilities } from './capabilities.js';
import { type AsmConfig, resolveConfig } from './config.js';
import { calculateCost, DEFAULT_PRICING_TABLE, type PricingTable } from './cost.js';
import { AsmError, normalizeProviderError, truncateText } from './errors.js';
import {
  createEvent,
  EVENT_SCHEMA_VERSION,
  type EventData,
  type EventType,
  isEventType,
  isTerminalRunEventType,
  type NewEvent,
  type StoredEvent,
  type TerminalRunEventType,
  toStoredEvent,
  validateNewEvent,
} from './event.js';
import { EventWriter } from './event-writer.js';
import type { ExtensionToolDecision, RunExtension, RunExtensionContext } from './extensions.js';
import { type FollowEventsOptions, followSessionEvents } from './follow-events.js';
import { newEventId, nowIso } from './ids.js';
import { ownedAppendOf } from './owned-append.js';
import type { EventBus } from './ports/event-bus.js';
import {
  type AdapterEvent,
  assertProviderAdapter,
  type ExecuteContinuation,
  type ExecuteOptions,
  type ExecuteResult,
  type ProviderAdapter,
} from './ports/provider-adapter.js';
import { assertSessionStore, type EventQuery, type SessionStore } from './ports/session-store.js';
import { createRedactor, type RedactionOptions, type Redactor } from './redaction.js';
import {
  createRun,
  type InputMessage,
  isTerminalRunStatus,
  type Run,
  type RunError,
  type RunInput,
  type RunOutput,
  type RunStatus,
  transitionRun,
} from './run.js';
import {
  createSession,
  type NewSessionAttributes,
  type ProviderSessionRecord,
  type Session,
  type SessionStatus,
  transitionSession,
} from './session.js';
import { channels } from './telemetry.js';
import { addTokenUsage, emptyTokenUsage, normalizeTokenUsage, type TokenUsage } from './token-usage.js';
import {
  isToolAllowed,
  type PermissionMode,
  type Tool,
  type ToolCall,
  type ToolDecision,
  type ToolRules,
} from './tools.js';
import { buildTranscript, type Transcript, type TranscriptOptions } from './transcript.js';

/** How `executeRun` continues a session's conversation. See `ExecuteContinuation`. */
export type ContinuationOption = false | 'auto' | 'replay' | 'native';

/** Options of `createSessionManager`. */
export interface SessionManagerOptions {
  store: SessionStore;
  provider: ProviderAdapter;
  /** Prices used for `costUsd` when the provider reports none. Default: `DEFAULT_PRICING_TABLE`. */
  pricingTable?: PricingTable;
  /** Extensions applied to every run (policy, workspace snapshots), before per-run ones. */
  extensions?: RunExtension[];
  /** Configuration overrides for this manager (over `configure()` and the defaults). */
  config?: Partial<AsmConfig>;
  /**
   * Publishes every stored event to this bus (after it is stored), so readers in other processes
   * receive it live; `streamSessionEvents` and approval waits also listen on it.
   */
  bus?: EventBus;
  /**
   * Secret redaction before anything is persisted or published (on by default; the 22 default
   * patterns). `false` turns it off. Run input, output and errors are redacted at rest too, so an
   * adapter executing a stored run sees the redacted input.
   */
  redaction?: RedactionOptions | false;
}

/** Attributes of `startSession`; `agentId` defaults to the provider name. */
export type StartSessionOptions = Omit<NewSessionAttributes, 'agentId'> & { agentId?: string };

/** Options of `startRun`. */
export interface StartRunOptions {
  id?: string;
  metadata?: Record<string, unknown>;
  /** Capability types the provider must have; otherwise `missing_required_capability` and no run. */
  requiredCapabilities?: CapabilityType[];
  /** Capability types that are nice to have; missing ones become warnings on the run. */
  optionalCapabilities?: CapabilityType[];
  /** Allow a run in a `completed` session, which becomes `active` again. */
  reopen?: boolean;
}

/** Options of `executeRun`. */
export interface ExecuteRunOptions {
  /** Cancels the run when aborted (like `cancelRun`). */
  signal?: AbortSignal;
  /** Called with every stored event of the run, in sequence order, with its sequence number. */
  onEvent?: (event: StoredEvent) => void;
  /** Default `'auto'`: native resume when recorded for this provider, otherwise transcript replay. */
  continuation?: ContinuationOption;
  /** Limits of the replayed transcript. */
  continuationOptions?: TranscriptOptions;
  /** Longest time the run may take; default `executeTimeoutMs` (60 s). `Infinity` means 7 days. */
  timeoutMs?: number;
  /** Tools offered to the model for this run. */
  tools?: Tool[];
  /** Tool allow and deny rules for this run; deny wins. Checked before any tool runs. */
  toolRules?: ToolRules;
  maxOutputTokens?: number;
  permissionMode?: PermissionMode;
  /** Extensions for this run only, after the manager's own. */
  extensions?: RunExtension[];
  /**
   * Workspace snapshots around the run: pass `createWorkspaceExtension({ path, … })` from
   * `@asm/workspace` (core does not import it). It runs after the other extensions.
   */
  workspace?: RunExtension;
  /** Passed to the adapter as they are. */
  adapterOptions?: Record<string, unknown>;
}

/** What a successful run produced. */
export interface RunResult {
  runId: string;
  sessionId: string;
  status: 'completed';
  /** The concrete provider that ran it. */
  provider: string;
  output: RunOutput;
  tokenUsage: TokenUsage;
  /** From the provider when it reports cost, else from the pricing table; undefined when unknown. */
  costUsd?: number;
  providerSessionId?: string;
  model?: string;
  durationMs: number;
  /** Every stored event of the run, in order. */
  events: StoredEvent[];
  /** Settings the provider could not honour, capability warnings. */
  warnings: string[];
  metadata: Record<string, unknown>;
}

/** Options of `runOnce`: a session's attributes, a run's, and the execute options. */
export interface RunOnceOptions extends ExecuteRunOptions, StartRunOptions {
  /** Run in this existing session (left active afterwards) instead of a new one. */
  sessionId?: string;
  agentId?: string;
  sessionMetadata?: Record<string, unknown>;
  context?: NewSessionAttributes['context'];
  tags?: string[];
}

/** Options of `approveToolCall`. */
export interface ApproveToolCallOptions {
  /** Replaces the tool input. */
  input?: unknown;
  approvedBy?: string;
}

/** Options of `denyToolCall`. */
export interface DenyToolCallOptions {
  reason?: string;
  deniedBy?: string;
}

interface InFlightRun {
  controller: AbortController;
  done: Promise<unknown>;
}

const MANAGER_PROVIDER = 'session_manager';

/**
 * Orchestrates sessions and runs over a store and a provider: lifecycles with enforced state
 * machines, ordered durable event logs, continuation, cost, cancellation and timeouts.
 */
export class SessionManager {
  readonly store: SessionStore;
  readonly provider: ProviderAdapter;
  /** The bus stored events are published to, if any. */
  readonly bus: EventBus | undefined;
  private readonly pricingTable: PricingTable;
  private readonly extensions: RunExtension[];
  private readonly configOverrides: Partial<AsmConfig>;
  private readonly inFlight = new Map<string, InFlightRun>();
  private readonly redactor: Redactor;

  constructor(options: SessionManagerOptions) {
    assertSessionStore(options?.store);
    assertProviderAdapter(options.provider);
    options.provider.validateConfig?.();
    this.store = options.store;
    this.provider = options.provider;
    this.bus = options.bus;
    this.pricingTable = options.pricingTable ?? DEFAULT_PRICING_TABLE;
    this.extensions = [...(options.extensions ?? [])];
    this.configOverrides = { ...(options.config ?? {}) };
    const config = resolveConfig(this.configOverrides);
    this.redactor = createRedactor({
      enabled: config.redactionEnabled,
      replacement: config.redactionReplacement,
      deepScan: config.redactionDeepScan,
      scanMetadata: config.redactionScanMetadata,
      ...(options.redaction === false ? { enabled: false } : (options.redaction ?? {})),
    });
  }

  private config(): AsmConfig {
    return resolveConfig(this.configOverrides);
  }

  // ---------------------------------------------------------------- sessions

  /** Creates a pending session and writes `session_created`. */
  async startSession(attributes: StartSessionOptions = {}): Promise<Session> {
    const session = createSession({
      ...attributes,
      agentId: attributes.agentId ?? this.provider.name,
      metadata: { ...(attributes.metadata ?? {}), provider: this.provider.name },
    });
    await this.storeCall('saveSession', () => this.store.saveSession(session));
    await this.appendLifecycle(session, 'session_created', { provider: this.provider.name });
    return session;
  }

  /** The session, or `undefined`. */
  getSession(sessionId: string): Promise<Session | undefined> {
    return this.storeCall('getSession', () => this.store.getSession(sessionId));
  }

  /**
   * Makes a session active: `pending → active` writes `session_started`, `paused → active` writes
   * `session_resumed`, `completed → active` needs `reopen`. Activating an active session is a no-op.
   */
  async activateSession(sessionId: string, options: { reopen?: boolean } = {}): Promise<Session> {
    const session = await this.requireSession(sessionId);
    if (session.status === 'active') return session;
    const type: EventType = session.status === 'paused' ? 'session_resumed' : 'session_started';
    return this.moveSession(session, 'active', type, options.reopen ? { reopened: true } : {}, options);
  }

  /** `active → paused`, writes `session_paused`. */
  async pauseSession(sessionId: string): Promise<Session> {
    const session = await this.requireSession(sessionId);
    return this.moveSession(session, 'paused', 'session_paused', {});
  }

  /** `paused → active`, writes `session_resumed`. */
  async resumeSession(sessionId: string): Promise<Session> {
    const session = await this.requireSession(sessionId);
    if (session.status === 'active') return session;
    return this.moveSession(session, 'active', 'session_resumed', {});
  }

  /** Ends the session as `completed`, writes `session_completed`. */
  async completeSession(sessionId: string): Promise<Session> {
    const session = await this.requireSession(sessionId);
    return this.moveSession(session, 'completed', 'session_completed', {});
  }

  /** Ends the session as `failed` with the error, writes `session_failed`. */
  async failSession(sessionId: string, error: unknown): Promise<Session> {
    const session = await this.requireSession(sessionId);
    const failure = AsmError.from(error);
    return this.moveSession(session, 'failed', 'session_failed', errorEventData(failure));
  }

  /**
   * Ends the session as `cancelled`: cancels its runs executing here and its pending runs, then
   * writes `session_cancelled`.
   */
  async cancelSession(sessionId: string, reason?: string): Promise<Session> {
    await this.requireSession(sessionId);
    const runs = await this.storeCall('listRuns', () => this.store.listRuns(sessionId));
    for (const run of runs) {
      if (run.status === 'pending' || this.inFlight.has(run.id)) {
        await this.cancelRun(run.id, reason === undefined ? {} : { reason });
      }
    }
    const session = await this.requireSession(sessionId);
    return this.moveSession(
      session,
      'cancelled',
      'session_cancelled',
      reason === undefined ? {} : { reason },
    );
  }

  // ---------------------------------------------------------------- runs

  /**
   * Creates a pending run in a session. A pending session is activated first. With capability
   * lists, the provider's capabilities are negotiated first: a missing required type is
   * `missing_required_capability` and no run is created.
   */
  async startRun(sessionId: string, input: RunInput, options: StartRunOptions = {}): Promise<Run> {
    let session = await this.requireSession(sessionId);
    let warnings: string[] = [];
    if (options.requiredCapabilities?.length || options.optionalCapabilities?.length) {
      const negotiation = negotiateCapabilities(this.provider.capabilities(), {
        required: options.requiredCapabilities ?? [],
        optional: options.optionalCapabilities ?? [],
      });
      warnings = negotiation.warnings;
    }
    if (session.status === 'pending' || (session.status === 'completed' && options.reopen)) {
      session = await this.activateSession(sessionId, { reopen: options.reopen === true });
    }
    if (session.status !== 'active') {
      throw new AsmError(
        'invalid_transition',
        `Cannot start a run in a ${session.status} session${session.status === 'completed' ? ' (pass reopen: true)' : ''}`,
        { details: { sessionId, status: session.status } },
      );
    }
    const metadata = { ...(options.metadata ?? {}) };
    if (warnings.length > 0) metadata.capabilityWarnings = warnings;
    const run = createRun({
      sessionId,
      input: this.redactor.redactValue(input).value,
      metadata,
      ...(options.id === undefined ? {} : { id: options.id }),
    });
    await this.storeCall('saveRun', () => this.store.saveRun(run));
    return run;
  }

  /** The run, or `undefined`. */
  getRun(runId: string): Promise<Run | undefined> {
    return this.storeCall('getRun', () => this.store.getRun(runId));
  }

  /** Runs of a session, oldest first. */
  listRuns(sessionId: string): Promise<Run[]> {
    return this.storeCall('listRuns', () => this.store.listRuns(sessionId));
  }

  /**
   * Executes a pending run: marks it running, persists its input as `message_sent`, calls the
   * provider, persists every event it emits in order (batched), writes exactly one terminal event
   * that agrees with the final status, and stores output, usage and cost on the run.
   *
   * Resolves with the result when the run completed; rejects with an `AsmError` otherwise (code
   * `cancelled`, `timeout`, the provider's error, …; `details.runId` and `details.status` say which
   * run and how it ended). Either way, every event the run emitted is stored when it settles.
   */
  async executeRun(runId: string, options: ExecuteRunOptions = {}): Promise<RunResult> {
    if (this.inFlight.has(runId)) {
      throw new AsmError('invalid_transition', `Run ${runId} is already executing`, { details: { runId } });
    }
    const controller = new AbortController();
    let settle!: (value: unknown) => void;
    const done = new Promise((resolve) => {
      settle = resolve;
    });
    this.inFlight.set(runId, { controller, done });
    try {
      return await this.execute(runId, controller, options);
    } finally {
      this.inFlight.delete(runId);
      settle(undefined);
    }
  }

  /**
   * Cancels a run. A pending run ends `cancelled` without calling the provider; a run executing in
   * this manager is aborted through its signal and this resolves once it has settled. A finished run
   * is returned as it is. A run `running` in another process cannot be reached from here
   * (`invalid_operation`).
   */
  async cancelRun(runId: string, options: { reason?: string } = {}): Promise<Run> {
    const inFlight = this.inFlight.get(runId);
    if (inFlight) {
      inFlight.controller.abort(new AsmError('cancelled', options.reason ?? 'Run was cancelled'));
      await inFlight.done;
      return this.requireRun(runId);
    }
    const run = await this.requireRun(runId);
    if (isTerminalRunStatus(run.status)) return run;
    if (run.status === 'running') {
      throw new AsmError('invalid_operation', `Run ${runId} is executing in another process`, {
        details: { runId },
      });
    }
    const cancelled = transitionRun(run, 'cancelled');
    await this.storeCall('saveRun', () => this.store.saveRun(cancelled));
    const session = await this.requireSession(run.sessionId);
    await this.appendLifecycle(
      session,
      'run_cancelled',
      options.reason ? { reason: options.reason } : {},
      runId,
    );
    return cancelled;
  }

  /**
   * Runs a prompt end to end: a new session (or `sessionId`), a run, execution, and completion of the
   * session it created. When the run fails the created session is marked failed (cancelled when the
   * run was cancelled) and the error is rethrown.
   */
  async runOnce(input: RunInput, options: RunOnceOptions = {}): Promise<RunResult> {
    const runOptions: StartRunOptions = {
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(options.requiredCapabilities === undefined
        ? {}
        : { requiredCapabilities: options.requiredCapabilities }),
      ...(options.optionalCapabilities === undefined
        ? {}
        : { optionalCapabilities: options.optionalCapabilities }),
      ...(options.reopen === undefined ? {} : { reopen: options.reopen }),
    };
    if (options.sessionId !== undefined) {
      const run = await this.startRun(options.sessionId, input, runOptions);
      return this.executeRun(run.id, options);
    }
    const session = await this.startSession({
      ...(options.agentId === undefined ? {} : { agentId: options.agentId }),
      ...(options.sessionMetadata === undefined ? {} : { metadata: options.sessionMetadata }),
      ...(options.context === undefined ? {} : { context: options.context }),
      ...(options.tags === undefined ? {} : { tags: options.tags }),
    });
    try {
      await this.activateSession(session.id);
      const run = await this.startRun(session.id, input, runOptions);
      const result = await this.executeRun(run.id, options);
      await this.completeSession(session.id);
      return result;
    } catch (error) {
      const failure = AsmError.from(error);
      try {
        if (failure.code === 'cancelled') await this.cancelSession(session.id, failure.message);
        else await this.failSession(session.id, failure);
      } catch {
        // The store may be the reason the run failed; the run's own error is the one to report.
      }
      throw failure;
    }
  }

  // ---------------------------------------------------------------- approvals

  /** Grants a pending tool approval: writes `tool_approval_granted`; the waiting run goes on. */
  async approveToolCall(
    runId: string,
    toolCallId: string,
    options: ApproveToolCallOptions = {},
  ): Promise<void> {
    const run = await this.requireRun(runId);
    const session = await this.requireSession(run.sessionId);
    const data: EventData<'tool_approval_granted'> = { toolCallId };
    if (options.input !== undefined) data.input = options.input;
    if (options.approvedBy !== undefined) data.approvedBy = options.approvedBy;
    await this.appendLifecycle(session, 'tool_approval_granted', data, runId);
  }

  /** Denies a pending tool approval: writes `tool_approval_denied`; the tool does not run. */
  async denyToolCall(runId: string, toolCallId: string, options: DenyToolCallOptions = {}): Promise<void> {
    const run = await this.requireRun(runId);
    const session = await this.requireSession(run.sessionId);
    const data: EventData<'tool_approval_denied'> = { toolCallId };
    if (options.reason !== undefined) data.reason = options.reason;
    if (options.deniedBy !== undefined) data.deniedBy = options.deniedBy;
    await this.appendLifecycle(session, 'tool_approval_denied', data, runId);
  }

  // ---------------------------------------------------------------- events

  /** Events of a session matching a cursor query, in sequence order. */
  getSessionEvents(sessionId: string, query: EventQuery = {}): Promise<StoredEvent[]> {
    return this.storeCall('getEvents', () => this.store.getEvents(sessionId, query));
  }

  /**
   * Follows a session's events from a cursor: backfill, then live (long-poll where the store supports
   * it, polling otherwise). Break out of the loop or abort the signal to stop.
   */
  streamSessionEvents(sessionId: string, options: FollowEventsOptions = {}): AsyncIterable<StoredEvent> {
    const config = this.config();
    return followSessionEvents(this.store, sessionId, {
      pollIntervalMs: config.eventStreamPollIntervalMs,
      pageSize: config.defaultEventQueryLimit,
      ...(this.bus === undefined ? {} : { bus: this.bus }),
      ...options,
    });
  }

  // ---------------------------------------------------------------- internals

  private async execute(
    runId: string,
    controller: AbortController,
    options: ExecuteRunOptions,
  ): Promise<RunResult> {
    const config = this.config();
    const startedAt = performance.now();
    let run = await this.requireRun(runId);
    let session = await this.requireSession(run.sessionId);
    if (run.status !== 'pending') {
      throw new AsmError('invalid_transition', `Run ${runId} cannot go from ${run.status} to running`, {
        details: { runId, from: run.status, to: 'running' },
      });
    }
    if (session.status !== 'active') {
      throw new AsmError('invalid_transition', `Cannot execute a run in a ${session.status} session`, {
        details: { runId, sessionId: session.id, status: session.status },
      });
    }
    const timeoutMs = resolveTimeout(options.timeoutMs, config);
    const continuationMode = options.continuation ?? 'auto';
    validateContinuation(continuationMode);

    run = transitionRun(run, 'running');
    run.provider = this.provider.name;
    await this.storeCall('saveRun', () => this.store.saveRun(run));
    if (channels.runStart.hasSubscribers) {
      channels.runStart.publish({ runId, sessionId: session.id, provider: this.provider.name });
    }

    // Abort wiring: external signal, timeout, extensions, store failures all abort one controller.
    const signal = controller.signal;
    const abort = (error: AsmError) => {
      if (!signal.aborted) controller.abort(error);
    };
    const onExternalAbort = () =>
      abort(
        AsmError.isInstance(options.signal?.reason)
          ? options.signal.reason
          : new AsmError('cancelled', 'Run was cancelled'),
      );
    if (options.signal?.aborted) onExternalAbort();
    else options.signal?.addEventListener('abort', onExternalAbort, { once: true });
    const timer = setTimeout(
      () => abort(new AsmError('timeout', `Run timed out after ${timeoutMs} ms`, { details: { timeoutMs } })),
      timeoutMs,
    );

    const extensions = [
      ...this.extensions,
      ...(options.extensions ?? []),
      ...(options.workspace ? [options.workspace] : []),
    ];
    const correlationId =
      typeof session.metadata.correlationId === 'string' ? session.metadata.correlationId : undefined;
    const storedEvents: StoredEvent[] = [];
    const warnings: string[] = Array.isArray(run.metadata.capabilityWarnings)
      ? [...(run.metadata.capabilityWarnings as string[])]
      : [];
    let settled = false;
    let finalized = false;
    let sawRunStarted = false;
    let heldTerminal: AdapterEvent | undefined;
    let harvestedModel: string | undefined;
    // The provider that reported `harvestedModel`: after a failover the failed attempt's model is not the run's.
    let harvestedModelFrom: string | undefined;
    let harvestedProviderSessionId: string | undefined;
    let harvestedFrom: string | undefined;
    let concreteProvider = this.provider.name;
    let lastUsage: TokenUsage | undefined;

    const extensionContext: RunExtensionContext = {
      run,
      session,
      signal,
      abort,
      emit: (event) => enqueue(event, MANAGER_PROVIDER, false),
    };

    const onEvent = options.onEvent;
    const onEventExtensions = extensions.filter((extension) => extension.onEvent !== undefined);
    const onStored = (events: StoredEvent[]): void => {
      this.publish(events);
      if (onEventExtensions.length === 0 && onEvent === undefined) {
        for (let index = 0; index < events.length; index++) storedEvents.push(events[index]!);
        return;
      }
      for (const event of events) {
        storedEvents.push(event);
        for (const extension of onEventExtensions) {
          try {
            extension.onEvent!(event, extensionContext);
          } catch (error) {
            abort(AsmError.from(error, 'internal_error', `Extension ${extension.name} failed in onEvent`));
          }
        }
        if (onEvent) {
          try {
            const original = unredacted?.get(event.id);
            if (original !== undefined) unredacted?.delete(event.id);
            onEvent(original === undefined ? event : ({ ...event, ...original } as StoredEvent));
          } catch {
            // A throwing listener must not break persistence or the run.
          }
        }
      }
    };
    // Stores that append in memory take the events the manager built as they are (no copy, no
    // re-validation, no promise per batch); `supplied` lists the events carrying an adapter's id (or
    // an invalid adapter field), which such a store still validates and looks up.
    const ownedAppend = ownedAppendOf(this.store);
    let supplied: Set<NewEvent> | undefined;
    const writer = new EventWriter(
      this.store,
      config.eventWriteBatchSize,
      onStored,
      (error) => abort(error),
      config.eventWriteLingerMs,
      ownedAppend === undefined ? undefined : (events) => ownedAppend(events, supplied),
      ownedAppend === undefined && this.store.orderedConcurrentAppends === true
        ? config.eventWritePipelineDepth
        : 1,
    );

    const unredacted =
      this.redactor.enabled && this.redactor.unredactedOnEvent && options.onEvent
        ? new Map<string, { data: Record<string, unknown>; metadata: Record<string, unknown> }>()
        : undefined;
    const redactor = this.redactor;
    const sessionId = session.id;
    const toNewEvent = (event: AdapterEvent, provider: string): NewEvent => {
      const data = (event.data ?? {}) as Record<string, unknown>;
      const metadata = event.metadata ?? {};
      const redactedData = redactor.redactEventData(event.type, data);
      const redactedMetadata = redactor.redactEventMetadata(metadata);
      let built: NewEvent;
      if (ownedAppend === undefined) {
        built = {
          id: event.id ?? newEventId(),
          type: event.type,
          timestamp: event.timestamp ?? nowIso(),
          sessionId,
          runId,
          data: redactedData,
          metadata: redactedMetadata,
          schemaVersion: EVENT_SCHEMA_VERSION,
          provider: event.provider ?? provider,
        } as NewEvent;
      } else {
        // Built in the field order of a stored event, with its `sequence` slot: the store adopts it.
        built = {
          id: event.id ?? newEventId(),
          type: event.type,
          timestamp: event.timestamp ?? nowIso(),
          sessionId,
          data: redactedData,
          metadata: redactedMetadata,
          schemaVersion: EVENT_SCHEMA_VERSION,
          sequence: 0,
          runId,
          provider: event.provider ?? provider,
        } as StoredEvent;
        // An adapter's id may already be stored: the store looks it up. An adapter's timestamp or
        // metadata is checked here, and left to the store (which fails the batch) only when invalid.
        if (
          event.id !== undefined ||
          ((event.timestamp !== undefined || event.metadata !== undefined) && !isValidEvent(built))
        ) {
          supplied ??= new Set();
          supplied.add(built);
        }
      }
      if (correlationId !== undefined) built.correlationId = correlationId;
      if (unredacted !== undefined && (redactedData !== data || redactedMetadata !== metadata)) {
        unredacted.set(built.id, { data, metadata });
      }
      return built;
    };

    const enqueue = (raw: AdapterEvent, defaultProvider: string, fromAdapter = true): void => {
      if (fromAdapter ? settled : finalized) return;
      const event = sanitizeAdapterEvent(raw, config.maxEventDataBytes);
      if (isTerminalRunEventType(event.type)) {
        if (fromAdapter && event.provider) concreteProvider = event.provider;
        heldTerminal ??= event;
        return;
      }
      // The adapter's first event must be run_started; events extensions write before it (a
      // workspace snapshot) belong before the start, like the input messages.
      if (fromAdapter && !sawRunStarted) {
        sawRunStarted = true;
        if (event.type !== 'run_started') {
          writer.enqueue(toNewEvent({ type: 'run_started', data: {} }, this.provider.name));
        }
      }
      // Behind a router every event names the provider that produced it; the last one serves the run.
      if (fromAdapter && event.provider) concreteProvider = event.provider;
      if (event.type === 'run_started' || event.type === 'error_recovered') {
        // A router turns a later attempt's run_started into error_recovered; both name the model.
        const data = event.data as EventData<'run_started'> | undefined;
        if (typeof data?.model === 'string') {
          harvestedModel = data.model;
          harvestedModelFrom = concreteProvider;
        }
        if (typeof data?.providerSessionId === 'string') {
          harvestedProviderSessionId = data.providerSessionId;
          harvestedFrom = concreteProvider;
        }
      } else if (event.type === 'token_usage_updated') {
        lastUsage = normalizeTokenUsage(event.data as Partial<TokenUsage>);
      }
      writer.enqueue(toNewEvent(event, defaultProvider));
    };

    let result: ExecuteResult | undefined;
    let failure: AsmError | undefined;
    try {
      for (const extension of extensions) {
        if (signal.aborted) break;
        await extension.beforeRun?.(extensionContext);
      }
      if (signal.aborted) throw signal.reason;

      const continuation = await this.resolveContinuation(
        session,
        continuationMode,
        options.continuationOptions,
      );
      for (const message of inputMessages(run.input)) {
        writer.enqueue(
          toNewEvent(
            { type: 'message_sent', data: { role: message.role, content: message.content } },
            this.provider.name,
          ),
        );
      }

      const executeOptions: ExecuteOptions = {
        signal,
        emit: (event) => enqueue(event, this.provider.name, true),
        continuation,
        authorizeToolCall: (call, context) =>
          this.authorizeToolCall(call, context.signal, options.toolRules, extensions, extensionContext),
      };
      if (options.tools !== undefined) executeOptions.tools = options.tools;
      if (options.toolRules !== undefined) executeOptions.toolRules = options.toolRules;
      if (options.maxOutputTokens !== undefined) executeOptions.maxOutputTokens = options.maxOutputTokens;
      if (options.permissionMode !== undefined) executeOptions.permissionMode = options.permissionMode;
      if (typeof session.context.systemPrompt === 'string')
        executeOptions.systemPrompt = session.context.systemPrompt;
      if (options.adapterOptions !== undefined) executeOptions.adapterOptions = options.adapterOptions;

      result = await settleWithGrace(
        this.provider.execute(run, session, executeOptions),
        signal,
        config.executeGraceTimeoutMs,
      );
      if (signal.aborted) throw signal.reason;
    } catch (error) {
      failure =
        signal.aborted && AsmError.isInstance(signal.reason)
          ? signal.reason
          : toRunError(error, concreteProvider, config);
    } finally {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onExternalAbort);
    }

    // Extensions close their part of the log (a workspace diff) before the terminal event. They
    // first see every event the adapter wrote (onEvent runs as batches are stored).
    const extensionMetadata: Record<string, unknown> = {};
    if (extensions.some((extension) => extension.beforeFinish)) {
      try {
        await writer.flush();
      } catch {
        // A write failure is reported with the terminal event below.
      }
      // An extension that stopped the run on one of those last events decides its outcome.
      if (!failure && signal.aborted && AsmError.isInstance(signal.reason)) failure = signal.reason;
    }
    for (const extension of extensions) {
      if (!extension.beforeFinish) continue;
      try {
        const added = await extension.beforeFinish(
          { ...(result ? { result } : {}), ...(failure ? { error: failure } : {}) },
          extensionContext,
        );
        if (added?.metadata) Object.assign(extensionMetadata, added.metadata);
        if (added?.warnings) warnings.push(...added.warnings);
      } catch (error) {
        failure ??= AsmError.from(
          error,
          'internal_error',
          `Extension ${extension.name} failed in beforeFinish`,
        );
      }
    }
    finalized = true;

    // Decide the final status; the manager alone sets it.
    const status: RunStatus = failure ? statusForError(failure) : 'completed';
    const durationMs = Math.round(performance.now() - startedAt);
    if (result?.provider) concreteProvider = result.provider;
    const tokenUsage = result ? normalizeTokenUsage(result.tokenUsage) : (lastUsage ?? emptyTokenUsage());
    const model = result?.model ?? (harvestedModelFrom === concreteProvider ? harvestedModel : undefined);
    // A session id seen on an earlier attempt's run_started belongs to that attempt's provider.
    const providerSessionId =
      result?.providerSessionId ??
      (harvestedFrom === concreteProvider ? harvestedProviderSessionId : undefined);
    let costUsd: number | undefined;
    if (result?.costUsd !== undefined && result.costUsd > 0) costUsd = result.costUsd;
    else costUsd = calculateCost(tokenUsage, concreteProvider, model, this.pricingTable);
    if (result?.warnings) warnings.push(...result.warnings);

    // The one terminal event, agreeing with the final status.
    if (!sawRunStarted) {
      sawRunStarted = true;
      writer.enqueue(toNewEvent({ type: 'run_started', data: {} }, this.provider.name));
    }
    writer.enqueue(
      toNewEvent(
        terminalEvent(status, heldTerminal, { result, failure, tokenUsage, costUsd, durationMs, timeoutMs }),
        concreteProvider,
      ),
    );
    let writeFailure: AsmError | undefined;
    try {
      await writer.flush();
    } catch (error) {
      writeFailure = AsmError.from(error, 'storage_write_failed');
    }

    // Store the outcome on the run and the session.
    run = {
      ...transitionRun(run, writeFailure && status === 'completed' ? 'failed' : status),
      provider: concreteProvider,
      tokenUsage: addTokenUsage(run.tokenUsage, tokenUsage),
      turnCount: result?.turnCount ?? run.turnCount,
      providerMetadata: {
        ...run.providerMetadata,
        ...(result?.metadata ?? {}),
        ...extensionMetadata,
        provider: concreteProvider,
        ...(model === undefined ? {} : { model }),
        ...(providerSessionId === undefined ? {} : { providerSessionId }),
      },
    };
    if (costUsd !== undefined) run.costUsd = costUsd;
    if (result) run.output = this.redactor.redactValue(result.output).value;
    const finalError = writeFailure ?? failure;
    if (finalError) run.error = this.redactor.redactValue(runErrorOf(finalError)).value;
    if (warnings.length > 0 || Object.keys(extensionMetadata).length > 0) {
      run.metadata = { ...run.metadata, ...extensionMetadata, ...(warnings.length > 0 ? { warnings } : {}) };
    }

    try {
      await this.storeCall('saveRun', () => this.store.saveRun(run));
      if (providerSessionId !== undefined && (status === 'completed' || status === 'cancelled')) {
        session = await this.recordProviderSession(session.id, concreteProvider, providerSessionId, model);
      }
    } catch (error) {
      writeFailure ??= AsmError.from(error, 'storage_write_failed');
    }

    const outcomeError = writeFailure ?? failure;
    if (channels.runEnd.hasSubscribers) {
      channels.runEnd.publish({
        runId,
        sessionId: session.id,
        provider: concreteProvider,
        ...(model === undefined ? {} : { model }),
        status: run.status,
        durationMs,
        tokenUsage: run.tokenUsage,
        ...(costUsd === undefined ? {} : { costUsd }),
        ...(outcomeError ? { errorCode: outcomeError.code } : {}),
      });
    }
    for (const extension of extensions) {
      try {
        await extension.afterRun?.(
          { run, ...(result ? { result } : {}), ...(outcomeError ? { error: outcomeError } : {}) },
          extensionContext,
        );
      } catch {
        // afterRun is observation; the run's outcome is already stored.
      }
    }

    if (outcomeError) {
      throw withRunDetails(outcomeError, run);
    }
    const output = result!.output;
    const runResult: RunResult = {
      runId,
      sessionId: session.id,
      status: 'completed',
      provider: concreteProvider,
      output,
      tokenUsage: run.tokenUsage,
      durationMs,
      events: storedEvents,
      warnings,
      metadata: run.providerMetadata,
    };
    if (costUsd !== undefined) runResult.costUsd = costUsd;
    if (providerSessionId !== undefined) runResult.providerSessionId = providerSessionId;
    if (model !== undefined) runResult.model = model;
    return runResult;
  }

  private async resolveContinuation(
    session: Session,
    mode: ContinuationOption,
    transcriptOptions: TranscriptOptions | undefined,
  ): Promise<ExecuteContinuation> {
    let transcript: Promise<Transcript> | undefined;
    const loadTranscript = () => {
      transcript ??= this.storeCall('getEvents', () => this.store.getEvents(session.id)).then((events) =>
        buildTranscript(events, { ...(transcriptOptions ?? {}), sessionId: session.id }),
      );
      return transcript;
    };
    if (mode === false) return { mode: 'none', loadTranscript, requested: mode };
    const sessions = (session.metadata.providerSessions ?? {}) as Record<string, ProviderSessionRecord>;
    const recorded = sessions[this.provider.name]?.providerSessionId;
    const native = this.provider.supportsNativeContinuation === true;
    if (mode === 'native') {
      if (!native) {
        throw new AsmError(
          'invalid_operation',
          `Native continuation is not available for provider ${this.provider.name}; use 'replay' or 'auto'`,
          { details: { provider: this.provider.name } },
        );
      }
      if (recorded === undefined) {
        throw new AsmError(
          'invalid_operation',
          `No ${this.provider.name} session is recorded for session ${session.id}`,
          {
            details: { provider: this.provider.name, sessionId: session.id },
          },
        );
      }
      return { mode: 'native', providerSessionId: recorded, loadTranscript, requested: mode };
    }
    if (mode === 'auto' && native && recorded !== undefined) {
      return { mode: 'native', providerSessionId: recorded, loadTranscript, requested: mode };
    }
    const loaded = await loadTranscript();
    if (mode === 'auto' && loaded.messages.length === 0)
      return { mode: 'none', transcript: loaded, loadTranscript, requested: mode };
    return { mode: 'replay', transcript: loaded, loadTranscript, requested: mode };
  }

  private async authorizeToolCall(
    call: ToolCall,
    signal: AbortSignal,
    rules: ToolRules | undefined,
    extensions: RunExtension[],
    context: RunExtensionContext,
  ): Promise<ToolDecision> {
    if (!isToolAllowed(rules, call.name)) {
      return { allow: false, reason: `Tool ${call.name} is not allowed for this run` };
    }
    let ask: { reasons: string[]; data: Record<string, unknown> } | undefined;
    let input: unknown;
    for (const extension of extensions) {
      if (!extension.authorizeToolCall) continue;
      const decision: ExtensionToolDecision = await extension.authorizeToolCall(call, context);
      if (decision === undefined) continue;
      if (decision === 'ask' || 'ask' in decision) {
        ask ??= { reasons: [], data: {} };
        if (decision !== 'ask') {
          if (decision.reason !== undefined) ask.reasons.push(decision.reason);
          Object.assign(ask.data, decision.data ?? {});
        }
      } else if (!decision.allow) return decision;
      else if (decision.input !== undefined) input = decision.input;
    }
    if (ask) return this.waitForApproval(call, signal, context, ask);
    return input === undefined ? { allow: true } : { allow: true, input };
  }

  private async waitForApproval(
    call: ToolCall,
    signal: AbortSignal,
    context: RunExtensionContext,
    ask: { reasons: string[]; data: Record<string, unknown> },
  ): Promise<ToolDecision> {
    const config = this.config();
    const timeoutMs = config.toolApprovalTimeoutMs;
    const after = await this.storeCall('getLatestSequence', () =>
      this.store.getLatestSequence(context.session.id),
    );
    context.emit({
      type: 'tool_approval_requested',
      data: {
        ...ask.data,
        toolCallId: call.id,
        toolName: call.name,
        toolInput: call.input,
        timeoutMs,
        ...(ask.reasons.length > 0 ? { reason: ask.reasons.join('; ') } : {}),
      },
    });
    const waitController = new AbortController();
    const stop = () => waitController.abort();
    signal.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(stop, timeoutMs);
    try {
      for await (const event of followSessionEvents(this.store, context.session.id, {
        after,
        runId: context.run.id,
        types: ['tool_approval_granted', 'tool_approval_denied'],
        signal: waitController.signal,
        pollIntervalMs: config.eventStreamPollIntervalMs,
        ...(this.bus === undefined ? {} : { bus: this.bus }),
      })) {
        if (event.data.toolCallId !== call.id) continue;
        if (event.type === 'tool_approval_granted') {
          const granted = event.data as EventData<'tool_approval_granted'>;
          return granted.input === undefined ? { allow: true } : { allow: true, input: granted.input };
        }
        const denied = event.data as EventData<'tool_approval_denied'>;
        return { allow: false, reason: denied.reason ?? 'Denied by a reviewer' };
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) return { allow: false, reason: 'The run was stopped while waiting for approval' };
    context.emit({
      type: 'tool_approval_denied',
      data: { toolCallId: call.id, reason: `No approval within ${timeoutMs} ms`, deniedBy: MANAGER_PROVIDER },
    });
    return { allow: false, reason: `No approval within ${timeoutMs} ms` };
  }

  private async recordProviderSession(
    sessionId: string,
    provider: string,
    providerSessionId: string,
    model: string | undefined,
  ): Promise<Session> {
    const session = await this.requireSession(sessionId);
    const sessions = {
      ...((session.metadata.providerSessions ?? {}) as Record<string, ProviderSessionRecord>),
    };
    const record: ProviderSessionRecord = { providerSessionId, updatedAt: nowIso() };
    if (model !== undefined) record.model = model;
    sessions[provider] = record;
    const updated: Session = {
      ...session,
      metadata: { ...session.metadata, providerSessions: sessions },
      updatedAt: nowIso(),
    };
    await this.storeCall('saveSession', () => this.store.saveSession(updated));
    return updated;
  }

  private async moveSession(
    session: Session,
    to: SessionStatus,
    type: EventType,
    data: Record<string, unknown>,
    options: { reopen?: boolean } = {},
  ): Promise<Session> {
    const next = transitionSession(session, to, options);
    if (next === session) return session;
    if (channels.sessionLifecycle.hasSubscribers) {
      channels.sessionLifecycle.publish({ sessionId: session.id, from: session.status, to });
    }
    await this.storeCall('saveSession', () => this.store.saveSession(next));
    await this.appendLifecycle(next, type, data);
    return next;
  }

  private async appendLifecycle(
    session: Session,
    type: EventType,
    data: Record<string, unknown>,
    runId?: string,
  ): Promise<StoredEvent> {
    const provider =
      typeof session.metadata.provider === 'string' ? session.metadata.provider : MANAGER_PROVIDER;
    const correlationId =
      typeof session.metadata.correlationId === 'string' ? session.metadata.correlationId : undefined;
    const event = createEvent({
      type,
      sessionId: session.id,
      data: this.redactor.redactEventParts(type, data, {}).data as EventData,
      provider,
      ...(runId === undefined ? {} : { runId }),
      ...(correlationId === undefined ? {} : { correlationId }),
    });
    const ownedAppend = ownedAppendOf(this.store);
    const stored = await this.storeCall('appendEvent', async () =>
      ownedAppend === undefined
        ? this.store.appendEvent(event as NewEvent)
        : ownedAppend([toStoredEvent(event as NewEvent, 0)], undefined)[0]!,
    );
    this.publish([stored]);
    return stored;
  }

  /** Best-effort live fan-out: the store is the source of truth, readers re-read it on a gap. */
  private publish(events: StoredEvent[]): void {
    if (events.length > 0 && channels.eventsStored.hasSubscribers) {
      channels.eventsStored.publish({ sessionId: events[0]!.sessionId, events });
    }
    if (this.bus === undefined || events.length === 0) return;
    this.bus.publish(events).catch(() => {
      // A bus outage must not fail the run; followers notice the gap and read the store.
    });
  }

  private async requireSession(sessionId: string): Promise<Session> {
    const session = await this.storeCall('getSession', () => this.store.getSession(sessionId));
    if (!session) {
      throw new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
    }
    return session;
  }

  private async requireRun(runId: string): Promise<Run> {
    const run = await this.storeCall('getRun', () => this.store.getRun(runId));
    if (!run) throw new AsmError('run_not_found', `Run not found: ${runId}`, { details: { runId } });
    return run;
  }

  private async storeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const observed = channels.storeCall.hasSubscribers;
    const started = observed ? performance.now() : 0;
    try {
      const result = await call();
      if (observed) channels.storeCall.publish({ operation, durationMs: performance.now() - started });
      return result;
    } catch (caught) {
      const error = AsmError.isInstance(caught)
        ? caught
        : AsmError.from(caught, 'storage_error', `SessionStore ${operation} failed: ${errorMessage(caught)}`);
      if (observed) {
        channels.storeCall.publish({
          operation,
          durationMs: performance.now() - started,
          errorCode: error.code,
        });
      }
      throw error;
    }
  }
}

/** Creates a `SessionManager` over a store and a provider. */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  return new SessionManager(options);
}

// ------------------------------------------------------------------ helpers

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function resolveTimeout(timeoutMs: number | undefined, config: AsmConfig): number {
  if (timeoutMs === undefined) return Math.min(config.executeTimeoutMs, config.maxExecuteTimeoutMs);
  if (timeoutMs === Number.POSITIVE_INFINITY) return config.maxExecuteTimeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new AsmError('validation_error', 'timeoutMs must be a positive number or Infinity', {
      details: { field: 'timeoutMs', value: timeoutMs },
    });
  }
  return Math.min(Math.round(timeoutMs), config.maxExecuteTimeoutMs);
}

function validateContinuation(mode: unknown): void {
  if (mode === true) {
    throw new AsmError(
      'validation_error',
      "Boolean continuation is not supported; use 'auto', 'replay' or 'native'",
      {
        details: { field: 'continuation' },
      },
    );
  }
  if (mode !== false && mode !== 'auto' && mode !== 'replay' && mode !== 'native') {
    throw new AsmError('validation_error', `Invalid continuation: ${String(mode)}`, {
      details: { field: 'continuation' },
    });
  }
}

/** Messages of a run's input that are persisted as `message_sent` before the provider is called. */
export function inputMessages(input: RunInput): InputMessage[] {
  if (typeof input === 'string') return input === '' ? [] : [{ role: 'user', content: input }];
  if (typeof input !== 'object' || input === null) return [];
  const record = input as Record<string, unknown>;
  if (Array.isArray(record.messages)) {
    const messages: InputMessage[] = [];
    for (const item of record.messages as unknown[]) {
      if (typeof item !== 'object' || item === null) continue;
      const message = item as Record<string, unknown>;
      const content =
        typeof message.content === 'string' ? message.content : JSON.stringify(message.content ?? '');
      if (content === '' || content === '""') continue;
      const role =
        typeof message.role === 'string' && message.role !== '' ? message.role.toLowerCase() : 'user';
      messages.push({ role, content });
    }
    return messages;
  }
  if (typeof record.prompt === 'string' && record.prompt !== '')
    return [{ role: 'user', content: record.prompt }];
  return [];
}

/** True when `validateNewEvent` accepts the event. */
function isValidEvent(event: NewEvent): boolean {
  try {
    validateNewEvent(event);
    return true;
  } catch {
    return false;
  }
}

/** Cheap upper-bound-ish estimate of the JSON size of event data, without serializing small values. */
function estimateDataBytes(data: Record<string, unknown>): number {
  let size = 2;
  for (const key in data) {
    const value = data[key];
    size += key.length + 4;
    if (typeof value === 'string') size += value.length * 3;
    else if (typeof value === 'object' && value !== null) size += JSON.stringify(value)?.length ?? 0;
    else size += 16;
  }
  return size;
}

function sanitizeAdapterEvent(event: AdapterEvent, maxBytes: number): AdapterEvent {
  if (typeof event !== 'object' || event === null) {
    return {
      type: 'error_occurred',
      data: {
        errorCode: 'validation_error',
        errorMessage: 'The adapter emitted a non-object event',
        raw: String(event),
      },
    };
  }
  const rawData: unknown = event.data ?? {};
  let data: Record<string, unknown> =
    typeof rawData === 'object' && rawData !== null && !Array.isArray(rawData)
      ? (rawData as Record<string, unknown>)
      : { value: rawData };
  let type: EventType = event.type;
  if (!isEventType(type)) {
    data = {
      errorCode: 'invalid_event_type',
      errorMessage: `The adapter emitted an unknown event type: ${String(type)}`,
      originalType: String(type),
      raw: data,
    };
    type = 'error_occurred';
  }
  if (estimateDataBytes(data) > maxBytes) {
    const size = Buffer.byteLength(JSON.stringify(data), 'utf8');
    if (size > maxBytes) {
      data = {
        errorCode: 'validation_error',
        errorMessage: `Event data of ${size} bytes exceeds maxEventDataBytes (${maxBytes}); it was not stored`,
        originalType: type,
        sizeBytes: size,
      };
      type = 'error_occurred';
    }
  }
  if (type === event.type && data === event.data) return event;
  return { ...event, type, data } as AdapterEvent;
}

function statusForError(error: AsmError): RunStatus {
  if (error.code === 'cancelled') return 'cancelled';
  if (error.code === 'timeout') return 'timeout';
  return 'failed';
}

function errorEventData(error: AsmError): Record<string, unknown> {
  const data: Record<string, unknown> = { errorCode: error.code, errorMessage: error.message };
  if (error.providerError) data.providerError = error.providerError;
  if (Object.keys(error.details).length > 0) data.details = error.details;
  return data;
}

function runErrorOf(error: AsmError): RunError {
  const runError: RunError = { code: error.code, message: error.message };
  if (Object.keys(error.details).length > 0) runError.details = error.details;
  if (error.providerError) runError.providerError = error.providerError;
  return runError;
}

function toRunError(error: unknown, provider: string, config: AsmConfig): AsmError {
  const failure = AsmError.from(error, 'provider_error');
  if (failure.providerError?.stderr !== undefined) {
    const cut = truncateText(
      failure.providerError.stderr,
      config.errorTextMaxBytes,
      config.errorTextMaxLines,
    );
    if (cut.truncated) {
      failure.providerError.stderr = cut.text;
      failure.providerError.truncated = true;
    }
  } else if (failure.category === 'provider' && !failure.providerError) {
    return new AsmError(failure.code, failure.message, {
      details: failure.details,
      cause: failure.cause,
      retryable: failure.retryable,
      providerError: normalizeProviderError(provider, { message: failure.message }),
    });
  }
  return failure;
}

function withRunDetails(error: AsmError, run: Run): AsmError {
  if (error.details.runId === run.id) return error;
  return new AsmError(error.code, error.message, {
    details: { ...error.details, runId: run.id, sessionId: run.sessionId, status: run.status },
    ...(error.providerError ? { providerError: error.providerError } : {}),
    cause: error.cause,
    retryable: error.retryable,
  });
}

interface TerminalFacts {
  result: ExecuteResult | undefined;
  failure: AsmError | undefined;
  tokenUsage: TokenUsage;
  costUsd: number | undefined;
  durationMs: number;
  timeoutMs: number;
}

function terminalEvent(
  status: RunStatus,
  held: AdapterEvent | undefined,
  facts: TerminalFacts,
): AdapterEvent {
  const type: TerminalRunEventType =
    status === 'completed'
      ? 'run_completed'
      : status === 'cancelled'
        ? 'run_cancelled'
        : status === 'timeout'
          ? 'run_timeout'
          : 'run_failed';
  const own = held?.type === type ? held : undefined;
  const base: Record<string, unknown> = { ...((own?.data as Record<string, unknown> | undefined) ?? {}) };
  base.durationMs = facts.durationMs;
  switch (type) {
    case 'run_completed':
      if (facts.result?.output.stopReason !== undefined) base.stopReason ??= facts.result.output.stopReason;
      base.tokenUsage = facts.tokenUsage;
      if (facts.costUsd !== undefined) base.costUsd = facts.costUsd;
      break;
    case 'run_failed':
      Object.assign(base, errorEventData(facts.failure ?? new AsmError('internal_error')));
      break;
    case 'run_cancelled':
      if (facts.failure) base.reason ??= facts.failure.message;
      break;
    case 'run_timeout':
      base.timeoutMs = facts.timeoutMs;
      break;
    default: {
      const unhandled: never = type;
      throw new Error(`Unhandled terminal event type: ${String(unhandled)}`);
    }
  }
  const event = { type, data: base } as AdapterEvent;
  if (own?.id !== undefined) event.id = own.id;
  if (own?.metadata !== undefined) event.metadata = own.metadata;
  return event;
}

/**
 * Waits for the adapter; once the signal aborts, gives it `graceMs` to settle and then stops waiting
 * (rejecting with the abort reason), so a misbehaving adapter cannot hang a cancelled run.
 */
function settleWithGrace<T>(promise: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(signal.reason), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
