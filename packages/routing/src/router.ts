import {
  type AdapterEvent,
  AsmError,
  abortError,
  assertProviderAdapter,
  type Capability,
  type ContinuationMode,
  classifyError,
  createInMemoryRouterState,
  type ErrorAction,
  type ErrorCode,
  type ExecuteContinuation,
  type ExecuteOptions,
  type ExecuteResult,
  getConfig,
  inputMessages,
  isTerminalRunEventType,
  type ProviderAdapter,
  type ProviderErrorInfo,
  type ProviderHealthState,
  type ProviderSessionRecord,
  type RouterStateStore,
  type Run,
  type Session,
  type Transcript,
  type TranscriptMessage,
  type TranscriptRole,
  throwIfAborted,
} from '@asm/core';
import {
  type CapabilityRequirement,
  checkCapabilityRequirements,
  matchesAllCapabilities,
  unionCapabilities,
} from './capability-match.js';
import { routerChannels } from './channels.js';
import {
  breakerState,
  type CircuitBreakerOptions,
  type CircuitBreakerSettings,
  resolveCircuitBreakerSettings,
} from './circuit-breaker.js';
import {
  acquireCall,
  breakerOf,
  healthAfterAbandonedProbe,
  healthAfterFailure,
  healthAfterSuccess,
  isCoolingDown,
  unavailableReason,
} from './health.js';
import {
  DEFAULT_FAILURE_PENALTY,
  orderCandidates,
  ROUTING_STRATEGIES,
  type RoutingStrategy,
} from './strategy.js';

// ------------------------------------------------------------------ public types

/** Options of `createRouter`. */
export interface RouterOptions {
  /** The adapter name of the router. Default `defaultRouterName` (`router`). */
  name?: string;
  /**
   * Providers to register, in priority order: a record (`{ claude, codex }`: the key is the id) or
   * an array of adapters (the id is the adapter's `name`). More can be added with `register`.
   */
  providers?: Readonly<Record<string, ProviderAdapter>> | readonly ProviderAdapter[];
  /** How candidates are ordered. Default `priority`. */
  strategy?: RoutingStrategy;
  /** Ids tried first (`priority`), or tie-breakers (`weighted`). */
  prefer?: readonly string[];
  /** Ids never used. */
  exclude?: readonly string[];
  /** Weights of the `weighted` strategy (unlisted ids weigh 1). */
  weights?: Readonly<Record<string, number>>;
  /** What each recent failure takes off a weighted score. Default 0.5. */
  failurePenalty?: number;
  /** Most providers tried for one run. Default 3. */
  maxAttempts?: number;
  /** Capabilities every run needs (a run's `routing.requiredCapabilities` replaces them). */
  requiredCapabilities?: readonly CapabilityRequirement[];
  /**
   * Whether an attempt that already showed text (a `message_streamed` of kind `text`, or an assistant
   * `message_received`) may still fail over. Default false: that failure fails the run, so the user
   * never sees an answer start twice. When true, the next provider gets the partial answer in its
   * replayed transcript.
   */
  failoverAfterOutput?: boolean;
  /**
   * After a failure, a provider goes to the back of the candidate list until this long has passed
   * (a success resets it). 0 turns it off. Default `circuitBreakerCooldownMs` (30 s).
   */
  cooldownMs?: number;
  /**
   * A circuit breaker per provider (default on): `false` turns it off, an object sets it up. Its
   * cooldown defaults to `cooldownMs` (or to `circuitBreakerCooldownMs` when `cooldownMs` is 0).
   */
  circuitBreaker?: boolean | CircuitBreakerOptions;
  /** Runs of one session go to the provider that served it last while that is healthy. Default true. */
  sticky?: boolean;
  /** How long a sticky binding lasts after the run that made it. Default `stickySessionTtlMs` (5 min). */
  stickyTtlMs?: number;
  /**
   * Resume the sticky provider's own session (continuation `native`) instead of replaying the
   * transcript, when the provider supports it and the session records one for it. Default true.
   */
  nativeContinuation?: boolean;
  /** Where health, breakers and sticky bindings live. Default: in this process. */
  state?: RouterStateStore;
  /** Routers with the same scope (and state store) share state. Default: the router's name. */
  stateScope?: string;
  /** The clock, in epoch milliseconds (tests pass a fake one). Default `Date.now`. */
  now?: () => number;
}

/**
 * Per-run routing options, passed as `executeRun(runId, { adapterOptions: { routing: { … } } })`.
 * Each key overrides the router's option of the same name for that run; the `routing` key is
 * removed before the adapter options reach the chosen provider.
 */
export interface RoutingRunOptions {
  requiredCapabilities?: readonly CapabilityRequirement[];
  prefer?: readonly string[];
  exclude?: readonly string[];
  weights?: Readonly<Record<string, number>>;
  strategy?: RoutingStrategy;
  maxAttempts?: number;
  failoverAfterOutput?: boolean;
  sticky?: boolean;
  /** The sticky key. Default: the session id. */
  stickyKey?: string;
  nativeContinuation?: boolean;
}

/** The routing fields merged into the data of every event of a routed run (spec ROUTE-metadata). */
export interface RoutingEventData {
  /** The provider serving the attempt. */
  routedProvider: string;
  /** 1-based attempt number. */
  routingAttempt: number;
  /** Every candidate, in the order the router tries them. */
  routingCandidates: string[];
  /** The provider of the previous (failed) attempt. */
  failoverFrom?: string;
  /** The error code that made the previous attempt fail over. */
  failoverReason?: string;
}

/** What happened in one attempt. */
export interface RoutingAttemptRecord {
  attempt: number;
  provider: string;
  /** ISO-8601 start time. */
  startedAt: string;
  durationMs: number;
  outcome: 'completed' | 'failed' | 'cancelled';
  /** The continuation mode the provider received. */
  continuation: ContinuationMode;
  /** True when the attempt was a half-open circuit breaker probe. */
  probe: boolean;
  failoverFrom?: string;
  failoverReason?: string;
  error?: {
    code: ErrorCode;
    message: string;
    retryable: boolean;
    action: ErrorAction;
    providerError?: ProviderErrorInfo;
  };
  /** For a failed attempt: whether the router moved on or stopped, and why it stopped. */
  next?: 'failover' | 'stop';
  stopReason?: 'not_retryable' | 'output_already_shown' | 'cancelled';
}

/** A provider the router passed over for a run, and why. */
export interface RoutingSkip {
  provider: string;
  reason: 'capabilities' | 'excluded' | 'circuit_open' | 'unregistered';
}

/**
 * The routing decision of a run: `result.metadata.routing` on success (and so
 * `RunResult.metadata.routing`), `error.details.routing` on failure.
 */
export interface RoutingDecision extends Partial<RoutingEventData> {
  strategy: RoutingStrategy;
  routingCandidates: string[];
  /** Candidates that were in their health cooldown (tried after the others). */
  coolingDown: string[];
  skipped: RoutingSkip[];
  sticky?: { key: string; provider?: string; applied: boolean };
  attempts: RoutingAttemptRecord[];
}

/** One provider's health as `status()` reports it. */
export interface RouterProviderStatus {
  failureCount: number;
  lastFailureAt?: number;
  lastSuccessAt?: number;
  coolingDown: boolean;
  breaker?: {
    state: 'closed' | 'open' | 'half_open';
    failureCount: number;
    openedAt?: number;
    probeCount: number;
  };
}

/** What `status()` reports (spec ROUTE-status). */
export interface RouterStatus {
  name: string;
  providers: string[];
  strategy: RoutingStrategy;
  maxAttempts: number;
  cooldownMs: number;
  sticky: boolean;
  stickyTtlMs: number;
  circuitBreaker: CircuitBreakerSettings | false;
  health: Record<string, RouterProviderStatus>;
  /** Runs executing now, and the provider serving each. */
  activeRuns: Record<string, string>;
}

/** A provider router: a `ProviderAdapter` that routes each run to one of its providers. */
export interface Router extends ProviderAdapter {
  /** Adds a provider (or replaces the one with that id; its health is kept). */
  register(id: string, adapter: ProviderAdapter): void;
  /** Removes a provider and forgets its health and breaker. Runs it is serving finish. */
  unregister(id: string): Promise<boolean>;
  /** Registered ids, in registration order. */
  providerIds(): string[];
  /**
   * Cancels a run at the provider serving it now (the run then ends `cancelled`). Throws
   * `run_not_found` when the router is not executing that run.
   */
  cancel(runId: string, reason?: string): void;
  /** Providers, health, breakers and active runs. */
  status(): Promise<RouterStatus>;
  /** Checks every provider's settings (their `validateConfig`). */
  validateConfig(): void;
  /** The state store the router uses. */
  readonly state: RouterStateStore;
}

// ------------------------------------------------------------------ option checks

function fail(field: string, message: string, value?: unknown): never {
  throw new AsmError('validation_error', `${field} ${message}`, {
    details: value === undefined ? { field } : { field, value },
  });
}

function checkIdList(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) fail(field, 'must be an array of provider ids');
  const unique: string[] = [];
  for (const item of value) {
    if (typeof item !== 'string' || item === '') fail(field, 'must contain non-empty strings', item);
    if (!unique.includes(item)) unique.push(item);
  }
  return unique;
}

function checkWeights(value: unknown, field: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
  const weights: Record<string, number> = {};
  for (const [id, weight] of Object.entries(value)) {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      fail(`${field}.${id}`, 'must be a non-negative number', weight);
    }
    weights[id] = weight;
  }
  return weights;
}

function checkStrategy(value: unknown, field: string): RoutingStrategy {
  if (!ROUTING_STRATEGIES.includes(value as RoutingStrategy)) {
    fail(field, `must be one of ${ROUTING_STRATEGIES.join(', ')}`, value);
  }
  return value as RoutingStrategy;
}

function checkPositiveInteger(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    fail(field, 'must be a positive integer', value);
  }
  return value;
}

function checkNonNegative(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(field, 'must be a non-negative number', value);
  }
  return value;
}

function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') fail(field, 'must be a boolean', value);
  return value;
}

function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') fail(field, 'must be a non-empty string', value);
  return value;
}

/** The routing settings of one run: the router's, overridden key by key by the run's. */
interface RunPlan {
  requiredCapabilities: CapabilityRequirement[];
  prefer: string[];
  exclude: string[];
  weights: Record<string, number>;
  strategy: RoutingStrategy;
  maxAttempts: number;
  failoverAfterOutput: boolean;
  sticky: boolean;
  stickyKey: string | undefined;
  nativeContinuation: boolean;
}

const RUN_OPTION_KEYS: ReadonlySet<string> = new Set([
  'requiredCapabilities',
  'prefer',
  'exclude',
  'weights',
  'strategy',
  'maxAttempts',
  'failoverAfterOutput',
  'sticky',
  'stickyKey',
  'nativeContinuation',
]);

function planFor(defaults: RunPlan, raw: unknown): RunPlan {
  if (raw === undefined) return defaults;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail('adapterOptions.routing', 'must be an object');
  }
  const options = raw as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (!RUN_OPTION_KEYS.has(key)) fail(`adapterOptions.routing.${key}`, 'is not a routing option');
  }
  const field = (key: string) => `adapterOptions.routing.${key}`;
  const plan: RunPlan = { ...defaults };
  if (options.requiredCapabilities !== undefined)
    plan.requiredCapabilities = checkCapabilityRequirements(
      options.requiredCapabilities,
      field('requiredCapabilities'),
    );
  if (options.prefer !== undefined) plan.prefer = checkIdList(options.prefer, field('prefer'));
  if (options.exclude !== undefined) plan.exclude = checkIdList(options.exclude, field('exclude'));
  if (options.weights !== undefined) plan.weights = checkWeights(options.weights, field('weights'));
  if (options.strategy !== undefined) plan.strategy = checkStrategy(options.strategy, field('strategy'));
  if (options.maxAttempts !== undefined)
    plan.maxAttempts = checkPositiveInteger(options.maxAttempts, field('maxAttempts'));
  if (options.failoverAfterOutput !== undefined)
    plan.failoverAfterOutput = checkBoolean(options.failoverAfterOutput, field('failoverAfterOutput'));
  if (options.sticky !== undefined) plan.sticky = checkBoolean(options.sticky, field('sticky'));
  if (options.stickyKey !== undefined) plan.stickyKey = checkName(options.stickyKey, field('stickyKey'));
  if (options.nativeContinuation !== undefined)
    plan.nativeContinuation = checkBoolean(options.nativeContinuation, field('nativeContinuation'));
  return plan;
}

// ------------------------------------------------------------------ helpers

const TRANSCRIPT_ROLES: readonly string[] = ['system', 'user', 'assistant', 'tool'];

function isExecuteResult(value: unknown): value is ExecuteResult {
  if (typeof value !== 'object' || value === null) return false;
  const output = (value as { output?: unknown }).output;
  return typeof output === 'object' && output !== null;
}

/** The data of an event as a plain object (adapters may leave it out). */
function dataOf(event: AdapterEvent): Record<string, unknown> {
  const data: unknown = event.data;
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : {};
}

/** Text an event shows the user: streamed text, or a finished assistant message. */
function shownText(event: AdapterEvent): { delta?: string; full?: string } | undefined {
  const data = dataOf(event);
  if (event.type === 'message_streamed') {
    if (
      (data.kind === 'text' || data.kind === undefined) &&
      typeof data.delta === 'string' &&
      data.delta !== ''
    ) {
      return { delta: data.delta };
    }
    return undefined;
  }
  if (event.type === 'message_received' && data.role === 'assistant' && typeof data.content === 'string') {
    return data.content === '' ? undefined : { full: data.content };
  }
  return undefined;
}

/** The adapter's terminal event for an error (when the adapter emitted none). */
function terminalForError(error: AsmError, runAborted: boolean): AdapterEvent {
  if (error.code === 'cancelled') return { type: 'run_cancelled', data: { reason: error.message } };
  if (error.code === 'timeout' && runAborted) return { type: 'run_timeout', data: {} };
  const data: Record<string, unknown> = { errorCode: error.code, errorMessage: error.message };
  if (error.providerError) data.providerError = error.providerError;
  return { type: 'run_failed', data: data as { errorCode: string; errorMessage: string } };
}

/** `error` with `details` added, keeping its code, message, retryable flag and provider error. */
function withDetails(error: AsmError, details: Record<string, unknown>): AsmError {
  return new AsmError(error.code, error.message, {
    details: { ...error.details, ...details },
    retryable: error.retryable,
    cause: error,
    ...(error.providerError ? { providerError: error.providerError } : {}),
  });
}

function providerSessionOf(session: Session, id: string): string | undefined {
  const sessions = session.metadata?.providerSessions as Record<string, ProviderSessionRecord> | undefined;
  const recorded = sessions?.[id]?.providerSessionId;
  return typeof recorded === 'string' && recorded !== '' ? recorded : undefined;
}

// ------------------------------------------------------------------ the router

interface ActiveAttempt {
  provider: string;
  controller: AbortController;
}

interface AttemptFailureDetail {
  attempt: number;
  provider: string;
  code: ErrorCode;
  message: string;
  retryable: boolean;
  providerError?: ProviderErrorInfo;
}

/**
 * Creates a provider router: a `ProviderAdapter` that sends each run to one of its providers and
 * fails over to the next on retryable errors (spec section 5). It goes anywhere a provider goes
 * (`createSessionManager({ provider: router })`, `runOnce`, the runtime).
 *
 * Per run it keeps the providers whose capabilities match the run's requirements and are not
 * excluded, drops those whose circuit breaker is open, orders them by the strategy (providers in
 * their health cooldown last), puts the session's sticky provider first, and tries at most
 * `maxAttempts` of them. Every event carries the routing fields of `RoutingEventData`; a failed
 * attempt's terminal event becomes `error_occurred` and a later attempt's `run_started` becomes
 * `error_recovered`, so the run keeps one start and one end.
 */
export function createRouter(options: RouterOptions = {}): Router {
  const name = options.name === undefined ? getConfig('defaultRouterName') : checkName(options.name, 'name');
  const strategy = checkStrategy(options.strategy ?? 'priority', 'strategy');
  const cooldownMs = checkNonNegative(
    options.cooldownMs ?? getConfig('circuitBreakerCooldownMs'),
    'cooldownMs',
  );
  const failurePenalty = checkNonNegative(
    options.failurePenalty ?? DEFAULT_FAILURE_PENALTY,
    'failurePenalty',
  );
  const stickyTtlMs = checkPositiveInteger(
    options.stickyTtlMs ?? getConfig('stickySessionTtlMs'),
    'stickyTtlMs',
  );
  const breakerOption = options.circuitBreaker ?? true;
  if (typeof breakerOption !== 'boolean' && (typeof breakerOption !== 'object' || breakerOption === null)) {
    fail('circuitBreaker', 'must be a boolean or circuit breaker options');
  }
  const breakerSettings: CircuitBreakerSettings | undefined =
    breakerOption === false
      ? undefined
      : Object.freeze(
          resolveCircuitBreakerSettings({
            // Turning the health cooldown off (0) must not turn the breaker's cooldown off too.
            cooldownMs: cooldownMs > 0 ? Math.round(cooldownMs) : getConfig('circuitBreakerCooldownMs'),
            ...(breakerOption === true ? {} : breakerOption),
          }),
        );
  const defaults: RunPlan = {
    requiredCapabilities:
      options.requiredCapabilities === undefined
        ? []
        : checkCapabilityRequirements(options.requiredCapabilities, 'requiredCapabilities'),
    prefer: options.prefer === undefined ? [] : checkIdList(options.prefer, 'prefer'),
    exclude: options.exclude === undefined ? [] : checkIdList(options.exclude, 'exclude'),
    weights: options.weights === undefined ? {} : checkWeights(options.weights, 'weights'),
    strategy,
    maxAttempts: checkPositiveInteger(options.maxAttempts ?? 3, 'maxAttempts'),
    failoverAfterOutput: checkBoolean(options.failoverAfterOutput ?? false, 'failoverAfterOutput'),
    sticky: checkBoolean(options.sticky ?? true, 'sticky'),
    stickyKey: undefined,
    nativeContinuation: checkBoolean(options.nativeContinuation ?? true, 'nativeContinuation'),
  };
  const state = options.state ?? createInMemoryRouterState();
  const scope = options.stateScope === undefined ? name : checkName(options.stateScope, 'stateScope');
  const clock = options.now ?? Date.now;

  const providers = new Map<string, ProviderAdapter>();
  const activeRuns = new Map<string, ActiveAttempt>();
  let rotation = 0;

  /** State calls never fail a run: routing goes on with what it knows, and the error is published. */
  const safely = async <T>(operation: string, call: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      if (routerChannels.stateError.hasSubscribers) {
        routerChannels.stateError.publish({ router: name, operation, error });
      }
      return fallback;
    }
  };

  function register(id: string, adapter: ProviderAdapter): void {
    checkName(id, 'id');
    assertProviderAdapter(adapter);
    if (adapter === router) fail('adapter', 'cannot be the router itself');
    providers.set(id, adapter);
  }

  async function execute(run: Run, session: Session, execOptions: ExecuteOptions): Promise<ExecuteResult> {
    const signal = execOptions.signal;
    throwIfAborted(signal);
    const rawAdapterOptions = execOptions.adapterOptions;
    const plan = planFor(defaults, rawAdapterOptions?.routing);
    let forwardedAdapterOptions: Record<string, unknown> | undefined;
    if (rawAdapterOptions !== undefined) {
      const { routing: _routing, ...rest } = rawAdapterOptions;
      if (Object.keys(rest).length > 0) forwardedAdapterOptions = rest;
    }

    // ---- candidates
    const skipped: RoutingSkip[] = [];
    const capable: string[] = [];
    for (const [id, adapter] of providers) {
      if (plan.exclude.includes(id)) skipped.push({ provider: id, reason: 'excluded' });
      else if (!matchesAllCapabilities(adapter.capabilities(), plan.requiredCapabilities))
        skipped.push({ provider: id, reason: 'capabilities' });
      else capable.push(id);
    }
    const stickyKey = plan.sticky ? (plan.stickyKey ?? session.id) : undefined;
    // One round trip each, in parallel (they matter with a remote state store).
    const [states, binding] = await Promise.all([
      capable.length === 0
        ? ({} as Record<string, ProviderHealthState>)
        : safely('getProviderStates', () => state.getProviderStates(scope, capable), {}),
      stickyKey === undefined
        ? undefined
        : safely('getStickyBinding', () => state.getStickyBinding(scope, stickyKey), undefined),
    ]);
    const selectedAt = clock();
    const ready: string[] = [];
    const cooling: string[] = [];
    for (const id of capable) {
      const reason = unavailableReason(states[id], { cooldownMs, breaker: breakerSettings, now: selectedAt });
      if (reason === 'circuit_open') skipped.push({ provider: id, reason });
      else if (reason === 'cooldown') cooling.push(id);
      else ready.push(id);
    }
    const failures: Record<string, number> = {};
    for (const id of capable) failures[id] = states[id]?.failureCount ?? 0;
    const turn = plan.strategy === 'round-robin' ? rotation++ : 0;
    const order = (ids: string[]) =>
      orderCandidates({
        strategy: plan.strategy,
        ids,
        prefer: plan.prefer,
        weights: plan.weights,
        failures,
        failurePenalty,
        rotation: turn,
      });
    const candidates = [...order(ready), ...order(cooling)];

    // ---- stickiness
    // The session's last provider goes first while its binding lives and it is healthy (not open,
    // not cooling down after a failure).
    let stickyProvider: string | undefined;
    let stickyInfo: RoutingDecision['sticky'];
    if (stickyKey !== undefined) {
      const live = binding !== undefined && binding.expiresAt > selectedAt;
      const index = live && ready.includes(binding.provider) ? candidates.indexOf(binding.provider) : -1;
      if (index >= 0) {
        candidates.splice(index, 1);
        candidates.unshift(binding!.provider);
        stickyProvider = binding!.provider;
      }
      stickyInfo = {
        key: stickyKey,
        ...(live ? { provider: binding.provider } : {}),
        applied: stickyProvider !== undefined,
      };
    }

    const decision: RoutingDecision = {
      strategy: plan.strategy,
      routingCandidates: candidates,
      coolingDown: cooling,
      skipped,
      ...(stickyInfo === undefined ? {} : { sticky: stickyInfo }),
      attempts: [],
    };

    if (candidates.length === 0) {
      throw new AsmError('provider_unavailable', 'No eligible providers for this run', {
        details: {
          router: name,
          requiredCapabilities: plan.requiredCapabilities,
          skipped,
          routing: decision,
        },
      });
    }

    // ---- attempts
    let runStarted = false;
    let attemptNumber = 0;
    let previous: { provider: string; code: ErrorCode } | undefined;
    let partialOutput: { provider: string; attempt: number; text: string } | undefined;
    let lastRoutingData: RoutingEventData | undefined;
    const attemptErrors: AttemptFailureDetail[] = [];
    const emit = (event: AdapterEvent, routing: RoutingEventData, provider: string) => {
      execOptions.emit({
        ...event,
        provider: event.provider ?? provider,
        data: { ...dataOf(event), ...routing },
      } as AdapterEvent);
    };
    const ensureStarted = (routing: RoutingEventData, provider: string) => {
      if (runStarted) return;
      runStarted = true;
      emit({ type: 'run_started', data: {} }, routing, provider);
    };

    const continuationFor = async (
      id: string,
      adapter: ProviderAdapter,
      first: boolean,
    ): Promise<ExecuteContinuation> => {
      const base = execOptions.continuation;
      if (first) {
        if (
          plan.nativeContinuation &&
          base.mode === 'replay' &&
          base.requested !== 'replay' &&
          id === stickyProvider &&
          adapter.supportsNativeContinuation === true
        ) {
          const recorded = providerSessionOf(session, id);
          if (recorded !== undefined) {
            return { mode: 'native', providerSessionId: recorded, loadTranscript: base.loadTranscript };
          }
        }
        if (base.mode !== 'native' || adapter.supportsNativeContinuation === true) return base;
      } else if (base.mode === 'none' && partialOutput === undefined) {
        return base;
      }
      // A failover (or a native resume this provider cannot do): replay the conversation.
      let transcript: Transcript =
        base.mode === 'none'
          ? { sessionId: session.id, messages: [], metadata: {} }
          : base.mode === 'replay' && base.transcript !== undefined
            ? base.transcript
            : await base.loadTranscript();
      if (partialOutput !== undefined && !first) {
        const source = {
          source: 'routing_failover',
          provider: partialOutput.provider,
          attempt: partialOutput.attempt,
        };
        const added: TranscriptMessage[] = inputMessages(run.input).map((message) => ({
          role: (TRANSCRIPT_ROLES.includes(message.role) ? message.role : 'user') as TranscriptRole,
          content: message.content,
          metadata: { ...source },
        }));
        added.push({
          role: 'assistant',
          content: partialOutput.text,
          partial: true,
          metadata: { ...source },
        });
        transcript = { ...transcript, messages: [...transcript.messages, ...added] };
      }
      return { mode: 'replay', transcript, loadTranscript: base.loadTranscript };
    };

    for (const id of candidates) {
      if (attemptNumber >= plan.maxAttempts) break;
      if (signal.aborted) break;
      const adapter = providers.get(id);
      if (adapter === undefined) {
        skipped.push({ provider: id, reason: 'unregistered' });
        continue;
      }

      let continuation: ExecuteContinuation;
      try {
        continuation = await continuationFor(id, adapter, attemptNumber === 0);
      } catch (caught) {
        // Loading the transcript failed (a store error): the run cannot go on anywhere.
        const error = AsmError.from(caught, 'internal_error');
        const routing = lastRoutingData ?? {
          routedProvider: id,
          routingAttempt: 0,
          routingCandidates: candidates,
        };
        if (runStarted) emit(terminalForError(error, false), routing, routing.routedProvider);
        throw withDetails(error, { routing: Object.assign(decision, routing) });
      }

      // A breaker that is not closed lets a call through only as a counted half-open probe.
      let probe = false;
      const knownBreaker = states[id]?.breaker;
      if (breakerSettings !== undefined && knownBreaker !== undefined && knownBreaker.state !== 'closed') {
        let granted = true;
        await safely(
          'updateProviderState',
          () =>
            state.updateProviderState(scope, id, (current) => {
              const call = acquireCall(current, breakerSettings, clock());
              granted = call.granted;
              probe = call.probe;
              return call.state;
            }),
          undefined,
        );
        if (!granted) {
          skipped.push({ provider: id, reason: 'circuit_open' });
          continue;
        }
      }

      attemptNumber++;
      const attempt = attemptNumber;
      const routing: RoutingEventData = {
        routedProvider: id,
        routingAttempt: attempt,
        routingCandidates: candidates,
        ...(previous === undefined ? {} : { failoverFrom: previous.provider, failoverReason: previous.code }),
      };
      lastRoutingData = routing;
      const failoverFrom = previous?.provider;
      const record: RoutingAttemptRecord = {
        attempt,
        provider: id,
        startedAt: new Date().toISOString(),
        durationMs: 0,
        outcome: 'completed',
        continuation: continuation.mode,
        probe,
        ...(previous === undefined ? {} : { failoverFrom: previous.provider, failoverReason: previous.code }),
      };
      decision.attempts.push(record);
      const channelBase = {
        router: name,
        runId: run.id,
        sessionId: session.id,
        provider: id,
        attempt,
        candidates,
        strategy: plan.strategy,
      };
      if (routerChannels.attemptStart.hasSubscribers) {
        routerChannels.attemptStart.publish({ ...channelBase, probe, continuation: continuation.mode });
      }

      // ---- one attempt
      const controller = new AbortController();
      const onRunAbort = () => controller.abort(signal.reason);
      if (signal.aborted) onRunAbort();
      else signal.addEventListener('abort', onRunAbort, { once: true });
      const active: ActiveAttempt = { provider: id, controller };
      activeRuns.set(run.id, active);

      let settled = false;
      let announced = false;
      let terminal: AdapterEvent | undefined;
      let started: Record<string, unknown> | undefined;
      let shown = '';
      const announce = () => {
        if (announced) return;
        announced = true;
        if (!runStarted) {
          ensureStarted(routing, id);
          return;
        }
        emit(
          {
            type: 'error_recovered',
            data: { attempt, provider: id, ...(failoverFrom === undefined ? {} : { failoverFrom }) },
          },
          routing,
          id,
        );
      };
      const attemptEmit = (event: AdapterEvent) => {
        // Nothing after the attempt settled or after its terminal event (the adapter contract).
        if (settled || terminal !== undefined) return;
        if (typeof event !== 'object' || event === null) {
          announce();
          execOptions.emit(event);
          return;
        }
        if (isTerminalRunEventType(event.type)) {
          terminal = event;
          return;
        }
        if (event.type === 'run_started') {
          if (announced) return; // a second run_started of one attempt would break "one start"
          announced = true;
          started = dataOf(event);
          if (!runStarted) {
            runStarted = true;
            emit(event, routing, id);
          } else {
            emit(
              {
                ...event,
                type: 'error_recovered',
                data: {
                  ...started,
                  attempt,
                  provider: id,
                  ...(failoverFrom === undefined ? {} : { failoverFrom }),
                },
              } as AdapterEvent,
              routing,
              id,
            );
          }
          return;
        }
        announce();
        const text = shownText(event);
        if (text?.delta !== undefined) shown += text.delta;
        else if (text?.full !== undefined) shown = text.full;
        emit(event, routing, id);
      };

      const attemptOptions: ExecuteOptions = {
        ...execOptions,
        signal: controller.signal,
        emit: attemptEmit,
        continuation,
      };
      if (forwardedAdapterOptions === undefined) delete attemptOptions.adapterOptions;
      else attemptOptions.adapterOptions = forwardedAdapterOptions;

      const startedAt = performance.now();
      let result: ExecuteResult | undefined;
      let caught: unknown;
      let failed = false;
      try {
        const value: unknown = await adapter.execute(run, session, attemptOptions);
        if (!isExecuteResult(value)) {
          throw new AsmError('provider_error', `Provider ${id} resolved without a valid result`, {
            details: { provider: id },
          });
        }
        result = value;
      } catch (error) {
        failed = true;
        caught = error;
      } finally {
        settled = true;
        signal.removeEventListener('abort', onRunAbort);
        if (activeRuns.get(run.id) === active) activeRuns.delete(run.id);
      }
      const durationMs = Math.round(performance.now() - startedAt);
      record.durationMs = durationMs;

      // ---- success
      if (!failed && result !== undefined) {
        announce();
        emit(terminal ?? { type: 'run_completed', data: {} }, routing, id);
        const finishedAt = clock();
        const bookkeeping: Promise<unknown>[] = [
          safely(
            'updateProviderState',
            () =>
              state.updateProviderState(scope, id, (current) =>
                healthAfterSuccess(current, breakerSettings, finishedAt),
              ),
            undefined,
          ),
        ];
        if (stickyKey !== undefined) {
          bookkeeping.push(
            safely(
              'setStickyBinding',
              () =>
                state.setStickyBinding(
                  scope,
                  stickyKey,
                  { provider: id, expiresAt: finishedAt + stickyTtlMs },
                  stickyTtlMs,
                ),
              undefined,
            ),
          );
        }
        await Promise.all(bookkeeping);
        if (routerChannels.attemptStop.hasSubscribers) {
          routerChannels.attemptStop.publish({ ...channelBase, durationMs });
        }
        Object.assign(decision, routing);
        const routed: ExecuteResult = {
          ...result,
          provider: result.provider ?? id,
          metadata: { ...(result.metadata ?? {}), routing: decision },
        };
        if (routed.model === undefined && typeof started?.model === 'string') routed.model = started.model;
        if (routed.providerSessionId === undefined && typeof started?.providerSessionId === 'string') {
          routed.providerSessionId = started.providerSessionId;
        }
        return routed;
      }

      // ---- failure
      const error = AsmError.from(caught, 'provider_error');
      const runAborted = signal.aborted;
      const action = classifyError(error);
      const cancelled = runAborted || action === 'cancel';
      const retryable =
        !cancelled &&
        (error.retryable || action === 'retry' || action === 'wait_and_retry' || action === 'failover');
      const outputBlocks = retryable && shown !== '' && !plan.failoverAfterOutput;
      record.outcome = cancelled ? 'cancelled' : 'failed';
      record.error = {
        code: error.code,
        message: error.message,
        retryable: error.retryable,
        action,
        ...(error.providerError ? { providerError: error.providerError } : {}),
      };
      const detail: AttemptFailureDetail = {
        attempt,
        provider: id,
        code: error.code,
        message: error.message,
        retryable: error.retryable,
        ...(error.providerError ? { providerError: error.providerError } : {}),
      };
      attemptErrors.push(detail);
      if (!cancelled && error.category !== 'validation') {
        const failedAt = clock();
        await safely(
          'updateProviderState',
          () =>
            state.updateProviderState(scope, id, (current) =>
              healthAfterFailure(current, breakerSettings, failedAt),
            ),
          undefined,
        );
      } else if (probe && breakerSettings !== undefined) {
        // No verdict on the provider: give the half-open probe slot back.
        const settings = breakerSettings;
        await safely(
          'updateProviderState',
          () =>
            state.updateProviderState(scope, id, (current) => healthAfterAbandonedProbe(current, settings)),
          undefined,
        );
      }
      const willFailover = retryable && !outputBlocks;
      if (routerChannels.attemptFailure.hasSubscribers) {
        routerChannels.attemptFailure.publish({
          ...channelBase,
          durationMs,
          errorCode: error.code,
          retryable: error.retryable,
          willFailover,
        });
      }

      if (!willFailover) {
        // The run ends here with this attempt's own terminal event.
        record.next = 'stop';
        record.stopReason = cancelled ? 'cancelled' : outputBlocks ? 'output_already_shown' : 'not_retryable';
        ensureStarted(routing, id);
        emit(terminal ?? terminalForError(error, runAborted), routing, id);
        Object.assign(decision, routing);
        if (cancelled) throw error;
        throw withDetails(error, {
          routing: decision,
          ...(outputBlocks ? { failoverSuppressed: 'output_already_shown' } : {}),
        });
      }

      // Fail over: the attempt's terminal event becomes error_occurred; the run goes on.
      record.next = 'failover';
      ensureStarted(routing, id);
      const occurred: Record<string, unknown> = {
        errorCode: error.code,
        errorMessage: error.message,
        ...(error.providerError ? { providerError: error.providerError } : {}),
        attempt,
        provider: id,
        code: error.code,
        ...(failoverFrom === undefined ? {} : { failoverFrom }),
      };
      if (terminal !== undefined) occurred.terminalType = terminal.type;
      emit(
        {
          type: 'error_occurred',
          data: occurred,
          ...(terminal?.id === undefined ? {} : { id: terminal.id }),
          ...(terminal?.timestamp === undefined ? {} : { timestamp: terminal.timestamp }),
          ...(terminal?.metadata === undefined ? {} : { metadata: terminal.metadata }),
        },
        routing,
        id,
      );
      previous = { provider: id, code: error.code };
      partialOutput =
        plan.failoverAfterOutput && shown !== '' ? { provider: id, attempt, text: shown } : undefined;
    }

    // ---- no attempt left
    const routing: RoutingEventData = lastRoutingData ?? {
      routedProvider: candidates[0]!,
      routingAttempt: 0,
      routingCandidates: candidates,
    };
    Object.assign(decision, routing);
    if (signal.aborted) {
      const error = abortError(signal);
      if (runStarted) emit(terminalForError(error, true), routing, routing.routedProvider);
      throw error;
    }
    if (attemptNumber === 0) {
      throw new AsmError('provider_unavailable', 'No eligible providers for this run', {
        details: {
          router: name,
          requiredCapabilities: plan.requiredCapabilities,
          skipped,
          routing: decision,
        },
      });
    }
    const exhausted = new AsmError('provider_unavailable', 'No more providers available for failover', {
      details: { router: name, attempts: attemptErrors, candidates, routing: decision },
    });
    emit(
      {
        type: 'run_failed',
        data: {
          errorCode: exhausted.code,
          errorMessage: exhausted.message,
          details: { attempts: attemptErrors },
        },
      },
      routing,
      routing.routedProvider,
    );
    throw exhausted;
  }

  const router = {
    specificationVersion: 'v1',
    name,
    get supportsNativeContinuation() {
      if (!defaults.sticky || !defaults.nativeContinuation) return false;
      for (const adapter of providers.values()) if (adapter.supportsNativeContinuation === true) return true;
      return false;
    },
    state,
    capabilities(): Capability[] {
      return unionCapabilities([...providers.values()].map((adapter) => adapter.capabilities()));
    },
    execute,
    validateConfig(): void {
      for (const adapter of providers.values()) adapter.validateConfig?.();
    },
    register,
    async unregister(id: string): Promise<boolean> {
      const existed = providers.delete(id);
      if (existed) await safely('deleteProviderState', () => state.deleteProviderState(scope, id), undefined);
      return existed;
    },
    providerIds: () => [...providers.keys()],
    cancel(runId: string, reason?: string): void {
      const active = activeRuns.get(runId);
      if (active === undefined) {
        throw new AsmError('run_not_found', 'No active routed run found', {
          details: { runId, router: name },
        });
      }
      active.controller.abort(
        new AsmError('cancelled', reason ?? 'Run was cancelled through the router', {
          details: { runId, provider: active.provider },
        }),
      );
    },
    async status(): Promise<RouterStatus> {
      const ids = [...providers.keys()];
      const states = await safely('getProviderStates', () => state.getProviderStates(scope, ids), {});
      const now = clock();
      const health: Record<string, RouterProviderStatus> = {};
      for (const id of ids) {
        const stored = states[id];
        const entry: RouterProviderStatus = {
          failureCount: stored?.failureCount ?? 0,
          coolingDown: isCoolingDown(stored, cooldownMs, now),
        };
        if (stored?.lastFailureAt !== undefined) entry.lastFailureAt = stored.lastFailureAt;
        if (stored?.lastSuccessAt !== undefined) entry.lastSuccessAt = stored.lastSuccessAt;
        if (breakerSettings !== undefined) {
          const breaker = breakerOf(stored, breakerSettings);
          entry.breaker = {
            state: breakerState(breaker, now),
            failureCount: breaker.failureCount,
            probeCount: breaker.probeCount,
            ...(breaker.openedAt === undefined ? {} : { openedAt: breaker.openedAt }),
          };
        }
        health[id] = entry;
      }
      const runs: Record<string, string> = {};
      for (const [runId, active] of activeRuns) runs[runId] = active.provider;
      return {
        name,
        providers: ids,
        strategy,
        maxAttempts: defaults.maxAttempts,
        cooldownMs,
        sticky: defaults.sticky,
        stickyTtlMs,
        circuitBreaker: breakerSettings ?? false,
        health,
        activeRuns: runs,
      };
    },
  } satisfies Router;

  if (options.providers !== undefined) {
    if (Array.isArray(options.providers)) {
      for (const adapter of options.providers as readonly ProviderAdapter[]) {
        register((adapter as Partial<ProviderAdapter> | undefined)?.name as string, adapter);
      }
    } else if (typeof options.providers === 'object' && options.providers !== null) {
      for (const [id, adapter] of Object.entries(options.providers as Record<string, ProviderAdapter>)) {
        register(id, adapter);
      }
    } else {
      fail('providers', 'must be a record or an array of adapters');
    }
  }
  return router;
}
