import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsmError } from '@asm/core';
import type { FakeCli } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AmpProviderSettings, createAmpProvider } from '../src/index.js';
import { createFakeAmp, executeDirectly, FIXTURE_THREAD_ID, fixtureSteps } from './helpers.js';

const SYSTEM = fixtureSteps('plain-answer')[0]!;
const TEXT_LINE = fixtureSteps('plain-answer')[1]!;

let fake: FakeCli;
let cwd: string;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'asm-amp-cwd-'));
  fake = createFakeAmp({
    default: { steps: fixtureSteps('plain-answer') },
    'tool-round-trip': { steps: fixtureSteps('tool-round-trip') },
    'failing-tool': { steps: fixtureSteps('failing-tool') },
    'error-result': { steps: fixtureSteps('error-result'), exitCode: 1 },
    'rate-limited-result': {
      steps: [
        SYSTEM,
        {
          stdout: {
            type: 'result',
            subtype: 'error_during_execution',
            is_error: true,
            error: 'Rate limit exceeded, please retry in 30 seconds',
            duration_ms: 400,
            num_turns: 0,
            session_id: FIXTURE_THREAD_ID,
          },
        },
      ],
      exitCode: 1,
    },
    'bad-key': { steps: [{ stderr: 'Error: Invalid or missing API key. Run `amp login`.' }], exitCode: 1 },
    crash: { steps: [SYSTEM, { stderr: 'panic: something broke\nat frame 1\nat frame 2' }], exitCode: 2 },
    'long-stderr': {
      steps: [{ stderr: Array.from({ length: 400 }, (_, index) => `noise line ${index}`).join('\n') }],
      exitCode: 3,
    },
    'bad-line': { steps: [SYSTEM, { stdout: 'Loading Amp… {not json' }, TEXT_LINE], stall: true },
    'no-type': { steps: [SYSTEM, { stdout: { hello: 'world' } }], stall: true },
    'no-result': { steps: [SYSTEM, TEXT_LINE], exitCode: 0 },
    'success-then-exit-1': { steps: fixtureSteps('plain-answer'), exitCode: 1 },
    'lingers-after-result': { steps: fixtureSteps('plain-answer'), stall: true },
    'unknown-output': {
      steps: [
        SYSTEM,
        { stdout: { type: 'progress', percent: 40 } },
        {
          stdout: {
            type: 'assistant',
            session_id: FIXTURE_THREAD_ID,
            parent_tool_use_id: null,
            message: {
              role: 'assistant',
              content: [
                { type: 'redacted_thinking', data: 'opaque' },
                { type: 'text', text: 'Done.' },
              ],
              stop_reason: 'end_turn',
            },
          },
        },
        { stdout: { type: 'assistant', message: 'not an object' } },
        { stdout: { type: 'progress', percent: 80 } },
        { stdout: { type: 'result', subtype: 'success', is_error: false, result: 'Done.' } },
        { stdout: { type: 'after', note: 'ignored after the result' } },
      ],
    },
    thinking: {
      steps: [
        SYSTEM,
        {
          stdout: {
            type: 'assistant',
            session_id: FIXTURE_THREAD_ID,
            parent_tool_use_id: null,
            message: {
              type: 'message',
              role: 'assistant',
              content: [
                { type: 'thinking', thinking: 'The user wants a city.' },
                { type: 'text', text: 'Paris.' },
              ],
              stop_reason: 'end_turn',
              usage: { input_tokens: 10, output_tokens: 5, max_tokens: 32000, service_tier: 'standard' },
            },
          },
        },
        {
          stdout: {
            type: 'assistant',
            session_id: FIXTURE_THREAD_ID,
            parent_tool_use_id: 'toolu_task',
            message: {
              role: 'assistant',
              content: [{ type: 'text', text: 'sub-agent notes' }],
              stop_reason: 'end_turn',
            },
          },
        },
        { stdout: { type: 'result', subtype: 'success', is_error: false, result: 'Paris.', num_turns: 1 } },
      ],
    },
  });
});

afterAll(() => {
  fake.cleanup();
  rmSync(cwd, { recursive: true, force: true });
});

function provider(scenario: string, settings: Partial<AmpProviderSettings> = {}) {
  return createAmpProvider({
    cwd,
    executablePath: fake.path,
    apiKey: 'amp-test-key',
    ...settings,
    env: { ASM_FAKE_SCENARIO: scenario, ...(settings.env ?? {}) },
  });
}

function lastInvocation() {
  const invocations = fake.invocations();
  return invocations[invocations.length - 1]!;
}

function asmError(error: unknown): AsmError {
  expect(AsmError.isInstance(error), `expected an AsmError, got ${String(error)}`).toBe(true);
  return error as AsmError;
}

describe('createAmpProvider - a plain answer', () => {
  it('maps system, assistant and result to run_started, a delta, usage, message_received and run_completed', async () => {
    const outcome = await executeDirectly(provider('default'));
    expect(outcome.error).toBeUndefined();
    expect(outcome.events.map((event) => event.type)).toEqual([
      'run_started',
      'message_streamed',
      'token_usage_updated',
      'message_received',
      'run_completed',
    ]);
    expect(outcome.events[0]?.data).toEqual({
      providerSessionId: FIXTURE_THREAD_ID,
      tools: ['Bash', 'Read', 'edit_file', 'create_file', 'Grep', 'glob', 'Task'],
      mcpServers: [{ name: 'github', status: 'connected' }],
      cwd: '/work/project',
    });
    expect(outcome.events[1]?.data).toEqual({ kind: 'text', delta: 'The capital of France is Paris.' });
    expect(outcome.events[2]?.data).toEqual({
      inputTokens: 1520,
      outputTokens: 9,
      cacheReadTokens: 12800,
      cacheWriteTokens: 300,
      totalTokens: 14629,
    });
    expect(outcome.events[3]?.data).toEqual({
      role: 'assistant',
      content: 'The capital of France is Paris.',
    });
    expect(outcome.events[4]?.data).toMatchObject({ stopReason: 'end_turn', durationMs: 2143, turns: 1 });

    const result = outcome.result!;
    expect(result.output).toEqual({
      content: 'The capital of France is Paris.',
      stopReason: 'end_turn',
      toolCalls: [],
    });
    expect(result.tokenUsage.totalTokens).toBe(14629);
    expect(result.providerSessionId).toBe(FIXTURE_THREAD_ID);
    expect(result.turnCount).toBe(1);
    expect(result.warnings).toBeUndefined();
    expect(result.metadata).toMatchObject({ threadId: FIXTURE_THREAD_ID, ampDurationMs: 2143, numTurns: 1 });
  });

  it('runs `amp --execute --stream-json` in cwd with the prompt on stdin and the key in AMP_API_KEY', async () => {
    await executeDirectly(provider('default'), { input: 'What is the capital of France?' });
    const invocation = lastInvocation();
    expect(invocation.args).toEqual(['--execute', '--stream-json']);
    expect(invocation.stdin).toBe('What is the capital of France?\n');
    expect(invocation.cwd).toBe(cwd);
    expect(invocation.env).toEqual({ AMP_API_KEY: '<set>', ASM_FAKE_SCENARIO: 'default' });
  });

  it('finds `amp` on the PATH of its environment by default', async () => {
    const onPath = createAmpProvider({
      cwd,
      apiKey: 'k',
      env: { PATH: `${fake.dir}:${process.env.PATH ?? ''}`, ASM_FAKE_SCENARIO: 'default' },
    });
    const outcome = await executeDirectly(onPath);
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.output.content).toBe('The capital of France is Paris.');
  });

  it('sends { messages } as role lines and takes the key from AMP_API_KEY in env', async () => {
    const fromEnv = createAmpProvider({
      cwd,
      executablePath: fake.path,
      env: {
        AMP_API_KEY: 'from-env',
        ASM_FAKE_SCENARIO: 'default',
        ASM_EXTRA: 'yes',
        ASM_REMOVED: undefined,
      },
    });
    process.env.ASM_REMOVED = 'inherited';
    try {
      const outcome = await executeDirectly(fromEnv, {
        input: {
          messages: [
            { role: 'system', content: 'Answer tersely.' },
            { role: 'user', content: 'Capital of France?' },
          ],
        },
      });
      expect(outcome.error).toBeUndefined();
    } finally {
      delete process.env.ASM_REMOVED;
    }
    const invocation = lastInvocation();
    expect(invocation.stdin).toBe('system: Answer tersely.\nuser: Capital of France?\n');
    expect(invocation.env).toEqual({ AMP_API_KEY: '<set>', ASM_FAKE_SCENARIO: 'default', ASM_EXTRA: 'yes' });
  });
});

describe('createAmpProvider - tools', () => {
  it('maps a tool round trip to tool_call_started and tool_call_completed and sums usage', async () => {
    const outcome = await executeDirectly(provider('tool-round-trip'));
    expect(outcome.error).toBeUndefined();
    expect(outcome.events.map((event) => event.type)).toEqual([
      'run_started',
      'message_streamed',
      'tool_call_started',
      'token_usage_updated',
      'tool_call_completed',
      'message_streamed',
      'token_usage_updated',
      'message_received',
      'run_completed',
    ]);
    const input = { cmd: 'ls', cwd: '/work/project' };
    expect(outcome.events[2]?.data).toEqual({ toolCallId: 'toolu_01A9', toolName: 'Bash', toolInput: input });
    expect(outcome.events[4]?.data).toEqual({
      toolCallId: 'toolu_01A9',
      toolName: 'Bash',
      toolInput: input,
      toolOutput: 'README.md\npackage.json\nsrc',
    });
    const usage = outcome.events
      .filter((event) => event.type === 'token_usage_updated')
      .map((event) => event.data);
    expect(usage[0]).toMatchObject({ inputTokens: 1600, outputTokens: 40, cacheReadTokens: 12800 });
    expect(usage[1]).toEqual({
      inputTokens: 3300,
      outputTokens: 58,
      cacheReadTokens: 27200,
      cacheWriteTokens: 120,
      totalTokens: 30678,
    });
    const result = outcome.result!;
    expect(result.tokenUsage).toEqual(usage[1]);
    expect(result.turnCount).toBe(2);
    expect(result.output.content).toBe('There are 3 entries: README.md, package.json and src.');
    expect(result.output.toolCalls).toEqual([{ id: 'toolu_01A9', name: 'Bash', input }]);
    expect(outcome.events.at(-1)?.data).toMatchObject({ turns: 2, tokenUsage: usage[1] });
  });

  it('maps a failing tool to tool_call_failed and still completes the run', async () => {
    const outcome = await executeDirectly(provider('failing-tool'));
    expect(outcome.error).toBeUndefined();
    const failed = outcome.events.find((event) => event.type === 'tool_call_failed');
    expect(failed?.data).toEqual({
      toolCallId: 'toolu_02B7',
      toolName: 'edit_file',
      toolInput: { path: 'missing.ts', old_str: 'a', new_str: 'b' },
      toolOutput: 'File not found: missing.ts',
      isError: true,
      errorMessage: 'File not found: missing.ts',
    });
    expect(outcome.events.some((event) => event.type === 'tool_call_completed')).toBe(false);
    expect(outcome.events.at(-1)?.type).toBe('run_completed');
    expect(outcome.result?.output.content).toBe('missing.ts does not exist, so there is nothing to edit.');
  });

  it('stops the CLI when Amp announces a tool the run denies, after warning that rules act after the fact', async () => {
    const outcome = await executeDirectly(provider('tool-round-trip'), {
      extra: { toolRules: { deny: ['Bash'] } },
    });
    const error = asmError(outcome.error);
    expect(error.code).toBe('tool_permission_denied');
    expect(error.details).toMatchObject({ toolName: 'Bash', toolCallId: 'toolu_01A9' });
    expect(error.providerError?.kind).toBe('tool_denied');
    const types = outcome.events.map((event) => event.type);
    expect(types.at(-1)).toBe('run_failed');
    expect(types).not.toContain('tool_call_completed');
    expect(outcome.events[0]?.data).toMatchObject({
      warningDetails: [expect.objectContaining({ code: 'tool_rules_after_the_fact', setting: 'toolRules' })],
    });
  });

  it('lets allowed tools run under toolRules', async () => {
    const outcome = await executeDirectly(provider('tool-round-trip'), {
      extra: { toolRules: { allow: ['Bash', 'Read'] } },
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.warnings).toEqual([expect.stringContaining('toolRules')]);
  });
});

describe('createAmpProvider - failures', () => {
  it('maps an error result to run_failed with provider_error and the exit code', async () => {
    const outcome = await executeDirectly(provider('error-result'));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_error');
    expect(error.message).toBe('Tool execution aborted: the agent could not apply the patch');
    expect(error.details).toMatchObject({ subtype: 'error_during_execution', numTurns: 1 });
    expect(error.providerError).toMatchObject({ provider: 'amp', kind: 'unknown', exitCode: 1 });
    expect(outcome.events.map((event) => event.type)).toEqual([
      'run_started',
      'message_streamed',
      'token_usage_updated',
      'run_failed',
    ]);
    expect(outcome.events.at(-1)?.data).toMatchObject({
      errorCode: 'provider_error',
      errorMessage: 'Tool execution aborted: the agent could not apply the patch',
    });
  });

  it('classifies a rate-limited error result as provider_rate_limited (retryable)', async () => {
    const error = asmError((await executeDirectly(provider('rate-limited-result'))).error);
    expect(error.code).toBe('provider_rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.providerError?.kind).toBe('rate_limit');
  });

  it('maps a non-zero exit with a bad-key message to provider_authentication_failed with stderr', async () => {
    const outcome = await executeDirectly(provider('bad-key'));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_authentication_failed');
    expect(error.message).toBe(
      'Amp CLI exited with code 1: Error: Invalid or missing API key. Run `amp login`.',
    );
    expect(error.providerError).toMatchObject({
      provider: 'amp',
      kind: 'authentication',
      exitCode: 1,
      stderr: 'Error: Invalid or missing API key. Run `amp login`.\n',
    });
    expect(outcome.events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
  });

  it('maps an unexplained non-zero exit to provider_error transport_exit', async () => {
    const outcome = await executeDirectly(provider('crash'));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_error');
    expect(error.providerError).toMatchObject({ kind: 'transport_exit', exitCode: 2 });
    expect(error.providerError?.stderr).toContain('panic: something broke');
    expect(outcome.events[0]?.data).toMatchObject({ providerSessionId: FIXTURE_THREAD_ID });
  });

  it('truncates a long stderr and says so', async () => {
    const error = asmError((await executeDirectly(provider('long-stderr'))).error);
    expect(error.providerError?.truncated).toBe(true);
    expect(error.providerError?.stderr?.split('\n').length).toBeLessThanOrEqual(200);
    expect(error.providerError?.stderr?.startsWith('noise line 0')).toBe(true);
  });

  it('fails on a non-zero exit even after a success result', async () => {
    const outcome = await executeDirectly(provider('success-then-exit-1'));
    expect(asmError(outcome.error).providerError?.exitCode).toBe(1);
    expect(
      outcome.events.filter((event) => event.type.startsWith('run_')).map((event) => event.type),
    ).toEqual(['run_started', 'run_failed']);
  });

  it('kills the CLI and rejects with parse_error on a line that is not JSON', async () => {
    const outcome = await executeDirectly(provider('bad-line'));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_error');
    expect(error.message).toContain('not stream-json');
    expect(error.details.line).toBe('Loading Amp… {not json');
    expect(error.providerError?.kind).toBe('parse_error');
    // The valid line after the bad one is not mapped.
    expect(outcome.events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
  });

  it('rejects a JSON line without a type as a protocol error', async () => {
    const error = asmError((await executeDirectly(provider('no-type'))).error);
    expect(error.providerError?.kind).toBe('parse_error');
    expect(error.message).toContain('no string "type"');
  });

  it('rejects with protocol_error when the CLI exits 0 without a result', async () => {
    const outcome = await executeDirectly(provider('no-result'));
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_error');
    expect(error.providerError).toMatchObject({ kind: 'protocol_error', exitCode: 0 });
    expect(outcome.events.at(-1)?.type).toBe('run_failed');
  });

  it('rejects with provider_unavailable (cli_not_found) when the executable does not exist', async () => {
    const missing = provider('default', { executablePath: join(cwd, 'no-such-amp') });
    const outcome = await executeDirectly(missing);
    const error = asmError(outcome.error);
    expect(error.code).toBe('provider_unavailable');
    expect(error.providerError).toMatchObject({ provider: 'amp', kind: 'cli_not_found' });
    expect(outcome.events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
  });

  it('rejects a missing API key with provider_authentication_failed before spawning anything', async () => {
    const before = fake.invocations().length;
    const saved = process.env.AMP_API_KEY;
    delete process.env.AMP_API_KEY;
    try {
      const keyless = createAmpProvider({ cwd, executablePath: fake.path });
      const outcome = await executeDirectly(keyless);
      const error = asmError(outcome.error);
      expect(error.code).toBe('provider_authentication_failed');
      expect(error.details.field).toBe('apiKey');
      expect(error.providerError?.kind).toBe('authentication');
      expect(outcome.events).toEqual([]);
      // An env entry that removes the key counts as missing too.
      const removed = provider('default', { apiKey: undefined, env: { AMP_API_KEY: undefined } });
      expect(asmError((await executeDirectly(removed)).error).code).toBe('provider_authentication_failed');
    } finally {
      if (saved !== undefined) process.env.AMP_API_KEY = saved;
    }
    expect(fake.invocations().length).toBe(before);
  });

  it('requires an existing cwd: validation_error naming the field, nothing spawned', async () => {
    expect(() => createAmpProvider({ cwd: '' })).toThrowError(
      expect.objectContaining({ code: 'validation_error', details: { field: 'cwd' } }),
    );
    expect(() => createAmpProvider({} as AmpProviderSettings)).toThrowError(
      expect.objectContaining({ code: 'validation_error' }),
    );
    const before = fake.invocations().length;
    const gone = provider('default', { cwd: join(cwd, 'does-not-exist') });
    expect(() => gone.validateConfig()).toThrowError(
      expect.objectContaining({
        code: 'validation_error',
        details: expect.objectContaining({ field: 'cwd' }),
      }),
    );
    const outcome = await executeDirectly(gone);
    expect(asmError(outcome.error).code).toBe('validation_error');
    expect(asmError(outcome.error).details.field).toBe('cwd');
    expect(outcome.events).toEqual([]);
    expect(fake.invocations().length).toBe(before);
  });

  it('validates the other settings eagerly, naming the field', () => {
    const cases: [Partial<AmpProviderSettings>, string][] = [
      [{ permissionMode: 'yolo' as never }, 'permissionMode'],
      [{ visibility: 'everyone' as never }, 'visibility'],
      [{ labels: ['ok', ''] }, 'labels'],
      [{ idleTimeoutMs: 0 }, 'idleTimeoutMs'],
      [{ maxTurns: 0 }, 'maxTurns'],
      [{ mcpConfig: 42 as never }, 'mcpConfig'],
      [{ env: { X: 1 as never } }, 'env.X'],
      [{ executablePath: '' }, 'executablePath'],
    ];
    for (const [settings, field] of cases) {
      expect(() => createAmpProvider({ cwd, ...settings }), field).toThrowError(
        expect.objectContaining({ code: 'validation_error', details: expect.objectContaining({ field }) }),
      );
    }
  });

  it('rejects a run without a prompt as validation_error on input, nothing spawned', async () => {
    const before = fake.invocations().length;
    const outcome = await executeDirectly(provider('default'), { input: { command: 'ls' } });
    expect(asmError(outcome.error).details.field).toBe('input');
    expect(fake.invocations().length).toBe(before);
  });
});

describe('createAmpProvider - settings and warnings', () => {
  it('passes permission mode, mode, visibility, settings file, MCP config, labels and extra args', async () => {
    const mcpConfig = { github: { command: 'gh-mcp', args: ['--stdio'] } };
    const outcome = await executeDirectly(
      provider('default', {
        permissionMode: 'full_auto',
        mode: 'rush',
        visibility: 'workspace',
        settingsFile: '/etc/amp/settings.json',
        mcpConfig,
        labels: ['ci', 'asm'],
        extraArgs: ['--log-level', 'warn'],
      }),
      { extra: { adapterOptions: { labels: ['run-1'], mode: 'smart' } } },
    );
    expect(outcome.error).toBeUndefined();
    expect(lastInvocation().args).toEqual([
      '--execute',
      '--stream-json',
      '--dangerously-allow-all',
      '--visibility',
      'workspace',
      '--settings-file',
      '/etc/amp/settings.json',
      '--mcp-config',
      JSON.stringify(mcpConfig),
      '--mode',
      'smart',
      '--label',
      'ci',
      '--label',
      'asm',
      '--label',
      'run-1',
      '--log-level',
      'warn',
    ]);
    expect(outcome.result?.warnings).toBeUndefined();
  });

  it('maps dangerously_skip_permissions given per run to --dangerously-allow-all', async () => {
    await executeDirectly(provider('default'), { extra: { permissionMode: 'dangerously_skip_permissions' } });
    expect(lastInvocation().args).toContain('--dangerously-allow-all');
  });

  it('warns, on run_started and in the result, about what Amp cannot honour', async () => {
    const outcome = await executeDirectly(provider('default', { maxTurns: 5, permissionMode: 'plan' }), {
      extra: { systemPrompt: 'Be brief.', maxOutputTokens: 100 },
    });
    expect(outcome.error).toBeUndefined();
    expect(lastInvocation().args).toEqual(['--execute', '--stream-json']);
    expect(lastInvocation().stdin).not.toContain('Be brief.');
    const started = outcome.events[0]?.data as Record<string, unknown>;
    const details = started.warningDetails as { code: string; setting: string }[];
    expect(details.map((warning) => [warning.code, warning.setting])).toEqual([
      ['unsupported_setting', 'maxTurns'],
      ['unsupported_setting', 'systemPrompt'],
      ['unsupported_setting', 'maxOutputTokens'],
      ['unsupported_permission_mode', 'permissionMode'],
    ]);
    expect(started.warnings).toEqual(outcome.result?.warnings);
    expect(outcome.result?.warnings).toHaveLength(4);
    expect(outcome.result?.metadata?.ampWarnings).toEqual(details);
    expect(started.providerSessionId).toBe(FIXTURE_THREAD_ID);
  });

  it('warns about accept_edits and about a systemPrompt setting', async () => {
    const outcome = await executeDirectly(
      provider('default', { permissionMode: 'accept_edits', systemPrompt: 'You are terse.' }),
    );
    expect(outcome.result?.warnings).toEqual([
      expect.stringContaining('systemPrompt'),
      expect.stringContaining("'accept_edits'"),
    ]);
  });

  it('streams thinking blocks as kind thinking and tags sub-agent text with its parent tool call', async () => {
    const outcome = await executeDirectly(provider('thinking', { thinking: true }));
    expect(outcome.error).toBeUndefined();
    expect(lastInvocation().args).toEqual(['--execute', '--stream-json', '--stream-json-thinking']);
    const streamed = outcome.events
      .filter((event) => event.type === 'message_streamed')
      .map((event) => event.data);
    expect(streamed).toEqual([
      { kind: 'thinking', delta: 'The user wants a city.' },
      { kind: 'text', delta: 'Paris.' },
      { kind: 'text', delta: 'sub-agent notes', parentToolCallId: 'toolu_task' },
    ]);
    expect(outcome.result?.output.content).toBe('Paris.');
  });

  it('skips output it does not understand with a warning, keeps it in metadata, and never crashes', async () => {
    const outcome = await executeDirectly(provider('unknown-output'));
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.output.content).toBe('Done.');
    expect(outcome.events.map((event) => event.type)).toEqual([
      'run_started',
      'message_streamed',
      'message_received',
      'run_completed',
    ]);
    const warnings = outcome.result?.warnings ?? [];
    expect(warnings).toHaveLength(3); // progress (once), the redacted_thinking block, the malformed assistant
    expect(warnings.join('\n')).toContain('unknown message type "progress"');
    expect(outcome.result?.metadata?.unrecognized).toEqual([
      { type: 'progress', percent: 40 },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'assistant', message: 'not an object' },
      { type: 'progress', percent: 80 },
    ]);
    expect(outcome.result?.tokenUsage.totalTokens).toBe(0);
  });

  it('completes when the CLI lingers after its result, killing it after exitGraceMs', async () => {
    const outcome = await executeDirectly(provider('lingers-after-result', { exitGraceMs: 50 }));
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.output.content).toBe('The capital of France is Paris.');
    expect(outcome.events.at(-1)?.type).toBe('run_completed');
  });

  it('runs concurrent runs through one adapter independently', async () => {
    const amp = provider('tool-round-trip');
    const before = fake.invocations().length;
    const [first, second] = await Promise.all([
      executeDirectly(amp, { input: 'first' }),
      executeDirectly(amp, { input: 'second' }),
    ]);
    expect(first.error).toBeUndefined();
    expect(second.error).toBeUndefined();
    expect(first.result?.tokenUsage).toEqual(second.result?.tokenUsage);
    expect(first.result?.output.toolCalls).toHaveLength(1);
    const stdins = fake
      .invocations()
      .slice(before)
      .map((invocation) => invocation.stdin)
      .sort();
    expect(stdins).toEqual(['first\n', 'second\n']);
  });

  it('declares the six Amp capabilities and native continuation', () => {
    const amp = provider('default');
    expect(amp.name).toBe('amp');
    expect(amp.supportsNativeContinuation).toBe(true);
    expect(amp.capabilities()).toEqual([
      { name: 'streaming', type: 'sampling' },
      { name: 'tool_use', type: 'tool' },
      { name: 'interrupt', type: 'sampling' },
      { name: 'mcp', type: 'tool' },
      { name: 'file_operations', type: 'file_access' },
      { name: 'bash', type: 'code_execution' },
    ]);
    expect('apiKey' in amp.settings).toBe(false);
  });
});
