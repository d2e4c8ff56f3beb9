import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import {
  type AdapterEvent,
  AsmError,
  abortError,
  type Capability,
  type ExecuteOptions,
  type ExecuteResult,
  emptyTokenUsage,
  getConfig,
  type ProcessResult,
  type ProviderAdapter,
  type Run,
  runProcess,
  type Session,
  throwIfAborted,
} from '@asm/core';
import { parseEnv, parseShellInput, parseTimeout, type ShellInvocation } from './shell-input.js';
import { checkCommandRules } from './shell-policy.js';

/** Default `maxOutputBytes`: 1 MiB of stdout is kept (and streamed). */
export const DEFAULT_SHELL_MAX_OUTPUT_BYTES = 1_048_576;
/** Exit code reported for a command killed by its timeout (the convention of GNU `timeout`). */
export const SHELL_TIMEOUT_EXIT_CODE = 124;

/** Settings of `createShellProvider`. */
export interface ShellProviderSettings {
  /** Working directory of every command (required; must exist when a run starts). */
  cwd: string;
  /** Kill a command (and everything it started) after this long. Default `getConfig('commandTimeoutMs')` (30 s); `Infinity`: never. */
  timeoutMs?: number;
  /** Most bytes of stdout kept in the output and streamed. Default 1 MiB; the rest is drained and dropped. */
  maxOutputBytes?: number;
  /** Variables added to `process.env` for every command; `undefined` removes an inherited one. */
  env?: Record<string, string | undefined>;
  /** Shell that runs string input as `<shell> -c <line>`. Default `getConfig('defaultShell')` (`/bin/sh`). */
  shell?: string;
  /** Basenames of the commands that may run; undefined: all. */
  allowedCommands?: string[];
  /** Basenames of the commands that may never run. Wins over `allowedCommands`. */
  deniedCommands?: string[];
  /** Exit codes that count as success. Default `getConfig('defaultSuccessExitCodes')` (`[0]`). */
  successExitCodes?: number[];
  /** Stream stdout chunks as `message_streamed` (kind `text`). Default true; a structured input's `streaming` wins. */
  streaming?: boolean;
  /** Adapter name, used as the event provider. Default `shell`. */
  name?: string;
}

/** The shell adapter: a `ProviderAdapter` that runs shell commands. */
export interface ShellProvider extends ProviderAdapter {
  readonly supportsNativeContinuation: false;
  /** The settings it was created with (after validation, copied). */
  readonly settings: Readonly<ShellProviderSettings>;
  /** Throws `validation_error` (field `cwd`) when the working directory does not exist. */
  validateConfig(): void;
}

const CAPABILITIES: readonly Capability[] = [
  { name: 'command_execution', type: 'code_execution' },
  { name: 'streaming', type: 'sampling' },
];

function invalid(field: string, message: string): AsmError {
  return new AsmError('validation_error', message, { details: { field } });
}

function checkStringList(value: unknown, field: string): void {
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.trim() === '')) {
    throw invalid(field, `Shell setting ${field} must be an array of non-empty strings`);
  }
}

function checkNonEmptyString(value: unknown, field: string, required = false): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalid(field, `Shell setting ${field} must be a non-empty string`);
  }
}

function validateSettings(settings: ShellProviderSettings): void {
  if (typeof settings !== 'object' || settings === null) {
    throw invalid('cwd', 'createShellProvider needs settings with a cwd');
  }
  checkNonEmptyString(settings.cwd, 'cwd', true);
  checkNonEmptyString(settings.shell, 'shell');
  checkNonEmptyString(settings.name, 'name');
  if (settings.timeoutMs !== undefined) parseTimeout(settings.timeoutMs, 'timeoutMs');
  if (
    settings.maxOutputBytes !== undefined &&
    (typeof settings.maxOutputBytes !== 'number' ||
      !Number.isInteger(settings.maxOutputBytes) ||
      settings.maxOutputBytes < 0)
  ) {
    throw invalid('maxOutputBytes', 'Shell setting maxOutputBytes must be a non-negative integer');
  }
  if (settings.env !== undefined) parseEnv(settings.env, 'env');
  checkStringList(settings.allowedCommands, 'allowedCommands');
  checkStringList(settings.deniedCommands, 'deniedCommands');
  if (
    settings.successExitCodes !== undefined &&
    (!Array.isArray(settings.successExitCodes) ||
      settings.successExitCodes.length === 0 ||
      settings.successExitCodes.some((code) => !Number.isInteger(code) || code < 0 || code > 255))
  ) {
    throw invalid(
      'successExitCodes',
      'Shell setting successExitCodes must be a non-empty array of exit codes (0-255)',
    );
  }
  if (settings.streaming !== undefined && typeof settings.streaming !== 'boolean') {
    throw invalid('streaming', 'Shell setting streaming must be a boolean');
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function newToolCallId(): string {
  return `tc_${randomBytes(8).toString('hex')}`;
}

/**
 * Creates the shell provider (PROV-shell-*): each run executes one command through core's
 * `runProcess`, in its own process group, so cancellation and timeouts kill the command and
 * everything it started.
 *
 * - Input: a string (run as `<shell> -c <line>`), `{ command, args?, cwd?, env?, timeoutMs?, streaming? }`
 *   (run directly, no shell), `{ messages }` (the user messages joined with newlines) or `{ prompt }`.
 * - A command whose name is denied, or outside `allowedCommands`, never starts: the run fails with
 *   `policy_violation` and nothing is spawned.
 * - `authorizeToolCall` is asked (tool name `bash`) before the command starts; a denial fails the run
 *   with `tool_permission_denied`.
 * - An exit code outside `successExitCodes` fails the run with `command_failed`; a timeout with
 *   `command_timeout`; an executable that does not exist (structured input) with `command_not_found`.
 *
 * Settings are checked here (`validation_error` naming the field); the working directory is checked
 * when a run starts (and by `validateConfig()`), before anything is spawned.
 */
export function createShellProvider(input: ShellProviderSettings): ShellProvider {
  validateSettings(input);
  const settings: ShellProviderSettings = {
    ...input,
    ...(input.env ? { env: { ...input.env } } : {}),
    ...(input.allowedCommands ? { allowedCommands: [...input.allowedCommands] } : {}),
    ...(input.deniedCommands ? { deniedCommands: [...input.deniedCommands] } : {}),
    ...(input.successExitCodes ? { successExitCodes: [...input.successExitCodes] } : {}),
  };
  const name = settings.name ?? 'shell';
  const settingsCopy = Object.freeze({ ...settings });

  const validateConfig = (): void => {
    if (!isDirectory(settings.cwd)) {
      throw new AsmError('validation_error', `Shell working directory does not exist: ${settings.cwd}`, {
        details: { field: 'cwd', cwd: settings.cwd },
      });
    }
  };

  const buildEnv = (
    extra: Record<string, string | undefined> | undefined,
  ): Record<string, string | undefined> => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const layer of [settings.env, extra]) {
      for (const [key, value] of Object.entries(layer ?? {})) {
        if (value === undefined) delete env[key];
        else env[key] = value;
      }
    }
    return env;
  };

  const resolveCwd = (invocation: ShellInvocation): string => {
    validateConfig();
    if (invocation.cwd === undefined) return settings.cwd;
    const cwd = resolvePath(settings.cwd, invocation.cwd);
    if (!isDirectory(cwd)) {
      throw new AsmError('validation_error', `Shell working directory does not exist: ${cwd}`, {
        details: { field: 'input.cwd', cwd },
      });
    }
    return cwd;
  };

  const rules = () => ({
    ...(settings.allowedCommands ? { allowed: settings.allowedCommands } : {}),
    ...(settings.deniedCommands ? { denied: settings.deniedCommands } : {}),
  });

  async function execute(run: Run, _session: Session, options: ExecuteOptions): Promise<ExecuteResult> {
    const { signal } = options;
    throwIfAborted(signal);
    // Nothing is emitted and nothing is spawned until the input, the cwd and the command lists pass.
    let invocation = parseShellInput(run.input);
    const cwd = resolveCwd(invocation);
    const violation = checkCommandRules(invocation, rules());
    if (violation) throw violation;

    // One controller stops the command for every reason: the caller's abort or a consumer that threw.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let consumerFailure: AsmError | undefined;
    const deliver = (event: AdapterEvent): void => {
      try {
        options.emit(event);
      } catch (error) {
        consumerFailure ??= AsmError.from(
          error,
          'internal_error',
          'The event consumer failed; the shell command was stopped',
        );
        controller.abort(consumerFailure);
      }
    };

    const toolCallId = newToolCallId();
    const toolInput = () => ({ command: invocation.command, args: [...invocation.args], cwd });
    const toolEvent = { toolCallId, toolName: 'bash' };
    let finished = false;
    /** Emits the failure events (or `run_cancelled`) and returns the error to reject with. */
    const fail = (error: AsmError, toolOutput?: Record<string, unknown>): AsmError => {
      if (finished) return error;
      finished = true;
      if (error.code === 'cancelled' || error.code === 'timeout') {
        deliver({
          type: 'tool_call_failed',
          data: { ...toolEvent, toolInput: toolInput(), errorMessage: error.message, aborted: true },
        });
        deliver(
          error.code === 'timeout'
            ? { type: 'run_timeout', data: {} }
            : { type: 'run_cancelled', data: { reason: error.message } },
        );
        return error;
      }
      deliver({
        type: 'tool_call_failed',
        data: {
          ...toolEvent,
          toolInput: toolInput(),
          errorMessage: error.message,
          ...(toolOutput ? { toolOutput } : {}),
        },
      });
      const errorData = {
        errorCode: error.code,
        errorMessage: error.message,
        ...(error.providerError ? { providerError: error.providerError } : {}),
        ...(Object.keys(error.details).length > 0 ? { details: error.details } : {}),
      };
      deliver({ type: 'error_occurred', data: errorData });
      deliver({
        type: 'run_failed',
        data: {
          ...errorData,
          ...(typeof toolOutput?.exitCode === 'number' ? { exitCode: toolOutput.exitCode } : {}),
          ...(typeof toolOutput?.durationMs === 'number' ? { durationMs: toolOutput.durationMs } : {}),
        },
      });
      return error;
    };

    try {
      deliver({ type: 'run_started', data: { cwd, command: invocation.command } });
      deliver({ type: 'tool_call_started', data: { ...toolEvent, toolInput: toolInput() } });

      // Approval comes before the command starts (the manager asks policy and approval gates).
      let decision: Awaited<ReturnType<ExecuteOptions['authorizeToolCall']>>;
      try {
        decision = await options.authorizeToolCall(
          { id: toolCallId, name: 'bash', input: toolInput() },
          { signal: controller.signal },
        );
      } catch (error) {
        if (controller.signal.aborted) throw stopError();
        throw fail(AsmError.from(error, 'internal_error', 'Authorizing the shell command failed'));
      }
      if (controller.signal.aborted) throw stopError();
      if (!decision.allow) {
        throw fail(
          new AsmError('tool_permission_denied', `Shell command denied: ${decision.reason}`, {
            details: { toolCallId, toolName: 'bash', reason: decision.reason },
          }),
        );
      }
      if (decision.input !== undefined) {
        try {
          invocation = replacedInvocation(invocation, decision.input);
        } catch (error) {
          throw fail(AsmError.from(error));
        }
        const replacedViolation = checkCommandRules(invocation, rules());
        if (replacedViolation) throw fail(replacedViolation);
      }

      const maxOutputBytes = settings.maxOutputBytes ?? DEFAULT_SHELL_MAX_OUTPUT_BYTES;
      const configuredTimeout = invocation.timeoutMs ?? settings.timeoutMs ?? getConfig('commandTimeoutMs');
      const timeoutMs = Number.isFinite(configuredTimeout) ? configuredTimeout : undefined;
      const streaming = invocation.streaming ?? settings.streaming ?? true;
      let streamedBytes = 0;
      const onStdoutChunk = (chunk: string) => {
        if (finished || controller.signal.aborted || streamedBytes >= maxOutputBytes) return;
        let delta = chunk;
        const bytes = Buffer.byteLength(chunk, 'utf8');
        if (streamedBytes + bytes > maxOutputBytes) {
          delta = Buffer.from(chunk, 'utf8')
            .subarray(0, maxOutputBytes - streamedBytes)
            .toString('utf8')
            .replace(/\uFFFD$/, '');
        }
        streamedBytes += bytes;
        if (delta !== '') deliver({ type: 'message_streamed', data: { kind: 'text', delta } });
      };

      let result: ProcessResult;
      try {
        result = await runProcess({
          command:
            invocation.mode === 'shell' ? (settings.shell ?? getConfig('defaultShell')) : invocation.command,
          args: invocation.mode === 'shell' ? ['-c', invocation.command] : invocation.args,
          cwd,
          env: buildEnv(invocation.env),
          signal: controller.signal,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
          collectStdout: true,
          maxOutputBytes,
          maxStderrBytes: getConfig('errorTextMaxBytes'),
          maxStderrLines: getConfig('errorTextMaxLines'),
          ...(streaming ? { onStdoutChunk } : {}),
        });
      } catch (error) {
        if (controller.signal.aborted) throw stopError();
        throw fail(AsmError.from(error, 'internal_error', `Could not run ${invocation.command}`));
      }

      const toolOutput = {
        output: result.stdout,
        exitCode: result.timedOut ? SHELL_TIMEOUT_EXIT_CODE : result.exitCode,
        durationMs: result.durationMs,
        ...(result.stderr === '' ? {} : { stderr: result.stderr }),
        ...(result.stdoutTruncated ? { truncated: true } : {}),
        ...(result.timedOut ? { timedOut: true } : {}),
      };
      if (result.aborted || controller.signal.aborted) throw stopError();
      const facts = {
        command: invocation.command,
        args: [...invocation.args],
        cwd,
        toolCallId,
        durationMs: result.durationMs,
      };
      const providerFacts = {
        provider: name,
        kind: 'process_error',
        ...(result.stderr === '' ? {} : { stderr: result.stderr }),
        ...(result.stderrTruncated ? { truncated: true } : {}),
      };
      if (result.timedOut) {
        const message = `Command timed out after ${timeoutMs}ms`;
        throw fail(
          new AsmError('command_timeout', message, {
            details: { ...facts, exitCode: SHELL_TIMEOUT_EXIT_CODE, timedOut: true, timeoutMs },
            providerError: { ...providerFacts, kind: 'timeout', message, exitCode: SHELL_TIMEOUT_EXIT_CODE },
          }),
          toolOutput,
        );
      }
      if (result.exitCode === null) {
        const message = `Command was killed by ${result.signal ?? 'a signal'}`;
        throw fail(
          new AsmError('command_failed', message, {
            details: { ...facts, signal: result.signal },
            providerError: { ...providerFacts, message },
          }),
          toolOutput,
        );
      }
      const successCodes = settings.successExitCodes ?? getConfig('defaultSuccessExitCodes');
      if (!successCodes.includes(result.exitCode)) {
        const message = `Command exited with code ${result.exitCode}`;
        throw fail(
          new AsmError('command_failed', message, {
            details: { ...facts, exitCode: result.exitCode },
            providerError: { ...providerFacts, message, exitCode: result.exitCode },
          }),
          toolOutput,
        );
      }

      finished = true;
      const stopReason = `exit_code_${result.exitCode}`;
      deliver({ type: 'tool_call_completed', data: { ...toolEvent, toolInput: toolInput(), toolOutput } });
      if (result.stdout !== '') {
        deliver({ type: 'message_received', data: { role: 'assistant', content: result.stdout } });
      }
      deliver({
        type: 'run_completed',
        data: {
          stopReason,
          exitCode: result.exitCode,
          durationMs: result.durationMs,
          tokenUsage: emptyTokenUsage(),
        },
      });
      if (consumerFailure) throw consumerFailure;
      return {
        output: {
          content: result.stdout,
          stopReason,
          exitCode: result.exitCode,
          stderr: result.stderr,
          durationMs: result.durationMs,
          timedOut: false,
          truncated: result.stdoutTruncated,
          command: invocation.command,
          args: [...invocation.args],
          cwd,
          toolCallId,
        },
        tokenUsage: emptyTokenUsage(),
        metadata: {
          exitCode: result.exitCode,
          durationMs: result.durationMs,
          cwd,
          command: invocation.command,
        },
      };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }

    /** The error for a stop: the caller's abort, or the consumer that threw. */
    function stopError(): AsmError {
      if (signal.aborted) return fail(abortError(signal));
      return fail(consumerFailure ?? new AsmError('internal_error', 'The shell command was stopped'));
    }
  }

  return {
    specificationVersion: 'v1',
    name,
    supportsNativeContinuation: false,
    settings: settingsCopy,
    capabilities: () => CAPABILITIES.map((capability) => ({ ...capability })),
    execute,
    validateConfig,
  } satisfies ShellProvider;
}

/**
 * Applies an approval that replaced the tool input: a string or `{ command }` replaces the command
 * line (string input), `{ command, args? }` the executable and arguments (structured input). The
 * working directory cannot be changed by an approval.
 */
function replacedInvocation(invocation: ShellInvocation, replacement: unknown): ShellInvocation {
  const command =
    typeof replacement === 'string' ? replacement : isRecord(replacement) ? replacement.command : undefined;
  if (typeof command !== 'string' || command.trim() === '') {
    throw new AsmError('validation_error', 'An approved shell tool input needs a non-empty command', {
      details: { field: 'toolInput.command' },
    });
  }
  const args = isRecord(replacement) ? replacement.args : undefined;
  if (args !== undefined && (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string'))) {
    throw new AsmError('validation_error', 'An approved shell tool input has args that are not strings', {
      details: { field: 'toolInput.args' },
    });
  }
  return {
    ...invocation,
    command,
    args: invocation.mode === 'exec' && Array.isArray(args) ? [...(args as string[])] : invocation.args,
  };
}
