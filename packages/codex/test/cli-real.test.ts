import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { AsmError, createInMemoryStore, createSessionManager } from '@asm/core';
import { createFakeResponsesServer, type FakeResponsesServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCodexProvider } from '../src/index.js';
import {
  bundledCodexInstalled,
  find,
  realCodexHome,
  recordingOptions,
  runAndSession,
  tempDirectory,
  types,
} from './helpers.js';

// The real `codex` 0.163.0 binary (bundled with @openai/codex-sdk, a devDependency) against the fake
// Responses API on 127.0.0.1: nothing reaches the internet (custom provider, no WebSockets, no
// retries, analytics and plugins off, a temporary CODEX_HOME).

const SLEEP = 'sleep 47.25';

let server: FakeResponsesServer;
let codexHome: ReturnType<typeof realCodexHome>;
const directories: string[] = [];

beforeAll(async () => {
  // No skipping: CI installs the binary; a missing one must fail loudly.
  expect(bundledCodexInstalled(), 'the bundled codex binary (@openai/codex-linux-x64) is not installed').toBe(
    true,
  );
  server = await createFakeResponsesServer({
    scenarios: {
      'sleep-command': {
        output: [{ type: 'function_call', name: 'exec_command', arguments: { cmd: `${SLEEP}; echo done` } }],
      },
    },
  });
  codexHome = realCodexHome(server);
});

afterAll(async () => {
  await server?.close();
  codexHome?.cleanup();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  // Should the abort test fail, do not leave its command behind.
  for (const pid of processesRunning(SLEEP)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function workingDirectory(): string {
  const directory = tempDirectory();
  directories.push(directory);
  return directory;
}

/** Pids of processes whose command line contains `text` (or is exactly `text`, with `exact`). */
function processesRunning(text: string, exact = false): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (exact ? commandLine === text : commandLine.includes(text)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe('codex cli backend (real codex binary, fake Responses API)', () => {
  it('answers a text prompt, with the system prompt as developer instructions', async () => {
    const adapter = createCodexProvider(
      codexHome.settings({
        workingDirectory: workingDirectory(),
        model: 'scenario:text',
        systemPrompt: 'Be brief.',
      }),
    );
    const { run, session } = runAndSession('Say hello');
    const { options, events } = recordingOptions();
    const before = server.requests.length;
    const result = await adapter.execute(run, session, options);

    expect(result.output.content).toBe('Hello from the fake Responses API.');
    expect(result.tokenUsage).toMatchObject({ inputTokens: 60, cacheReadTokens: 40, outputTokens: 12 });
    expect(result.providerSessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(find(events, 'run_started')?.data?.providerSessionId).toBe(result.providerSessionId);
    expect(events.at(-1)?.type).toBe('run_completed');

    const request = server.requests[before];
    expect(request?.path).toBe('/v1/responses');
    expect(request?.headers.authorization).toBe('Bearer sk-test');
    const inputText = JSON.stringify(request?.body.input);
    expect(inputText).toContain('Be brief.');
    expect(inputText).toContain('Say hello');
  });

  it('runs a command the model asks for, in the working directory', async () => {
    const directory = workingDirectory();
    const adapter = createCodexProvider(
      codexHome.settings({
        workingDirectory: directory,
        model: 'scenario:command',
        permissionMode: 'full_auto',
      }),
    );
    const { run, session } = runAndSession('Leave a proof');
    const { options, events } = recordingOptions();
    const result = await adapter.execute(run, session, options);

    expect(readFileSync(`${directory}/proof.txt`, 'utf8')).toBe('codex-was-here\n');
    expect(find(events, 'tool_call_started')?.data).toMatchObject({
      toolName: 'bash',
      toolInput: { command: expect.stringContaining('echo codex-was-here'), cwd: directory },
    });
    expect(find(events, 'tool_call_completed')?.data).toMatchObject({
      toolOutput: { output: 'codex-was-here\n', exitCode: 0, status: 'completed' },
    });
    expect(result.output.content).toContain('The command printed:');
    // Codex sums both model calls of the turn: 200 + 220 input.
    expect(result.tokenUsage.inputTokens + result.tokenUsage.cacheReadTokens).toBe(420);
  });

  it('resumes the thread on the next run of the session, reporting per-run usage', async () => {
    const adapter = createCodexProvider(
      codexHome.settings({ workingDirectory: workingDirectory(), model: 'scenario:text' }),
    );
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: adapter });
    const session = await manager.startSession({});
    const first = await manager.executeRun((await manager.startRun(session.id, 'First question')).id);
    const before = server.requests.length;
    const second = await manager.executeRun((await manager.startRun(session.id, 'Second question')).id);

    expect(second.providerSessionId).toBe(first.providerSessionId);
    const resumedInput = JSON.stringify(server.requests[before]?.body.input);
    expect(resumedInput).toContain('First question');
    expect(resumedInput).toContain('Second question');
    // Codex reports 200 input tokens for the thread after two turns; this run used 100.
    expect(second.tokenUsage).toEqual(first.tokenUsage);
    expect(second.tokenUsage).toMatchObject({ inputTokens: 60, cacheReadTokens: 40 });
    const stored = await store.getSession(session.id);
    expect(stored?.metadata.providerSessions).toMatchObject({
      codex: { providerSessionId: first.providerSessionId, model: 'scenario:text' },
    });
    await store.close();
  });

  it('abort - interrupts the CLI, which stops the command it is running, and rejects cancelled', async () => {
    const adapter = createCodexProvider(
      codexHome.settings({
        workingDirectory: workingDirectory(),
        model: 'scenario:sleep-command',
        permissionMode: 'full_auto',
      }),
    );
    const { run, session } = runAndSession('Sleep');
    const { options, events, controller } = recordingOptions();
    let sawCommand = false;
    options.emit = (event) => {
      events.push(event);
      if (event.type === 'tool_call_started' && !sawCommand) {
        sawCommand = true;
        // Wait until the command itself runs (not only the sandbox starting it), then cancel.
        void eventually(() => processesRunning(SLEEP, true).length > 0).then(() =>
          setTimeout(() => controller.abort(), 100),
        );
      }
    };
    const error = await adapter.execute(run, session, options).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(AsmError.isInstance(error) && error.code).toBe('cancelled');
    expect(events.at(-1)?.type).toBe('run_cancelled');
    expect(await eventually(() => processesRunning(SLEEP).length === 0)).toBe(true);
  });

  it('a 429 from the API - fails provider_rate_limited with the CLI exit code', async () => {
    const adapter = createCodexProvider(
      codexHome.settings({ workingDirectory: workingDirectory(), model: 'scenario:429' }),
    );
    const { run, session } = runAndSession('Hi');
    const { options, events } = recordingOptions();
    const error = (await adapter.execute(run, session, options).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as AsmError;
    expect(AsmError.isInstance(error)).toBe(true);
    expect(error.code).toBe('provider_rate_limited');
    expect(error.providerError).toMatchObject({
      provider: 'codex',
      status: 429,
      exitCode: 1,
      kind: 'rate_limit',
    });
    expect(types(events).at(-1)).toBe('run_failed');
  });
});
