export type {
  PolicyExtension,
  PolicyExtensionOptions,
  PolicyReport,
  PolicyRunOptions,
  PolicyUsage,
  PolicyViolation,
  PolicyWarning,
  ViolationKind,
} from './extension.js';
export { createPolicyExtension, policyRunOptions } from './extension.js';
export type {
  LimitKey,
  Policy,
  PolicyInput,
  PolicyLike,
  PolicyLimits,
  PolicyToolRule,
  PolicyToolsInput,
  ViolationAction,
} from './policy.js';
export {
  deepMerge,
  definePolicy,
  isPolicy,
  LIMIT_KEYS,
  resolvePolicy,
  stackPolicies,
  strictestAction,
  VIOLATION_ACTIONS,
} from './policy.js';
export type { CompiledPolicy, PreflightFinding, ToolCheck } from './rules.js';
export { checkToolCall, compilePolicy, preflightPolicy } from './rules.js';
