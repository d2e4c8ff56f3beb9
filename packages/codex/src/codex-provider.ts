import {
  AsmError,
  type Capability,
  createCapability,
  type ExecuteOptions,
  type ExecuteResult,
  type ProviderAdapter,
  type Run,
  type Session,
} from '@asm/core';
import type OpenAI from 'openai';
import { executeCli } from './cli-backend.js';
import { createOpenAIClient, executeResponses } from './responses-backend.js';
import { createSdkCache, importCodexSdk } from './sdk-loader.js';
import {
  type CodexCliSettings,
  type CodexProviderSettings,
  type CodexResponsesSettings,
  validateCodexSettings,
} from './settings.js';
import { createMemoryThreadUsageStore } from './usage.js';

/** The Codex provider adapter. */
export interface CodexProvider extends ProviderAdapter {
  /** `cli` (the Codex CLI agent) or `responses` (the Responses API). */
  readonly backend: 'cli' | 'responses';
}

function cliCapabilities(): Capability[] {
  return [
    createCapability({ name: 'streaming', type: 'sampling' }),
    createCapability({ name: 'interrupt', type: 'sampling' }),
    createCapability({ name: 'system_prompts', type: 'prompt' }),
    createCapability({ name: 'tool_use', type: 'tool' }),
    createCapability({ name: 'mcp', type: 'tool' }),
    createCapability({ name: 'file_operations', type: 'file_access' }),
    createCapability({ name: 'bash', type: 'code_execution' }),
    createCapability({ name: 'web_search', type: 'network_access' }),
  ];
}

function responsesCapabilities(): Capability[] {
  return [
    createCapability({ name: 'streaming', type: 'sampling' }),
    createCapability({ name: 'interrupt', type: 'sampling' }),
    createCapability({ name: 'system_prompts', type: 'prompt' }),
    createCapability({ name: 'tool_use', type: 'tool' }),
  ];
}

/**
 * Creates the Codex provider adapter.
 *
 * - `backend: 'cli'` (default): the Codex CLI agent, which edits files and runs commands itself in
 *   `workingDirectory`, driven through `@openai/codex-sdk` (an optional peer, loaded on the first
 *   run). Threads are native continuation: the thread id is the run's `providerSessionId`, and a
 *   later run of the session resumes it.
 * - `backend: 'responses'`: the OpenAI Responses API through `openai`, streaming, with core's tool
 *   loop over the app's tools.
 *
 * Settings are validated here (`validation_error` naming the field); nothing is loaded or spawned
 * until a run executes.
 *
 * ```ts
 * const codex = createCodexProvider({ workingDirectory: '/srv/repo', model: 'gpt-5.1-codex', permissionMode: 'full_auto' });
 * const manager = createSessionManager({ store, provider: codex });
 * const result = await manager.runOnce('Fix the failing test');
 * ```
 */
export function createCodexProvider(settings: CodexCliSettings): CodexProvider;
export function createCodexProvider(settings: CodexResponsesSettings): CodexProvider;
export function createCodexProvider(settings: CodexProviderSettings): CodexProvider;
export function createCodexProvider(settings: CodexProviderSettings): CodexProvider {
  validateCodexSettings(settings);
  const frozen = { ...settings } as CodexProviderSettings;
  const name = frozen.name ?? 'codex';

  if (frozen.backend === 'responses') {
    let client: OpenAI | undefined;
    const context = {
      provider: name,
      settings: frozen,
      client: () => {
        client ??= createOpenAIClient(frozen);
        return client;
      },
    };
    return {
      specificationVersion: 'v1',
      name,
      backend: 'responses',
      supportsNativeContinuation: false,
      capabilities: responsesCapabilities,
      execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
        return executeResponses(context, run, options);
      },
      validateConfig() {
        validateCodexSettings(frozen);
      },
    } satisfies CodexProvider;
  }

  const cli = frozen as CodexCliSettings;
  const loadSdk = createSdkCache(cli.loadSdk ?? importCodexSdk);
  const context = {
    provider: name,
    settings: cli,
    loadSdk,
    threadUsage: cli.threadUsage ?? createMemoryThreadUsageStore(),
  };
  return {
    specificationVersion: 'v1',
    name,
    backend: 'cli',
    supportsNativeContinuation: true,
    capabilities: cliCapabilities,
    async execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
      try {
        return await executeCli(context, run, options);
      } catch (error) {
        throw AsmError.from(error, 'provider_error');
      }
    },
    validateConfig() {
      validateCodexSettings(cli);
    },
  } satisfies CodexProvider;
}
