import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { ClaudeAgentSpawnedProcess, ClaudeAgentSpawnOptions } from './agent-sdk-loader.js';

/** Most stderr kept per process (the end of it: that is where the reason of a crash is). */
const STDERR_TAIL_BYTES = 16_384;

/**
 * The environment variable that marks every process one execution started: the `claude` process and,
 * because they inherit it, everything it starts. Internal; see `CLAUDE_AGENT_RUN_ENV` for the run id.
 */
export const CLAUDE_AGENT_SPAWN_ENV = 'ASM_CLAUDE_SPAWN_ID';

/** `claude` processes still alive, with their marker, killed when this Node process exits. */
const liveChildren = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, marker] of liveChildren) {
      signalChild(child, 'SIGKILL');
      for (const pid of markedProcessesSync(marker)) signalPid(pid, 'SIGKILL');
    }
  });
}

function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(signal);
  } catch {
    // Already gone.
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function isMarked(environ: string, needle: string): boolean {
  return environ.split('\0').includes(needle);
}

/** Processes (Linux `/proc`) whose environment holds the marker; none where `/proc` is missing. */
async function markedProcesses(marker: string): Promise<number[]> {
  if (process.platform !== 'linux') return [];
  const needle = `${CLAUDE_AGENT_SPAWN_ENV}=${marker}`;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found = await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) return undefined;
      try {
        return isMarked(await readFile(`/proc/${entry}/environ`, 'latin1'), needle)
          ? Number(entry)
          : undefined;
      } catch {
        return undefined; // ended meanwhile, or not ours to read
      }
    }),
  );
  return found.filter((pid): pid is number => pid !== undefined);
}

function markedProcessesSync(marker: string): number[] {
  if (process.platform !== 'linux') return [];
  const needle = `${CLAUDE_AGENT_SPAWN_ENV}=${marker}`;
  const found: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (isMarked(readFileSync(`/proc/${entry}/environ`, 'latin1'), needle)) found.push(Number(entry));
      } catch {
        // Ended meanwhile, or not ours to read.
      }
    }
  } catch {
    // No /proc.
  }
  return found;
}

/** How a spawned `claude` process ended. */
export interface AgentProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The `claude` processes of one execution. The SDK spawns them through `spawn` (its
 * `spawnClaudeCodeProcess` hook) with a marker in their environment, which everything they start
 * inherits: when a process exits, or is terminated, whatever still carries the marker is killed too
 * (found through `/proc` on Linux), so no command the agent started outlives its run.
 *
 * The processes stay in this process's session and group: a new session (`detached`) puts the CLI in
 * its own scheduler autogroup, which made it stream measurably slower on a loaded machine.
 */
export class AgentProcessGroup {
  private readonly children: ChildProcess[] = [];
  private readonly exits: Promise<AgentProcessExit>[] = [];
  private stderr = '';
  /** The marker of this execution's processes. */
  readonly marker = randomUUID();
  /** The first spawn error (`ENOENT` for a missing executable). */
  spawnError: NodeJS.ErrnoException | undefined;
  /** How the last process ended, once it did. */
  lastExit: AgentProcessExit | undefined;

  /** @param onStderr receives every stderr chunk (the `stderr` setting), besides the kept tail. */
  constructor(private readonly onStderr?: (chunk: string) => void) {}

  /** The `spawnClaudeCodeProcess` hook handed to the SDK. */
  readonly spawn = (options: ClaudeAgentSpawnOptions): ClaudeAgentSpawnedProcess => {
    installExitHook();
    const child = spawn(options.command, options.args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...options.env, [CLAUDE_AGENT_SPAWN_ENV]: this.marker } as NodeJS.ProcessEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.children.push(child);
    liveChildren.set(child, this.marker);
    this.exits.push(
      new Promise<AgentProcessExit>((resolve) => {
        const done = (exit: AgentProcessExit) => {
          liveChildren.delete(child);
          this.lastExit = exit;
          resolve(exit);
        };
        child.once('exit', (code, signal) => {
          // The CLI is gone: make sure nothing it started outlives it.
          void markedProcesses(this.marker).then((pids) => {
            for (const pid of pids) signalPid(pid, 'SIGKILL');
            done({ code, signal });
          });
        });
        child.once('error', (error: NodeJS.ErrnoException) => {
          this.spawnError ??= error;
          if (child.pid === undefined) done({ code: null, signal: null });
        });
      }),
    );
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-STDERR_TAIL_BYTES);
      this.onStderr?.(chunk);
    });
    // The SDK aborts this signal only after its own graceful window; end the processes then.
    options.signal?.addEventListener('abort', () => this.terminate(2_000), { once: true });
    return child as unknown as ClaudeAgentSpawnedProcess;
  };

  /** The end of the processes' stderr. */
  get stderrTail(): string {
    return this.stderr;
  }

  /** True when every spawned process has exited (and what it left behind was killed). */
  get allExited(): boolean {
    return this.children.every((child) => !liveChildren.has(child));
  }

  /**
   * SIGTERM to every live `claude` process now (it stops the commands it runs); SIGKILL to it and to
   * everything carrying the marker after `graceMs`.
   */
  terminate(graceMs: number): void {
    for (const child of this.children) {
      if (!liveChildren.has(child)) continue;
      signalChild(child, 'SIGTERM');
      const timer = setTimeout(() => {
        signalChild(child, 'SIGKILL');
        void markedProcesses(this.marker).then((pids) => {
          for (const pid of pids) signalPid(pid, 'SIGKILL');
        });
      }, graceMs);
      timer.unref();
      child.once('exit', () => clearTimeout(timer));
    }
  }

  /**
   * Waits until every process has exited: first `exitWaitMs` for a graceful exit (its input is
   * closed), then SIGTERM, then SIGKILL after `graceMs`.
   */
  async shutdown(exitWaitMs: number, graceMs: number): Promise<void> {
    if (this.allExited) return;
    const all = Promise.all(this.exits);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      all.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), exitWaitMs);
      }),
    ]);
    clearTimeout(timer);
    if (waited) return;
    this.terminate(graceMs);
    await all;
  }
}
