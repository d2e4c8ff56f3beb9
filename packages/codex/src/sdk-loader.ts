import { createOptionalDependency } from '@asm/core';
import type { CodexConfigValue } from './settings.js';

/**
 * The part of `@openai/codex-sdk` (0.163) the `cli` backend uses, typed here so that the published
 * types of `@asm/codex` do not depend on the optional peer.
 */
export interface CodexSdkModule {
  Codex: new (options?: CodexSdkOptions) => CodexSdkClient;
}

/** `CodexOptions` of `@openai/codex-sdk`. */
export interface CodexSdkOptions {
  codexPathOverride?: string;
  baseUrl?: string;
  apiKey?: string;
  config?: Record<string, CodexConfigValue>;
  configOverrides?: string[];
  /** Replaces `process.env` for the CLI. */
  env?: Record<string, string>;
}

/** `ThreadOptions` of `@openai/codex-sdk`. */
export interface CodexSdkThreadOptions {
  model?: string;
  sandboxMode?: 'read-only' | 'workspace-write' | 'danger-full-access';
  workingDirectory?: string;
  skipGitRepoCheck?: boolean;
  modelReasoningEffort?: 'minimal' | 'low' | 'medium' | 'high' | 'xhigh';
  networkAccessEnabled?: boolean;
  webSearchMode?: 'disabled' | 'cached' | 'live';
  approvalPolicy?: 'never' | 'on-request' | 'on-failure' | 'untrusted';
  additionalDirectories?: string[];
}

/** The `Codex` client of `@openai/codex-sdk`. */
export interface CodexSdkClient {
  startThread(options?: CodexSdkThreadOptions): CodexSdkThread;
  resumeThread(id: string, options?: CodexSdkThreadOptions): CodexSdkThread;
}

/** A `Thread` of `@openai/codex-sdk`. */
export interface CodexSdkThread {
  readonly id: string | null;
  runStreamed(
    input: string,
    turnOptions?: { signal?: AbortSignal; outputSchema?: unknown },
  ): Promise<{ events: AsyncGenerator<unknown> }>;
}

/** Loads `@openai/codex-sdk`; inject one in tests to simulate an absent SDK. */
export type CodexSdkLoader = () => Promise<CodexSdkModule>;

/** The optional peer dependency the `cli` backend needs. */
export const CODEX_SDK_PACKAGE = '@openai/codex-sdk';

/** Default loader: a dynamic `import()`, so the SDK (and its ~160 MB binary) is only needed by `cli` runs. */
export const importCodexSdk: CodexSdkLoader = async () => {
  const specifier = CODEX_SDK_PACKAGE;
  return (await import(specifier)) as CodexSdkModule;
};

/**
 * Loads the SDK once per adapter. When it is not installed: `AsmError` `dependency_not_available`
 * with `details: { dependency, operation }` and the install command in the message.
 */
export function createSdkCache(loader: CodexSdkLoader): (operation: string) => Promise<CodexSdkModule> {
  return createOptionalDependency({
    dependency: CODEX_SDK_PACKAGE,
    neededBy: 'The Codex CLI backend',
    alternative: "use backend: 'responses'",
    load: loader,
    requiredExports: ['Codex'],
  });
}
