/**
 * Drives the `asm` executable the way a user does: a child process in a temporary directory whose
 * HOME and XDG_DATA_HOME point inside it, with no provider key in its environment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** The executable under test. */
export const ASM_BIN = fileURLToPath(new URL('../bin/asm.mjs', import.meta.url));

/** The shared PostgreSQL and Redis servers of the test machine. */
export const POSTGRES_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';

const PROVIDER_VARIABLES = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_AUTH_TOKEN',
  'OPENAI_API_KEY',
  'OPENAI_BASE_URL',
  'CODEX_API_KEY',
  'CODEX_HOME',
  'AMP_API_KEY',
  'ASM_AMP_PATH',
  'ASM_CODEX_PATH',
  'ASM_STORE',
  'ASM_TOKEN',
  'FORCE_COLOR',
];

/** A temporary home: the CLI's working directory, HOME and XDG_DATA_HOME. */
export interface TempHome {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The default SQLite file of this home. */
  storePath: string;
  remove(): Promise<void>;
}

/** Creates a temporary home with an environment free of provider keys. */
export async function createTempHome(): Promise<TempHome> {
  const dir = await mkdtemp(join(tmpdir(), 'asm-cli-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of PROVIDER_VARIABLES) delete env[name];
  // vitest's own variables would leak into the child; the CLI must not see a test runner.
  for (const name of Object.keys(env))
    if (name.startsWith('VITEST') || name === 'NODE_OPTIONS') delete env[name];
  Object.assign(env, { HOME: dir, XDG_DATA_HOME: join(dir, 'data'), NO_COLOR: '1' });
  return {
    dir,
    env,
    storePath: join(dir, 'data', 'asm', 'asm.db'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** What a finished `asm` process left. */
export interface AsmResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `asm <args>` to completion. */
export function runAsm(home: TempHome, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<AsmResult> {
  const child = startAsm(home, args, extraEnv);
  return child.exited;
}

/** A running `asm` process with helpers that wait for its output. */
export interface AsmProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  exited: Promise<AsmResult>;
  /** Resolves with the match once `pattern` appears on the stream (rejects if the process exits first). */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
  /** Sends a signal. */
  kill(signal: NodeJS.Signals): void;
}

const running = new Set<ChildProcess>();

// A test that fails before it stops its server or follower must not leave the process behind.
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** Starts `asm <args>` without waiting for it (killed after the test if it is still running). */
export function startAsm(home: TempHome, args: string[], extraEnv: NodeJS.ProcessEnv = {}): AsmProcess {
  const child = spawn(process.execPath, [ASM_BIN, ...args], {
    cwd: home.dir,
    env: { ...home.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const output = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
    notify();
  });
  let finished = false;
  const exited = new Promise<AsmResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      finished = true;
      notify();
      resolve({ code, signal, stdout: output.stdout, stderr: output.stderr });
    });
  });
  return {
    child,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    exited,
    waitFor(pattern, stream = 'stdout') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output[stream].match(pattern);
          if (match) {
            waiters.delete(check);
            resolve(match);
          } else if (finished) {
            waiters.delete(check);
            reject(
              new Error(
                `asm ${args.join(' ')} exited before ${pattern} appeared on ${stream}.\nstdout:\n${output.stdout}\nstderr:\n${output.stderr}`,
              ),
            );
          }
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal) {
      child.kill(signal);
    },
  };
}

/** A random suffix for schema names and key prefixes, so parallel runs never collide. */
export function uniqueSuffix(): string {
  return randomBytes(5).toString('hex');
}

/** The session ids an output mentions, in order of appearance, without duplicates. */
export function sessionIdsIn(text: string): string[] {
  return [...new Set(text.match(/ses_[0-9a-f]{32}/g) ?? [])];
}

/** Parses JSON Lines output. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
