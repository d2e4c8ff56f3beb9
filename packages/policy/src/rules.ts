import { matchesToolPattern, type ToolRules } from '@asm/core';
import { LIMIT_KEYS, type LimitKey, type Policy, type PolicyToolRule } from './policy.js';

/** The verdict of `checkToolCall`. */
export type ToolCheck =
  | { allowed: true }
  | {
      allowed: false;
      /** `deny`: a deny rule matched; `allow`: an allow rule did not. */
      rule: 'allow' | 'deny';
      /** The patterns of the rule that refused the tool. */
      patterns: readonly string[];
      /** The policy the rule came from. */
      policy: string;
      /** A sentence for the model and the log. */
      reason: string;
    };

function refuse(rule: PolicyToolRule, toolName: string): ToolCheck {
  const reason =
    rule.effect === 'deny'
      ? `Tool ${toolName} is denied by policy ${rule.policy} (deny: ${rule.tools.join(', ')})`
      : `Tool ${toolName} is not allowed by policy ${rule.policy} (allow: ${rule.tools.join(', ') || 'none'})`;
  return { allowed: false, rule: rule.effect, patterns: rule.tools, policy: rule.policy, reason };
}

/**
 * Whether a policy lets a tool run: no deny rule may match it (deny wins) and every allow rule must
 * (so stacked allow lists intersect). Patterns are exact names or globs where `*` matches any run of
 * characters (`mcp:github:*`), as in core's `matchesToolPattern`.
 */
export function checkToolCall(policy: Policy, toolName: string): ToolCheck {
  for (const rule of policy.toolRules) {
    if (rule.effect === 'deny' && rule.tools.some((pattern) => matchesToolPattern(pattern, toolName))) {
      return refuse(rule, toolName);
    }
  }
  for (const rule of policy.toolRules) {
    if (rule.effect === 'allow' && !rule.tools.some((pattern) => matchesToolPattern(pattern, toolName))) {
      return refuse(rule, toolName);
    }
  }
  return { allowed: true };
}

/** What the preflight check found wrong with a policy. */
export type PreflightFinding =
  | { check: 'empty_allow_list'; policy: string }
  | { check: 'zero_budget'; limits: LimitKey[] }
  | { check: 'contradictory_rules'; tools: string[] };

/**
 * The problems that make a policy refuse every run before the provider is called:
 *
 * - `empty_allow_list`: an allow rule with no tool (nothing could ever be allowed);
 * - `zero_budget`: any limit set to `0` (tokens, duration, tool calls or cost), all listed;
 * - `contradictory_rules`: a tool that an allow rule names and a deny rule covers: an allowed name
 *   or glob that a deny pattern matches as a whole (allow `bash` with deny `bash` or `*`, allow
 *   `mcp:github:*` with deny `mcp:*`). Allowing `mcp:github:*` while denying `mcp:github:delete`
 *   is a narrowing, not a contradiction.
 *
 * Returns `[]` for a policy that may run.
 */
export function preflightPolicy(policy: Policy): PreflightFinding[] {
  const findings: PreflightFinding[] = [];
  const empty = policy.toolRules.find((rule) => rule.effect === 'allow' && rule.tools.length === 0);
  if (empty) findings.push({ check: 'empty_allow_list', policy: empty.policy });
  const zero = LIMIT_KEYS.filter((key) => policy.limits[key] === 0);
  if (zero.length > 0) findings.push({ check: 'zero_budget', limits: zero });
  const denyPatterns = policy.toolRules
    .filter((rule) => rule.effect === 'deny')
    .flatMap((rule) => rule.tools);
  const contradictory: string[] = [];
  for (const rule of policy.toolRules) {
    if (rule.effect !== 'allow') continue;
    for (const tool of rule.tools) {
      if (contradictory.includes(tool)) continue;
      if (denyPatterns.some((pattern) => matchesToolPattern(pattern, tool))) contradictory.push(tool);
    }
  }
  if (contradictory.length > 0) findings.push({ check: 'contradictory_rules', tools: contradictory });
  return findings;
}

/** Provider-side hints compiled from a policy, for `executeRun` / `runOnce` options. */
export interface CompiledPolicy {
  /** Tool rules every adapter maps (tools filtered before they reach the model). */
  toolRules?: ToolRules;
  /** Cap of the model's output per request. */
  maxOutputTokens?: number;
}

/** Patterns of `allow` that every allow rule lets through (exactly or by a covering glob). */
function intersectAllowRules(rules: PolicyToolRule[]): string[] {
  const result: string[] = [];
  for (const rule of rules) {
    for (const pattern of rule.tools) {
      if (result.includes(pattern)) continue;
      const everywhere = rules.every((other) =>
        other.tools.some((candidate) => matchesToolPattern(candidate, pattern)),
      );
      if (everywhere) result.push(pattern);
    }
  }
  return result;
}

/**
 * Compiles a policy into options the adapters honour, in addition to the runtime checks of the
 * policy extension:
 *
 * - `toolRules.allow`: the patterns every allow rule admits (their intersection; a glob counts when
 *   every rule has a pattern covering it), `toolRules.deny`: every deny pattern (deny wins in core);
 * - `maxOutputTokens`: the smaller of `maxOutputTokens` and `maxTotalTokens` (when > 0).
 *
 * A `requestApproval` policy compiles no tool rules: core refuses rule-breaking tools before any
 * extension is asked, so they would never reach the approval gate (and adapters would hide them from
 * the model). Duration, tool-call and cost limits have no provider-side form; the extension enforces
 * them.
 */
export function compilePolicy(policy: Policy): CompiledPolicy {
  const compiled: CompiledPolicy = {};
  if (policy.onViolation !== 'requestApproval') {
    const allowRules = policy.toolRules.filter((rule) => rule.effect === 'allow');
    const deny: string[] = [];
    for (const rule of policy.toolRules) {
      if (rule.effect !== 'deny') continue;
      for (const pattern of rule.tools) if (!deny.includes(pattern)) deny.push(pattern);
    }
    const toolRules: ToolRules = {};
    if (allowRules.length > 0) toolRules.allow = intersectAllowRules(allowRules);
    if (deny.length > 0) toolRules.deny = deny;
    if (toolRules.allow !== undefined || toolRules.deny !== undefined) compiled.toolRules = toolRules;
  }
  const caps = [policy.limits.maxOutputTokens, policy.limits.maxTotalTokens].filter(
    (value): value is number => value !== undefined && value > 0,
  );
  if (caps.length > 0) compiled.maxOutputTokens = Math.min(...caps);
  return compiled;
}
