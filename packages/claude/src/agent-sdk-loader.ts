import { createOptionalDependency } from '@asm/core';

/**
 * The child process handle the SDK expects from `spawnClaudeCodeProcess` (`SpawnedProcess` of
 * `@anthropic-ai/claude-agent-sdk`); a Node `ChildProcess` fits.
 */
export interface ClaudeAgentSpawnedProcess {
  stdin: NodeJS.WritableStream;
  stdout: NodeJS.ReadableStream;
  readonly killed: boolean;
  readonly exitCode: number | null;
  kill(signal: NodeJS.Signals): boolean;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** What the SDK hands to `spawnClaudeCodeProcess` (`SpawnOptions`). */
export interface ClaudeAgentSpawnOptions {
  command: string;
  args: string[];
  cwd?: string;
  env: Record<string, string | undefined>;
  /** Aborted by the SDK after its own graceful shutdown window (stdin EOF, then about 2 s). */
  signal?: AbortSignal;
}

/** A user message of streaming-input mode (`SDKUserMessage`). */
export interface ClaudeAgentUserMessage {
  type: 'user';
  message: { role: 'user'; content: string };
  parent_tool_use_id: null;
  session_id: string;
}

/** The answer of a `canUseTool` callback (`PermissionResult`). */
export type ClaudeAgentPermissionResult =
  | { behavior: 'allow'; updatedInput?: Record<string, unknown> }
  | { behavior: 'deny'; message: string };

/** The `canUseTool` callback of the SDK. */
export type ClaudeAgentCanUseTool = (
  toolName: string,
  input: Record<string, unknown>,
  options: { signal: AbortSignal; toolUseID: string; [key: string]: unknown },
) => Promise<ClaudeAgentPermissionResult>;

/**
 * The `Query` the SDK's `query()` returns: an async iterable of SDK messages (kept as plain
 * records: the adapter reads them defensively) with the control methods the adapter uses.
 */
export interface ClaudeAgentQuery extends AsyncIterable<unknown> {
  /** Stops the current turn (streaming-input mode only); the turn then ends with a `result`. */
  interrupt(): Promise<unknown>;
  /** Ends the query and its process at once. */
  close(): void;
}

/**
 * The part of `@anthropic-ai/claude-agent-sdk` (0.3.x) the `agent` backend uses, typed here so the
 * published types of `@asm/claude` do not depend on the optional peer. The real module fits it.
 */
export interface ClaudeAgentSdkModule {
  query(params: {
    prompt: string | AsyncIterable<ClaudeAgentUserMessage>;
    /** The SDK's `Options`. */
    options?: Record<string, unknown>;
  }): ClaudeAgentQuery;
}

/** Loads `@anthropic-ai/claude-agent-sdk`; inject one in tests (or to use a bundled copy). */
export type ClaudeAgentSdkLoader = () => Promise<ClaudeAgentSdkModule>;

/** The optional peer dependency the `agent` backend needs. */
export const CLAUDE_AGENT_SDK_PACKAGE = '@anthropic-ai/claude-agent-sdk';

/**
 * Default loader: a dynamic `import()`, so the SDK (and its 381 MB native binary) is needed only by
 * runs of the `agent` backend. The specifier is a variable so bundlers leave it alone.
 */
export const importClaudeAgentSdk: ClaudeAgentSdkLoader = async () => {
  const specifier = CLAUDE_AGENT_SDK_PACKAGE;
  return (await import(specifier)) as ClaudeAgentSdkModule;
};

/** The install hint every missing-SDK message carries. */
export const CLAUDE_AGENT_SDK_INSTALL = `npm install ${CLAUDE_AGENT_SDK_PACKAGE}@0.3.331 (or pnpm add ${CLAUDE_AGENT_SDK_PACKAGE}@0.3.331)`;

/**
 * Loads the SDK once per adapter. When it is not installed: `AsmError` `dependency_not_available`
 * with `details: { dependency, operation }` and the install command in the message (a later call
 * tries again, so installing it while the app runs works).
 */
export function createAgentSdkCache(
  loader: ClaudeAgentSdkLoader,
): (operation: string) => Promise<ClaudeAgentSdkModule> {
  return createOptionalDependency({
    dependency: CLAUDE_AGENT_SDK_PACKAGE,
    neededBy: 'The Claude agent backend',
    install: CLAUDE_AGENT_SDK_INSTALL,
    alternative: "use backend: 'messages'",
    load: loader,
    requiredExports: ['query'],
  });
}
