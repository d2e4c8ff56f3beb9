import {
  AsmError,
  abortError,
  type Capability,
  createCapability,
  type ExecuteOptions,
  type ExecuteResult,
  inputMessages,
  isAbortCode,
  type PermissionMode,
  type ProviderAdapter,
  type Run,
  type RunInput,
  renderTranscriptAsText,
  type Session,
  type ToolRules,
  type Transcript,
} from '@asm/core';
import { claudeAgentApiError, claudeAgentProcessError, claudeAgentResultError } from './agent-errors.js';
import { ClaudeAgentEventMapper, resultUsage } from './agent-event-mapper.js';
import { AgentProcessGroup } from './agent-process.js';
import {
  CLAUDE_AGENT_SDK_PACKAGE,
  type ClaudeAgentCanUseTool,
  type ClaudeAgentQuery,
  type ClaudeAgentUserMessage,
  createAgentSdkCache,
  importClaudeAgentSdk,
} from './agent-sdk-loader.js';
import {
  type ClaudeAgentSettings,
  checkWorkingDirectory,
  DEFAULT_CLAUDE_AGENT_INTERRUPT_TIMEOUT_MS,
  DEFAULT_CLAUDE_AGENT_SHUTDOWN_GRACE_MS,
} from './agent-settings.js';
import { runOptionChecks } from './field-checks.js';

/** The Claude provider on the Claude Code agent. */
export interface ClaudeAgentProvider extends ProviderAdapter {
  readonly backend: 'agent';
  /** The folder the agent works in. */
  readonly workingDirectory: string;
  /** The default model of its runs; undefined means Claude Code's own default. */
  readonly model: string | undefined;
  /**
   * Resolves once every `claude` process this provider started has exited. A cancelled or timed-out
   * run settles as soon as `interrupt()` has ended its turn; its process then exits on its own, or is
   * terminated after `shutdownGraceMs` (then SIGKILL, with whatever it started). Await
   * this before exiting an app that cancelled runs, or in tests.
   */
  waitForProcesses(): Promise<void>;
}

/** Per-run overrides of the agent backend, read from `executeRun({ adapterOptions })`. */
export interface ClaudeAgentRunOptions {
  model?: string;
  maxTurns?: number;
}

/**
 * The environment variable the adapter sets on every `claude` process it starts: the run id. The
 * CLI's children inherit it, so a monitor can find whatever a run left behind (there should be
 * nothing: the adapter ends a run's processes, and what they started, when the run ends).
 */
export const CLAUDE_AGENT_RUN_ENV = 'ASM_CLAUDE_RUN_ID';

/** What the agent backend can do. */
export const CLAUDE_AGENT_CAPABILITIES: readonly Capability[] = [
  createCapability({ name: 'streaming', type: 'sampling' }),
  createCapability({ name: 'interrupt', type: 'sampling' }),
  createCapability({ name: 'system_prompts', type: 'prompt' }),
  createCapability({ name: 'tool_use', type: 'tool' }),
  createCapability({ name: 'mcp', type: 'tool' }),
  createCapability({ name: 'file_operations', type: 'file_access' }),
  createCapability({ name: 'bash', type: 'code_execution' }),
  createCapability({ name: 'web_search', type: 'network_access' }),
];

/** Claude Code's permission modes the adapter uses. */
export type ClaudeAgentPermissionMode = 'default' | 'acceptEdits' | 'plan' | 'bypassPermissions';

/**
 * Maps a normalized permission mode onto Claude Code's (spec CORE-permission-mode):
 * `default` and `full_auto` → `default` (every call Claude Code asks about goes through
 * `authorizeToolCall`, which allows it unless a policy or an approval gate says otherwise),
 * `accept_edits` → `acceptEdits`, `plan` → `plan`, `dangerously_skip_permissions` →
 * `bypassPermissions`, except as root, where Claude Code refuses it (`--dangerously-skip-permissions
 * cannot be used with root/sudo privileges`): then `default`, with a `permission_mode_downgraded`
 * warning.
 */
export function mapClaudeAgentPermissionMode(
  mode: PermissionMode,
  isRoot: boolean,
): { permissionMode: ClaudeAgentPermissionMode; allowDangerouslySkipPermissions?: true; warning?: string } {
  switch (mode) {
    case 'default':
    case 'full_auto':
      return { permissionMode: 'default' };
    case 'accept_edits':
      return { permissionMode: 'acceptEdits' };
    case 'plan':
      return { permissionMode: 'plan' };
    case 'dangerously_skip_permissions':
      if (isRoot) {
        return {
          permissionMode: 'default',
          warning:
            "permission_mode_downgraded: Claude Code refuses bypassPermissions as root; the run uses 'default', where every tool call Claude Code asks about goes through authorizeToolCall",
        };
      }
      return { permissionMode: 'bypassPermissions', allowDangerouslySkipPermissions: true };
    default: {
      const unhandled: never = mode;
      throw new AsmError('validation_error', `Invalid permission mode: ${String(unhandled)}`);
    }
  }
}

function readRunOptions(adapterOptions: Record<string, unknown> | undefined): ClaudeAgentRunOptions {
  const options: ClaudeAgentRunOptions = {};
  const { model, maxTurns } = adapterOptions ?? {};
  runOptionChecks.nonEmptyString('adapterOptions.model', model);
  runOptionChecks.positiveInteger('adapterOptions.maxTurns', maxTurns);
  if (model !== undefined) options.model = model as string;
  if (maxTurns !== undefined) options.maxTurns = maxTurns as number;
  return options;
}

/**
 * The prompt of a run: its messages (user messages as they are, others as `role: content`), after
 * the replayed transcript (`role: content` lines, spec PROV-transcript-inject) when there is one.
 */
export function claudeAgentPrompt(input: RunInput, transcript?: Transcript, runId?: string): string {
  let messages = inputMessages(input);
  if (messages.length === 0 && typeof input === 'object' && input !== null && Object.keys(input).length > 0) {
    messages = [{ role: 'user', content: JSON.stringify(input) }];
  }
  if (messages.length === 0) {
    throw new AsmError('invalid_input', 'The run has no prompt to send to Claude Code', {
      details: { field: 'input', ...(runId === undefined ? {} : { runId }) },
    });
  }
  const current = messages
    .map((message) => (message.role === 'user' ? message.content : `${message.role}: ${message.content}`))
    .join('\n\n');
  const earlier = transcript?.messages.filter((message) => message.metadata?.runId !== runId) ?? [];
  if (earlier.length === 0 || transcript === undefined) return current;
  const history = renderTranscriptAsText({ ...transcript, messages: earlier });
  return history === '' ? current : `${history}\n\n${current}`;
}

/**
 * Run tool rules onto Claude Code: exact names of `deny` become `disallowedTools` (removed from the
 * model's context), exact names of `allow` the available `tools`. Glob patterns cannot be given to
 * Claude Code: they are enforced through `authorizeToolCall` (for the calls Claude Code asks
 * about), with a `tool_rules_partial` warning.
 */
function mapToolRules(rules: ToolRules | undefined): {
  tools?: string[];
  disallowedTools: string[];
  warning?: string;
} {
  const exact = (patterns: string[] | undefined) =>
    (patterns ?? []).filter((pattern) => !pattern.includes('*'));
  const globs = [...(rules?.allow ?? []), ...(rules?.deny ?? [])].filter((pattern) => pattern.includes('*'));
  const mapped: { tools?: string[]; disallowedTools: string[]; warning?: string } = {
    disallowedTools: exact(rules?.deny),
  };
  if (rules?.allow !== undefined && globs.length === 0) mapped.tools = exact(rules.allow);
  if (globs.length > 0) {
    mapped.warning = `tool_rules_partial: Claude Code takes no glob patterns (${globs.join(', ')}); they apply only to the tool calls it asks permission for`;
  }
  return mapped;
}

/** The prompt of streaming-input mode: one user message, then open until `close()` (`interrupt()` needs it). */
class PromptInput implements AsyncIterable<ClaudeAgentUserMessage> {
  private closed = false;
  private wake: (() => void) | undefined;

  constructor(private readonly text: string) {}

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ClaudeAgentUserMessage> {
    yield {
      type: 'user',
      message: { role: 'user', content: this.text },
      parent_tool_use_id: null,
      session_id: '',
    };
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves true when `promise` settles within `ms`, false otherwise (or when it rejects). */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What the run loop sees when a stop ended the turn before the process exited. */
const TURN_STOPPED = Symbol('turn stopped');

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

/** Builds the agent backend. Settings must be validated already. */
export function createAgentBackend(settings: ClaudeAgentSettings): ClaudeAgentProvider {
  const name = settings.name ?? 'claude';
  const loadSdk = createAgentSdkCache(settings.loadSdk ?? importClaudeAgentSdk);
  const interruptTimeoutMs = settings.interruptTimeoutMs ?? DEFAULT_CLAUDE_AGENT_INTERRUPT_TIMEOUT_MS;
  const shutdownGraceMs = settings.shutdownGraceMs ?? DEFAULT_CLAUDE_AGENT_SHUTDOWN_GRACE_MS;
  /**
   * Process shutdowns still going on after their run settled: a cancelled (or timed-out) run settles
   * as soon as `interrupt()` ended its turn, and its process exits just after (or is killed after the
   * grace). By agent session id too, so that a run resuming that session waits for it.
   */
  const pendingShutdowns = new Set<Promise<void>>();
  const sessionShutdowns = new Map<string, Promise<void>>();

  function trackShutdown(shutdown: Promise<void>, sessionId: string | undefined): void {
    pendingShutdowns.add(shutdown);
    if (sessionId !== undefined) sessionShutdowns.set(sessionId, shutdown);
    void shutdown.finally(() => {
      pendingShutdowns.delete(shutdown);
      if (sessionId !== undefined && sessionShutdowns.get(sessionId) === shutdown) {
        sessionShutdowns.delete(sessionId);
      }
    });
  }

  function environment(run: Run, options: ExecuteOptions): Record<string, string> {
    const env: Record<string, string | undefined> = { ...process.env, ...(settings.env ?? {}) };
    if (settings.apiKey !== undefined) env.ANTHROPIC_API_KEY = settings.apiKey;
    if (settings.baseURL !== undefined) env.ANTHROPIC_BASE_URL = settings.baseURL;
    if (settings.configDir !== undefined) env.CLAUDE_CONFIG_DIR = settings.configDir;
    if (options.maxOutputTokens !== undefined) {
      env.CLAUDE_CODE_MAX_OUTPUT_TOKENS = String(options.maxOutputTokens);
    }
    env.CLAUDE_AGENT_SDK_CLIENT_APP ??= '@asm/claude';
    env[CLAUDE_AGENT_RUN_ENV] = run.id;
    const defined: Record<string, string> = {};
    for (const [key, value] of Object.entries(env)) if (value !== undefined) defined[key] = value;
    return defined;
  }

  async function execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const { signal, emit } = options;
    const warnings: string[] = [];
    const mapper = new ClaudeAgentEventMapper(emit, () =>
      warnings.length > 0 ? { warnings: [...warnings] } : {},
    );
    const processes = new AgentProcessGroup(settings.stderr);
    const sdkAbort = new AbortController();
    let query: ClaudeAgentQuery | undefined;
    let input: PromptInput | undefined;
    let stopping: Promise<void> | undefined;
    /** How the stop went: true when `interrupt()` ended the turn, false when the process was aborted. */
    let interrupted: boolean | undefined;
    /** Set once `interrupt()` ended the turn: the run loop then stops waiting for the process. */
    let turnStopped = false;
    let wakeLoop: ((value: typeof TURN_STOPPED) => void) | undefined;
    const turnInterrupted = () => {
      turnStopped = true;
      wakeLoop?.(TURN_STOPPED);
    };
    /** True when the run settles before its process has exited (an interrupted turn); see `pendingShutdowns`. */
    let shutdownInBackground = false;
    /** A failure of the adapter's side (an authorization hook that threw, a throwing emit). */
    let fatal: AsmError | undefined;

    /**
     * Cancel, timeout or a failure on the adapter's side: `interrupt()` first (graceful), then abort
     * the query and terminate the process (and what it started).
     */
    const stop = (graceful = true): Promise<void> => {
      stopping ??= (async () => {
        mapper.mute();
        let ended = mapper.result !== undefined;
        if (graceful && !ended && query !== undefined && mapper.initialized) {
          const running = query;
          ended = await settlesWithin(
            Promise.all([running.interrupt(), mapper.whenResult()]),
            interruptTimeoutMs,
          );
          interrupted = ended;
          if (ended) turnInterrupted();
        }
        input?.close();
        if (!ended) {
          interrupted = false;
          sdkAbort.abort();
          processes.terminate(shutdownGraceMs);
        }
      })();
      return stopping;
    };
    const onAbort = () => void stop();

    try {
      const runOptions = readRunOptions(options.adapterOptions);
      const permission = mapClaudeAgentPermissionMode(
        options.permissionMode ?? settings.permissionMode ?? 'default',
        IS_ROOT,
      );
      if (permission.warning) warnings.push(permission.warning);
      const toolRules = mapToolRules(options.toolRules);
      if (toolRules.warning) warnings.push(toolRules.warning);
      if (options.tools !== undefined && options.tools.length > 0) {
        warnings.push(
          `tools_ignored: Claude Code runs its own tools; the run's tools (${options.tools.map((tool) => tool.name).join(', ')}) are not offered (give them as MCP servers through sdkOptions.mcpServers)`,
        );
      }
      if (signal.aborted) throw abortError(signal);
      checkWorkingDirectory(settings.workingDirectory);
      const sdk = await loadSdk('execute');
      if (signal.aborted) throw abortError(signal);

      const { continuation } = options;
      let resume: string | undefined;
      let transcript: Transcript | undefined;
      if (continuation.mode === 'native' && continuation.providerSessionId) {
        resume = continuation.providerSessionId;
      } else if (continuation.mode === 'replay') {
        transcript = continuation.transcript ?? (await continuation.loadTranscript());
      }
      if (signal.aborted) throw abortError(signal);
      input = new PromptInput(claudeAgentPrompt(run.input, transcript, run.id));

      const canUseTool: ClaudeAgentCanUseTool = async (toolName, toolInput, context) => {
        const toolCallId = context.toolUseID;
        try {
          mapper.noteToolCall(toolCallId, toolName, toolInput);
        } catch (error) {
          fatal ??= AsmError.from(error, 'internal_error');
          void stop();
          return { behavior: 'deny', message: 'The run failed' };
        }
        const toolSignal = AbortSignal.any([signal, context.signal]);
        if (toolSignal.aborted) return { behavior: 'deny', message: 'The run was stopped' };
        let decision: Awaited<ReturnType<ExecuteOptions['authorizeToolCall']>>;
        try {
          decision = await options.authorizeToolCall(
            { id: toolCallId, name: toolName, input: toolInput },
            { signal: toolSignal },
          );
        } catch (error) {
          if (!toolSignal.aborted) {
            fatal ??= AsmError.from(error, 'internal_error', `Authorizing ${toolName} failed`);
            void stop();
          }
          return { behavior: 'deny', message: `Authorizing ${toolName} failed` };
        }
        if (decision.allow) {
          return { behavior: 'allow', updatedInput: isRecord(decision.input) ? decision.input : toolInput };
        }
        mapper.noteDenial(toolCallId, decision.reason);
        return { behavior: 'deny', message: decision.reason };
      };

      const systemPrompt = options.systemPrompt ?? settings.systemPrompt;
      const model = runOptions.model ?? settings.model;
      const maxTurns = runOptions.maxTurns ?? settings.maxTurns;
      const allowedTools = settings.allowedTools ?? [];
      const disallowedTools = [...(settings.disallowedTools ?? []), ...toolRules.disallowedTools];
      const queryOptions: Record<string, unknown> = {
        ...(settings.sdkOptions ?? {}),
        cwd: settings.workingDirectory,
        env: environment(run, options),
        permissionMode: permission.permissionMode,
        includePartialMessages: true,
        canUseTool,
        abortController: sdkAbort,
        spawnClaudeCodeProcess: processes.spawn,
      };
      if (permission.allowDangerouslySkipPermissions) queryOptions.allowDangerouslySkipPermissions = true;
      if (model !== undefined) queryOptions.model = model;
      if (maxTurns !== undefined) queryOptions.maxTurns = maxTurns;
      if (allowedTools.length > 0) queryOptions.allowedTools = allowedTools;
      if (disallowedTools.length > 0) queryOptions.disallowedTools = disallowedTools;
      if (toolRules.tools !== undefined) queryOptions.tools = toolRules.tools;
      if (systemPrompt !== undefined && systemPrompt !== '') {
        queryOptions.systemPrompt = { type: 'preset', preset: 'claude_code', append: systemPrompt };
      }
      if (settings.settingSources !== undefined) queryOptions.settingSources = [...settings.settingSources];
      if (settings.executablePath !== undefined) {
        queryOptions.pathToClaudeCodeExecutable = settings.executablePath;
      }
      if (resume !== undefined) {
        queryOptions.resume = resume;
        // The previous process of this session may still be exiting (a cancelled run): let it finish
        // writing the session first.
        await sessionShutdowns.get(resume);
        if (signal.aborted) throw abortError(signal);
      }

      try {
        query = sdk.query({ prompt: input, options: queryOptions });
      } catch (error) {
        throw claudeAgentProcessError(name, {
          message: `Claude Code could not start: ${errorMessage(error)}`,
          cause: error,
        });
      }
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) void stop();

      const iterator = query[Symbol.asyncIterator]();
      let iterationError: unknown;
      let pending: Promise<IteratorResult<unknown>> | undefined;
      try {
        for (;;) {
          if (turnStopped) {
            shutdownInBackground = true;
            break;
          }
          const next = iterator.next();
          pending = next;
          const step = await new Promise<IteratorResult<unknown> | typeof TURN_STOPPED>((resolve, reject) => {
            wakeLoop = resolve;
            next.then(resolve, reject);
          });
          wakeLoop = undefined;
          if (step === TURN_STOPPED) {
            shutdownInBackground = true; // the interrupted turn is over; its process is still exiting
            break;
          }
          pending = undefined;
          if (step.done) break;
          try {
            mapper.handle(step.value);
          } catch (error) {
            fatal ??= AsmError.from(error, 'internal_error');
            void stop(false); // nobody reads the messages any more: no graceful interrupt
            void iterator.return?.(undefined).catch(() => undefined);
            break;
          }
          if (mapper.result !== undefined) input.close(); // the turn is over: let the process exit
        }
      } catch (error) {
        iterationError = error;
      }
      await stopping;
      input.close();
      if (shutdownInBackground) {
        const left = pending;
        const drain = (async () => {
          try {
            let step = await (left ?? iterator.next());
            while (!step.done) step = await iterator.next();
          } catch {
            // The interrupted turn ends in an error result: the iterator throws once the process is gone.
          }
        })();
        trackShutdown(
          processes
            .shutdown(shutdownGraceMs, shutdownGraceMs)
            .then(() => settlesWithin(drain, shutdownGraceMs))
            .then(() => undefined),
          mapper.sessionId,
        );
      } else {
        await processes.shutdown(shutdownGraceMs, shutdownGraceMs);
      }
      if (signal.aborted) throw abortError(signal);
      if (fatal) throw fatal;

      const result = mapper.result;
      if (result === undefined) {
        const spawnError = processes.spawnError;
        const exit = processes.lastExit;
        throw claudeAgentProcessError(name, {
          message: spawnError
            ? `Could not start Claude Code: ${spawnError.message}${spawnError.code === 'ENOENT' ? `. Set executablePath, or reinstall ${CLAUDE_AGENT_SDK_PACKAGE} with its optional dependencies (it bundles the binary)` : ''}`
            : `Claude Code ended without a result${iterationError === undefined ? '' : `: ${errorMessage(iterationError)}`}`,
          ...(spawnError?.code === 'ENOENT'
            ? { notFound: { dependency: settings.executablePath ?? CLAUDE_AGENT_SDK_PACKAGE } }
            : {}),
          stderr: processes.stderrTail,
          ...(exit === undefined ? {} : { exitCode: exit.code, signal: exit.signal }),
          cause: spawnError ?? iterationError,
        });
      }

      const usage = resultUsage(result);
      mapper.ensureStarted();
      emit({ type: 'token_usage_updated', data: { ...usage.tokenUsage } });
      const subtype = typeof result.subtype === 'string' ? result.subtype : 'unknown';
      const isError = result.is_error === true;
      const errors = Array.isArray(result.errors)
        ? result.errors.filter((entry): entry is string => typeof entry === 'string')
        : [];
      const details = {
        ...(typeof result.terminal_reason === 'string' ? { terminalReason: result.terminal_reason } : {}),
        ...(mapper.sessionId === undefined ? {} : { providerSessionId: mapper.sessionId }),
      };
      let stopReason: string;
      if (mapper.apiFailure !== undefined && isError) throw claudeAgentApiError(name, mapper.apiFailure);
      if (subtype === 'success') {
        if (isError) {
          throw claudeAgentResultError(
            name,
            subtype,
            typeof result.result === 'string' ? [result.result] : [],
            details,
          );
        }
        stopReason = typeof result.stop_reason === 'string' ? result.stop_reason : 'end_turn';
      } else if (subtype === 'error_max_turns') {
        stopReason = 'max_turns';
      } else if (subtype === 'error_max_budget_usd') {
        stopReason = 'max_budget_usd';
      } else if (isError) {
        throw claudeAgentResultError(name, subtype, errors, details);
      } else {
        stopReason = subtype;
      }
      if (subtype !== 'success') {
        warnings.push(`${subtype}: ${errors.join('; ') || `Claude Code stopped the run (${stopReason})`}`);
      }

      const content =
        subtype === 'success' && typeof result.result === 'string' ? result.result : mapper.lastText;
      const completed: Record<string, unknown> & { stopReason: string } = {
        stopReason,
        tokenUsage: { ...usage.tokenUsage },
      };
      if (usage.costUsd !== undefined) completed.costUsd = usage.costUsd;
      if (typeof result.duration_ms === 'number') completed.durationMs = result.duration_ms;
      emit({ type: 'run_completed', data: completed });

      const metadata: Record<string, unknown> = {
        requestIds: [...mapper.requestIds],
        resultSubtype: subtype,
      };
      if (mapper.sessionId !== undefined) metadata.sessionId = mapper.sessionId;
      if (mapper.claudeCodeVersion !== undefined) metadata.claudeCodeVersion = mapper.claudeCodeVersion;
      if (typeof result.terminal_reason === 'string') metadata.terminalReason = result.terminal_reason;
      if (typeof result.duration_ms === 'number') metadata.durationMs = result.duration_ms;
      if (typeof result.duration_api_ms === 'number') metadata.durationApiMs = result.duration_api_ms;
      if (Array.isArray(result.permission_denials) && result.permission_denials.length > 0) {
        metadata.permissionDenials = result.permission_denials;
      }
      if (mapper.unrecognized.length > 0) metadata.unrecognized = [...mapper.unrecognized];
      const executeResult: ExecuteResult = {
        output: { content, stopReason },
        tokenUsage: usage.tokenUsage,
        metadata,
      };
      if (mapper.sessionId !== undefined) executeResult.providerSessionId = mapper.sessionId;
      const answeredModel = mapper.model ?? model;
      if (answeredModel !== undefined) executeResult.model = answeredModel;
      if (usage.costUsd !== undefined) executeResult.costUsd = usage.costUsd;
      if (typeof result.num_turns === 'number') executeResult.turnCount = result.num_turns;
      if (warnings.length > 0) executeResult.warnings = [...warnings];
      return executeResult;
    } catch (error) {
      // Whatever happened, no `claude` process outlives the run.
      input?.close();
      if (!processes.allExited && !shutdownInBackground) {
        if (!stopping) {
          sdkAbort.abort();
          processes.terminate(shutdownGraceMs);
        }
        await processes.shutdown(shutdownGraceMs, shutdownGraceMs);
      }
      const failure = signal.aborted
        ? abortError(signal)
        : AsmError.isInstance(error)
          ? error
          : AsmError.from(error, 'internal_error');
      try {
        mapper.ensureStarted();
        if (isAbortCode(failure.code)) {
          const how = interrupted === undefined ? {} : { interrupted };
          emit(
            failure.code === 'timeout'
              ? { type: 'run_timeout', data: { ...how } }
              : { type: 'run_cancelled', data: { reason: failure.message, ...how } },
          );
        } else {
          emit({
            type: 'run_failed',
            data: {
              errorCode: failure.code,
              errorMessage: failure.message,
              ...(failure.providerError ? { providerError: failure.providerError } : {}),
            },
          });
        }
      } catch {
        // The emit itself failed (the crash being reported): the error below says it all.
      }
      throw failure;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    specificationVersion: 'v1',
    name,
    backend: 'agent',
    workingDirectory: settings.workingDirectory,
    model: settings.model,
    supportsNativeContinuation: true,
    capabilities: () => CLAUDE_AGENT_CAPABILITIES.map((capability) => ({ ...capability })),
    execute,
    async waitForProcesses() {
      while (pendingShutdowns.size > 0) await Promise.all([...pendingShutdowns]);
    },
  } satisfies ClaudeAgentProvider;
}
