import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AsmError,
  calculateCost,
  createInMemoryStore,
  createSessionManager,
  type RunOutput,
  type Transcript,
} from '@asm/core';
import { createFakeCli, type FakeCli, type FakeCliScenario } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CodexCliSettings, createCodexProvider, createMemoryThreadUsageStore } from '../src/index.js';
import { find, fixtureSteps, recordingOptions, runAndSession, tempDirectory, types } from './helpers.js';

const sourceDirectory = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const TEXT_THREAD = '01a2113d-2fa9-72f1-a4b1-fcc7dee1feca';
const CLI_STDERR =
  'WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir "/tmp"\nReading prompt from stdin...';

const scenarios: Record<string, FakeCliScenario> = {
  text: { steps: fixtureSteps('real-text') },
  'resumed-text': { steps: fixtureSteps('real-resumed-text') },
  command: { steps: fixtureSteps('real-command') },
  reasoning: { steps: fixtureSteps('real-reasoning') },
  'agent-items': { steps: fixtureSteps('agent-items') },
  structured: { steps: fixtureSteps('structured') },
  'rate-limit': {
    steps: [...fixtureSteps('real-rate-limit'), { stderr: CLI_STDERR }],
    exitCode: 1,
  },
  'response-failed': {
    steps: [...fixtureSteps('real-response-failed'), { stderr: CLI_STDERR }],
    exitCode: 1,
  },
  'not-logged-in': {
    steps: [{ stderr: 'Error: Not logged in. Run `codex login` or set CODEX_API_KEY.' }],
    exitCode: 2,
  },
  'noisy-crash': {
    steps: [
      { stdout: { type: 'thread.started', thread_id: 'thread-noisy' } },
      { stderr: Array.from({ length: 400 }, (_, index) => `panic line ${index}`).join('\n') },
    ],
    exitCode: 101,
  },
  'bad-line': {
    steps: [{ stdout: { type: 'thread.started', thread_id: 'thread-bad' } }, { stdout: 'this is not json' }],
  },
  'no-turn-end': {
    steps: [
      { stdout: { type: 'thread.started', thread_id: 'thread-cut' } },
      { stdout: { type: 'turn.started' } },
    ],
  },
  stall: {
    steps: [
      { stdout: { type: 'thread.started', thread_id: 'thread-stall' } },
      { stdout: { type: 'turn.started' } },
    ],
    stall: true,
  },
  'slow-command': {
    steps: [
      { stdout: { type: 'thread.started', thread_id: 'thread-slow' } },
      { stdout: { type: 'turn.started' } },
      {
        stdout: {
          type: 'item.started',
          item: {
            id: 'item_1',
            type: 'command_execution',
            command: 'make',
            aggregated_output: '',
            status: 'in_progress',
          },
        },
      },
      {
        delayMs: 900,
        stdout: {
          type: 'item.completed',
          item: {
            id: 'item_1',
            type: 'command_execution',
            command: 'make',
            aggregated_output: 'built\n',
            exit_code: 0,
            status: 'completed',
          },
        },
      },
      { stdout: { type: 'item.completed', item: { id: 'item_2', type: 'agent_message', text: 'Built.' } } },
      {
        stdout: {
          type: 'turn.completed',
          usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 2, reasoning_output_tokens: 0 },
        },
      },
    ],
  },
};

let fake: FakeCli;
let workingDirectory: string;

beforeAll(() => {
  fake = createFakeCli({
    name: 'codex',
    scenarios,
    recordEnv: [
      'CODEX_API_KEY',
      'CODEX_INTERNAL_ORIGINATOR_OVERRIDE',
      'ASM_CODEX_RUN_MARKER',
      'EXTRA_VAR',
      'HOME',
    ],
  });
  workingDirectory = tempDirectory();
});

afterAll(() => {
  fake.cleanup();
  rmSync(workingDirectory, { recursive: true, force: true });
});

function provider(scenario: string, overrides: Partial<CodexCliSettings> = {}) {
  return createCodexProvider({
    workingDirectory,
    codexPath: fake.path,
    model: `scenario:${scenario}`,
    ...overrides,
  });
}

function lastInvocation() {
  const invocation = fake.invocations().at(-1);
  if (!invocation) throw new Error('the fake codex was not called');
  return invocation;
}

async function rejection(promise: Promise<unknown>): Promise<AsmError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

describe('codex cli backend (fake codex executable)', () => {
  it('execute - maps a recorded text turn to run_started, the message, usage and run_completed', async () => {
    const adapter = provider('text');
    const { run, session } = runAndSession();
    const { options, events } = recordingOptions();
    const result = await adapter.execute(run, session, options);

    expect(types(events)).toEqual([
      'run_started',
      'error_recovered',
      'message_streamed',
      'message_received',
      'token_usage_updated',
      'run_completed',
    ]);
    expect(find(events, 'run_started')?.data).toMatchObject({
      model: 'scenario:text',
      providerSessionId: TEXT_THREAD,
      threadId: TEXT_THREAD,
      resumed: false,
    });
    expect(find(events, 'error_recovered')?.data).toMatchObject({
      errorMessage: expect.stringContaining('Model metadata'),
      source: 'item',
    });
    expect(find(events, 'message_streamed')?.data).toMatchObject({
      kind: 'text',
      delta: 'Hello from the fake Responses API.',
    });
    expect(find(events, 'message_received')?.data).toEqual({
      role: 'assistant',
      content: 'Hello from the fake Responses API.',
    });
    // Codex counts cached tokens inside input; core's inputTokens is the uncached part.
    expect(result.tokenUsage).toEqual({
      inputTokens: 60,
      outputTokens: 12,
      cacheReadTokens: 40,
      cacheWriteTokens: 0,
      totalTokens: 112,
    });
    expect(find(events, 'token_usage_updated')?.data).toMatchObject({ inputTokens: 60, reasoningTokens: 0 });
    expect(result).toMatchObject({
      output: { content: 'Hello from the fake Responses API.', stopReason: 'end_turn' },
      providerSessionId: TEXT_THREAD,
      model: 'scenario:text',
      turnCount: 1,
      metadata: { backend: 'cli', threadId: TEXT_THREAD, resumed: false },
    });
  });

  it('execute - passes sandbox, approval, model, folder and system prompt as arguments and the prompt on stdin', async () => {
    const adapter = provider('text', {
      permissionMode: 'full_auto',
      apiKey: 'sk-live-secret',
      env: { EXTRA_VAR: 'extra', HOME: undefined },
      config: { model_reasoning_summary: 'auto' },
      reasoningEffort: 'high',
      additionalDirectories: ['/tmp'],
    });
    const { run, session } = runAndSession({
      messages: [
        { role: 'system', content: 'Stay in the repo.' },
        { role: 'user', content: 'Fix the build' },
      ],
    });
    const { options } = recordingOptions({ systemPrompt: 'You are terse.' });
    await adapter.execute(run, session, options);

    const invocation = lastInvocation();
    expect(invocation.stdin).toBe('system: Stay in the repo.\n\nFix the build');
    expect(invocation.args.map((arg) => arg.replace(workingDirectory, '<dir>'))).toMatchInlineSnapshot(`
      [
        "exec",
        "--experimental-json",
        "--config",
        "model_reasoning_summary="auto"",
        "--config",
        "developer_instructions="You are terse."",
        "--model",
        "scenario:text",
        "--sandbox",
        "workspace-write",
        "--cd",
        "<dir>",
        "--add-dir",
        "/tmp",
        "--skip-git-repo-check",
        "--config",
        "model_reasoning_effort="high"",
        "--config",
        "approval_policy="never"",
      ]
    `);
    expect(invocation.env.CODEX_API_KEY).toBe('<set>');
    expect(invocation.env.EXTRA_VAR).toBe('extra');
    expect(invocation.env.HOME).toBeUndefined();
    expect(invocation.env.ASM_CODEX_RUN_MARKER).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('permission modes - dangerously_skip_permissions bypasses the sandbox; plan and accept_edits warn', async () => {
    const adapter = provider('text');
    const argsFor = async (permissionMode: 'dangerously_skip_permissions' | 'plan' | 'accept_edits') => {
      const { run, session } = runAndSession();
      const { options, events } = recordingOptions({ permissionMode });
      const result = await adapter.execute(run, session, options);
      return { args: lastInvocation().args.join(' '), result, started: find(events, 'run_started') };
    };

    const bypass = await argsFor('dangerously_skip_permissions');
    expect(bypass.args).toContain('--sandbox danger-full-access');
    expect(bypass.args).toContain('approval_policy="never"');
    expect(bypass.result.warnings).toBeUndefined();

    const plan = await argsFor('plan');
    expect(plan.args).toContain('--sandbox read-only');
    expect(plan.result.warnings).toEqual([expect.stringMatching(/^permission_mode_unsupported: .*'plan'/)]);
    expect(plan.started?.data?.warnings).toEqual(plan.result.warnings);

    const acceptEdits = await argsFor('accept_edits');
    expect(acceptEdits.args).not.toContain('--sandbox');
    expect(acceptEdits.result.warnings).toEqual([
      expect.stringMatching(/^permission_mode_unsupported: .*'accept_edits'/),
    ]);
  });

  it('execute - warns about app tools, tool rules and maxOutputTokens the CLI cannot honour', async () => {
    const adapter = provider('text');
    const { run, session } = runAndSession();
    const { options } = recordingOptions({
      tools: [{ name: 'lookup', inputSchema: { type: 'object' } }],
      toolRules: { deny: ['bash'] },
      maxOutputTokens: 100,
    });
    const result = await adapter.execute(run, session, options);
    expect(result.warnings?.map((warning) => warning.split(':')[0])).toEqual([
      'tools_ignored',
      'tool_rules_not_enforced',
      'max_output_tokens_ignored',
    ]);
  });

  it('runOnce twice - the second run resumes the thread natively and reports only its own usage', async () => {
    const store = createInMemoryStore();
    const adapter = provider('text');
    const manager = createSessionManager({ store, provider: adapter });
    const session = await manager.startSession({});
    const first = await manager.executeRun((await manager.startRun(session.id, 'Hello')).id);
    expect(first.providerSessionId).toBe(TEXT_THREAD);
    expect(lastInvocation().args).not.toContain('resume');

    fake.setScenarios({ ...scenarios, text: scenarios['resumed-text']! });
    try {
      const second = await manager.executeRun((await manager.startRun(session.id, 'Again')).id);
      const args = lastInvocation().args;
      expect(args.slice(-2)).toEqual(['resume', TEXT_THREAD]);
      expect(lastInvocation().stdin).toBe('Again'); // no transcript: the thread has the history
      // Codex reported 200/80/24 for the thread; this run's share is 100/40/12.
      expect(second.tokenUsage).toEqual({
        inputTokens: 60,
        outputTokens: 12,
        cacheReadTokens: 40,
        cacheWriteTokens: 0,
        totalTokens: 112,
      });
      expect(second.warnings).toEqual([]);
    } finally {
      fake.setScenarios(scenarios);
      await store.close();
    }
  });

  it('native continuation without a recorded baseline - reports the thread usage and says so', async () => {
    const adapter = provider('resumed-text', { threadUsage: createMemoryThreadUsageStore() });
    const { run, session } = runAndSession('Again');
    const { options } = recordingOptions({
      continuation: {
        mode: 'native',
        providerSessionId: TEXT_THREAD,
        loadTranscript: async () => ({ sessionId: session.id, messages: [], metadata: {} }),
      },
    });
    const result = await adapter.execute(run, session, options);
    expect(lastInvocation().args.slice(-2)).toEqual(['resume', TEXT_THREAD]);
    expect(result.tokenUsage.inputTokens + result.tokenUsage.cacheReadTokens).toBe(200);
    expect(result.warnings).toEqual([expect.stringMatching(/^usage_not_per_run: /)]);
    expect(result.metadata).toMatchObject({ resumed: true });
  });

  it('replay continuation - renders the transcript before the prompt and starts a new thread', async () => {
    const adapter = provider('text');
    const { run, session } = runAndSession('And the tests?');
    const transcript: Transcript = {
      sessionId: session.id,
      metadata: {},
      messages: [
        { role: 'user', content: 'Fix the build', metadata: {} },
        {
          role: 'assistant',
          toolCallId: 't1',
          toolName: 'bash',
          toolInput: { command: 'make' },
          metadata: {},
        },
        { role: 'tool', toolCallId: 't1', toolName: 'bash', toolOutput: 'ok', metadata: {} },
        { role: 'assistant', content: 'Fixed.', metadata: {} },
      ],
    };
    const { options } = recordingOptions({
      continuation: { mode: 'replay', transcript, loadTranscript: async () => transcript },
    });
    await adapter.execute(run, session, options);
    const invocation = lastInvocation();
    expect(invocation.args).not.toContain('resume');
    expect(invocation.stdin).toBe(
      'user: Fix the build\nassistant_tool_call(t1): bash {"command":"make"}\ntool_result(t1): bash "ok"\nassistant: Fixed.\n\nAnd the tests?',
    );
  });

  it('execute - maps a recorded command to a bash tool call', async () => {
    const adapter = provider('command');
    const { run, session } = runAndSession();
    const { options, events } = recordingOptions();
    const result = await adapter.execute(run, session, options);
    expect(types(events)).toEqual([
      'run_started',
      'error_recovered',
      'tool_call_started',
      'tool_call_completed',
      'message_streamed',
      'message_received',
      'token_usage_updated',
      'run_completed',
    ]);
    const command = "/bin/bash -lc 'echo codex-was-here > proof.txt && cat proof.txt'";
    expect(find(events, 'tool_call_started')?.data).toEqual({
      toolCallId: 'item_1',
      toolName: 'bash',
      toolInput: { command, cwd: workingDirectory },
      itemType: 'command_execution',
    });
    expect(find(events, 'tool_call_completed')?.data).toMatchObject({
      toolCallId: 'item_1',
      toolName: 'bash',
      toolOutput: { output: 'codex-was-here\n', exitCode: 0, status: 'completed' },
    });
    expect(result.output.content).toContain('codex-was-here');
  });

  it('execute - maps reasoning to thinking, todo lists to plans, every tool item, and keeps unknown items raw', async () => {
    const adapter = provider('agent-items');
    const { run, session } = runAndSession();
    const { options, events } = recordingOptions();
    const result = await adapter.execute(run, session, options);

    const streamed = events.filter((event) => event.type === 'message_streamed').map((event) => event.data);
    expect(streamed.map((data) => data?.kind)).toEqual(['plan', 'thinking', 'plan', 'plan', 'text']);
    expect(streamed[0]).toMatchObject({
      delta: '- [ ] Read the failing test\n- [ ] Fix the parser',
      items: [
        { text: 'Read the failing test', completed: false },
        { text: 'Fix the parser', completed: false },
      ],
    });
    expect(streamed[3]?.delta).toBe('- [x] Read the failing test\n- [x] Fix the parser');
    expect(streamed[1]?.delta).toBe('The parser drops the last token.');

    const tools = events
      .filter((event) => event.type.startsWith('tool_call_'))
      .map((event) => `${event.type}:${(event.data as { toolName: string }).toolName}`);
    expect(tools).toEqual([
      'tool_call_started:bash',
      'tool_call_failed:bash',
      'tool_call_started:apply_patch',
      'tool_call_completed:apply_patch',
      'tool_call_started:github:create_issue',
      'tool_call_completed:github:create_issue',
      'tool_call_started:docs:search',
      'tool_call_failed:docs:search',
      'tool_call_started:web_search',
      'tool_call_completed:web_search',
      'tool_call_started:collab_tool_call',
      'tool_call_completed:collab_tool_call',
    ]);
    const failedCommand = events.find((event) => event.type === 'tool_call_failed');
    expect(failedCommand?.data).toMatchObject({
      errorMessage: 'Command exited with code 1',
      toolOutput: { output: '1 failing\n', exitCode: 1, status: 'failed' },
    });
    const mcp = events.find(
      (event) => event.type === 'tool_call_completed' && event.data?.toolName === 'github:create_issue',
    );
    expect(mcp?.data).toMatchObject({ toolInput: { title: 'Parser bug' }, toolOutput: { number: 42 } });
    const mcpFailed = events.filter((event) => event.type === 'tool_call_failed')[1];
    expect(mcpFailed?.data).toMatchObject({ errorMessage: 'server not reachable' });
    const unknown = events.find(
      (event) => event.type === 'tool_call_completed' && event.data?.toolName === 'collab_tool_call',
    );
    expect(unknown?.data).toMatchObject({
      raw: { id: 'item_7', type: 'collab_tool_call', receiver: 'helper' },
    });

    // The non-fatal reconnect notice is a recovery, classified from its text.
    expect(find(events, 'error_recovered')?.data).toMatchObject({
      errorMessage: expect.stringContaining('Reconnecting'),
      errorCode: 'provider_unavailable',
      source: 'stream',
    });
    expect(result.metadata?.unknownEvents).toEqual([
      { type: 'thread.compacted', thread_id: '01a21200-0000-7000-8000-00000000a11e' },
    ]);
    expect(result.output.content).toBe('I fixed the parser; the tests pass.');
    expect(result.tokenUsage).toEqual({
      inputTokens: 500,
      outputTokens: 700,
      cacheReadTokens: 4000,
      cacheWriteTokens: 500,
      totalTokens: 5700,
    });
    expect(result.metadata).toMatchObject({ reasoningTokens: 300 });
    expect(events.at(-1)?.type).toBe('run_completed');
  });

  it('outputSchema - passes --output-schema and parses the answer into output.structured', async () => {
    const adapter = provider('structured', {
      outputSchema: { type: 'object', properties: { status: { type: 'string' } } },
    });
    const { run, session } = runAndSession();
    const { options } = recordingOptions();
    const result = await adapter.execute(run, session, options);
    expect(lastInvocation().args).toContain('--output-schema');
    expect((result.output as RunOutput).structured).toEqual({ status: 'ok', files: 2 });
  });

  it('turn.failed for a 429 - rejects provider_rate_limited with exit code, stderr and status, and one run_failed', async () => {
    const adapter = provider('rate-limit');
    const { run, session } = runAndSession();
    const { options, events } = recordingOptions();
    const error = await rejection(adapter.execute(run, session, options));
    expect(error.code).toBe('provider_rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      'exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_6',
    );
    expect(error.providerError).toMatchObject({
      provider: 'codex',
      kind: 'rate_limit',
      status: 429,
      exitCode: 1,
      requestId: 'req_fake_6',
      stderr: expect.stringContaining('Reading prompt from stdin'),
    });
    // The error event before turn.failed is the failure itself, not a recovery.
    expect(types(events)).toEqual(['run_started', 'error_recovered', 'run_failed']);
    expect(events.at(-1)?.data).toMatchObject({ errorCode: 'provider_rate_limited' });
  });

  it('turn.failed after response.failed - rejects provider_unavailable', async () => {
    const error = await rejection(
      provider('response-failed').execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError?.exitCode).toBe(1);
  });

  it('a non-zero exit with only stderr - classifies the stderr (authentication)', async () => {
    const { options, events } = recordingOptions();
    const error = await rejection(
      provider('not-logged-in').execute(runAndSession().run, runAndSession().session, options),
    );
    expect(error.code).toBe('provider_authentication_failed');
    expect(error.message).toMatch(/^The Codex CLI exited with code 2: Error: Not logged in/);
    expect(error.providerError).toMatchObject({ exitCode: 2, kind: 'authentication' });
    expect(types(events)).toEqual(['run_started', 'run_failed']);
  });

  it('a crash with a long stderr - keeps the beginning of stderr, cut to the configured limits', async () => {
    const error = await rejection(
      provider('noisy-crash').execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(error.code).toBe('provider_error');
    expect(error.providerError?.exitCode).toBe(101);
    expect(error.providerError?.truncated).toBe(true);
    expect(error.providerError?.stderr?.split('\n').length).toBeLessThanOrEqual(200);
    expect(error.providerError?.stderr).toContain('panic line 0');
  });

  it('a line that is not JSON - rejects provider_error (parse_error)', async () => {
    const { options, events } = recordingOptions();
    const error = await rejection(
      provider('bad-line').execute(runAndSession().run, runAndSession().session, options),
    );
    expect(error.code).toBe('provider_error');
    expect(error.providerError?.kind).toBe('parse_error');
    expect(error.message).toContain('this is not json');
    expect(events.at(-1)?.type).toBe('run_failed');
  });

  it('a process that ends without turn.completed - rejects provider_error (protocol_error)', async () => {
    const error = await rejection(
      provider('no-turn-end').execute(
        runAndSession().run,
        runAndSession().session,
        recordingOptions().options,
      ),
    );
    expect(error.code).toBe('provider_error');
    expect(error.providerError?.kind).toBe('protocol_error');
  });

  it('abort - kills the hanging CLI and rejects with the abort reason, ending with run_cancelled', async () => {
    const adapter = provider('stall');
    const { run, session } = runAndSession();
    const { options, events, controller } = recordingOptions();
    options.emit = (event) => {
      events.push(event);
      if (event.type === 'run_started') setTimeout(() => controller.abort(), 20);
    };
    const error = await rejection(adapter.execute(run, session, options));
    expect(error.code).toBe('cancelled');
    expect(types(events)).toEqual(['run_started', 'run_cancelled']);
  });

  it('abort with a timeout reason - ends with run_timeout and rejects with that reason', async () => {
    const adapter = provider('stall');
    const { run, session } = runAndSession();
    const { options, events, controller } = recordingOptions();
    options.emit = (event) => {
      events.push(event);
      if (event.type === 'run_started') {
        setTimeout(() => controller.abort(new AsmError('timeout', 'Run timed out after 50 ms')), 20);
      }
    };
    const error = await rejection(adapter.execute(run, session, options));
    expect(error.code).toBe('timeout');
    expect(events.at(-1)?.type).toBe('run_timeout');
  });

  it('idle timeout - a silent CLI fails the run with provider_timeout', async () => {
    const adapter = provider('stall', { idleTimeoutMs: 300 });
    const { options, events } = recordingOptions();
    const error = await rejection(adapter.execute(runAndSession().run, runAndSession().session, options));
    expect(error.code).toBe('provider_timeout');
    expect(error.retryable).toBe(true);
    expect(events.at(-1)?.data).toMatchObject({ errorCode: 'provider_timeout' });
  });

  it('idle timeout - rests while a command runs', async () => {
    const adapter = provider('slow-command', { idleTimeoutMs: 300 });
    const result = await adapter.execute(
      runAndSession().run,
      runAndSession().session,
      recordingOptions().options,
    );
    expect(result.output.content).toBe('Built.');
  });

  it('cost - the manager prices the reported usage and model from the pricing table', async () => {
    const store = createInMemoryStore();
    const adapter = provider('text', { model: 'gpt-5' });
    fake.setScenarios({ ...scenarios, default: scenarios.text! });
    try {
      const manager = createSessionManager({ store, provider: adapter });
      const result = await manager.runOnce('Hello');
      expect(result.costUsd).toBeGreaterThan(0);
      expect(result.costUsd).toBeCloseTo(
        calculateCost(result.tokenUsage, 'codex', 'gpt-5') ?? Number.NaN,
        12,
      );
      const run = await manager.getRun(result.runId);
      expect(run?.tokenUsage.cacheReadTokens).toBe(40);
    } finally {
      fake.setScenarios(scenarios);
      await store.close();
    }
  });

  it('without @openai/codex-sdk - fails with dependency_not_available naming the package and the install command', async () => {
    const missing = Object.assign(new Error("Cannot find package '@openai/codex-sdk'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const adapter = createCodexProvider({ workingDirectory, loadSdk: () => Promise.reject(missing) });
    const error = await rejection(
      adapter.execute(runAndSession().run, runAndSession().session, recordingOptions().options),
    );
    expect(error.code).toBe('dependency_not_available');
    expect(error.details).toEqual({ dependency: '@openai/codex-sdk', operation: 'execute' });
    expect(error.message).toContain('npm install @openai/codex-sdk');
    expect(error.cause).toBe(missing);
  });

  it('@openai/codex-sdk - is never imported statically, so the responses backend works without it', () => {
    for (const file of readdirSync(sourceDirectory)) {
      const text = readFileSync(join(sourceDirectory, file), 'utf8');
      expect(text, file).not.toMatch(/^import (?!type)[^;]*'@openai\/codex-sdk'/m);
    }
  });

  it('settings - are validated eagerly, naming the field', () => {
    const codes = (settings: unknown) => {
      try {
        createCodexProvider(settings as CodexCliSettings);
        return undefined;
      } catch (error) {
        return [(error as AsmError).code, (error as AsmError).details.field];
      }
    };
    expect(codes({})).toEqual(['validation_error', 'workingDirectory']);
    expect(codes({ workingDirectory: '/does/not/exist' })).toEqual(['validation_error', 'workingDirectory']);
    expect(codes({ workingDirectory, permissionMode: 'yolo' })).toEqual([
      'validation_error',
      'permissionMode',
    ]);
    expect(codes({ workingDirectory, codexPath: '/does/not/exist' })).toEqual([
      'validation_error',
      'codexPath',
    ]);
    expect(codes({ workingDirectory, sandboxMode: 'open' })).toEqual(['validation_error', 'sandboxMode']);
    expect(codes({ workingDirectory, backend: 'chat' })).toEqual(['validation_error', 'backend']);
    expect(codes({ workingDirectory, env: { A: 1 } })).toEqual(['validation_error', 'env']);
    expect(codes({ backend: 'responses', maxTurns: 0 })).toEqual(['validation_error', 'maxTurns']);
    expect(codes({ workingDirectory })).toBeUndefined();
    const adapter = createCodexProvider({ workingDirectory });
    expect(adapter.backend).toBe('cli');
    expect(adapter.supportsNativeContinuation).toBe(true);
    expect(adapter.capabilities().map((capability) => capability.name)).toContain('bash');
  });

  it('execute - a working directory removed after creation fails with validation_error', async () => {
    const directory = tempDirectory();
    const adapter = createCodexProvider({ workingDirectory: directory, codexPath: fake.path });
    rmSync(directory, { recursive: true });
    const error = await rejection(
      adapter.execute(runAndSession().run, runAndSession().session, recordingOptions().options),
    );
    expect(error.code).toBe('validation_error');
    expect(error.details.field).toBe('workingDirectory');
  });
});
