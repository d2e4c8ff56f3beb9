import { statSync } from 'node:fs';
import {
  type AdapterEvent,
  AsmError,
  abortError,
  type Capability,
  type ExecuteOptions,
  type ExecuteResult,
  isToolAllowed,
  normalizePermissionMode,
  type PermissionMode,
  type ProcessResult,
  type ProviderAdapter,
  type ProviderErrorKind,
  type Run,
  runProcess,
  type Session,
  type ToolRules,
  type Transcript,
  throwIfAborted,
} from '@asm/core';
import { ampError, ampProviderError, classifyAmpError } from './amp-errors.js';
import { AmpEventMapper } from './amp-event-mapper.js';
import { buildAmpArgs, buildAmpPrompt, mapAmpPermissionMode } from './amp-invocation.js';
import { parseAmpLine } from './amp-messages.js';
import { type AmpWarning, warningMessages } from './amp-warnings.js';

/** Thread visibilities the Amp CLI and SDK know (`--visibility`). */
export const AMP_VISIBILITIES = ['private', 'public', 'unlisted', 'workspace', 'group'] as const;
/** A thread visibility. */
export type AmpVisibility = (typeof AMP_VISIBILITIES)[number];

/** Default `idleTimeoutMs`: ten minutes without output (the reference library's stream timeout). */
export const DEFAULT_AMP_IDLE_TIMEOUT_MS = 600_000;
/** Default `exitGraceMs`: how long the CLI may linger after its `result` before it is killed. */
export const DEFAULT_AMP_EXIT_GRACE_MS = 3_000;

/** Settings of `createAmpProvider`. */
export interface AmpProviderSettings {
  /** Working directory of the agent (required; must exist when a run starts). */
  cwd: string;
  /** The Amp executable. Default `amp`, looked up on the `PATH` of the child's environment. */
  executablePath?: string;
  /** Amp API key. Default: `env.AMP_API_KEY`, else `process.env.AMP_API_KEY`. Sent as `AMP_API_KEY`. */
  apiKey?: string;
  /**
   * Normalized permission mode (a run's own `permissionMode` wins). `full_auto` and
   * `dangerously_skip_permissions` pass `--dangerously-allow-all`; `accept_edits` and `plan` have no
   * Amp equivalent and give a warning.
   */
  permissionMode?: PermissionMode;
  /** Agent mode, passed as `--mode` (the CLI's values depend on its version: `smart`, `rush`, …). */
  mode?: string;
  /** MCP servers: a JSON object, a JSON string or a path, passed as `--mcp-config`. */
  mcpConfig?: string | Record<string, unknown>;
  /** Thread visibility (`--visibility`). */
  visibility?: AmpVisibility;
  /** Thread labels (`--label`, once each). */
  labels?: string[];
  /** Amp settings file (`--settings-file`). */
  settingsFile?: string;
  /** Stream thinking blocks (`--stream-json-thinking`) as `message_streamed` of kind `thinking`. */
  thinking?: boolean;
  /**
   * Environment of the CLI on top of `process.env`; a key set to `undefined` removes an inherited
   * variable. `AMP_URL`, `AMP_LOG_LEVEL`, `AMP_SETTINGS_FILE`… go here.
   */
  env?: Record<string, string | undefined>;
  /** Kill the CLI (and everything it started) after this long without output. Default 600,000 ms. */
  idleTimeoutMs?: number;
  /** After the `result` message, how long the CLI gets to exit before it is killed. Default 3,000 ms. */
  exitGraceMs?: number;
  /** More CLI arguments, appended last. */
  extraArgs?: string[];
  /** Not supported by Amp: accepted so shared configuration works, then ignored with a warning. */
  maxTurns?: number;
  /** Not supported by the Amp CLI: ignored with a warning (as is `session.context.systemPrompt`). */
  systemPrompt?: string;
  /** Adapter name, used as the event provider. Default `amp`. */
  name?: string;
}

/**
 * Per-run options read from `executeRun({ adapterOptions })`: `mode`, `visibility` and `labels`
 * (added to the settings' labels) for this run only.
 */
export interface AmpRunOptions {
  mode?: string;
  visibility?: AmpVisibility;
  labels?: string[];
}

/** The Amp adapter: a `ProviderAdapter` that drives the Amp CLI. */
export interface AmpProvider extends ProviderAdapter {
  readonly supportsNativeContinuation: true;
  /** The settings it was created with (after validation; `apiKey` omitted). */
  readonly settings: Readonly<Omit<AmpProviderSettings, 'apiKey'>>;
  validateConfig(): void;
}

const CAPABILITIES: readonly Capability[] = [
  { name: 'streaming', type: 'sampling' },
  { name: 'tool_use', type: 'tool' },
  { name: 'interrupt', type: 'sampling' },
  { name: 'mcp', type: 'tool' },
  { name: 'file_operations', type: 'file_access' },
  { name: 'bash', type: 'code_execution' },
];

function invalid(field: string, message: string): AsmError {
  return new AsmError('validation_error', message, { details: { field } });
}

function checkNonEmptyString(value: unknown, field: string, required = false): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(field, `Amp setting ${field} must be a non-empty string`);
  }
}

function checkTimeout(value: unknown, field: string, allowZero: boolean): void {
  if (value === undefined) return;
  const valid = typeof value === 'number' && !Number.isNaN(value) && (allowZero ? value >= 0 : value > 0);
  if (!valid)
    throw invalid(
      field,
      `Amp setting ${field} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds`,
    );
}

function checkStringList(value: unknown, field: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    throw invalid(field, `Amp setting ${field} must be an array of non-empty strings`);
  }
}

function checkVisibility(value: unknown, field: string): void {
  if (value === undefined) return;
  if (!(AMP_VISIBILITIES as readonly unknown[]).includes(value)) {
    throw new AsmError(
      'validation_error',
      `Amp setting ${field} must be one of ${AMP_VISIBILITIES.join(', ')}`,
      {
        details: { field, allowed: AMP_VISIBILITIES },
      },
    );
  }
}

function validateSettings(settings: AmpProviderSettings): void {
  if (typeof settings !== 'object' || settings === null) {
    throw invalid('cwd', 'createAmpProvider needs settings with a cwd');
  }
  checkNonEmptyString(settings.cwd, 'cwd', true);
  checkNonEmptyString(settings.executablePath, 'executablePath');
  checkNonEmptyString(settings.apiKey, 'apiKey');
  normalizePermissionMode(settings.permissionMode);
  checkNonEmptyString(settings.mode, 'mode');
  checkVisibility(settings.visibility, 'visibility');
  checkStringList(settings.labels, 'labels');
  checkStringList(settings.extraArgs, 'extraArgs');
  checkNonEmptyString(settings.settingsFile, 'settingsFile');
  checkNonEmptyString(settings.name, 'name');
  if (
    settings.mcpConfig !== undefined &&
    !(typeof settings.mcpConfig === 'string' && settings.mcpConfig !== '') &&
    !(
      typeof settings.mcpConfig === 'object' &&
      settings.mcpConfig !== null &&
      !Array.isArray(settings.mcpConfig)
    )
  ) {
    throw invalid('mcpConfig', 'Amp setting mcpConfig must be an object, a JSON string or a path');
  }
  if (settings.thinking !== undefined && typeof settings.thinking !== 'boolean') {
    throw invalid('thinking', 'Amp setting thinking must be a boolean');
  }
  if (settings.env !== undefined) {
    if (typeof settings.env !== 'object' || settings.env === null || Array.isArray(settings.env)) {
      throw invalid('env', 'Amp setting env must be an object of strings');
    }
    for (const [key, value] of Object.entries(settings.env)) {
      if (value !== undefined && typeof value !== 'string') {
        throw invalid(`env.${key}`, `Amp setting env.${key} must be a string (or undefined to remove it)`);
      }
    }
  }
  checkTimeout(settings.idleTimeoutMs, 'idleTimeoutMs', false);
  checkTimeout(settings.exitGraceMs, 'exitGraceMs', true);
  if (
    settings.maxTurns !== undefined &&
    (typeof settings.maxTurns !== 'number' || !Number.isInteger(settings.maxTurns) || settings.maxTurns < 1)
  ) {
    throw invalid('maxTurns', 'Amp setting maxTurns must be a positive integer');
  }
  if (settings.systemPrompt !== undefined && typeof settings.systemPrompt !== 'string') {
    throw invalid('systemPrompt', 'Amp setting systemPrompt must be a string');
  }
}

function readRunOptions(adapterOptions: Record<string, unknown> | undefined): AmpRunOptions {
  if (!adapterOptions) return {};
  const options: AmpRunOptions = {};
  if (adapterOptions.mode !== undefined) {
    checkNonEmptyString(adapterOptions.mode, 'adapterOptions.mode');
    options.mode = adapterOptions.mode as string;
  }
  if (adapterOptions.visibility !== undefined) {
    checkVisibility(adapterOptions.visibility, 'adapterOptions.visibility');
    options.visibility = adapterOptions.visibility as AmpVisibility;
  }
  if (adapterOptions.labels !== undefined) {
    checkStringList(adapterOptions.labels, 'adapterOptions.labels');
    options.labels = adapterOptions.labels as string[];
  }
  return options;
}

function hasRules(rules: ToolRules | undefined): rules is ToolRules {
  return rules !== undefined && (rules.allow !== undefined || (rules.deny?.length ?? 0) > 0);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The warnings a run's settings earn, before the CLI starts. */
function settingWarnings(
  settings: AmpProviderSettings,
  options: ExecuteOptions,
  permissionMode: PermissionMode | undefined,
): AmpWarning[] {
  const warnings: AmpWarning[] = [];
  if (settings.maxTurns !== undefined) {
    warnings.push({
      code: 'unsupported_setting',
      setting: 'maxTurns',
      message: `Amp has no turn limit: maxTurns (${settings.maxTurns}) is ignored`,
    });
  }
  if (options.systemPrompt !== undefined || settings.systemPrompt !== undefined) {
    warnings.push({
      code: 'unsupported_setting',
      setting: 'systemPrompt',
      message: 'The Amp CLI takes no system prompt: systemPrompt is ignored',
    });
  }
  if (options.maxOutputTokens !== undefined) {
    warnings.push({
      code: 'unsupported_setting',
      setting: 'maxOutputTokens',
      message: `Amp has no output token limit: maxOutputTokens (${options.maxOutputTokens}) is ignored`,
    });
  }
  if (permissionMode !== undefined && !mapAmpPermissionMode(permissionMode).supported) {
    warnings.push({
      code: 'unsupported_permission_mode',
      setting: 'permissionMode',
      message: `Amp has no '${permissionMode}' permission mode: the run uses Amp's default permissions`,
    });
  }
  if (hasRules(options.toolRules)) {
    warnings.push({
      code: 'tool_rules_after_the_fact',
      setting: 'toolRules',
      message:
        'Amp runs its tools itself: toolRules cannot stop a tool before it starts; a denied tool call stops the run when Amp announces it',
    });
  }
  return warnings;
}

/** The terminal event for an error: `run_cancelled`, `run_timeout`, or `run_failed`. */
function terminalFor(error: AsmError): AdapterEvent {
  if (error.code === 'cancelled') return { type: 'run_cancelled', data: { reason: error.message } };
  if (error.code === 'timeout') return { type: 'run_timeout', data: {} };
  return {
    type: 'run_failed',
    data: {
      errorCode: error.code,
      errorMessage: error.message,
      ...(error.providerError ? { providerError: error.providerError } : {}),
      ...(Object.keys(error.details).length > 0 ? { details: error.details } : {}),
    },
  };
}

/**
 * Creates the Amp provider: each run spawns the Amp CLI (`amp --execute --stream-json`, or
 * `amp threads continue <id> --execute --stream-json` to continue a thread) in its own process
 * group with the prompt on stdin, validates each stdout line against a tolerant schema, and maps the
 * messages to normalized events. Cancellation, an idle timeout, a protocol error or a denied tool
 * kill the CLI and everything it started.
 *
 * Settings are checked here (`validation_error` naming the field); the working directory and the
 * API key are checked when a run starts, before anything is spawned.
 */
export function createAmpProvider(input: AmpProviderSettings): AmpProvider {
  validateSettings(input);
  // A snapshot: later changes to the caller's object do not leak into running adapters.
  const settings: AmpProviderSettings = {
    ...input,
    ...(input.env ? { env: { ...input.env } } : {}),
    ...(input.labels ? { labels: [...input.labels] } : {}),
    ...(input.extraArgs ? { extraArgs: [...input.extraArgs] } : {}),
  };
  const name = settings.name ?? 'amp';
  const { apiKey: _omitted, ...visibleSettings } = settings;
  const settingsCopy = Object.freeze({ ...visibleSettings });

  const validateConfig = (): void => {
    if (!isDirectory(settings.cwd)) {
      throw new AsmError('validation_error', `Amp working directory does not exist: ${settings.cwd}`, {
        details: { field: 'cwd', cwd: settings.cwd },
      });
    }
  };

  const resolveApiKey = (): string | undefined => {
    if (settings.apiKey !== undefined) return settings.apiKey;
    if (settings.env && Object.hasOwn(settings.env, 'AMP_API_KEY'))
      return settings.env.AMP_API_KEY || undefined;
    return process.env.AMP_API_KEY || undefined;
  };

  const buildEnv = (apiKey: string): Record<string, string | undefined> => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const [key, value] of Object.entries(settings.env ?? {})) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    env.AMP_API_KEY = apiKey;
    return env;
  };

  async function execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const { signal } = options;
    throwIfAborted(signal);
    validateConfig();
    const apiKey = resolveApiKey();
    if (apiKey === undefined) {
      // Without a key the real CLI starts an interactive login that eats the prompt: never spawn it.
      throw new AsmError(
        'provider_authentication_failed',
        'No Amp API key: set the apiKey setting or the AMP_API_KEY environment variable',
        {
          details: { field: 'apiKey' },
          providerError: ampProviderError({
            provider: name,
            kind: 'authentication',
            message: 'AMP_API_KEY is not set',
          }),
        },
      );
    }
    const permissionMode = normalizePermissionMode(options.permissionMode ?? settings.permissionMode);
    const runOptions = readRunOptions(options.adapterOptions);

    const continuation = options.continuation;
    let threadId: string | undefined;
    let transcript: Transcript | undefined;
    if (continuation.mode === 'native' && continuation.providerSessionId) {
      threadId = continuation.providerSessionId;
    } else if (continuation.mode === 'replay' || continuation.mode === 'native') {
      transcript = continuation.transcript ?? (await continuation.loadTranscript());
      throwIfAborted(signal);
    }
    const prompt = buildAmpPrompt(run.input, transcript);

    const warnings = settingWarnings(settings, options, permissionMode);
    const args = buildAmpArgs({
      ...(threadId === undefined ? {} : { threadId }),
      dangerouslyAllowAll: mapAmpPermissionMode(permissionMode).dangerouslyAllowAll,
      thinking: settings.thinking === true,
      ...((runOptions.visibility ?? settings.visibility) === undefined
        ? {}
        : { visibility: runOptions.visibility ?? settings.visibility }),
      ...(settings.settingsFile === undefined ? {} : { settingsFile: settings.settingsFile }),
      ...(settings.mcpConfig === undefined ? {} : { mcpConfig: settings.mcpConfig }),
      ...((runOptions.mode ?? settings.mode) === undefined ? {} : { mode: runOptions.mode ?? settings.mode }),
      labels: [...(settings.labels ?? []), ...(runOptions.labels ?? [])],
      extraArgs: settings.extraArgs ?? [],
    });
    const command = settings.executablePath ?? 'amp';

    // One controller kills the CLI for every reason: the caller's abort, a protocol error, a denied
    // tool, a consumer that threw, or a CLI that lingers after its result.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });

    let stopped = false; // once a stop is decided, no more stream events
    let stopFailure: { error: AsmError; kind: ProviderErrorKind } | undefined;
    let killedAfterResult = false;
    let resultTimer: ReturnType<typeof setTimeout> | undefined;
    const toolRules = hasRules(options.toolRules) ? options.toolRules : undefined;

    const stop = (error: AsmError, kind: ProviderErrorKind) => {
      if (stopped) return;
      stopped = true;
      stopFailure = { error, kind };
      controller.abort(error);
    };
    /** Hands an event to the manager; a consumer that throws stops the CLI. */
    const deliver = (event: AdapterEvent): void => {
      try {
        options.emit(event);
      } catch (error) {
        stop(
          AsmError.from(error, 'internal_error', 'The event consumer failed; the Amp CLI was stopped'),
          'process_error',
        );
      }
    };
    const emitStreamEvent = (event: AdapterEvent): void => {
      if (stopped) return;
      deliver(event);
      if (event.type !== 'tool_call_started' || !toolRules || stopped) return;
      const toolName = event.data?.toolName ?? '';
      if (isToolAllowed(toolRules, toolName)) return;
      stop(
        new AsmError(
          'tool_permission_denied',
          `Tool ${toolName} is not allowed for this run; the Amp CLI was stopped`,
          { details: { toolName, toolCallId: event.data?.toolCallId } },
        ),
        'tool_denied',
      );
    };
    // run_started always goes out (a failure still needs its start); everything else stops with the CLI.
    const emit = (event: AdapterEvent): void => {
      if (event.type === 'run_started') deliver(event);
      else emitStreamEvent(event);
    };
    const mapper = new AmpEventMapper(emit, warnings);
    const exitGraceMs = settings.exitGraceMs ?? DEFAULT_AMP_EXIT_GRACE_MS;

    const onLine = (line: string) => {
      if (stopped || controller.signal.aborted || line.trim() === '') return;
      if (mapper.result) return; // nothing after the result counts
      const parsed = parseAmpLine(line);
      if (parsed.kind === 'invalid') {
        stop(
          new AsmError('provider_error', `Amp CLI printed a line that is not stream-json: ${parsed.reason}`, {
            details: { line: line.length > 500 ? `${line.slice(0, 500)}…` : line },
          }),
          'parse_error',
        );
        return;
      }
      try {
        mapper.handle(parsed);
      } catch (error) {
        stop(
          AsmError.from(error, 'internal_error', 'The Amp adapter failed on a stream message'),
          'protocol_error',
        );
        return;
      }
      if (mapper.result && resultTimer === undefined) {
        resultTimer = setTimeout(() => {
          killedAfterResult = true;
          controller.abort();
        }, exitGraceMs);
      }
    };

    let processResult: ProcessResult;
    try {
      processResult = await runProcess({
        command,
        args,
        cwd: settings.cwd,
        env: buildEnv(apiKey),
        stdin: `${prompt}\n`,
        signal: controller.signal,
        idleTimeoutMs:
          settings.idleTimeoutMs === Number.POSITIVE_INFINITY
            ? undefined
            : (settings.idleTimeoutMs ?? DEFAULT_AMP_IDLE_TIMEOUT_MS),
        onStdoutLine: onLine,
      });
    } catch (error) {
      const failure = spawnFailure(error, command);
      mapper.ensureStarted();
      deliver(terminalFor(failure));
      throw failure;
    } finally {
      clearTimeout(resultTimer);
      signal.removeEventListener('abort', onAbort);
    }

    const failure = outcomeFailure(processResult);
    if (failure) {
      mapper.ensureStarted();
      deliver(terminalFor(failure));
      throw failure;
    }

    mapper.ensureStarted();
    const result = mapper.result;
    const turns = result?.num_turns;
    const allWarnings = [...warnings, ...mapper.streamWarnings];
    deliver({
      type: 'run_completed',
      data: {
        stopReason: 'end_turn',
        tokenUsage: { ...mapper.tokenUsage },
        ...(result?.duration_ms === undefined ? {} : { durationMs: result.duration_ms }),
        ...(turns === undefined ? {} : { turns }),
      },
    });
    const metadata: Record<string, unknown> = {};
    if (mapper.threadId !== undefined) metadata.threadId = mapper.threadId;
    if (result?.duration_ms !== undefined) metadata.ampDurationMs = result.duration_ms;
    if (turns !== undefined) metadata.numTurns = turns;
    if (mapper.system?.agent_mode !== undefined) metadata.agentMode = mapper.system.agent_mode;
    if (allWarnings.length > 0) metadata.ampWarnings = allWarnings.map((warning) => ({ ...warning }));
    if (mapper.unrecognized.length > 0) metadata.unrecognized = [...mapper.unrecognized];
    const executeResult: ExecuteResult = {
      output: { content: mapper.finalText, stopReason: 'end_turn', toolCalls: [...mapper.toolCalls] },
      tokenUsage: { ...mapper.tokenUsage },
      metadata,
    };
    if (mapper.threadId !== undefined) executeResult.providerSessionId = mapper.threadId;
    if (turns !== undefined) executeResult.turnCount = turns;
    if (allWarnings.length > 0) executeResult.warnings = warningMessages(allWarnings);
    return executeResult;

    /** Why the finished process counts as a failure, or undefined when the run succeeded. */
    function outcomeFailure(processed: ProcessResult): AsmError | undefined {
      const facts = {
        provider: name,
        exitCode: processed.exitCode,
        stderr: processed.stderr,
        stderrTruncated: processed.stderrTruncated,
      };
      if (signal.aborted) return abortError(signal);
      if (stopFailure) {
        const { error, kind } = stopFailure;
        return new AsmError(error.code, error.message, {
          details: error.details,
          providerError: ampProviderError({ ...facts, kind, message: error.message }),
          ...(error.cause === undefined ? {} : { cause: error.cause }),
        });
      }
      if (processed.idleTimedOut) {
        const idle = settings.idleTimeoutMs ?? DEFAULT_AMP_IDLE_TIMEOUT_MS;
        return ampError(
          'provider_timeout',
          { ...facts, kind: 'timeout', message: `Amp CLI produced no output for ${idle} ms and was stopped` },
          { idleTimeoutMs: idle },
        );
      }
      const result = mapper.result;
      if (result?.is_error) {
        const classified = classifyAmpError(`${result.error}\n${processed.stderr}`);
        return ampError(
          classified.code,
          { ...facts, kind: classified.kind, message: result.error },
          {
            subtype: result.subtype,
            ...(result.num_turns === undefined ? {} : { numTurns: result.num_turns }),
            ...(result.permission_denials === undefined
              ? {}
              : { permissionDenials: result.permission_denials }),
          },
        );
      }
      if (result && killedAfterResult) return undefined; // it answered, then lingered: killed on purpose
      if (processed.exitCode !== 0) {
        const how =
          processed.exitCode === null
            ? `was killed by ${processed.signal ?? 'a signal'}`
            : `exited with code ${processed.exitCode}`;
        const firstLine = processed.stderr
          .split('\n')
          .find((line) => line.trim() !== '')
          ?.trim();
        const message = `Amp CLI ${how}${firstLine ? `: ${firstLine}` : ''}`;
        const classified = classifyAmpError(
          processed.stderr,
          processed.exitCode === null ? 'process_error' : 'transport_exit',
        );
        return ampError(
          classified.code,
          { ...facts, kind: classified.kind, message },
          processed.signal ? { signal: processed.signal } : {},
        );
      }
      if (!result) {
        return ampError('provider_error', {
          ...facts,
          kind: 'protocol_error',
          message: 'Amp CLI exited without a result message',
        });
      }
      return undefined;
    }
  }

  /** A failure to start the CLI at all. */
  function spawnFailure(error: unknown, command: string): AsmError {
    if (AsmError.isInstance(error) && error.code === 'command_not_found') {
      return ampError(
        'provider_unavailable',
        {
          provider: name,
          kind: 'cli_not_found',
          message: `Amp CLI not found: ${command} (install @ampcode/cli or set executablePath)`,
        },
        { command },
        error,
      );
    }
    if (AsmError.isInstance(error) && error.code === 'validation_error') return error;
    const message = error instanceof Error ? error.message : String(error);
    return ampError(
      'provider_unavailable',
      {
        provider: name,
        kind: 'process_error',
        message: `Could not start the Amp CLI (${command}): ${message}`,
      },
      { command },
      error,
    );
  }

  return {
    specificationVersion: 'v1',
    name,
    supportsNativeContinuation: true,
    settings: settingsCopy,
    capabilities: () => CAPABILITIES.map((capability) => ({ ...capability })),
    execute,
    validateConfig,
  } satisfies AmpProvider;
}
