import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AdapterEvent,
  AsmError,
  createRun,
  createSession,
  type ExecuteOptions,
  type PermissionMode,
  type Transcript,
} from '@asm/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CLAUDE_AGENT_CAPABILITIES,
  ClaudeAgentEventMapper,
  type ClaudeAgentSdkModule,
  type ClaudeAgentSettings,
  claudeAgentApiError,
  claudeAgentPrompt,
  claudeAgentResultUsage,
  createClaudeProvider,
  mapClaudeAgentPermissionMode,
} from '../src/index.js';

const workingDirectory = mkdtempSync(join(tmpdir(), 'asm-claude-agent-unit-'));
afterAll(() => rmSync(workingDirectory, { recursive: true, force: true }));
const sourceDirectory = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

function runAndSession() {
  const session = { ...createSession({ agentId: 'test' }), status: 'active' as const };
  const run = { ...createRun({ sessionId: session.id, input: 'hello' }), status: 'running' as const };
  return { session, run };
}

function recording() {
  const events: AdapterEvent[] = [];
  const options: ExecuteOptions = {
    signal: new AbortController().signal,
    emit: (event) => events.push(event),
    continuation: {
      mode: 'none',
      loadTranscript: async () => ({ sessionId: 's', messages: [], metadata: {} }),
    },
    authorizeToolCall: async () => ({ allow: true }),
  };
  return { events, options };
}

describe('claude agent backend - optional peer dependency', () => {
  it('without @anthropic-ai/claude-agent-sdk - fails with dependency_not_available naming the package and the install command', async () => {
    const missing = Object.assign(new Error("Cannot find package '@anthropic-ai/claude-agent-sdk'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const provider = createClaudeProvider({
      backend: 'agent',
      workingDirectory,
      loadSdk: () => Promise.reject(missing),
    });
    const { run, session } = runAndSession();
    const { events, options } = recording();
    const error = await provider.execute(run, session, options).then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
    expect(AsmError.isInstance(error)).toBe(true);
    expect(error?.code).toBe('dependency_not_available');
    expect(error?.details).toEqual({ dependency: '@anthropic-ai/claude-agent-sdk', operation: 'execute' });
    expect(error?.message).toContain('npm install @anthropic-ai/claude-agent-sdk@0.3.331');
    expect(error?.message).toContain("backend: 'messages'");
    expect(error?.cause).toBe(missing);
    expect(events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
    expect(events[1]?.data).toMatchObject({ errorCode: 'dependency_not_available' });
  });

  it('a loader that failed once is tried again on the next run (installing the SDK later works)', async () => {
    let calls = 0;
    const provider = createClaudeProvider({
      backend: 'agent',
      workingDirectory,
      loadSdk: async () => {
        calls++;
        throw Object.assign(new Error('missing'), { code: 'ERR_MODULE_NOT_FOUND' });
      },
    });
    const { run, session } = runAndSession();
    await provider.execute(run, session, recording().options).catch(() => undefined);
    await provider.execute(run, session, recording().options).catch(() => undefined);
    expect(calls).toBe(2);
  });

  it('@anthropic-ai/claude-agent-sdk - is never imported statically, so the messages backend works without it', () => {
    for (const file of readdirSync(sourceDirectory)) {
      const text = readFileSync(join(sourceDirectory, file), 'utf8');
      expect(text, file).not.toMatch(/^import (?!type)[^;]*'@anthropic-ai\/claude-agent-sdk'/m);
      expect(text, file).not.toMatch(/^import type[^;]*'@anthropic-ai\/claude-agent-sdk'/m);
    }
  });

  it('an executable that does not exist - dependency_not_available naming it, nothing spawned', async () => {
    const executablePath = join(workingDirectory, 'no-such-claude');
    const provider = createClaudeProvider({ backend: 'agent', workingDirectory, executablePath });
    const { run, session } = runAndSession();
    const { events, options } = recording();
    const error = await provider.execute(run, session, options).then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
    expect(error?.code).toBe('dependency_not_available');
    expect(error?.details).toEqual({ dependency: executablePath, operation: 'execute' });
    expect(error?.providerError?.kind).toBe('cli_not_found');
    expect(error?.message).toContain('ENOENT');
    expect(events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
  });

  it('the installed SDK module fits ClaudeAgentSdkModule', async () => {
    const sdk: ClaudeAgentSdkModule = await import('@anthropic-ai/claude-agent-sdk');
    expect(typeof sdk.query).toBe('function');
  });
});

describe('claude agent backend - settings', () => {
  const field = (settings: Partial<ClaudeAgentSettings>) => {
    try {
      createClaudeProvider({ backend: 'agent', workingDirectory, ...settings } as ClaudeAgentSettings);
      return 'no error';
    } catch (error) {
      return (error as AsmError).code === 'validation_error'
        ? (error as AsmError).details.field
        : 'other code';
    }
  };

  it('invalid values are validation_error naming the field', () => {
    expect(field({ workingDirectory: '' })).toBe('workingDirectory');
    expect(field({ workingDirectory: join(workingDirectory, 'missing') })).toBe('workingDirectory');
    expect(field({ permissionMode: 'yolo' as PermissionMode })).toBe('permissionMode');
    expect(field({ maxTurns: 0 })).toBe('maxTurns');
    expect(field({ model: '' })).toBe('model');
    expect(field({ allowedTools: ['Bash', ''] })).toBe('allowedTools');
    expect(field({ disallowedTools: 'Bash' as unknown as string[] })).toBe('disallowedTools');
    expect(field({ env: { KEY: 1 as unknown as string } })).toBe('env');
    expect(field({ settingSources: ['everything' as 'user'] })).toBe('settingSources');
    expect(field({ interruptTimeoutMs: -1 })).toBe('interruptTimeoutMs');
    expect(field({ sdkOptions: [] as unknown as Record<string, unknown> })).toBe('sdkOptions');
    expect(field({ executablePath: '' })).toBe('executablePath');
    expect(field({ permissionMode: 'accept_edits', maxTurns: 3, env: { A: undefined } })).toBe('no error');
  });

  it('the Messages API stays the default backend; the agent backend is typed and resumes natively', () => {
    expect(createClaudeProvider({ apiKey: 'k' }).backend).toBe('messages');
    const agent = createClaudeProvider({ backend: 'agent', workingDirectory, model: 'claude-sonnet-4-5' });
    expect(agent.backend).toBe('agent');
    expect(agent.name).toBe('claude');
    expect(agent.model).toBe('claude-sonnet-4-5');
    expect(agent.workingDirectory).toBe(workingDirectory);
    expect(agent.supportsNativeContinuation).toBe(true);
    expect(agent.capabilities()).toEqual(CLAUDE_AGENT_CAPABILITIES.map((capability) => ({ ...capability })));
    expect(agent.capabilities().map((capability) => capability.name)).toContain('bash');
    expect(() => agent.validateConfig?.()).not.toThrow();
  });

  it('permission modes map onto Claude Code; bypass is downgraded with a warning as root', () => {
    expect(mapClaudeAgentPermissionMode('default', false)).toEqual({ permissionMode: 'default' });
    expect(mapClaudeAgentPermissionMode('full_auto', false)).toEqual({ permissionMode: 'default' });
    expect(mapClaudeAgentPermissionMode('accept_edits', false)).toEqual({ permissionMode: 'acceptEdits' });
    expect(mapClaudeAgentPermissionMode('plan', true)).toEqual({ permissionMode: 'plan' });
    expect(mapClaudeAgentPermissionMode('dangerously_skip_permissions', false)).toEqual({
      permissionMode: 'bypassPermissions',
      allowDangerouslySkipPermissions: true,
    });
    const root = mapClaudeAgentPermissionMode('dangerously_skip_permissions', true);
    expect(root.permissionMode).toBe('default');
    expect(root.warning).toMatch(/^permission_mode_downgraded: /);
  });
});

describe('claude agent backend - prompt, events, usage and errors (no binary)', () => {
  it('claudeAgentPrompt - replays earlier turns as role lines, leaves out the run’s own messages', () => {
    const transcript: Transcript = {
      sessionId: 's',
      metadata: {},
      messages: [
        { role: 'user', content: 'Remember kiwi', metadata: { runId: 'run_1' } },
        { role: 'assistant', content: 'Noted.', metadata: { runId: 'run_1' } },
        { role: 'user', content: 'Which fruit?', metadata: { runId: 'run_2' } },
      ],
    };
    expect(claudeAgentPrompt('Which fruit?', transcript, 'run_2')).toBe(
      'user: Remember kiwi\nassistant: Noted.\n\nWhich fruit?',
    );
    expect(
      claudeAgentPrompt({
        messages: [
          { role: 'system', content: 'Be brief' },
          { role: 'user', content: 'Hi' },
        ],
      }),
    ).toBe('system: Be brief\n\nHi');
    expect(() => claudeAgentPrompt('')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('ClaudeAgentEventMapper - unknown messages are kept, unknown tool-like blocks carry data.raw', () => {
    const events: AdapterEvent[] = [];
    const mapper = new ClaudeAgentEventMapper(
      (event) => events.push(event),
      () => ({}),
    );
    mapper.handle({
      type: 'system',
      subtype: 'init',
      session_id: 'sess-1',
      model: 'm',
      cwd: '/w',
      tools: [],
    });
    mapper.handle({ type: 'system', subtype: 'status', status: 'requesting', session_id: 'sess-1' });
    mapper.handle({ type: 'brand_new_message', payload: 1 });
    mapper.handle({ type: 'system', subtype: 'brand_new_subtype' });
    const serverTool = { type: 'server_tool_use', id: 'srv_1', name: 'web_search', input: { query: 'x' } };
    const serverResult = {
      type: 'web_search_tool_result',
      tool_use_id: 'srv_1',
      content: [{ type: 'web_search_result' }],
    };
    mapper.handle({
      type: 'assistant',
      parent_tool_use_id: null,
      message: { content: [serverTool, serverResult, { type: 'mystery' }] },
    });
    expect(events.map((event) => event.type)).toEqual([
      'run_started',
      'tool_call_started',
      'tool_call_completed',
    ]);
    expect(events[0]?.data).toMatchObject({ model: 'm', providerSessionId: 'sess-1', cwd: '/w' });
    expect(events[1]?.data).toMatchObject({ toolCallId: 'srv_1', toolName: 'web_search', raw: serverTool });
    expect(events[2]?.data).toMatchObject({ toolCallId: 'srv_1', toolName: 'web_search', raw: serverResult });
    expect(mapper.unrecognized).toEqual([
      { type: 'brand_new_message', payload: 1 },
      { type: 'system', subtype: 'brand_new_subtype' },
      { type: 'mystery' },
    ]);
  });

  it('ClaudeAgentEventMapper - a subagent’s stream and text stay out; its tool calls name their parent', () => {
    const events: AdapterEvent[] = [];
    const mapper = new ClaudeAgentEventMapper(
      (event) => events.push(event),
      () => ({}),
    );
    mapper.handle({ type: 'system', subtype: 'init', session_id: 's' });
    mapper.handle({
      type: 'stream_event',
      parent_tool_use_id: 'task_1',
      event: { type: 'content_block_delta', delta: { type: 'text_delta', text: 'sub' } },
    });
    mapper.handle({
      type: 'assistant',
      parent_tool_use_id: 'task_1',
      message: {
        content: [
          { type: 'text', text: 'sub answer' },
          { type: 'tool_use', id: 't2', name: 'Read', input: {} },
        ],
      },
    });
    expect(events.map((event) => event.type)).toEqual(['run_started', 'tool_call_started']);
    expect(events[1]?.data).toMatchObject({ toolCallId: 't2', parentToolCallId: 'task_1' });
    expect(mapper.lastText).toBe('');
  });

  it('claudeAgentResultUsage - this run’s share of a resumed session, else modelUsage, else usage', () => {
    const model = {
      inputTokens: 10,
      outputTokens: 20,
      cacheReadInputTokens: 5,
      cacheCreationInputTokens: 7,
      costUSD: 0.5,
    };
    const doubled = {
      inputTokens: 20,
      outputTokens: 40,
      cacheReadInputTokens: 10,
      cacheCreationInputTokens: 14,
      costUSD: 1,
    };
    expect(
      claudeAgentResultUsage({
        model_usage_since_last_result: { a: model },
        modelUsage: { a: doubled },
        total_cost_usd: 1,
      }),
    ).toEqual({
      tokenUsage: {
        inputTokens: 10,
        outputTokens: 20,
        cacheReadTokens: 5,
        cacheWriteTokens: 7,
        totalTokens: 42,
      },
      costUsd: 0.5,
    });
    expect(
      claudeAgentResultUsage({ modelUsage: { a: model, b: model }, total_cost_usd: 1 }).tokenUsage
        .inputTokens,
    ).toBe(20);
    expect(
      claudeAgentResultUsage({
        usage: {
          input_tokens: 3,
          output_tokens: 4,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
        },
        total_cost_usd: 0.1,
      }),
    ).toEqual({
      tokenUsage: {
        inputTokens: 3,
        outputTokens: 4,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        totalTokens: 7,
      },
      costUsd: 0.1,
    });
  });

  it('claudeAgentApiError - codes come from status, then error type, then api_error, then the error enum, never from the text', () => {
    const code = (failure: Parameters<typeof claudeAgentApiError>[1]) =>
      claudeAgentApiError('claude', failure).code;
    expect(code({ status: 401, message: 'Rate limited (429)' })).toBe('provider_authentication_failed');
    expect(code({ status: 529 })).toBe('provider_unavailable');
    expect(code({ errorType: 'rate_limit_error' })).toBe('provider_rate_limited');
    expect(code({ apiError: 'connection_failed' })).toBe('provider_unavailable');
    expect(code({ error: 'billing_error' })).toBe('provider_quota_exceeded');
    expect(code({ error: 'something new', message: 'API Error: 429 rate limit' })).toBe('provider_error');
    const error = claudeAgentApiError('claude', {
      status: 429,
      errorType: 'rate_limit_error',
      requestId: 'req_1',
    });
    expect(error.providerError).toMatchObject({
      provider: 'claude',
      kind: 'rate_limit',
      status: 429,
      requestId: 'req_1',
    });
  });
});
