import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AsmError,
  createEvent,
  createSession,
  type ErrorCode,
  type EventType,
  type NewEvent,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';
import { expect } from 'vitest';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** A fresh temporary folder, removed by the returned `remove`. */
export function tempFolder(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `asm-sqlite-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Saves a new session and returns its id. */
export async function newSessionId(store: SessionStore, agentId = 'agent_test'): Promise<string> {
  const session = createSession({ agentId });
  await store.saveSession(session);
  return session.id;
}

/** Every event of a session, read page by page (as a client following the log would). */
export async function readAll(store: SessionStore, sessionId: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.getEvents(sessionId, { after, limit: 1_000 });
    if (page.length === 0) return all;
    all.push(...page);
    after = page[page.length - 1]!.sequence;
  }
}

/** A new event of the session. */
export function eventOf(
  sessionId: string,
  overrides: { type?: EventType; runId?: string; data?: Record<string, unknown>; timestamp?: string } = {},
): NewEvent {
  const type = overrides.type ?? 'message_sent';
  return createEvent({
    type,
    sessionId,
    data: (overrides.data ?? (type === 'message_sent' ? { role: 'user', content: 'hi' } : {})) as never,
    ...(overrides.runId === undefined ? {} : { runId: overrides.runId }),
    ...(overrides.timestamp === undefined ? {} : { timestamp: overrides.timestamp }),
  }) as NewEvent;
}

/** Asserts that the promise (or function) fails with an `AsmError` of this code and returns it. */
export async function expectAsmError(
  attempt: Promise<unknown> | (() => unknown),
  code: ErrorCode,
): Promise<AsmError> {
  let caught: unknown;
  let failed = false;
  try {
    await (typeof attempt === 'function' ? attempt() : attempt);
  } catch (error) {
    caught = error;
    failed = true;
  }
  expect(failed, `expected an AsmError ${code}`).toBe(true);
  expect(AsmError.isInstance(caught), `expected an AsmError, got ${String(caught)}`).toBe(true);
  expect((caught as AsmError).code).toBe(code);
  return caught as AsmError;
}

/** A child process running a TypeScript fixture of `test/fixtures` on the package sources. */
export interface FixtureProcess {
  /** Resolves with the next stdout line that starts with `prefix`. */
  nextLine(prefix: string): Promise<string>;
  /** Resolves with the exit code (or the signal name) once the process ended. */
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

/** Spawns `node --conditions=@asm/source --import tsx test/fixtures/<name>` with the arguments. */
export function spawnFixture(name: string, args: string[]): FixtureProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@asm/source', '--import', 'tsx', join(packageRoot, 'test', 'fixtures', name), ...args],
    { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const pending: Array<{ prefix: string; resolve: (line: string) => void; reject: (error: Error) => void }> =
    [];
  let buffered = '';
  let stderr = '';
  let ended = false;
  const deliver = (): void => {
    for (let index = 0; index < pending.length; ) {
      const want = pending[index]!;
      const at = lines.findIndex((line) => line.startsWith(want.prefix));
      if (at >= 0) {
        const [line] = lines.splice(0, at + 1).slice(-1);
        pending.splice(index, 1);
        want.resolve(line!);
      } else if (ended) {
        pending.splice(index, 1);
        want.reject(new Error(`fixture ${name} ended before printing "${want.prefix}"; stderr: ${stderr}`));
      } else {
        index++;
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    deliver();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      deliver();
      resolve(signal ?? code ?? -1);
    });
  });
  return {
    nextLine: (prefix) =>
      new Promise((resolve, reject) => {
        pending.push({ prefix, resolve, reject });
        deliver();
      }),
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
  };
}
