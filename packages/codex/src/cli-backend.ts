import { randomUUID } from 'node:crypto';
import {
  type AdapterEvent,
  AsmError,
  type ExecuteOptions,
  type ExecuteResult,
  getConfig,
  type PermissionMode,
  type Run,
  type RunOutput,
  type Transcript,
  throwIfAborted,
} from '@asm/core';
import { codexFailure, providerFailure } from './codex-errors.js';
import { CodexEventMapper } from './codex-event-mapper.js';
import { interruptMarkedChildren, RUN_MARKER_ENV } from './process-interrupt.js';
import { cliPrompt, runMessages } from './prompt.js';
import type { CodexSdkModule, CodexSdkThreadOptions } from './sdk-loader.js';
import {
  type CodexApprovalPolicy,
  type CodexCliSettings,
  type CodexSandboxMode,
  checkWorkingDirectory,
} from './settings.js';
import { abortTerminal, failTerminal } from './terminal.js';
import { type CodexCumulativeUsage, type CodexThreadUsageStore, toTokenUsage, usageDelta } from './usage.js';

/** How a permission mode maps onto the Codex CLI. */
export interface CodexPermissionMapping {
  sandboxMode?: CodexSandboxMode;
  approvalPolicy?: CodexApprovalPolicy;
  /** Set when the mode cannot be honoured exactly. */
  warning?: string;
}

/**
 * Maps a normalized permission mode onto the Codex CLI's sandbox and approval policy (spec
 * PROV-permission-map, made explicit): `default` leaves the CLI's configuration alone; `full_auto`
 * is `workspace-write` without approvals (the CLI's `--full-auto`; `exec` cannot ask anyway);
 * `dangerously_skip_permissions` is `danger-full-access` without approvals (the CLI's
 * `--dangerously-bypass-approvals-and-sandbox`); `plan` has no Codex equivalent and is approximated
 * with the `read-only` sandbox; `accept_edits` has none either and keeps the defaults. The last two
 * come with a warning.
 */
export function mapCodexPermissionMode(mode: PermissionMode): CodexPermissionMapping {
  switch (mode) {
    case 'default':
      return {};
    case 'full_auto':
      return { sandboxMode: 'workspace-write', approvalPolicy: 'never' };
    case 'dangerously_skip_permissions':
      return { sandboxMode: 'danger-full-access', approvalPolicy: 'never' };
    case 'plan':
      return {
        sandboxMode: 'read-only',
        approvalPolicy: 'never',
        warning:
          "permission_mode_unsupported: the Codex CLI has no 'plan' mode; approximated with the read-only sandbox",
      };
    case 'accept_edits':
      return {
        warning:
          "permission_mode_unsupported: the Codex CLI has no 'accept_edits' mode; running with its default sandbox and approval policy",
      };
    default: {
      const unhandled: never = mode;
      throw new AsmError('validation_error', `Invalid permission mode: ${String(unhandled)}`);
    }
  }
}

/** What the `cli` backend needs from the adapter. */
export interface CliBackendContext {
  provider: string;
  settings: CodexCliSettings;
  loadSdk(operation: string): Promise<CodexSdkModule>;
  threadUsage: CodexThreadUsageStore;
}

const SDK_EXIT = /^Codex Exec exited with (code (-?\d+)|signal (\w+)): ?([\s\S]*)$/;

/** Exit code, signal and stderr from the SDK's "Codex Exec exited with code N: <stderr>" error. */
function parseExitError(error: unknown): { exitCode?: number; signal?: string; stderr?: string } | undefined {
  const message = error instanceof Error ? error.message : undefined;
  const match = message === undefined ? null : SDK_EXIT.exec(message);
  if (!match) return undefined;
  const facts: { exitCode?: number; signal?: string; stderr?: string } = {};
  if (match[2] !== undefined) facts.exitCode = Number(match[2]);
  if (match[3] !== undefined) facts.signal = match[3];
  if (match[4] !== undefined && match[4].trim() !== '') facts.stderr = match[4];
  return facts;
}

/** The last line of stderr worth quoting (the CLI's harmless PATH-alias warning is skipped). */
function lastStderrLine(stderr: string | undefined): string | undefined {
  const lines = (stderr ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter(
      (line) =>
        line !== '' && !line.startsWith('Reading prompt from stdin') && !line.includes('create PATH aliases'),
    );
  return lines.at(-1);
}

function buildEnv(settings: CodexCliSettings, marker: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (settings.inheritEnv !== false) {
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  }
  for (const [key, value] of Object.entries(settings.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  env[RUN_MARKER_ENV] = marker;
  return env;
}

function configuredModel(settings: CodexCliSettings): string | undefined {
  if (settings.model !== undefined) return settings.model;
  const model = settings.config?.model;
  return typeof model === 'string' ? model : undefined;
}

/** Executes one run through the Codex CLI. */
export async function executeCli(
  context: CliBackendContext,
  run: Run,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const { settings, provider } = context;
  const { signal } = options;
  throwIfAborted(signal);
  checkWorkingDirectory(settings.workingDirectory);
  const messages = runMessages(run.input);

  // Continuation: resume the thread natively, or replay the transcript into a new thread.
  let resumedThreadId: string | undefined;
  let transcript: Transcript | undefined;
  if (options.continuation.mode === 'native' && options.continuation.providerSessionId) {
    resumedThreadId = options.continuation.providerSessionId;
  } else if (options.continuation.mode === 'replay') {
    transcript = options.continuation.transcript ?? (await options.continuation.loadTranscript());
    throwIfAborted(signal);
  }

  const sdk = await context.loadSdk('execute');
  throwIfAborted(signal);
  const previousUsage =
    resumedThreadId === undefined ? undefined : await context.threadUsage.get(resumedThreadId);
  throwIfAborted(signal);

  // Settings the CLI cannot honour are said, not silently dropped.
  const warnings: string[] = [];
  const permissionMode = options.permissionMode ?? settings.permissionMode ?? 'default';
  const permissions = mapCodexPermissionMode(permissionMode);
  if (permissions.warning) warnings.push(permissions.warning);
  if (options.tools && options.tools.length > 0) {
    warnings.push(
      `tools_ignored: the Codex CLI cannot call app tools (${options.tools.map((tool) => tool.name).join(', ')}); use backend 'responses' or an MCP server`,
    );
  }
  if (options.toolRules && (options.toolRules.allow || options.toolRules.deny)) {
    warnings.push(
      'tool_rules_not_enforced: the Codex CLI runs its tools without asking first; tool rules apply only after the fact (policy can cancel the run)',
    );
  }
  if (options.maxOutputTokens !== undefined) {
    warnings.push('max_output_tokens_ignored: the Codex CLI has no per-run output token limit');
  }
  if (resumedThreadId !== undefined && previousUsage === undefined) {
    warnings.push(
      `usage_not_per_run: no earlier usage is recorded for thread ${resumedThreadId} in this process; tokenUsage counts the whole thread`,
    );
  }

  const systemPrompt = options.systemPrompt ?? settings.systemPrompt;
  const config = {
    ...(settings.config ?? {}),
    ...(systemPrompt !== undefined && systemPrompt !== '' ? { developer_instructions: systemPrompt } : {}),
  };
  const marker = randomUUID();
  let client: InstanceType<CodexSdkModule['Codex']>;
  try {
    client = new sdk.Codex({
      ...(settings.codexPath !== undefined ? { codexPathOverride: settings.codexPath } : {}),
      ...(settings.baseUrl !== undefined ? { baseUrl: settings.baseUrl } : {}),
      ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
      ...(Object.keys(config).length > 0 ? { config } : {}),
      ...(settings.configOverrides !== undefined ? { configOverrides: settings.configOverrides } : {}),
      env: buildEnv(settings, marker),
    });
  } catch (error) {
    // `new Codex()` throws when the platform binary package (an optional dependency) is missing.
    throw new AsmError(
      'dependency_not_available',
      `The Codex CLI binary was not found (${error instanceof Error ? error.message : String(error)}). Reinstall @openai/codex-sdk with optional dependencies (\`npm install @openai/codex-sdk\`), or set codexPath`,
      { details: { dependency: '@openai/codex', operation: 'execute' }, cause: error },
    );
  }

  const model = configuredModel(settings);
  const threadOptions: CodexSdkThreadOptions = {
    workingDirectory: settings.workingDirectory,
    skipGitRepoCheck: settings.skipGitRepoCheck ?? true,
  };
  if (settings.model !== undefined) threadOptions.model = settings.model;
  const sandboxMode = settings.sandboxMode ?? permissions.sandboxMode;
  const approvalPolicy = settings.approvalPolicy ?? permissions.approvalPolicy;
  if (sandboxMode !== undefined) threadOptions.sandboxMode = sandboxMode;
  if (approvalPolicy !== undefined) threadOptions.approvalPolicy = approvalPolicy;
  if (settings.reasoningEffort !== undefined) threadOptions.modelReasoningEffort = settings.reasoningEffort;
  if (settings.networkAccess !== undefined) threadOptions.networkAccessEnabled = settings.networkAccess;
  if (settings.webSearch !== undefined) threadOptions.webSearchMode = settings.webSearch;
  if (settings.additionalDirectories !== undefined)
    threadOptions.additionalDirectories = settings.additionalDirectories;
  const thread =
    resumedThreadId === undefined
      ? client.startThread(threadOptions)
      : client.resumeThread(resumedThreadId, threadOptions);

  let terminated = false;
  const emit = (event: AdapterEvent) => {
    if (!terminated) options.emit(event);
  };
  const emitTerminal = (event: AdapterEvent) => {
    emit(event);
    terminated = true;
  };
  const runUsage = (cumulative: CodexCumulativeUsage) => {
    const delta = usageDelta(cumulative, previousUsage);
    return { ...toTokenUsage(delta), reasoningTokens: delta.reasoningOutputTokens };
  };
  const mapper = new CodexEventMapper({
    emit,
    workingDirectory: settings.workingDirectory,
    ...(model !== undefined ? { model } : {}),
    warnings,
    ...(resumedThreadId !== undefined ? { resumedThreadId } : {}),
    runUsage,
  });

  // Stopping. While a command runs: SIGINT first (the CLI then stops that command, which SIGTERM would
  // orphan), SIGTERM through the SDK's signal after a grace. Otherwise SIGTERM at once (the CLI
  // ignores a SIGINT that arrives before its turn is under way).
  const controller = new AbortController();
  let stopReason: 'abort' | 'idle' | undefined;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = (reason: 'abort' | 'idle') => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    clearTimeout(idleTimer);
    const interrupted = mapper.toolsRunning > 0 ? interruptMarkedChildren(marker) : 0;
    if (interrupted === 0) controller.abort();
    else graceTimer = setTimeout(() => controller.abort(), settings.interruptGraceMs ?? 2_000);
  };
  const onAbort = () => stop('abort');
  const idleTimeoutMs = settings.idleTimeoutMs ?? getConfig('streamIdleTimeoutMs');
  const armIdle = () => {
    clearTimeout(idleTimer);
    if (idleTimeoutMs > 0 && Number.isFinite(idleTimeoutMs) && stopReason === undefined) {
      // A running command may stay silent for long: the watchdog rests until it finishes.
      if (mapper.toolsRunning === 0) idleTimer = setTimeout(() => stop('idle'), idleTimeoutMs);
    }
  };

  const prompt = cliPrompt(messages, transcript);
  let streamError: unknown;
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    armIdle();
    const turnOptions: { signal: AbortSignal; outputSchema?: unknown } = { signal: controller.signal };
    if (settings.outputSchema !== undefined) turnOptions.outputSchema = settings.outputSchema;
    const { events } = await thread.runStreamed(prompt, turnOptions);
    for await (const event of events) {
      if (stopReason !== undefined) continue; // drain quietly while the CLI stops
      mapper.handle(event);
      armIdle();
    }
  } catch (error) {
    streamError = error;
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearTimeout(idleTimer);
    clearTimeout(graceTimer);
  }
  if (signal.aborted && stopReason === undefined) stopReason = 'abort';

  if (stopReason === 'abort') {
    mapper.ensureStarted();
    throw abortTerminal(emitTerminal, signal);
  }
  mapper.ensureStarted();
  if (stopReason === 'idle') {
    throw failTerminal(
      emitTerminal,
      providerFailure(
        provider,
        'provider_timeout',
        `The Codex CLI sent nothing for ${idleTimeoutMs} ms (idle timeout)`,
        { kind: 'timeout' },
      ),
    );
  }
  mapper.finish();

  if (mapper.failureMessage !== undefined || streamError !== undefined || !mapper.turnCompleted) {
    throw failTerminal(emitTerminal, cliFailure(provider, mapper, streamError));
  }

  const cumulative = mapper.cumulativeUsage;
  const threadId = mapper.threadId;
  if (threadId !== undefined && cumulative !== undefined) {
    try {
      await context.threadUsage.set(threadId, cumulative);
    } catch {
      // Losing the baseline only makes the next run's usage cumulative; it must not fail this run.
    }
  }
  const delta = cumulative ? usageDelta(cumulative, previousUsage) : undefined;
  const tokenUsage = toTokenUsage(
    delta ?? { inputTokens: 0, cachedInputTokens: 0, cacheWriteInputTokens: 0, outputTokens: 0 },
  );
  const output: RunOutput = { content: mapper.finalText, stopReason: 'end_turn' };
  if (settings.outputSchema !== undefined) {
    try {
      output.structured = JSON.parse(mapper.finalText) as unknown;
    } catch {
      // The answer is kept as text; `structured` is only set when it parses.
    }
  }
  emitTerminal({ type: 'run_completed', data: { stopReason: 'end_turn', tokenUsage } });

  const metadata: Record<string, unknown> = {
    backend: 'cli',
    threadId,
    resumed: resumedThreadId !== undefined,
    reasoningTokens: delta?.reasoningOutputTokens ?? 0,
  };
  if (cumulative) metadata.threadUsage = cumulative;
  if (mapper.unknownEvents.length > 0) metadata.unknownEvents = mapper.unknownEvents;
  const result: ExecuteResult = {
    output,
    tokenUsage,
    turnCount: Math.max(1, mapper.turns),
    metadata,
  };
  if (threadId !== undefined) result.providerSessionId = threadId;
  if (model !== undefined) result.model = model;
  if (warnings.length > 0) result.warnings = warnings;
  return result;
}

/** The classified error of a failed CLI turn: the turn's own message, else the process's exit. */
function cliFailure(provider: string, mapper: CodexEventMapper, streamError: unknown): AsmError {
  const exit = parseExitError(streamError);
  const facts: { exitCode?: number; stderr?: string } = {};
  if (exit?.exitCode !== undefined) facts.exitCode = exit.exitCode;
  if (exit?.stderr !== undefined) facts.stderr = exit.stderr;
  if (mapper.failureMessage !== undefined) {
    return codexFailure(provider, mapper.failureMessage, facts, streamError);
  }
  if (exit) {
    const detail = lastStderrLine(exit.stderr);
    const how =
      exit.signal !== undefined ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
    const message = `The Codex CLI ${how}${detail ? `: ${detail}` : ''}`;
    const error = codexFailure(provider, `${message}\n${exit.stderr ?? ''}`, facts, streamError);
    return providerFailure(provider, error.code, message, { ...facts, kind: error.providerError?.kind });
  }
  if (streamError !== undefined) {
    const code = (streamError as { code?: unknown } | null)?.code;
    const message = streamError instanceof Error ? streamError.message : String(streamError);
    if (code === 'ENOENT' || code === 'EACCES') {
      return providerFailure(provider, 'provider_error', `Could not start the Codex CLI: ${message}`, {
        kind: 'cli_not_found',
      });
    }
    if (message.startsWith('Failed to parse item')) {
      return providerFailure(
        provider,
        'provider_error',
        `The Codex CLI printed a line that is not JSON: ${message}`,
        {
          kind: 'parse_error',
        },
      );
    }
    return codexFailure(provider, message, facts, streamError);
  }
  return providerFailure(provider, 'provider_error', 'The Codex CLI ended without completing the turn', {
    kind: 'protocol_error',
  });
}
