import type Anthropic from '@anthropic-ai/sdk';
import type { ClientOptions } from '@anthropic-ai/sdk';
import { AsmError, type Tool } from '@asm/core';
import { type ClaudeAgentSettings, validateAgentSettings } from './agent-settings.js';
import { fieldChecks } from './field-checks.js';

/**
 * The model used when none is given: Claude Haiku 4.5, fast and cheap, and current. (Sonnet 4.5 is
 * deprecated in `@anthropic-ai/sdk` 1.12, which warns on every request to it, end of life 2026-11-30.)
 */
export const DEFAULT_CLAUDE_MODEL = 'claude-haiku-4-5';
/** The first Anthropic API version that rejects `temperature` (the default of `@anthropic-ai/sdk` 1.x). */
export const CLAUDE_API_VERSION_WITHOUT_SAMPLING = '2026-10-21';
/** `max_tokens` of every request when neither `maxTokens` nor the run's `maxOutputTokens` is given. */
export const DEFAULT_CLAUDE_MAX_TOKENS = 8192;
/** Most model turns of one run (tool loop) when `maxTurns` is not given. */
export const DEFAULT_CLAUDE_MAX_TURNS = 20;
/** How long a stream may stay silent before the run fails with `provider_timeout`. */
export const DEFAULT_CLAUDE_IDLE_TIMEOUT_MS = 120_000;
/** SDK retries (before a response starts streaming) when `maxRetries` is not given: the SDK's own default. */
export const DEFAULT_CLAUDE_MAX_RETRIES = 2;

/**
 * Extended thinking: `{ budgetTokens }` enables it with that budget (at least 1,024 and below
 * `max_tokens`); the SDK's own `thinking` object (`{ type: 'adaptive' }`, `{ type: 'disabled' }`, …)
 * is sent as it is.
 */
export type ClaudeThinking = { budgetTokens: number } | Anthropic.ThinkingConfigParam;

/** The part of the Anthropic client the adapter uses: a real `Anthropic` instance fits. */
export type ClaudeMessagesClient = Pick<Anthropic, 'messages'>;

/** Settings of the Messages API backend (the default). */
export interface ClaudeMessagesSettings {
  /** The Anthropic Messages API: the default backend (`'agent'` is Claude Code, with its own settings). */
  backend?: 'messages';
  /** Adapter name, also the `provider` of its events and the pricing-table key. Default `claude`. */
  name?: string;
  /**
   * API key. Default: `sdkOptions.apiKey`, then the `ANTHROPIC_API_KEY` environment variable read
   * when a run starts. Without any (and without `sdkOptions.authToken`, `credentials`, `config` or
   * `profile`, and without an injected `client`), a run fails with `provider_authentication_failed`
   * before any request.
   */
  apiKey?: string;
  /** API base URL (the SDK appends `/v1/messages`). Default: the SDK's (`ANTHROPIC_BASE_URL` or the public API). */
  baseURL?: string;
  /** Model id or alias. Default `DEFAULT_CLAUDE_MODEL` (`claude-haiku-4-5`). */
  model?: string;
  /** `max_tokens` of each request. Default 8,192; a run's `maxOutputTokens` wins. */
  maxTokens?: number;
  /** System prompt; `session.context.systemPrompt` wins over it. */
  systemPrompt?: string;
  thinking?: ClaudeThinking;
  /**
   * Sampling temperature, 0 to 1. API version 2026-10-21 (the SDK's default) rejects it with a 400,
   * so it is sent only when `apiVersion` pins an older version (`2023-06-01`); otherwise it is left
   * out and the run reports a warning.
   */
  temperature?: number;
  /** The `anthropic-version` header. Default: the SDK's (`2026-10-21` for `@anthropic-ai/sdk` 1.x). */
  apiVersion?: string;
  /** Tools offered on every run, before the run's own (`executeRun({ tools })`, which win by name). */
  tools?: Tool[];
  /** Most model turns of one run; the tool loop stops there with stop reason `max_turns`. Default 20. */
  maxTurns?: number;
  /** Run the tool calls of one turn concurrently. Default false (one after the other). */
  parallelToolCalls?: boolean;
  /** A silent stream (no event) for this long fails the run with `provider_timeout`. Default 120,000 ms. */
  idleTimeoutMs?: number;
  /**
   * SDK retries of a failed request (connection errors, 408, 409, 429, 5xx), before any event of it
   * streamed. Default: `sdkOptions.maxRetries`, else 2. Use 0 behind `@asm/routing` for fast failover.
   */
  maxRetries?: number;
  /** An Anthropic client to use instead of creating one (then `apiKey`, `baseURL` and `sdkOptions` are unused). */
  client?: ClaudeMessagesClient;
  /** Options for the `Anthropic` client the adapter creates; the settings above win over them. */
  sdkOptions?: ClientOptions;
}

/**
 * Settings of `createClaudeProvider`: `backend` picks the Messages API (`'messages'`, the default)
 * or the Claude Code agent (`'agent'`).
 */
export type ClaudeProviderSettings = ClaudeMessagesSettings | ClaudeAgentSettings;

const checks = fieldChecks('Claude provider: ');
function invalid(field: string, message: string, value: unknown): never {
  return checks.invalid(field, message, value);
}

/** Checks the thinking setting (also used for a run's `adapterOptions.thinking`). */
export function validateThinking(thinking: unknown, field = 'thinking'): void {
  if (thinking === undefined) return;
  if (typeof thinking !== 'object' || thinking === null)
    invalid(field, `${field} must be an object`, thinking);
  const record = thinking as Record<string, unknown>;
  if ('budgetTokens' in record) {
    const budget = record.budgetTokens;
    if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1024) {
      invalid(field, `${field}.budgetTokens must be an integer of at least 1024`, budget);
    }
    return;
  }
  if (typeof record.type !== 'string') {
    invalid(field, `${field} must be { budgetTokens } or an Anthropic thinking config with a type`, thinking);
  }
}

/** Checks a temperature (also used for a run's `adapterOptions.temperature`). */
export function validateTemperature(value: unknown, field = 'temperature'): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    invalid(field, `${field} must be a number from 0 to 1`, value);
  }
}

/** Checks a tool list: each tool needs a non-empty name (unique) and an object `inputSchema`. */
export function validateTools(tools: unknown, field = 'tools'): void {
  if (tools === undefined) return;
  if (!Array.isArray(tools)) invalid(field, `${field} must be an array`, tools);
  const names = new Set<string>();
  for (const tool of tools as unknown[]) {
    const record = (typeof tool === 'object' && tool !== null ? tool : {}) as Record<string, unknown>;
    if (typeof record.name !== 'string' || record.name === '') {
      invalid(field, `every tool needs a non-empty name`, tool);
    }
    if (names.has(record.name)) invalid(field, `tool ${record.name} is listed twice`, record.name);
    names.add(record.name);
    const schema = record.inputSchema;
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      invalid(field, `tool ${record.name} needs an inputSchema object`, schema);
    }
    if (record.execute !== undefined && typeof record.execute !== 'function') {
      invalid(field, `tool ${record.name}: execute must be a function`, typeof record.execute);
    }
  }
}

/** Checks every setting; throws `validation_error` naming the field. */
export function validateClaudeSettings(settings: ClaudeProviderSettings): void {
  if (typeof settings !== 'object' || settings === null) {
    throw new AsmError('validation_error', 'Claude provider: settings must be an object');
  }
  const backend: unknown = settings.backend;
  if (backend === 'agent') {
    validateAgentSettings(settings as ClaudeAgentSettings);
    return;
  }
  if (backend !== undefined && backend !== 'messages') {
    invalid('backend', `unsupported backend ${JSON.stringify(backend)}; use 'messages' or 'agent'`, backend);
  }
  validateMessagesSettings(settings as ClaudeMessagesSettings);
}

function validateMessagesSettings(settings: ClaudeMessagesSettings): void {
  for (const field of ['name', 'model', 'apiKey', 'baseURL', 'apiVersion'] as const) {
    checks.nonEmptyString(field, settings[field]);
  }
  if (settings.systemPrompt !== undefined && typeof settings.systemPrompt !== 'string') {
    invalid('systemPrompt', 'systemPrompt must be a string', settings.systemPrompt);
  }
  checks.positiveInteger('maxTokens', settings.maxTokens);
  checks.positiveInteger('maxTurns', settings.maxTurns);
  checks.positiveInteger('idleTimeoutMs', settings.idleTimeoutMs);
  if (
    settings.maxRetries !== undefined &&
    (!Number.isInteger(settings.maxRetries) || settings.maxRetries < 0)
  ) {
    invalid('maxRetries', 'maxRetries must be a non-negative integer', settings.maxRetries);
  }
  validateTemperature(settings.temperature);
  validateThinking(settings.thinking);
  if (
    settings.thinking !== undefined &&
    'budgetTokens' in settings.thinking &&
    settings.thinking.budgetTokens >= (settings.maxTokens ?? DEFAULT_CLAUDE_MAX_TOKENS)
  ) {
    invalid('thinking', 'thinking.budgetTokens must be below maxTokens', settings.thinking.budgetTokens);
  }
  validateTools(settings.tools);
  if (settings.client !== undefined) {
    const messages = (settings.client as { messages?: { create?: unknown } }).messages;
    if (typeof messages?.create !== 'function') {
      invalid(
        'client',
        'client must be an Anthropic client (client.messages.create)',
        typeof settings.client,
      );
    }
  }
  if (
    settings.sdkOptions !== undefined &&
    (typeof settings.sdkOptions !== 'object' || settings.sdkOptions === null)
  ) {
    invalid('sdkOptions', 'sdkOptions must be an object', settings.sdkOptions);
  }
}

/** The Anthropic `thinking` request parameter for a setting. */
export function thinkingParam(
  thinking: ClaudeThinking | undefined,
): Anthropic.ThinkingConfigParam | undefined {
  if (thinking === undefined) return undefined;
  if ('budgetTokens' in thinking) return { type: 'enabled', budget_tokens: thinking.budgetTokens };
  return thinking;
}
