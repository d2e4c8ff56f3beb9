import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AdapterEvent,
  createRun,
  createSession,
  type ExecuteOptions,
  type ExecuteResult,
  type ProviderAdapter,
  type RunInput,
  type Transcript,
} from '@asm/core';
import { createFakeCli, type FakeCli, type FakeCliScenario, type FakeCliStep } from '@asm/testing/fakes';

const FIXTURES = join(import.meta.dirname, '__fixtures__');

/** The thread id in every fixture. */
export const FIXTURE_THREAD_ID = 'T-7f3c9a51-2b4e-4d2a-9c1e-5a8b0e6d4f21';

/** The lines of a recorded stream-json fixture. */
export function fixtureLines(name: string): string[] {
  return readFileSync(join(FIXTURES, `${name}.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** A recorded fixture as fake CLI steps (each line printed as it is). */
export function fixtureSteps(name: string): FakeCliStep[] {
  return fixtureLines(name).map((line) => ({ stdout: line }));
}

/** The parsed messages of a fixture. */
export function fixtureMessages(name: string): Record<string, unknown>[] {
  return fixtureLines(name).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Environment variables the fake `amp` records (secrets as `<set>`). */
export const RECORDED_ENV = ['AMP_API_KEY', 'AMP_URL', 'ASM_FAKE_SCENARIO', 'ASM_EXTRA', 'ASM_REMOVED'];

/** A fake `amp` executable with the given scenarios. */
export function createFakeAmp(scenarios: Record<string, FakeCliScenario>): FakeCli {
  return createFakeCli({ name: 'amp', scenarios, recordEnv: RECORDED_ENV });
}

/** What a direct `execute` call produced. */
export interface ExecuteOutcome {
  events: AdapterEvent[];
  result?: ExecuteResult;
  error?: unknown;
}

/** Options of `executeDirectly`. */
export interface DirectOptions {
  input?: RunInput;
  signal?: AbortSignal;
  onEvent?: (event: AdapterEvent) => void;
  continuation?: Partial<ExecuteOptions['continuation']>;
  extra?: Partial<Omit<ExecuteOptions, 'signal' | 'emit' | 'continuation'>>;
}

/** Calls `execute` with a fresh session and run, recording the events. */
export async function executeDirectly(
  provider: ProviderAdapter,
  options: DirectOptions = {},
): Promise<ExecuteOutcome> {
  const session = createSession({ agentId: 'amp-test' });
  session.status = 'active';
  const run = {
    ...createRun({ sessionId: session.id, input: options.input ?? 'What is the capital of France?' }),
    status: 'running' as const,
  };
  const events: AdapterEvent[] = [];
  const empty: Transcript = { sessionId: session.id, messages: [], metadata: {} };
  const outcome: ExecuteOutcome = { events };
  try {
    outcome.result = await provider.execute(run, session, {
      signal: options.signal ?? new AbortController().signal,
      emit(event) {
        events.push(event);
        options.onEvent?.(event);
      },
      continuation: { mode: 'none', loadTranscript: async () => empty, ...(options.continuation ?? {}) },
      authorizeToolCall: async () => ({ allow: true }),
      ...(options.extra ?? {}),
    });
  } catch (error) {
    outcome.error = error;
  }
  return outcome;
}

/** True while `pid` is a live process (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Polls until `check` is true or `timeoutMs` passed; returns the last answer. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** The pids of a process-tree wrapper run: the CLI itself and the grandchild it left behind. */
export interface TreePids {
  cli: number;
  grandchild: number;
}

/**
 * Writes an `amp` wrapper into `pidDir` that records its own pid (which stays the CLI's pid after
 * `exec`), starts a detached grandchild (`sleep 300`, orphaned by its subshell, still in the process
 * group) that records its pid, then execs the fake CLI. Pids go to files in `pidDir`.
 */
export function createTreeWrapper(fakePath: string, pidDir: string): string {
  const path = join(pidDir, 'amp');
  writeFileSync(
    path,
    [
      '#!/bin/sh',
      `echo $$ > "${pidDir}/cli.tmp" && mv "${pidDir}/cli.tmp" "${pidDir}/cli"`,
      `( sh -c 'echo $$ > "$1.tmp" && mv "$1.tmp" "$1"; exec sleep 300' sh "${pidDir}/grandchild" </dev/null >/dev/null 2>&1 & )`,
      `exec "${fakePath}" "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

/** Waits for the wrapper's pid files and reads them. */
export async function readTreePids(pidDir: string): Promise<TreePids> {
  const ready = await waitFor(
    () => existsSync(join(pidDir, 'cli')) && existsSync(join(pidDir, 'grandchild')),
    5_000,
  );
  if (!ready) throw new Error('the process-tree wrapper did not record its pids');
  return {
    cli: Number(readFileSync(join(pidDir, 'cli'), 'utf8').trim()),
    grandchild: Number(readFileSync(join(pidDir, 'grandchild'), 'utf8').trim()),
  };
}
