import type { AsmError } from './errors.js';
import type { StoredEvent } from './event.js';
import type { AdapterEvent, ExecuteResult } from './ports/provider-adapter.js';
import type { Run } from './run.js';
import type { Session } from './session.js';
import type { ToolCall, ToolDecision } from './tools.js';

/** What an extension sees of the run it observes. */
export interface RunExtensionContext {
  /** The run as it was when execution started (status `running`). */
  readonly run: Run;
  readonly session: Session;
  /** Aborted when the run is cancelled, times out, or an extension aborts it. */
  readonly signal: AbortSignal;
  /**
   * Stops the run: the adapter's signal is aborted with `error`, and the run ends `failed` with that
   * error (`cancelled` and `timeout` codes end it `cancelled` / `timeout`).
   */
  abort(error: AsmError): void;
  /** Writes an event into the run's log, in order with the adapter's events (e.g. `policy_violation`). */
  emit(event: AdapterEvent): void;
}

/** How a run ended, as extensions see it in `afterRun`. */
export interface RunOutcome {
  run: Run;
  result?: ExecuteResult;
  error?: AsmError;
}

/** What `beforeFinish` may return: run metadata to merge and warnings to add, or nothing. */
export type BeforeFinishResult = { metadata?: Record<string, unknown>; warnings?: string[] } | undefined;

/**
 * What an extension answers when asked about a tool call: allow or deny outright, `ask` a person
 * (the manager writes `tool_approval_requested` and waits), or `undefined` to abstain.
 */
export type ExtensionToolDecision =
  | ToolDecision
  | 'ask'
  | { ask: true; reason?: string; data?: Record<string, unknown> }
  | undefined;

/**
 * A plug-in into `executeRun`: how policy and workspace snapshots hook in without core importing
 * them. Hooks are awaited in order of registration; a throw from `beforeRun` refuses the run before
 * the provider is called (it ends `failed` with that error).
 */
export interface RunExtension {
  readonly name: string;
  /** Preflight: throw an `AsmError` (e.g. `policy_violation`) to refuse the run. */
  beforeRun?(context: RunExtensionContext): void | Promise<void>;
  /** Sees every stored event of the run, in sequence order, after it is persisted. */
  onEvent?(event: StoredEvent, context: RunExtensionContext): void;
  /** Decides about a tool call before it runs. The strictest answer of all extensions wins. */
  authorizeToolCall?(
    call: ToolCall,
    context: RunExtensionContext,
  ): ExtensionToolDecision | Promise<ExtensionToolDecision>;
  /**
   * After the adapter settled and before the run's terminal event is written: the place to emit
   * closing events (a workspace diff) and add run metadata (merged into `run.metadata` and the
   * result's metadata). Throwing an `AsmError` fails the run with it.
   */
  beforeFinish?(
    outcome: { result?: ExecuteResult; error?: AsmError },
    context: RunExtensionContext,
  ): BeforeFinishResult | Promise<BeforeFinishResult>;
  /** Runs after the run's final status is stored. Errors here are reported, not thrown. */
  afterRun?(outcome: RunOutcome, context: RunExtensionContext): void | Promise<void>;
}
