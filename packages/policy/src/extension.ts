import {
  AsmError,
  type BeforeFinishResult,
  calculateCost,
  DEFAULT_PRICING_TABLE,
  type ExecuteResult,
  type ExtensionToolDecision,
  emptyTokenUsage,
  normalizeTokenUsage,
  nowIso,
  type PricingTable,
  type RunExtension,
  type RunExtensionContext,
  type RunOutcome,
  type RunStatus,
  resolveRates,
  type StoredEvent,
  type TokenUsage,
  type ToolCall,
  type ToolRules,
} from '@asm/core';
import {
  type LimitKey,
  type Policy,
  type PolicyLike,
  resolvePolicy,
  type ViolationAction,
} from './policy.js';
import {
  checkToolCall,
  compilePolicy,
  type PreflightFinding,
  preflightPolicy,
  type ToolCheck,
} from './rules.js';

/** What was violated: a budget, a tool rule, or the preflight check (the run never started). */
export type ViolationKind = 'budget_exceeded' | 'tool_denied' | 'preflight_failed';

/** One violation, as persisted in a `policy_violation` event (plus `runId` and `timestamp`). */
export interface PolicyViolation {
  /** Name of the (stacked) policy. */
  policy: string;
  kind: ViolationKind;
  /** What the policy did about it; preflight failures are always `cancel`. */
  action: ViolationAction;
  /**
   * `budget_exceeded`: `{ metric, limitKey, limit, actual }` (cost adds `provider`, `model`);
   * `tool_denied`: `{ toolName, toolCallId, rule, patterns, rulePolicy, reason }`;
   * `preflight_failed`: `{ check, … }` (see `PreflightFinding`).
   */
  details: Record<string, unknown>;
  runId: string;
  timestamp: string;
}

/** Something that weakens enforcement, recorded instead of passing silently. */
export interface PolicyWarning {
  /** `missing_cost_rates`: `maxCostUsd` is set but no rates exist for the run's model. */
  code: 'missing_cost_rates';
  message: string;
  details: Record<string, unknown>;
}

/** What the extension measured of a run. */
export interface PolicyUsage extends TokenUsage {
  /** Distinct tool calls started. */
  toolCalls: number;
  /** Whole milliseconds since the run started executing. */
  elapsedMs: number;
  /** Cost so far; undefined when no rates exist for the model and the provider reported none. */
  costUsd?: number;
  model?: string;
  provider?: string;
}

/** The policy's view of one run: its violations, warnings and usage. */
export interface PolicyReport {
  runId: string;
  sessionId: string;
  policy: string;
  action: ViolationAction;
  violated: boolean;
  violations: PolicyViolation[];
  warnings: PolicyWarning[];
  usage: PolicyUsage;
  /** False when `maxCostUsd` is set but could not be enforced (see `warnings`). */
  costEnforced: boolean;
  /** The extension aborted the run (`cancel`). */
  cancelRequested: boolean;
  /** Tool calls sent to the approval gate (`requestApproval`). */
  approvalsRequested: number;
  /** The run's final status, once `afterRun` has seen it. */
  status?: RunStatus;
}

/** Options of `createPolicyExtension`. */
export interface PolicyExtensionOptions {
  /** Prices for `maxCostUsd` (USD per token, cache rates included). Default: core's `DEFAULT_PRICING_TABLE`. */
  pricingTable?: PricingTable;
  /** Clock in milliseconds for `maxDurationMs`. Default `performance.now`. */
  now?: () => number;
  /** Called with every violation right after its event is emitted. Errors are ignored. */
  onViolation?: (violation: PolicyViolation) => void;
  /** Called with every warning (at most once per code and run). Errors are ignored. */
  onWarning?: (warning: PolicyWarning, runId: string) => void;
  /** Called in `afterRun` with the final report and the run's outcome. Errors are ignored. */
  onReport?: (report: PolicyReport, outcome: RunOutcome) => void | Promise<void>;
  /**
   * Key under which a summary (`{ name, action, violations, warnings, usage, metadata }`) is added to
   * the run's metadata and the result's `metadata` when there are violations or warnings; `false`
   * adds nothing. Default `policy`.
   */
  metadataKey?: string | false;
  /** Reports of finished runs kept for `report(runId)`, oldest dropped first. Default 100. */
  retainReports?: number;
}

/** The run extension `createPolicyExtension` returns. */
export interface PolicyExtension extends RunExtension {
  /** The effective (stacked) policy. */
  readonly policy: Policy;
  /** The report of a run executing now or among the last `retainReports` finished, else undefined. */
  report(runId: string): PolicyReport | undefined;
  /** The report of the run that finished last. */
  readonly lastReport: PolicyReport | undefined;
  beforeRun(context: RunExtensionContext): void;
  onEvent(event: StoredEvent, context: RunExtensionContext): void;
  authorizeToolCall(call: ToolCall, context: RunExtensionContext): ExtensionToolDecision;
  beforeFinish(
    outcome: { result?: ExecuteResult; error?: AsmError },
    context: RunExtensionContext,
  ): BeforeFinishResult;
  afterRun(outcome: RunOutcome, context: RunExtensionContext): Promise<void>;
}

interface RunState {
  readonly context: RunExtensionContext;
  readonly startedAt: number;
  usage: TokenUsage;
  provider: string | undefined;
  model: string | undefined;
  reportedCostUsd: number | undefined;
  /** Cost is evaluated once the model is known (run_started) or usage arrived. */
  costReady: boolean;
  costEnforced: boolean;
  readonly crossed: Set<LimitKey>;
  readonly toolOrdinals: Map<string, number>;
  readonly deniedCalls: Set<string>;
  readonly violations: PolicyViolation[];
  readonly warnings: PolicyWarning[];
  budgetViolated: boolean;
  cancelRequested: boolean;
  approvalsRequested: number;
  preflightFailed: boolean;
  finalized: boolean;
  /** Elapsed ms frozen when the run finished. */
  finalElapsedMs: number | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  status?: RunStatus;
}

type Metric = 'totalTokens' | 'inputTokens' | 'outputTokens' | 'durationMs' | 'toolCalls' | 'costUsd';

const METRICS: ReadonlyArray<{ key: LimitKey; metric: Metric }> = [
  { key: 'maxTotalTokens', metric: 'totalTokens' },
  { key: 'maxInputTokens', metric: 'inputTokens' },
  { key: 'maxOutputTokens', metric: 'outputTokens' },
  { key: 'maxDurationMs', metric: 'durationMs' },
  { key: 'maxToolCalls', metric: 'toolCalls' },
  { key: 'maxCostUsd', metric: 'costUsd' },
];

const MANAGER_PROVIDER = 'session_manager';

function maxUsage(left: TokenUsage, right: TokenUsage): TokenUsage {
  const merged: TokenUsage = {
    inputTokens: Math.max(left.inputTokens, right.inputTokens),
    outputTokens: Math.max(left.outputTokens, right.outputTokens),
    cacheReadTokens: Math.max(left.cacheReadTokens, right.cacheReadTokens),
    cacheWriteTokens: Math.max(left.cacheWriteTokens, right.cacheWriteTokens),
    totalTokens: 0,
  };
  const oneHour = Math.max(left.cacheWrite1hTokens ?? 0, right.cacheWrite1hTokens ?? 0);
  if (oneHour > 0) merged.cacheWrite1hTokens = oneHour;
  merged.totalTokens = Math.max(
    left.totalTokens,
    right.totalTokens,
    merged.inputTokens + merged.outputTokens + merged.cacheReadTokens + merged.cacheWriteTokens,
  );
  return merged;
}

function describe(violation: Pick<PolicyViolation, 'kind' | 'details'>): string {
  const details = violation.details;
  switch (violation.kind) {
    case 'budget_exceeded':
      return `${String(details.limitKey)} exceeded (${String(details.actual)} > ${String(details.limit)})`;
    case 'tool_denied':
      return String(details.reason);
    case 'preflight_failed':
      return `preflight check ${String(details.check)} failed`;
    default: {
      const unhandled: never = violation.kind;
      throw new Error(`Unhandled violation kind: ${String(unhandled)}`);
    }
  }
}

function eventShape(violation: PolicyViolation): Record<string, unknown> {
  return {
    policy: violation.policy,
    kind: violation.kind,
    action: violation.action,
    details: violation.details,
  };
}

/**
 * A `RunExtension` that enforces a policy (or a stack of them, merged with `stackPolicies`) on every
 * run it is given to — per run in `executeRun` / `runOnce` options, or for all runs in
 * `createSessionManager({ extensions })`:
 *
 * - **preflight** (`beforeRun`): an empty allow list, any zero budget, or a tool both allowed and
 *   denied emits one `policy_violation` (`kind: 'preflight_failed'`) per problem and refuses the run
 *   with `policy_violation`; the provider is never called;
 * - **runtime** (`onEvent`, every stored event): cumulative usage from `token_usage_updated`, tool
 *   calls from `tool_call_started`, duration since the run started (also checked by a timer, so a
 *   silent provider is caught), and cost from the model of `run_started` and the pricing table
 *   (cache rates included; a provider-reported cost wins). A limit is exceeded when the actual value
 *   is strictly greater. Each limit emits at most one `policy_violation` per run, each refused tool
 *   call one;
 * - **tool calls** (`authorizeToolCall`, before a tool runs): a tool the rules refuse is denied with a
 *   reason, or sent to the approval gate (`'ask'`) under `requestApproval`; a call beyond
 *   `maxToolCalls` is denied (`cancel`), allowed (`warn`) or sent to the gate (`requestApproval`).
 *
 * Actions: `cancel` aborts the run once with `AsmError('policy_violation')` — it ends `failed` even if
 * the provider then reports success. `warn` lets it finish; `requestApproval` asks a person about
 * tool calls and otherwise behaves like `warn` (budget crossings cannot be approved after the fact;
 * once one happened, every later tool call goes to the gate). Violations and warnings are readable
 * with `report(runId)`, in `onReport`, and in the result's `metadata.policy`.
 */
export function createPolicyExtension(
  policyOrPolicies: PolicyLike | readonly PolicyLike[],
  options: PolicyExtensionOptions = {},
): PolicyExtension {
  const policy = resolvePolicy(policyOrPolicies);
  const preflight = preflightPolicy(policy);
  const pricingTable = options.pricingTable ?? DEFAULT_PRICING_TABLE;
  const now = options.now ?? (() => performance.now());
  const metadataKey = options.metadataKey === undefined ? 'policy' : options.metadataKey;
  const retain = options.retainReports ?? 100;
  if (!Number.isSafeInteger(retain) || retain < 0) {
    throw new AsmError('validation_error', 'retainReports must be an integer ≥ 0', {
      details: { field: 'retainReports', value: retain },
    });
  }
  if (metadataKey !== false && (typeof metadataKey !== 'string' || metadataKey === '')) {
    throw new AsmError('validation_error', 'metadataKey must be a non-empty string or false', {
      details: { field: 'metadataKey', value: metadataKey },
    });
  }
  const states = new Map<string, RunState>();
  const finished = new Map<string, PolicyReport>();
  let lastReport: PolicyReport | undefined;

  const elapsedOf = (state: RunState): number =>
    state.finalElapsedMs ?? Math.max(0, Math.floor(now() - state.startedAt));

  const finalize = (state: RunState): void => {
    if (state.finalized) return;
    state.finalElapsedMs = elapsedOf(state);
    state.finalized = true;
    if (state.timer !== undefined) clearTimeout(state.timer);
    state.timer = undefined;
  };

  const warn = (state: RunState, warning: PolicyWarning): void => {
    if (state.warnings.some((existing) => existing.code === warning.code)) return;
    state.warnings.push(warning);
    try {
      options.onWarning?.(warning, state.context.run.id);
    } catch {
      // A throwing listener must not break enforcement.
    }
  };

  const costOf = (state: RunState): number | undefined => {
    if (state.reportedCostUsd !== undefined) {
      state.costEnforced = policy.limits.maxCostUsd !== undefined;
      return state.reportedCostUsd;
    }
    if (!state.costReady) return undefined;
    if (!resolveRates(state.provider, state.model, pricingTable)) {
      state.costEnforced = false;
      if (policy.limits.maxCostUsd !== undefined) {
        warn(state, {
          code: 'missing_cost_rates',
          message: `No pricing for provider ${state.provider ?? '(unknown)'} and model ${state.model ?? '(unknown)'}: maxCostUsd is not enforced for this run`,
          details: { provider: state.provider, model: state.model, limit: policy.limits.maxCostUsd },
        });
      }
      return undefined;
    }
    return calculateCost(state.usage, state.provider, state.model, pricingTable);
  };

  const actualOf = (state: RunState, metric: Metric): number | undefined => {
    switch (metric) {
      case 'totalTokens':
      case 'inputTokens':
      case 'outputTokens':
        return state.usage[metric];
      case 'durationMs':
        return elapsedOf(state);
      case 'toolCalls':
        return state.toolOrdinals.size;
      case 'costUsd':
        return costOf(state);
      default: {
        const unhandled: never = metric;
        throw new Error(`Unhandled metric: ${String(unhandled)}`);
      }
    }
  };

  const cancelError = (state: RunState): AsmError => {
    const first = state.violations[0];
    return new AsmError(
      'policy_violation',
      `Policy ${policy.name} cancelled the run: ${first ? describe(first) : 'violation'}`,
      { details: { policy: policy.name, violations: state.violations.map(eventShape) } },
    );
  };

  const record = (
    state: RunState,
    kind: ViolationKind,
    details: Record<string, unknown>,
    action: ViolationAction = policy.onViolation,
  ): PolicyViolation => {
    const violation: PolicyViolation = {
      policy: policy.name,
      kind,
      action,
      details,
      runId: state.context.run.id,
      timestamp: nowIso(),
    };
    state.violations.push(violation);
    if (kind === 'budget_exceeded') state.budgetViolated = true;
    state.context.emit({ type: 'policy_violation', data: eventShape(violation) });
    try {
      options.onViolation?.(violation);
    } catch {
      // A throwing listener must not break enforcement.
    }
    if (action === 'cancel' && kind !== 'preflight_failed' && !state.cancelRequested) {
      state.cancelRequested = true;
      state.context.abort(cancelError(state));
    }
    return violation;
  };

  const checkBudgets = (state: RunState): void => {
    for (const { key, metric } of METRICS) {
      const limit = policy.limits[key];
      if (limit === undefined || state.crossed.has(key)) continue;
      const actual = actualOf(state, metric);
      if (actual === undefined || !(actual > limit)) continue;
      state.crossed.add(key);
      const details: Record<string, unknown> = { metric, limitKey: key, limit, actual };
      if (metric === 'costUsd') {
        if (state.provider !== undefined) details.provider = state.provider;
        if (state.model !== undefined) details.model = state.model;
        details.source = state.reportedCostUsd !== undefined ? 'provider' : 'pricing_table';
      }
      record(state, 'budget_exceeded', details);
    }
  };

  const registerToolCall = (state: RunState, toolCallId: string): number => {
    let ordinal = state.toolOrdinals.get(toolCallId);
    if (ordinal === undefined) {
      ordinal = state.toolOrdinals.size + 1;
      state.toolOrdinals.set(toolCallId, ordinal);
    }
    return ordinal;
  };

  const recordToolDenied = (
    state: RunState,
    toolCallId: string,
    toolName: string,
    verdict: Extract<ToolCheck, { allowed: false }>,
  ): void => {
    if (state.deniedCalls.has(toolCallId)) return;
    state.deniedCalls.add(toolCallId);
    record(state, 'tool_denied', {
      toolName,
      toolCallId,
      rule: verdict.rule,
      patterns: [...verdict.patterns],
      rulePolicy: verdict.policy,
      reason: verdict.reason,
    });
  };

  const scheduleDurationCheck = (state: RunState): void => {
    const limit = policy.limits.maxDurationMs;
    if (limit === undefined || state.finalized || state.crossed.has('maxDurationMs')) return;
    const wait = Math.max(1, limit - elapsedOf(state) + 1);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.finalized) return;
      checkBudgets(state);
      scheduleDurationCheck(state);
    }, wait);
    state.timer.unref?.();
  };

  const snapshot = (state: RunState): PolicyReport => {
    const usage: PolicyUsage = {
      ...state.usage,
      toolCalls: state.toolOrdinals.size,
      elapsedMs: elapsedOf(state),
    };
    const cost =
      state.reportedCostUsd ??
      (state.costReady ? calculateCost(state.usage, state.provider, state.model, pricingTable) : undefined);
    if (cost !== undefined) usage.costUsd = cost;
    if (state.model !== undefined) usage.model = state.model;
    if (state.provider !== undefined) usage.provider = state.provider;
    const report: PolicyReport = {
      runId: state.context.run.id,
      sessionId: state.context.session.id,
      policy: policy.name,
      action: policy.onViolation,
      violated: state.violations.length > 0,
      violations: state.violations.map((violation) => ({ ...violation })),
      warnings: state.warnings.map((warning) => ({ ...warning })),
      usage,
      costEnforced: state.costEnforced,
      cancelRequested: state.cancelRequested,
      approvalsRequested: state.approvalsRequested,
    };
    if (state.status !== undefined) report.status = state.status;
    return report;
  };

  const stateOf = (context: RunExtensionContext): RunState | undefined => states.get(context.run.id);

  const askForApproval = (state: RunState): 'ask' => {
    state.approvalsRequested++;
    return 'ask';
  };

  const extension: PolicyExtension = {
    name: `policy:${policy.name}`,
    policy,

    report(runId) {
      const state = states.get(runId);
      return state ? snapshot(state) : finished.get(runId);
    },

    get lastReport() {
      return lastReport;
    },

    beforeRun(context) {
      const state: RunState = {
        context,
        startedAt: now(),
        usage: emptyTokenUsage(),
        provider: context.run.provider,
        model: undefined,
        reportedCostUsd: undefined,
        costReady: false,
        costEnforced: policy.limits.maxCostUsd !== undefined,
        crossed: new Set(),
        toolOrdinals: new Map(),
        deniedCalls: new Set(),
        violations: [],
        warnings: [],
        budgetViolated: false,
        cancelRequested: false,
        approvalsRequested: 0,
        preflightFailed: false,
        finalized: false,
        finalElapsedMs: undefined,
        timer: undefined,
      };
      states.set(context.run.id, state);
      if (preflight.length > 0) {
        state.preflightFailed = true;
        for (const finding of preflight) {
          record(state, 'preflight_failed', { ...(finding as PreflightFinding) }, 'cancel');
        }
        throw new AsmError(
          'policy_violation',
          `Policy ${policy.name} refused the run before it started: ${preflight.map((finding) => finding.check).join(', ')}`,
          {
            details: {
              policy: policy.name,
              checks: preflight.map((finding) => finding.check),
              violations: state.violations.map(eventShape),
            },
          },
        );
      }
      scheduleDurationCheck(state);
    },

    onEvent(event, context) {
      const state = stateOf(context);
      if (!state || state.finalized || state.preflightFailed) return;
      switch (event.type) {
        case 'run_started': {
          if (typeof event.data.model === 'string' && event.data.model !== '') state.model = event.data.model;
          if (event.provider !== undefined && event.provider !== MANAGER_PROVIDER)
            state.provider = event.provider;
          state.costReady = true;
          break;
        }
        case 'token_usage_updated': {
          state.usage = maxUsage(state.usage, normalizeTokenUsage(event.data));
          const reported = (event.data as Record<string, unknown>).costUsd;
          if (typeof reported === 'number' && Number.isFinite(reported) && reported > 0) {
            state.reportedCostUsd = Math.max(state.reportedCostUsd ?? 0, reported);
          }
          state.costReady = true;
          break;
        }
        case 'tool_call_started': {
          const toolCallId = typeof event.data.toolCallId === 'string' ? event.data.toolCallId : event.id;
          registerToolCall(state, toolCallId);
          if (typeof event.data.toolName === 'string') {
            const verdict = checkToolCall(policy, event.data.toolName);
            if (!verdict.allowed) recordToolDenied(state, toolCallId, event.data.toolName, verdict);
          }
          break;
        }
        default:
          break;
      }
      checkBudgets(state);
    },

    authorizeToolCall(call, context) {
      const state = stateOf(context);
      if (!state || state.finalized) return undefined;
      const ordinal = registerToolCall(state, call.id);
      checkBudgets(state);
      const verdict = checkToolCall(policy, call.name);
      if (!verdict.allowed) {
        recordToolDenied(state, call.id, call.name, verdict);
        if (policy.onViolation === 'requestApproval') return askForApproval(state);
        return { allow: false, reason: verdict.reason };
      }
      const maxToolCalls = policy.limits.maxToolCalls;
      if (maxToolCalls !== undefined && ordinal > maxToolCalls) {
        if (policy.onViolation === 'requestApproval') return askForApproval(state);
        if (policy.onViolation === 'cancel') {
          return {
            allow: false,
            reason: `Tool call ${ordinal} exceeds maxToolCalls (${maxToolCalls}) of policy ${policy.name}`,
          };
        }
        return undefined;
      }
      if (policy.onViolation === 'requestApproval' && state.budgetViolated) return askForApproval(state);
      if (state.cancelRequested) {
        return { allow: false, reason: `The run is being cancelled by policy ${policy.name}` };
      }
      return undefined;
    },

    beforeFinish(outcome, context) {
      const state = stateOf(context);
      if (!state || state.finalized) return undefined;
      if (!state.preflightFailed) {
        const result = outcome.result;
        if (result) {
          state.usage = maxUsage(state.usage, normalizeTokenUsage(result.tokenUsage));
          if (typeof result.model === 'string' && result.model !== '') state.model = result.model;
          if (typeof result.provider === 'string' && result.provider !== '') state.provider = result.provider;
          if (typeof result.costUsd === 'number' && Number.isFinite(result.costUsd) && result.costUsd > 0) {
            state.reportedCostUsd = result.costUsd;
          }
          state.costReady = true;
        }
        checkBudgets(state);
      }
      finalize(state);
      if (
        policy.onViolation === 'cancel' &&
        !state.preflightFailed &&
        state.violations.length > 0 &&
        outcome.error === undefined
      ) {
        // The violation surfaced after the provider settled (its last events were still being
        // written): the run must still end with policy_violation.
        state.cancelRequested = true;
        throw cancelError(state);
      }
      if (metadataKey === false || (state.violations.length === 0 && state.warnings.length === 0)) {
        return undefined;
      }
      const report = snapshot(state);
      const summary: Record<string, unknown> = {
        name: policy.name,
        action: policy.onViolation,
        violations: report.violations.map((violation) => ({
          ...eventShape(violation),
          timestamp: violation.timestamp,
        })),
        warnings: report.warnings,
        usage: report.usage,
      };
      if (Object.keys(policy.metadata).length > 0) summary.metadata = policy.metadata;
      return { metadata: { [metadataKey]: summary } };
    },

    async afterRun(outcome, context) {
      const state = stateOf(context);
      if (!state) return;
      finalize(state);
      state.status = outcome.run.status;
      states.delete(context.run.id);
      const report = snapshot(state);
      lastReport = report;
      if (retain > 0) {
        finished.set(report.runId, report);
        while (finished.size > retain) {
          const oldest = finished.keys().next().value;
          if (oldest === undefined) break;
          finished.delete(oldest);
        }
      }
      try {
        await options.onReport?.(report, outcome);
      } catch {
        // afterRun is observation; the run's outcome is already stored.
      }
    },
  };
  return extension satisfies RunExtension;
}

/** What `policyRunOptions` returns: spread it into `executeRun` / `runOnce` options. */
export interface PolicyRunOptions {
  /** The policy extension (read its `report(runId)` after the run). */
  extensions: [PolicyExtension];
  toolRules?: ToolRules;
  maxOutputTokens?: number;
}

/**
 * Everything a run needs to enforce a policy: the extension plus the provider-side hints of
 * `compilePolicy`. Spread it into `executeRun` / `runOnce` options (list other extensions after it
 * yourself: `{ ...options, extensions: [...options.extensions, mine] }`).
 */
export function policyRunOptions(
  policyOrPolicies: PolicyLike | readonly PolicyLike[],
  options: PolicyExtensionOptions = {},
): PolicyRunOptions {
  const extension = createPolicyExtension(policyOrPolicies, options);
  return { extensions: [extension], ...compilePolicy(extension.policy) };
}
