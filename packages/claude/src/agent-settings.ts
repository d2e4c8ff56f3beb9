import { statSync } from 'node:fs';
import { normalizePermissionMode, type PermissionMode } from '@asm/core';
import type { ClaudeAgentSdkLoader } from './agent-sdk-loader.js';
import { fieldChecks } from './field-checks.js';

/** Filesystem settings Claude Code may load (`settingSources` of the SDK). */
export type ClaudeAgentSettingSource = 'user' | 'project' | 'local';

/** After `interrupt()`, how long the turn gets to stop before the adapter aborts the process. */
export const DEFAULT_CLAUDE_AGENT_INTERRUPT_TIMEOUT_MS = 2_000;
/** How long a `claude` process gets to exit (its input closed, or after SIGTERM) before it is killed. */
export const DEFAULT_CLAUDE_AGENT_SHUTDOWN_GRACE_MS = 2_000;

/**
 * Settings of the `agent` backend: Claude Code, the coding agent that reads and edits files and
 * runs commands itself, driven through `@anthropic-ai/claude-agent-sdk` (an optional peer
 * dependency, loaded on the first run).
 */
export interface ClaudeAgentSettings {
  backend: 'agent';
  /** Adapter name, also the `provider` of its events and the pricing-table key. Default `claude`. */
  name?: string;
  /** The folder the agent works in (`cwd`). Required; must exist. */
  workingDirectory: string;
  /** Model id or alias. Default: Claude Code's own default; a run's `adapterOptions.model` wins. */
  model?: string;
  /**
   * Default permission mode; the run's `permissionMode` wins. `default`: every tool call Claude Code
   * asks permission for goes through `authorizeToolCall` (policy, approvals). `accept_edits`: file
   * edits run without asking. `plan`: Claude Code plans, runs nothing. `full_auto`: as `default`
   * (calls are allowed unless a policy or approval gate says otherwise). `dangerously_skip_permissions`:
   * Claude Code's `bypassPermissions` (no approvals at all); Claude Code refuses it as root, so as
   * root the run uses `default` and reports a `permission_mode_downgraded` warning.
   */
  permissionMode?: PermissionMode;
  /** Tools that run without asking (Claude Code's `allowedTools`); they skip `authorizeToolCall`. */
  allowedTools?: string[];
  /** Tools removed from the model's context (Claude Code's `disallowedTools`). */
  disallowedTools?: string[];
  /**
   * Appended to Claude Code's own system prompt (which carries its tool instructions);
   * `session.context.systemPrompt` wins over it.
   */
  systemPrompt?: string;
  /** Most model turns of a run; the run then completes with stop reason `max_turns`. Default: no limit. */
  maxTurns?: number;
  /** API key, handed to the CLI as `ANTHROPIC_API_KEY`. Default: the CLI's own (environment or login). */
  apiKey?: string;
  /** API base URL, handed to the CLI as `ANTHROPIC_BASE_URL`. */
  baseURL?: string;
  /**
   * Environment of the CLI, merged over `process.env` (a value `undefined` removes a variable).
   * `apiKey`, `baseURL` and `configDir` win over it.
   */
  env?: Record<string, string | undefined>;
  /** The `claude` executable. Default: the native binary bundled with the SDK. */
  executablePath?: string;
  /**
   * Claude Code's state folder (`CLAUDE_CONFIG_DIR`): settings, credentials, and the session files
   * that `resume` reads (`<configDir>/projects/<cwd>/<sessionId>.jsonl`). Default: `~/.claude`.
   */
  configDir?: string;
  /** Filesystem settings Claude Code loads. Default: the SDK's (all of them). */
  settingSources?: ClaudeAgentSettingSource[];
  /**
   * On cancel or timeout, how long the interrupted turn gets to end before the adapter falls back to
   * aborting the process. Default 2,000 ms.
   */
  interruptTimeoutMs?: number;
  /**
   * How long a `claude` process gets to exit once its input is closed (and again after SIGTERM)
   * before it is killed, with every process it started. Default 2,000 ms.
   */
  shutdownGraceMs?: number;
  /** Called with every chunk of the CLI's stderr (the adapter also keeps its end for errors). */
  stderr?: (chunk: string) => void;
  /**
   * More options of the SDK's `query()` (`thinking`, `effort`, `mcpServers`, `agents`, …). The
   * adapter's own (`cwd`, `resume`, `canUseTool`, `abortController`, `includePartialMessages`,
   * `spawnClaudeCodeProcess`, …) win over them.
   */
  sdkOptions?: Record<string, unknown>;
  /** Loads `@anthropic-ai/claude-agent-sdk` (a test seam). Default: `import('@anthropic-ai/claude-agent-sdk')`. */
  loadSdk?: ClaudeAgentSdkLoader;
}

const SETTING_SOURCES: readonly string[] = ['user', 'project', 'local'];

const checks = fieldChecks('Claude provider (agent): ');
function invalid(field: string, message: string, value: unknown): never {
  return checks.invalid(field, message, value);
}

function optionalStringList(settings: ClaudeAgentSettings, field: 'allowedTools' | 'disallowedTools'): void {
  const value: unknown = settings[field];
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string' || entry === '')) {
    invalid(field, `${field} must be an array of non-empty strings`, value);
  }
}

function optionalNonNegativeInteger(
  settings: ClaudeAgentSettings,
  field: 'interruptTimeoutMs' | 'shutdownGraceMs',
): void {
  const value: unknown = settings[field];
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
    invalid(field, `${field} must be a non-negative integer`, value);
  }
}

/** Throws `validation_error` when `path` is not an existing directory. */
export function checkWorkingDirectory(path: string): void {
  let directory = false;
  try {
    directory = statSync(path).isDirectory();
  } catch {
    directory = false;
  }
  if (!directory) invalid('workingDirectory', `workingDirectory does not exist: ${path}`, path);
}

/** Checks every setting of the agent backend; throws `validation_error` naming the field. */
export function validateAgentSettings(settings: ClaudeAgentSettings): void {
  if (typeof settings.workingDirectory !== 'string' || settings.workingDirectory === '') {
    invalid('workingDirectory', 'workingDirectory is required', settings.workingDirectory);
  }
  checkWorkingDirectory(settings.workingDirectory);
  for (const field of ['name', 'model', 'apiKey', 'baseURL', 'executablePath', 'configDir'] as const) {
    checks.nonEmptyString(field, settings[field]);
  }
  if (settings.systemPrompt !== undefined && typeof settings.systemPrompt !== 'string') {
    invalid('systemPrompt', 'systemPrompt must be a string', settings.systemPrompt);
  }
  try {
    normalizePermissionMode(settings.permissionMode);
  } catch {
    invalid(
      'permissionMode',
      `unknown permissionMode ${String(settings.permissionMode)}`,
      settings.permissionMode,
    );
  }
  optionalStringList(settings, 'allowedTools');
  optionalStringList(settings, 'disallowedTools');
  checks.positiveInteger('maxTurns', settings.maxTurns);
  optionalNonNegativeInteger(settings, 'interruptTimeoutMs');
  optionalNonNegativeInteger(settings, 'shutdownGraceMs');
  const env: unknown = settings.env;
  if (env !== undefined) {
    if (typeof env !== 'object' || env === null || Array.isArray(env))
      invalid('env', 'env must be an object', env);
    for (const [key, value] of Object.entries(env)) {
      if (value !== undefined && typeof value !== 'string')
        invalid('env', `env.${key} must be a string`, value);
    }
  }
  const sources: unknown = settings.settingSources;
  if (
    sources !== undefined &&
    (!Array.isArray(sources) || sources.some((source) => !SETTING_SOURCES.includes(source as string)))
  ) {
    invalid('settingSources', `settingSources must list ${SETTING_SOURCES.join(', ')}`, sources);
  }
  const sdkOptions: unknown = settings.sdkOptions;
  if (
    sdkOptions !== undefined &&
    (typeof sdkOptions !== 'object' || sdkOptions === null || Array.isArray(sdkOptions))
  ) {
    invalid('sdkOptions', 'sdkOptions must be an object', sdkOptions);
  }
  for (const field of ['loadSdk', 'stderr'] as const) {
    const value: unknown = settings[field];
    if (value !== undefined && typeof value !== 'function')
      invalid(field, `${field} must be a function`, typeof value);
  }
}
