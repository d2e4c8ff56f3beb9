import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AdapterEvent,
  createRun,
  createSession,
  type ExecuteOptions,
  type Run,
  type RunInput,
  type Session,
  type Transcript,
} from '@asm/core';
import type { FakeCliStep, FakeResponsesServer } from '@asm/testing/fakes';
import type { CodexCliSettings } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The lines of a JSONL fixture as fake-CLI steps. */
export function fixtureSteps(name: string): FakeCliStep[] {
  return readFileSync(join(here, '__fixtures__', `${name}.jsonl`), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => ({ stdout: line }));
}

/** The parsed lines of a JSONL fixture. */
export function fixtureEvents(name: string): unknown[] {
  return fixtureSteps(name).map((step) => JSON.parse(String(step.stdout)) as unknown);
}

/** A run and an active session for calling `execute` directly. */
export function runAndSession(input: RunInput = 'Say hello'): { run: Run; session: Session } {
  const session = { ...createSession({ agentId: 'codex-test' }), status: 'active' as const };
  const run = { ...createRun({ sessionId: session.id, input }), status: 'running' as const };
  return { run, session };
}

/** `ExecuteOptions` that record what the adapter emits. */
export function recordingOptions(overrides: Partial<ExecuteOptions> = {}): {
  options: ExecuteOptions;
  events: AdapterEvent[];
  controller: AbortController;
} {
  const events: AdapterEvent[] = [];
  const controller = new AbortController();
  const empty: Transcript = { sessionId: 'ses_test', messages: [], metadata: {} };
  const options: ExecuteOptions = {
    signal: controller.signal,
    emit: (event) => events.push(event),
    continuation: { mode: 'none', loadTranscript: async () => empty },
    authorizeToolCall: async () => ({ allow: true }),
    ...overrides,
  };
  return { options, events, controller };
}

/** Event types in order. */
export function types(events: readonly AdapterEvent[]): string[] {
  return events.map((event) => event.type);
}

/** The first event of a type. */
export function find<T extends AdapterEvent['type']>(
  events: readonly AdapterEvent[],
  type: T,
): Extract<AdapterEvent, { type: T }> | undefined {
  return events.find((event) => event.type === type) as Extract<AdapterEvent, { type: T }> | undefined;
}

/** True when the bundled Codex binary of `@openai/codex-sdk` is installed (it is a devDependency). */
export function bundledCodexInstalled(): boolean {
  try {
    // The SDK exports only `import`, so it is located on disk rather than through require.resolve.
    const sdkDirectory = realpathSync(join(here, '..', 'node_modules', '@openai', 'codex-sdk'));
    const sdkRequire = createRequire(join(sdkDirectory, 'package.json'));
    const codexRequire = createRequire(sdkRequire.resolve('@openai/codex/package.json'));
    codexRequire.resolve('@openai/codex-linux-x64/package.json');
    return true;
  } catch {
    return false;
  }
}

/**
 * A hermetic home for the real `codex` binary: a temporary `CODEX_HOME`, and settings that point the
 * CLI at the fake Responses server through a custom model provider (WebSockets off, retries 0,
 * analytics and plugins off), with only `PATH` inherited.
 */
export function realCodexHome(server: FakeResponsesServer): {
  home: string;
  /** A scratch working directory, removed with the home. */
  workspace: string;
  settings(overrides: Partial<CodexCliSettings> & { workingDirectory: string }): CodexCliSettings;
  cleanup(): void;
} {
  const home = mkdtempSync(join(tmpdir(), 'asm-codex-home-'));
  const workspace = mkdtempSync(join(tmpdir(), 'asm-codex-work-'));
  return {
    home,
    workspace,
    settings(overrides) {
      return {
        inheritEnv: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CODEX_HOME: home, FAKE_KEY: 'sk-test' },
        config: {
          model_provider: 'fake',
          model_providers: {
            fake: {
              name: 'Fake',
              base_url: server.url,
              env_key: 'FAKE_KEY',
              wire_api: 'responses',
              supports_websockets: false,
              request_max_retries: 0,
              stream_max_retries: 0,
            },
          },
          analytics: { enabled: false },
          features: { plugins: false },
        },
        ...overrides,
      };
    },
    cleanup() {
      rmSync(home, { recursive: true, force: true });
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}

/** A temporary working directory. */
export function tempDirectory(prefix = 'asm-codex-work-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Event types in order, with runs of `message_streamed` folded into one `message_streamed*`. */
export function foldedTypes(events: readonly AdapterEvent[]): string[] {
  const folded: string[] = [];
  for (const event of events) {
    if (event.type === 'message_streamed' && folded.at(-1) === 'message_streamed*') continue;
    folded.push(event.type === 'message_streamed' ? 'message_streamed*' : event.type);
  }
  return folded;
}
