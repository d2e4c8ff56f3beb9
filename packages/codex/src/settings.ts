import { statSync } from 'node:fs';
import { AsmError, normalizePermissionMode, type PermissionMode, type Tool } from '@asm/core';
import type OpenAI from 'openai';
import type { CodexSdkLoader } from './sdk-loader.js';
import type { CodexThreadUsageStore } from './usage.js';

/** A value of a Codex `--config` override: what `config.toml` can hold. */
export type CodexConfigValue =
  | string
  | number
  | boolean
  | CodexConfigValue[]
  | { [key: string]: CodexConfigValue };

/** Codex CLI sandbox modes (`--sandbox`). */
export type CodexSandboxMode = 'read-only' | 'workspace-write' | 'danger-full-access';

/** Codex CLI approval policies (`approval_policy`). */
export type CodexApprovalPolicy = 'never' | 'on-request' | 'on-failure' | 'untrusted';

/** Reasoning effort of the model (`model_reasoning_effort`, Responses `reasoning.effort`). */
export type CodexReasoningEffort = 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';

/** Settings shared by both backends. */
export interface CodexCommonSettings {
  /** Adapter name, also the event provider and the pricing-table key. Default `codex`. */
  name?: string;
  /** The model. `cli`: the CLI's configured default when absent (cost is then unknown). */
  model?: string;
  /**
   * The system prompt (`session.context.systemPrompt` overrides it per session). `cli`: the
   * `developer_instructions` config key; `responses`: `instructions`.
   */
  systemPrompt?: string;
  /** Reasoning effort of the model. */
  reasoningEffort?: CodexReasoningEffort;
  /**
   * Fails the run with `provider_timeout` when the provider stays silent this long. `cli`: paused
   * while a command or tool item is running (the manager's run timeout still applies). Default
   * `getConfig('streamIdleTimeoutMs')` (120 s); `0` turns it off.
   */
  idleTimeoutMs?: number;
}

/** Settings of the `cli` backend: the Codex CLI agent driven through `@openai/codex-sdk`. */
export interface CodexCliSettings extends CodexCommonSettings {
  backend?: 'cli';
  /** The folder the agent works in (`--cd`). Required; must exist. */
  workingDirectory: string;
  /**
   * Default permission mode, overridden by the run's `permissionMode`. Mapped to a sandbox and an
   * approval policy: `default` leaves the CLI's own configuration, `full_auto` is `workspace-write` +
   * `never`, `dangerously_skip_permissions` is `danger-full-access` + `never`, `plan` is `read-only`
   * + `never` (with a warning), `accept_edits` keeps the defaults (with a warning).
   */
  permissionMode?: PermissionMode;
  /** Sandbox mode, over what `permissionMode` implies. */
  sandboxMode?: CodexSandboxMode;
  /** Approval policy, over what `permissionMode` implies. */
  approvalPolicy?: CodexApprovalPolicy;
  /** The `codex` executable. Default: the binary bundled with `@openai/codex-sdk`. */
  codexPath?: string;
  /**
   * Environment of the CLI: merged over `process.env` (a value `undefined` removes a variable),
   * or the whole environment with `inheritEnv: false`.
   */
  env?: Record<string, string | undefined>;
  /** Start the CLI's environment from `process.env`. Default true. */
  inheritEnv?: boolean;
  /** `--config` overrides, as an object (flattened to dotted keys with TOML values). */
  config?: Record<string, CodexConfigValue>;
  /** Raw `--config key=value` strings, applied after `config`. */
  configOverrides?: string[];
  /** JSON Schema the final answer must follow (`--output-schema`); the parsed answer is `output.structured`. */
  outputSchema?: Record<string, unknown>;
  /** API key handed to the CLI as `CODEX_API_KEY`. Default: the CLI's own login or environment. */
  apiKey?: string;
  /** Base URL of the OpenAI API for the CLI (`openai_base_url`). */
  baseUrl?: string;
  /** Pass `--skip-git-repo-check`, so the working directory need not be a git repository. Default true. */
  skipGitRepoCheck?: boolean;
  /** More writable folders (`--add-dir`). */
  additionalDirectories?: string[];
  /** Network access of commands in the `workspace-write` sandbox. */
  networkAccess?: boolean;
  /** Web search mode of the agent. */
  webSearch?: 'disabled' | 'cached' | 'live';
  /**
   * After an abort while a command runs, how long the CLI gets to stop that command after SIGINT
   * before it is terminated. Default 2,000 ms.
   */
  interruptGraceMs?: number;
  /**
   * Where the last cumulative usage of each thread is kept, to turn Codex's cumulative-per-thread
   * counts into per-run usage. Default: in memory, per adapter (the last 1,000 threads).
   */
  threadUsage?: CodexThreadUsageStore;
  /** Loads `@openai/codex-sdk` (a test seam). Default: `import('@openai/codex-sdk')`. */
  loadSdk?: CodexSdkLoader;
}

/** Settings of the `responses` backend: the OpenAI Responses API through the `openai` package. */
export interface CodexResponsesSettings extends CodexCommonSettings {
  backend: 'responses';
  /** Default `gpt-5.1-codex`. */
  model?: string;
  /** API key. Default: the `openai` client's own (`OPENAI_API_KEY`). */
  apiKey?: string;
  /** Base URL including `/v1`. Default: the `openai` client's own (`OPENAI_BASE_URL` or the API). */
  baseURL?: string;
  organization?: string;
  project?: string;
  /** A ready `openai` client; `apiKey`, `baseURL`, `maxRetries` and `timeoutMs` are then ignored. */
  client?: OpenAI;
  /** Retries of the `openai` client on connection errors, 408, 409, 429 and 5xx. Default 2. */
  maxRetries?: number;
  /** Request timeout of the `openai` client (until response headers). Default 600,000 ms. */
  timeoutMs?: number;
  /** Tools offered on every run (a run's `tools` are added; same name: the run's wins). */
  tools?: Tool[];
  /** Most model turns of a run. Default `DEFAULT_MAX_TURNS` (20). */
  maxTurns?: number;
  /** Default cap of output tokens per model turn (`max_output_tokens`); the run's `maxOutputTokens` wins. */
  maxOutputTokens?: number;
  /** Let the model ask for several tools in one turn. Default true. */
  parallelToolCalls?: boolean;
  /** JSON Schema the final answer must follow (`text.format`); the parsed answer is `output.structured`. */
  outputSchema?: Record<string, unknown>;
}

/** Settings of `createCodexProvider`: `backend` picks the CLI agent (default) or the Responses API. */
export type CodexProviderSettings = CodexCliSettings | CodexResponsesSettings;

/** The default model of the `responses` backend. */
export const DEFAULT_RESPONSES_MODEL = 'gpt-5.1-codex';

const SANDBOX_MODES: readonly string[] = ['read-only', 'workspace-write', 'danger-full-access'];
const APPROVAL_POLICIES: readonly string[] = ['never', 'on-request', 'on-failure', 'untrusted'];
const REASONING_EFFORTS: readonly string[] = ['minimal', 'low', 'medium', 'high', 'xhigh'];
const WEB_SEARCH_MODES: readonly string[] = ['disabled', 'cached', 'live'];

function invalid(field: string, message: string, value?: unknown): AsmError {
  return new AsmError('validation_error', message, {
    details: { field, ...(value === undefined ? {} : { value }) },
  });
}

function optionalString(settings: object, field: string): void {
  const value = (settings as Record<string, unknown>)[field];
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw invalid(field, `${field} must be a non-empty string`, value);
  }
}

function optionalOneOf(settings: object, field: string, allowed: readonly string[]): void {
  const value = (settings as Record<string, unknown>)[field];
  if (value !== undefined && (typeof value !== 'string' || !allowed.includes(value))) {
    throw invalid(field, `${field} must be one of ${allowed.join(', ')}`, value);
  }
}

function optionalNonNegative(settings: object, field: string, integer = true): void {
  const value = (settings as Record<string, unknown>)[field];
  if (value === undefined) return;
  const valid =
    typeof value === 'number' &&
    value >= 0 &&
    (Number.isInteger(value) || (!integer && Number.isFinite(value)) || value === Number.POSITIVE_INFINITY);
  if (!valid) throw invalid(field, `${field} must be a non-negative integer`, value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `path` is an existing directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Checks the working directory of a `cli` run (it may have been removed since the factory ran). */
export function checkWorkingDirectory(workingDirectory: string): void {
  if (!isDirectory(workingDirectory)) {
    throw invalid(
      'workingDirectory',
      `workingDirectory does not exist or is not a directory: ${workingDirectory}`,
      workingDirectory,
    );
  }
}

/**
 * Validates settings eagerly (the factory calls it): every field's type, a `workingDirectory` that
 * exists for the `cli` backend, a `codexPath` that is a file. Throws `validation_error` naming the
 * field.
 */
export function validateCodexSettings(settings: CodexProviderSettings): void {
  if (!isPlainObject(settings)) throw invalid('settings', 'Codex provider settings must be an object');
  const backend = (settings as { backend?: unknown }).backend ?? 'cli';
  if (backend !== 'cli' && backend !== 'responses') {
    throw invalid('backend', "backend must be 'cli' or 'responses'", backend);
  }
  optionalString(settings, 'name');
  optionalString(settings, 'model');
  if (settings.systemPrompt !== undefined && typeof settings.systemPrompt !== 'string') {
    throw invalid('systemPrompt', 'systemPrompt must be a string');
  }
  optionalOneOf(settings, 'reasoningEffort', REASONING_EFFORTS);
  optionalNonNegative(settings, 'idleTimeoutMs');
  if (settings.backend === 'responses') {
    optionalString(settings, 'apiKey');
    optionalString(settings, 'baseURL');
    optionalString(settings, 'organization');
    optionalString(settings, 'project');
    optionalNonNegative(settings, 'maxRetries');
    optionalNonNegative(settings, 'timeoutMs');
    optionalNonNegative(settings, 'maxOutputTokens');
    if (settings.maxTurns !== undefined) {
      const valid =
        settings.maxTurns === Number.POSITIVE_INFINITY ||
        (Number.isInteger(settings.maxTurns) && settings.maxTurns >= 1);
      if (!valid) throw invalid('maxTurns', 'maxTurns must be a positive integer', settings.maxTurns);
    }
    if (settings.tools !== undefined) {
      if (!Array.isArray(settings.tools)) throw invalid('tools', 'tools must be an array');
      for (const tool of settings.tools) {
        if (!isPlainObject(tool) || typeof tool.name !== 'string' || tool.name === '') {
          throw invalid('tools', 'every tool needs a non-empty name');
        }
      }
    }
    if (settings.outputSchema !== undefined && !isPlainObject(settings.outputSchema)) {
      throw invalid('outputSchema', 'outputSchema must be a JSON Schema object');
    }
    return;
  }
  const cli = settings as CodexCliSettings;
  if (typeof cli.workingDirectory !== 'string' || cli.workingDirectory === '') {
    throw invalid('workingDirectory', 'workingDirectory is required for the Codex CLI backend');
  }
  checkWorkingDirectory(cli.workingDirectory);
  normalizePermissionMode(cli.permissionMode);
  optionalOneOf(cli, 'sandboxMode', SANDBOX_MODES);
  optionalOneOf(cli, 'approvalPolicy', APPROVAL_POLICIES);
  optionalOneOf(cli, 'webSearch', WEB_SEARCH_MODES);
  optionalString(cli, 'apiKey');
  optionalString(cli, 'baseUrl');
  optionalNonNegative(cli, 'interruptGraceMs');
  if (cli.codexPath !== undefined) {
    optionalString(cli, 'codexPath');
    if (!isFile(cli.codexPath)) throw invalid('codexPath', `codexPath is not a file: ${cli.codexPath}`);
  }
  if (cli.env !== undefined) {
    if (!isPlainObject(cli.env)) throw invalid('env', 'env must be an object of strings');
    for (const [key, value] of Object.entries(cli.env)) {
      if (value !== undefined && typeof value !== 'string') {
        throw invalid('env', `env.${key} must be a string`);
      }
    }
  }
  if (cli.config !== undefined && !isPlainObject(cli.config)) {
    throw invalid('config', 'config must be an object');
  }
  if (
    cli.configOverrides !== undefined &&
    (!Array.isArray(cli.configOverrides) || cli.configOverrides.some((entry) => typeof entry !== 'string'))
  ) {
    throw invalid('configOverrides', 'configOverrides must be an array of strings');
  }
  if (cli.outputSchema !== undefined && !isPlainObject(cli.outputSchema)) {
    throw invalid('outputSchema', 'outputSchema must be a JSON Schema object');
  }
  if (
    cli.additionalDirectories !== undefined &&
    (!Array.isArray(cli.additionalDirectories) ||
      cli.additionalDirectories.some((entry) => typeof entry !== 'string'))
  ) {
    throw invalid('additionalDirectories', 'additionalDirectories must be an array of strings');
  }
}
