import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AdapterEvent,
  createRun,
  createSession,
  type ExecuteOptions,
  type ExecuteResult,
  type ProviderAdapter,
  type RunInput,
} from '@asm/core';

/** A fresh temporary directory (real path) and its removal. */
export function tempDir(): { path: string; remove: () => void } {
  const path = realpathSync(mkdtempSync(join(tmpdir(), 'asm-shell-')));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** What one direct `execute` call produced. */
export interface Outcome {
  events: AdapterEvent[];
  result?: ExecuteResult;
  error?: unknown;
  authorizeCalls: number;
}

/** Calls `execute` directly with recorded events and optional overrides of the options. */
export async function executeDirectly(
  adapter: ProviderAdapter,
  input: RunInput,
  overrides: Partial<ExecuteOptions> & { onEvent?: (event: AdapterEvent, abort: () => void) => void } = {},
): Promise<Outcome> {
  const session = createSession({ agentId: 'shell-test' });
  const run = { ...createRun({ sessionId: session.id, input }), status: 'running' as const };
  const controller = new AbortController();
  const outcome: Outcome = { events: [], authorizeCalls: 0 };
  const { onEvent, ...rest } = overrides;
  const options: ExecuteOptions = {
    signal: controller.signal,
    emit(event) {
      outcome.events.push(event);
      onEvent?.(event, () => controller.abort());
    },
    continuation: {
      mode: 'none',
      loadTranscript: async () => ({ sessionId: session.id, messages: [], metadata: {} }),
    },
    authorizeToolCall: async () => ({ allow: true }),
    ...rest,
  };
  const authorize = options.authorizeToolCall;
  options.authorizeToolCall = (call, context) => {
    outcome.authorizeCalls++;
    return authorize(call, context);
  };
  try {
    outcome.result = await adapter.execute(run, session, options);
  } catch (error) {
    outcome.error = error;
  }
  return outcome;
}

/** The event types, in order. */
export const types = (events: AdapterEvent[]): string[] => events.map((event) => event.type);

/** True while a process with that pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Waits until `check` is true, polling every 20 ms, up to `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}
