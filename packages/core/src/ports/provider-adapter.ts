import type { Capability } from '../capabilities.js';
import { AsmError, type ErrorCode } from '../errors.js';
import type { EventData, EventType } from '../event.js';
import type { Run, RunOutput } from '../run.js';
import type { Session } from '../session.js';
import type { TokenUsage } from '../token-usage.js';
import type { PermissionMode, Tool, ToolCall, ToolDecision, ToolRules } from '../tools.js';
import type { Transcript } from '../transcript.js';

/** An event as an adapter emits it. The manager adds ids, session, run, provider and sequence. */
export type AdapterEvent = {
  [T in EventType]: {
    type: T;
    data?: EventData<T>;
    metadata?: Record<string, unknown>;
    /** When the provider reported it (ISO-8601); defaults to the time of `emit`. */
    timestamp?: string;
    /** Id to store the event under; makes a replayed emit idempotent. Defaults to a new `evt_` id. */
    id?: string;
    /** The concrete provider that produced it, when it differs from the adapter (a router sets it). */
    provider?: string;
  };
}[EventType];

/**
 * How the adapter should continue the conversation:
 * - `none`: start fresh;
 * - `native`: resume the provider's own session `providerSessionId`;
 * - `replay`: render `transcript` (earlier turns of this session) into the provider input.
 */
export type ContinuationMode = 'none' | 'native' | 'replay';

/** Continuation handed to `execute`. */
export interface ExecuteContinuation {
  mode: ContinuationMode;
  providerSessionId?: string;
  transcript?: Transcript;
  /**
   * Builds the transcript of earlier turns on demand (for example for a router that fails over from
   * a native resume to another provider).
   */
  loadTranscript(): Promise<Transcript>;
  /** What the app asked for (`auto` by default); a router uses it to honour an explicit `replay`. */
  requested?: false | 'auto' | 'replay' | 'native';
}

/** What `execute` receives besides the run and the session. */
export interface ExecuteOptions {
  /**
   * Aborted when the run is cancelled or times out. Honour it at every await: stop the stream, kill the
   * child process, then reject (with `AsmError` `cancelled`, or `signal.reason` when it is an `AsmError`).
   */
  signal: AbortSignal;
  /**
   * Reports a normalized event. Synchronous and cheap: the manager batches writes and keeps order.
   * Emit `run_started` first and one terminal event (`run_completed`, `run_failed`, …) last.
   */
  emit(event: AdapterEvent): void;
  continuation: ExecuteContinuation;
  /**
   * Asks whether a tool call may run. Every tool loop calls it before running a tool; the manager
   * answers from the run's extensions (policy) and approval gates.
   */
  authorizeToolCall(call: ToolCall, context: { signal: AbortSignal }): Promise<ToolDecision>;
  /** Tools the app offers for this run (merged with the adapter's own). */
  tools?: Tool[];
  /** Normalized tool rules for this run; deny wins. */
  toolRules?: ToolRules;
  maxOutputTokens?: number;
  permissionMode?: PermissionMode;
  /** The system prompt: `session.context.systemPrompt` when set, else undefined (adapter default). */
  systemPrompt?: string;
  /** Adapter-specific options passed through from `executeRun({ adapterOptions })`. */
  adapterOptions?: Record<string, unknown>;
}

/** What `execute` resolves with when the provider finished. */
export interface ExecuteResult {
  output: RunOutput;
  tokenUsage: TokenUsage;
  /** The provider's own session or thread id, recorded for native continuation. */
  providerSessionId?: string;
  /** The model that actually answered. */
  model?: string;
  /** The concrete provider that ran it, when it differs from the adapter's name (a router sets it). */
  provider?: string;
  /** The cost the provider reported itself (Claude Code's `total_cost_usd`); wins over the pricing table. */
  costUsd?: number;
  /** Number of model turns the run took. */
  turnCount?: number;
  /** Provider metadata merged into `run.providerMetadata`. */
  metadata?: Record<string, unknown>;
  /** Settings the adapter could not honour (Amp and `maxTurns`), also shown on `run_started`. */
  warnings?: string[];
}

/**
 * The provider port. An adapter turns its provider's stream into normalized events through `emit`
 * and resolves with the output. It never persists anything: the manager does.
 *
 * Contract (proved by `testProviderAdapter` from `@asm/testing`):
 * - `run_started` is emitted first and exactly one terminal event last; nothing after it;
 * - the abort signal is honoured at every await; an aborted run rejects promptly;
 * - failures reject with an `AsmError` whose code says what happened (`provider_rate_limited`,
 *   `provider_authentication_failed`, …), with `providerError` filled in;
 * - `tokenUsage` reports what the provider counted (zeros when it reports nothing).
 * Runs may execute concurrently through one adapter instance.
 */
export interface ProviderAdapter {
  /** The port version this adapter implements. Core refuses adapters of an unknown version. */
  readonly specificationVersion: 'v1';
  /** Stable name (`claude`, `codex`, `amp`, `shell`, or a third party's), used as the event provider. */
  readonly name: string;
  /** True when the adapter can resume its provider's own session from `providerSessionId`. */
  readonly supportsNativeContinuation?: boolean;
  /** What the adapter can do; used for capability negotiation before a run is created. */
  capabilities(): Capability[];
  /** Executes one run. See the contract above. */
  execute(run: Run, session: Session, options: ExecuteOptions): Promise<ExecuteResult>;
  /** Checks settings eagerly; throws `validation_error` naming the field. */
  validateConfig?(): void;
}

/** Checks that an object implements a provider port version this core understands. */
export function assertProviderAdapter(adapter: unknown): asserts adapter is ProviderAdapter {
  const candidate = adapter as Partial<ProviderAdapter> | undefined;
  if (!candidate || typeof candidate !== 'object') {
    throw new AsmError('validation_error', 'A ProviderAdapter is required');
  }
  if (candidate.specificationVersion !== 'v1') {
    throw new AsmError(
      'validation_error',
      `Unsupported ProviderAdapter specificationVersion ${JSON.stringify(candidate.specificationVersion)}; this @asm/core supports 'v1'`,
      { details: { specificationVersion: candidate.specificationVersion } },
    );
  }
  if (typeof candidate.name !== 'string' || candidate.name === '') {
    throw new AsmError('validation_error', 'A ProviderAdapter needs a non-empty name');
  }
  if (typeof candidate.execute !== 'function' || typeof candidate.capabilities !== 'function') {
    throw new AsmError(
      'validation_error',
      `ProviderAdapter ${candidate.name} must implement execute() and capabilities()`,
    );
  }
}

/** The `AsmError` an adapter should reject with when its signal was aborted. */
export function abortError(signal: AbortSignal): AsmError {
  const reason: unknown = signal.reason;
  if (AsmError.isInstance(reason)) return reason;
  return new AsmError('cancelled', 'Run was cancelled', reason === undefined ? {} : { cause: reason });
}

/** Throws `abortError(signal)` when the signal is aborted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortError(signal);
}

/** A code that means the run was stopped on purpose rather than failed. */
export function isAbortCode(code: ErrorCode): boolean {
  return code === 'cancelled' || code === 'timeout';
}
