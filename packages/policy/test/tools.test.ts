import type { EventData, ToolCall } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { runWithPolicy, typesOf } from './helpers.js';

const call = (id: string, name: string): ToolCall => ({ id, name, input: { id } });

const githubPolicy = {
  name: 'github',
  tools: { allow: ['read_file', 'mcp:github:*'], deny: ['mcp:github:delete_*'] },
};
const githubCalls = [
  call('c1', 'mcp:github:list_issues'),
  call('c2', 'mcp:github:delete_repo'),
  call('c3', 'bash'),
  call('c4', 'read_file'),
];

describe('tool rules', () => {
  for (const compiled of [false, true]) {
    it(`deny exact names and globs before the tool runs (${compiled ? 'with' : 'without'} compiled toolRules)`, async () => {
      const run = await runWithPolicy(
        { ...githubPolicy, onViolation: 'warn' },
        {
          // With compiled rules core refuses the calls itself and the extension learns of them from the
          // stored tool_call_started events: let them be stored before the run ends (see README).
          mock: { toolCalls: githubCalls, deltas: 2, chunkDelayMs: 5 },
          compiled,
        },
      );
      expect(run.error).toBeUndefined();
      const decisions = run.provider.calls[0]!.toolDecisions;
      expect(decisions.map((decision) => decision.allow)).toEqual([true, false, false, true]);
      expect(run.violations.map((violation) => violation.details)).toEqual([
        expect.objectContaining({ toolName: 'mcp:github:delete_repo', toolCallId: 'c2', rule: 'deny' }),
        expect.objectContaining({ toolName: 'bash', toolCallId: 'c3', rule: 'allow' }),
      ]);
      expect(run.violations.every((violation) => violation.kind === 'tool_denied')).toBe(true);
      const completed = run.events
        .filter((event) => event.type === 'tool_call_completed')
        .map((event) => (event.data as EventData<'tool_call_completed'>).toolName);
      expect(completed).toEqual(['mcp:github:list_issues', 'read_file']);
      expect(run.result?.metadata.policy).toMatchObject({
        violations: [{ kind: 'tool_denied' }, { kind: 'tool_denied' }],
      });
    });
  }

  it('gives the model the policy reason when the extension denies', async () => {
    const run = await runWithPolicy(
      { name: 'p', tools: { deny: ['mcp:github:*'] }, onViolation: 'warn' },
      { mock: { toolCalls: [call('c1', 'mcp:github:create_issue')] }, compiled: false },
    );
    expect(run.provider.calls[0]!.toolDecisions).toEqual([
      { allow: false, reason: 'Tool mcp:github:create_issue is denied by policy p (deny: mcp:github:*)' },
    ]);
  });

  it('passes the compiled hints to the adapter', async () => {
    const run = await runWithPolicy(
      { ...githubPolicy, limits: { maxTotalTokens: 5_000, maxOutputTokens: 9_000 } },
      { mock: {} },
    );
    const options = run.provider.calls[0]!.options;
    expect(options.toolRules).toEqual({
      allow: ['read_file', 'mcp:github:*'],
      deny: ['mcp:github:delete_*'],
    });
    expect(options.maxOutputTokens).toBe(5_000);
  });

  it('cancels on a denied tool under cancel, and later tools never run', async () => {
    const run = await runWithPolicy(githubPolicy, {
      mock: { toolCalls: [call('c1', 'bash'), call('c2', 'read_file')] },
      compiled: false,
    });
    expect(run.error?.code).toBe('policy_violation');
    expect(run.provider.calls[0]!.toolDecisions).toEqual([{ allow: false, reason: expect.any(String) }]);
    expect(typesOf(run.events)).not.toContain('tool_call_completed');
    expect(run.events.at(-1)?.type).toBe('run_failed');
  });
});

describe('approval gate (requestApproval)', () => {
  const gated = { ...githubPolicy, onViolation: 'requestApproval' as const };
  const gatedCalls = [call('c1', 'mcp:github:delete_repo'), call('c2', 'read_file')];
  const approvalTypes = (types: string[]) => types.filter((type) => type.startsWith('tool_approval'));

  it('blocks the call until it is approved, then runs it', async () => {
    const run = await runWithPolicy(gated, { mock: { toolCalls: gatedCalls }, approvals: 'approve' });
    expect(run.error).toBeUndefined();
    expect(run.provider.calls[0]!.toolDecisions.map((decision) => decision.allow)).toEqual([true, true]);
    const types = typesOf(run.events);
    expect(approvalTypes(types)).toEqual(['tool_approval_requested', 'tool_approval_granted']);
    expect(types.indexOf('policy_violation')).toBeLessThan(types.indexOf('tool_approval_requested'));
    expect(types.indexOf('tool_approval_granted')).toBeLessThan(types.indexOf('tool_call_completed'));
    const requested = run.events.find((event) => event.type === 'tool_approval_requested')!;
    expect(requested.data).toMatchObject({ toolCallId: 'c1', toolName: 'mcp:github:delete_repo' });
    expect(run.violations).toEqual([
      expect.objectContaining({
        kind: 'tool_denied',
        action: 'requestApproval',
        details: expect.objectContaining({ toolCallId: 'c1' }),
      }),
    ]);
    expect(run.extension.report(run.runId)?.approvalsRequested).toBe(1);
    expect(run.result?.metadata.policy).toMatchObject({ action: 'requestApproval' });
  });

  it('never runs a denied call', async () => {
    const run = await runWithPolicy(gated, { mock: { toolCalls: gatedCalls }, approvals: 'deny' });
    expect(run.error).toBeUndefined();
    const decisions = run.provider.calls[0]!.toolDecisions;
    expect(decisions[0]).toEqual({ allow: false, reason: 'Not today' });
    expect(decisions[1]).toEqual({ allow: true });
    expect(approvalTypes(typesOf(run.events))).toEqual(['tool_approval_requested', 'tool_approval_denied']);
    const completed = run.events
      .filter((event) => event.type === 'tool_call_completed')
      .map((event) => (event.data as EventData<'tool_call_completed'>).toolCallId);
    expect(completed).toEqual(['c2']);
    const failed = run.events.find((event) => event.type === 'tool_call_failed');
    expect(failed?.data).toMatchObject({ toolCallId: 'c1' });
  });

  it('denies the call when nobody answers in time', async () => {
    const run = await runWithPolicy(gated, {
      mock: { toolCalls: [gatedCalls[0]!] },
      config: { toolApprovalTimeoutMs: 40, eventStreamPollIntervalMs: 10 },
    });
    expect(run.error).toBeUndefined();
    expect(run.provider.calls[0]!.toolDecisions).toEqual([
      { allow: false, reason: 'No approval within 40 ms' },
    ]);
    expect(approvalTypes(typesOf(run.events))).toEqual(['tool_approval_requested', 'tool_approval_denied']);
    expect(run.events.find((event) => event.type === 'tool_approval_denied')?.data).toMatchObject({
      deniedBy: 'session_manager',
    });
    expect(typesOf(run.events)).not.toContain('tool_call_completed');
  });

  it('sends calls beyond maxToolCalls to the gate', async () => {
    const run = await runWithPolicy(
      { limits: { maxToolCalls: 1 }, onViolation: 'requestApproval' },
      { mock: { toolCalls: [call('c1', 'read_file'), call('c2', 'read_file')] }, approvals: 'deny' },
    );
    expect(run.provider.calls[0]!.toolDecisions.map((decision) => decision.allow)).toEqual([true, false]);
    expect(run.violations.map((violation) => violation.details)).toEqual([
      expect.objectContaining({ limitKey: 'maxToolCalls', actual: 2 }),
    ]);
    expect(run.events.find((event) => event.type === 'tool_approval_requested')?.data).toMatchObject({
      toolCallId: 'c2',
    });
  });

  it('sends every tool call to the gate once a budget was crossed', async () => {
    const run = await runWithPolicy(
      { ...gated, limits: { maxInputTokens: 100 } },
      {
        mock: {
          events: [{ type: 'token_usage_updated', data: { inputTokens: 101 } }],
          // c1 waits for approval; by then the usage event was seen, so c2 (allowed by the rules) is gated too.
          toolCalls: gatedCalls,
        },
        approvals: 'approve',
      },
    );
    expect(run.error).toBeUndefined();
    const requested = run.events
      .filter((event) => event.type === 'tool_approval_requested')
      .map((event) => (event.data as EventData<'tool_approval_requested'>).toolCallId);
    expect(requested).toEqual(['c1', 'c2']);
    expect(run.violations.map((violation) => violation.kind).sort()).toEqual([
      'budget_exceeded',
      'tool_denied',
    ]);
  });
});
