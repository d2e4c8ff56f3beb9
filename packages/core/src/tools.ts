import { AsmError } from './errors.js';

/** A tool call the model asked for. */
export interface ToolCall {
  /** The provider's id for the call (`toolu_…`, `call_…`). */
  id: string;
  name: string;
  input: unknown;
}

/**
 * A tool the app offers to the model. Without `execute`, a call to it ends the run with
 * `stopReason: 'tool_use'` and the call in `output.pendingToolCalls`, so the app answers it next run.
 */
export interface Tool<Input = unknown, Output = unknown> {
  name: string;
  description?: string;
  /** JSON Schema of the input object. */
  inputSchema: Record<string, unknown>;
  /**
   * Runs the tool. (Declared as a method so a `Tool<{ city: string }>` fits where a `Tool` is
   * expected.)
   */
  execute?(input: Input, context: { signal: AbortSignal; toolCallId: string }): Promise<Output> | Output;
}

/** The answer to `authorizeToolCall`: run the tool (optionally with rewritten input), or do not. */
export type ToolDecision = { allow: true; input?: unknown } | { allow: false; reason: string };

/** Normalized per-run tool rules; every adapter maps them onto its provider. Deny wins over allow. */
export interface ToolRules {
  allow?: string[];
  deny?: string[];
}

/** Permission modes coding agents map onto their own sandbox and approval settings. */
export const PERMISSION_MODES = [
  'default',
  'accept_edits',
  'plan',
  'full_auto',
  'dangerously_skip_permissions',
] as const;
/** A normalized permission mode. */
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/** True when `value` names a permission mode. */
export function isPermissionMode(value: unknown): value is PermissionMode {
  return typeof value === 'string' && (PERMISSION_MODES as readonly string[]).includes(value);
}

/** Checks a permission mode; `undefined` passes through, anything else unknown is `validation_error`. */
export function normalizePermissionMode(value: unknown): PermissionMode | undefined {
  if (value === undefined || value === null) return undefined;
  if (isPermissionMode(value)) return value;
  throw new AsmError('validation_error', `Invalid permission mode: ${String(value)}`, {
    details: { field: 'permissionMode', allowed: PERMISSION_MODES },
  });
}

/**
 * Matches a tool name against a rule: an exact name, or a glob where `*` matches any run of
 * characters (`mcp:github:*`).
 */
export function matchesToolPattern(pattern: string, toolName: string): boolean {
  if (!pattern.includes('*')) return pattern === toolName;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(toolName);
}

/** True when rules let a tool run: not denied, and allowed when an allow list is given. */
export function isToolAllowed(rules: ToolRules | undefined, toolName: string): boolean {
  if (!rules) return true;
  if (rules.deny?.some((pattern) => matchesToolPattern(pattern, toolName))) return false;
  if (rules.allow) return rules.allow.some((pattern) => matchesToolPattern(pattern, toolName));
  return true;
}
