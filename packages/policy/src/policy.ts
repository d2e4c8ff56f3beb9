import { AsmError } from '@asm/core';

/**
 * What a policy does when it is violated, from the most to the least strict:
 *
 * - `cancel`: the run is stopped and ends `failed` with `policy_violation`;
 * - `requestApproval`: offending tool calls wait for a person (`tool_approval_requested`); budget
 *   crossings are recorded and the run goes on, as with `warn`;
 * - `warn`: the violation is recorded and the run goes on.
 */
export const VIOLATION_ACTIONS = ['cancel', 'requestApproval', 'warn'] as const;
/** One of `VIOLATION_ACTIONS`. */
export type ViolationAction = (typeof VIOLATION_ACTIONS)[number];

/** The limits a policy can set, in the order they are checked. */
export const LIMIT_KEYS = [
  'maxTotalTokens',
  'maxInputTokens',
  'maxOutputTokens',
  'maxDurationMs',
  'maxToolCalls',
  'maxCostUsd',
] as const;
/** One of `LIMIT_KEYS`. */
export type LimitKey = (typeof LIMIT_KEYS)[number];

/**
 * Budgets of one run. A limit is exceeded when the actual value is strictly greater (equal is
 * fine). Every limit is optional; `0` is a valid value for `definePolicy` but is refused by the
 * preflight check (a run with a zero budget could not do anything).
 */
export interface PolicyLimits {
  /** Input + output + cache read + cache write tokens (core's `totalTokens`). Integer ≥ 0. */
  maxTotalTokens?: number;
  /** Uncached input tokens. Integer ≥ 0. */
  maxInputTokens?: number;
  /** Output tokens. Integer ≥ 0. Also compiled into the provider's `maxOutputTokens`. */
  maxOutputTokens?: number;
  /** Wall-clock time since the run started executing, in ms. Integer ≥ 0. */
  maxDurationMs?: number;
  /** Tool calls started (`tool_call_started`). Integer ≥ 0. */
  maxToolCalls?: number;
  /** Cost in USD from the pricing table (cache rates included) or the provider's own figure. ≥ 0. */
  maxCostUsd?: number;
}

/** Tool rules as written in `definePolicy`: exact names or globs where `*` matches anything. */
export interface PolicyToolsInput {
  /** Only these tools may run (`[]` allows none and is refused by preflight). */
  allow?: string[];
  /** These tools never run. Deny wins over allow. */
  deny?: string[];
}

/** One stored tool rule. Stacked policies keep every rule of every policy, in order. */
export interface PolicyToolRule {
  readonly effect: 'allow' | 'deny';
  /** Exact tool names or globs (`mcp:github:*`), de-duplicated. */
  readonly tools: readonly string[];
  /** Name of the policy the rule came from. */
  readonly policy: string;
}

/** What `definePolicy` accepts. */
export interface PolicyInput {
  /** Default `default`. */
  name?: string;
  limits?: PolicyLimits;
  tools?: PolicyToolsInput;
  /** Default `cancel`. */
  onViolation?: ViolationAction;
  /** Free-form data carried with the policy (owner, ticket…); deep-merged when stacking. */
  metadata?: Record<string, unknown>;
}

/** A validated, frozen policy. Build it with `definePolicy` or `stackPolicies`. */
export interface Policy {
  readonly name: string;
  readonly limits: Readonly<PolicyLimits>;
  /**
   * Every allow and deny rule. A tool may run when no deny rule matches it and every allow rule
   * does (so stacked allow lists intersect).
   */
  readonly toolRules: readonly PolicyToolRule[];
  readonly onViolation: ViolationAction;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A policy, or the input of one. */
export type PolicyLike = Policy | PolicyInput;

const DEFAULT_NAME = 'default';
const INPUT_FIELDS: ReadonlySet<string> = new Set(['name', 'limits', 'tools', 'onViolation', 'metadata']);
const TOOL_FIELDS: ReadonlySet<string> = new Set(['allow', 'deny']);
const INTEGER_LIMITS: ReadonlySet<LimitKey> = new Set([
  'maxTotalTokens',
  'maxInputTokens',
  'maxOutputTokens',
  'maxDurationMs',
  'maxToolCalls',
]);
const STRICTNESS: Record<ViolationAction, number> = { cancel: 3, requestApproval: 2, warn: 1 };

const definedPolicies = new WeakSet<object>();

function invalid(field: string, message: string, value?: unknown): AsmError {
  return new AsmError('validation_error', `Invalid policy: ${field} ${message}`, {
    details: { field, ...(value === undefined ? {} : { value }) },
  });
}

/** True for `{}`-like objects (not arrays, dates, class instances). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** True when `value` is a policy returned by `definePolicy` or `stackPolicies`. */
export function isPolicy(value: unknown): value is Policy {
  return typeof value === 'object' && value !== null && definedPolicies.has(value);
}

function validateName(value: unknown): string {
  if (value === undefined) return DEFAULT_NAME;
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid('name', 'must be a non-empty string', value);
  }
  return value;
}

function validateLimits(value: unknown): PolicyLimits {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalid('limits', 'must be an object', value);
  const limits: PolicyLimits = {};
  for (const [key, limit] of Object.entries(value)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw invalid(`limits.${key}`, `is not a known limit (expected one of ${LIMIT_KEYS.join(', ')})`);
    }
    if (limit === undefined) continue;
    const limitKey = key as LimitKey;
    if (INTEGER_LIMITS.has(limitKey)) {
      if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
        throw invalid(`limits.${key}`, 'must be an integer ≥ 0', limit);
      }
    } else if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) {
      throw invalid(`limits.${key}`, 'must be a finite number ≥ 0', limit);
    }
    limits[limitKey] = limit;
  }
  return limits;
}

function validatePatterns(value: unknown, field: string): string[] {
  if (!Array.isArray(value)) throw invalid(field, 'must be an array of tool names or globs', value);
  const patterns: string[] = [];
  value.forEach((pattern: unknown, index) => {
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      throw invalid(`${field}[${index}]`, 'must be a non-empty string', pattern);
    }
    if (!patterns.includes(pattern)) patterns.push(pattern);
  });
  return patterns;
}

function validateTools(value: unknown, policy: string): PolicyToolRule[] {
  if (value === undefined) return [];
  if (!isPlainObject(value)) throw invalid('tools', 'must be an object with allow and/or deny', value);
  for (const key of Object.keys(value)) {
    if (!TOOL_FIELDS.has(key)) throw invalid(`tools.${key}`, 'is not a known field (expected allow or deny)');
  }
  const rules: PolicyToolRule[] = [];
  if (value.allow !== undefined) {
    rules.push(freezeRule({ effect: 'allow', tools: validatePatterns(value.allow, 'tools.allow'), policy }));
  }
  if (value.deny !== undefined) {
    rules.push(freezeRule({ effect: 'deny', tools: validatePatterns(value.deny, 'tools.deny'), policy }));
  }
  return rules;
}

function validateAction(value: unknown): ViolationAction {
  if (value === undefined) return 'cancel';
  if (typeof value !== 'string' || !(VIOLATION_ACTIONS as readonly string[]).includes(value)) {
    throw invalid('onViolation', `must be one of ${VIOLATION_ACTIONS.join(', ')}`, value);
  }
  return value as ViolationAction;
}

function validateMetadata(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalid('metadata', 'must be a plain object', value);
  return { ...value };
}

function freezeRule(rule: PolicyToolRule): PolicyToolRule {
  Object.freeze(rule.tools);
  return Object.freeze(rule);
}

function freezePolicy(policy: Policy): Policy {
  Object.freeze(policy.limits);
  Object.freeze(policy.toolRules);
  Object.freeze(policy.metadata);
  Object.freeze(policy);
  definedPolicies.add(policy);
  return policy;
}

/**
 * Validates a policy and returns it frozen. Defaults: name `default`, no limits, no tool rules,
 * `onViolation: 'cancel'`, empty metadata. Anything invalid (an unknown field or limit, a negative
 * or fractional token budget, a tool pattern that is not a non-empty string, an unknown action) is
 * an `AsmError` `validation_error` whose `details.field` names the field (`limits.maxToolCalls`,
 * `tools.deny[2]`). Empty allow lists and zero budgets are accepted here and refused by the
 * preflight check when a run starts.
 */
export function definePolicy(input: PolicyInput = {}): Policy {
  if (isPolicy(input)) return input;
  if (!isPlainObject(input)) throw invalid('policy', 'must be an object', input);
  for (const key of Object.keys(input)) {
    if (!INPUT_FIELDS.has(key)) throw invalid(key, 'is not a known policy field');
  }
  const name = validateName(input.name);
  return freezePolicy({
    name,
    limits: validateLimits(input.limits),
    toolRules: validateTools(input.tools, name),
    onViolation: validateAction(input.onViolation),
    metadata: validateMetadata(input.metadata),
  });
}

/** The stricter of two actions: `cancel` > `requestApproval` > `warn`. */
export function strictestAction(left: ViolationAction, right: ViolationAction): ViolationAction {
  return STRICTNESS[right] > STRICTNESS[left] ? right : left;
}

/**
 * `right` laid over `left`: plain objects merge key by key, recursively; anything else (arrays,
 * numbers, class instances) in `right` replaces the value in `left`. Neither input is modified.
 */
export function deepMerge(
  left: Readonly<Record<string, unknown>>,
  right: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...left };
  for (const [key, value] of Object.entries(right)) {
    const current = merged[key];
    merged[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return merged;
}

/**
 * Merges policies (organisation, team, run…) left to right into one:
 *
 * - the name joins the distinct names with ` + `;
 * - limits merge key by key, a later policy's limit replacing an earlier one's;
 * - tool rules concatenate (a tool must pass every allow rule and no deny rule);
 * - the strictest action wins: `cancel` > `requestApproval` > `warn`;
 * - metadata deep-merges (later wins on conflicts, nested objects merge).
 *
 * Plain inputs are validated with `definePolicy` first. No argument gives the default policy; one
 * gives that policy.
 */
export function stackPolicies(...policies: PolicyLike[]): Policy {
  const defined = policies.map((policy, index) => {
    try {
      return definePolicy(policy);
    } catch (error) {
      if (AsmError.isInstance(error) && error.code === 'validation_error') {
        const field = typeof error.details.field === 'string' ? error.details.field : 'policy';
        throw new AsmError('validation_error', `Invalid policy at position ${index}: ${error.message}`, {
          details: { ...error.details, field, index },
        });
      }
      throw error;
    }
  });
  if (defined.length === 0) return definePolicy();
  if (defined.length === 1) return defined[0]!;
  const names: string[] = [];
  let limits: PolicyLimits = {};
  const toolRules: PolicyToolRule[] = [];
  let action: ViolationAction = 'warn';
  let metadata: Record<string, unknown> = {};
  for (const policy of defined) {
    if (!names.includes(policy.name)) names.push(policy.name);
    limits = { ...limits, ...policy.limits };
    toolRules.push(...policy.toolRules);
    action = strictestAction(action, policy.onViolation);
    metadata = deepMerge(metadata, policy.metadata);
  }
  return freezePolicy({ name: names.join(' + '), limits, toolRules, onViolation: action, metadata });
}

/** A policy from one policy, one input, or a list of them (stacked). */
export function resolvePolicy(policyOrPolicies: PolicyLike | readonly PolicyLike[]): Policy {
  return Array.isArray(policyOrPolicies)
    ? stackPolicies(...(policyOrPolicies as PolicyLike[]))
    : definePolicy(policyOrPolicies as PolicyLike);
}
