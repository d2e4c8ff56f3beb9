import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { AsmError, truncateText } from './errors.js';

/** Options of `runProcess`. */
export interface RunProcessOptions {
  /** The executable (looked up on `PATH` when it has no slash). */
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** The whole environment of the child (default: this process's). Use `{ ...process.env, X }` to add. */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed. Without it stdin is closed at once. */
  stdin?: string;
  /** Kills the process group when aborted; the result then has `aborted: true`. */
  signal?: AbortSignal;
  /** Kills the process group after this long without any output (stdout or stderr). */
  idleTimeoutMs?: number;
  /** Kills the process group after this long in all. */
  timeoutMs?: number;
  /** After the first signal, how long the group gets before SIGKILL. Default 2,000 ms. */
  killGraceMs?: number;
  /**
   * The first signal sent on abort or timeout. Default `SIGTERM`; agents that stop the command they
   * are running on an interrupt (Codex) want `SIGINT`.
   */
  interruptSignal?: NodeJS.Signals;
  /** Called with the child's pid once it is spawned. */
  onSpawn?: (pid: number) => void;
  /** Called with each complete stdout line (without the line break), in order. */
  onStdoutLine?: (line: string) => void;
  /** Called with each raw stdout chunk (decoded as UTF-8). */
  onStdoutChunk?: (chunk: string) => void;
  /** Keep the whole stdout in the result (up to `maxOutputBytes`). Default false. */
  collectStdout?: boolean;
  /** Cap of the collected stdout. Default 1 MiB. */
  maxOutputBytes?: number;
  /** Cap of the kept stderr. Defaults 16 KiB and 200 lines. */
  maxStderrBytes?: number;
  maxStderrLines?: number;
}

/** How a child process ended. */
export interface ProcessResult {
  /** Exit code, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  /** Collected stdout (when `collectStdout`), cut at `maxOutputBytes`. */
  stdout: string;
  stdoutTruncated: boolean;
  /** The beginning of stderr, cut to the limits. */
  stderr: string;
  stderrTruncated: boolean;
  /** True when `signal` aborted it. */
  aborted: boolean;
  /** True when it was killed for staying silent longer than `idleTimeoutMs`. */
  idleTimedOut: boolean;
  /** True when it was killed for running longer than `timeoutMs`. */
  timedOut: boolean;
  durationMs: number;
}

/**
 * Runs a command in its own process group and waits for it: the one child-process helper every
 * CLI-driven provider uses. It splits stdout into lines (JSONL), keeps a bounded stderr, and kills
 * the whole group (the CLI and anything it started) on abort, idle timeout or timeout: SIGTERM, then
 * SIGKILL after `killGraceMs`.
 *
 * It never rejects for what the child does (a non-zero exit is in the result); it rejects with
 * `command_not_found` when the executable does not exist, and `validation_error` for a missing
 * `cwd`.
 */
export function runProcess(options: RunProcessOptions): Promise<ProcessResult> {
  const started = performance.now();
  const maxOutput = options.maxOutputBytes ?? 1_048_576;
  const maxStderrBytes = options.maxStderrBytes ?? 16_384;
  const maxStderrLines = options.maxStderrLines ?? 200;
  const killGraceMs = options.killGraceMs ?? 2_000;

  return new Promise<ProcessResult>((resolve, reject) => {
    if (options.cwd !== undefined && !isDirectory(options.cwd)) {
      reject(
        new AsmError('validation_error', `Working directory does not exist: ${options.cwd}`, {
          details: { field: 'cwd', cwd: options.cwd },
        }),
      );
      return;
    }
    if (options.signal?.aborted) {
      resolve(emptyResult({ aborted: true }));
      return;
    }
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(options.command, [...(options.args ?? [])], {
        cwd: options.cwd,
        env: (options.env ?? process.env) as NodeJS.ProcessEnv,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    } catch (error) {
      reject(AsmError.from(error, 'internal_error', `Could not start ${options.command}`));
      return;
    }

    let stdout = '';
    let stdoutBytes = 0;
    let stdoutTruncated = false;
    let stderr = '';
    let stderrTruncated = false;
    let partialLine = '';
    let aborted = false;
    let idleTimedOut = false;
    let timedOut = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
    };
    const terminate = () => {
      killGroup(options.interruptSignal ?? 'SIGTERM');
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), killGraceMs);
    };
    const resetIdle = () => {
      if (options.idleTimeoutMs === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleTimedOut = true;
        terminate();
      }, options.idleTimeoutMs);
    };
    const overallTimer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            terminate();
          }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      terminate();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    resetIdle();

    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      resetIdle();
      options.onStdoutChunk?.(chunk);
      if (options.collectStdout && !stdoutTruncated) {
        const bytes = Buffer.byteLength(chunk, 'utf8');
        if (stdoutBytes + bytes > maxOutput) {
          stdout += truncateText(chunk, maxOutput - stdoutBytes, Number.POSITIVE_INFINITY).text;
          stdoutTruncated = true;
        } else {
          stdout += chunk;
          stdoutBytes += bytes;
        }
      }
      if (options.onStdoutLine) {
        const text = partialLine + chunk;
        const lines = text.split('\n');
        partialLine = lines.pop() ?? '';
        for (const line of lines) options.onStdoutLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      resetIdle();
      if (stderrTruncated) return;
      const cut = truncateText(stderr + chunk, maxStderrBytes, maxStderrLines);
      stderr = cut.text;
      stderrTruncated = cut.truncated;
    });

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(idleTimer);
      clearTimeout(overallTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (partialLine !== '' && options.onStdoutLine) {
        const last = partialLine.endsWith('\r') ? partialLine.slice(0, -1) : partialLine;
        partialLine = '';
        options.onStdoutLine(last);
      }
      // The CLI is gone; make sure nothing it started outlives it.
      if (aborted || idleTimedOut || timedOut) killGroup('SIGKILL');
      resolve({
        exitCode,
        signal,
        stdout,
        stdoutTruncated,
        stderr,
        stderrTruncated,
        aborted,
        idleTimedOut,
        timedOut,
        durationMs: Math.round(performance.now() - started),
      });
    };

    child.once('error', (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(idleTimer);
      clearTimeout(overallTimer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error.code === 'ENOENT') {
        reject(
          new AsmError('command_not_found', `Command not found: ${options.command}`, {
            cause: error,
            details: { command: options.command },
          }),
        );
      } else {
        reject(AsmError.from(error, 'internal_error', `Could not run ${options.command}: ${error.message}`));
      }
    });
    child.once('close', finish);
    child.once('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });

    child.stdin?.on('error', () => {
      // The child may exit without reading its input (EPIPE); its exit status tells what happened.
    });
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
    else child.stdin?.end();
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function emptyResult(flags: Partial<ProcessResult>): ProcessResult {
  return {
    exitCode: null,
    signal: null,
    stdout: '',
    stdoutTruncated: false,
    stderr: '',
    stderrTruncated: false,
    aborted: false,
    idleTimedOut: false,
    timedOut: false,
    durationMs: 0,
    ...flags,
  };
}
