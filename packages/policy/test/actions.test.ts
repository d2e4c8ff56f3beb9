import { AsmError, isTerminalRunEventType } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { definePolicy, LIMIT_KEYS, type PolicyReport } from '../src/index.js';
import { runWithPolicy, typesOf } from './helpers.js';

const overBudget = { tokenUsage: { inputTokens: 101, outputTokens: 0 } };

describe('cancel', () => {
  it('fails the run with policy_violation although the provider reported success', async () => {
    const run = await runWithPolicy(
      { name: 'strict', limits: { maxInputTokens: 100 } },
      { mock: overBudget },
    );
    expect(run.provider.calls[0]!.outcome).toBe('completed');
    expect(run.result).toBeUndefined();
    expect(AsmError.isInstance(run.error)).toBe(true);
    expect(run.error!.code).toBe('policy_violation');
    expect(run.error!.details).toMatchObject({
      policy: 'strict',
      status: 'failed',
      violations: [{ policy: 'strict', kind: 'budget_exceeded', action: 'cancel' }],
    });
    const stored = await run.manager.getRun(run.runId);
    expect(stored?.status).toBe('failed');
    expect(stored?.error?.code).toBe('policy_violation');
    const terminal = run.events.filter((event) => isTerminalRunEventType(event.type));
    expect(terminal.map((event) => event.type)).toEqual(['run_failed']);
    expect(run.events.at(-1)?.type).toBe('run_failed');
    expect(run.events.at(-1)?.data).toMatchObject({ errorCode: 'policy_violation' });
    expect(run.violations).toHaveLength(1);
    const types = typesOf(run.events);
    expect(types.indexOf('policy_violation')).toBeLessThan(types.indexOf('run_failed'));
  });

  it('aborts a running provider once, mid-run, and the run still ends failed when the provider ignores it', async () => {
    const run = await runWithPolicy(
      { limits: { maxInputTokens: 100, maxOutputTokens: 100 } },
      {
        mock: {
          ignoreAbort: true,
          events: [{ type: 'token_usage_updated', data: { inputTokens: 500, outputTokens: 500 } }],
          deltas: 4,
          chunkDelayMs: 5,
          tokenUsage: { inputTokens: 500, outputTokens: 500 },
        },
      },
    );
    const report = run.extension.report(run.runId) as PolicyReport;
    expect(report.cancelRequested).toBe(true);
    expect(run.provider.calls[0]!.options.signal.aborted).toBe(true);
    expect(run.provider.calls[0]!.outcome).toBe('completed');
    expect(run.error?.code).toBe('policy_violation');
    expect(run.violations.map((violation) => violation.details.limitKey)).toEqual([
      'maxInputTokens',
      'maxOutputTokens',
    ]);
    expect((await run.manager.getRun(run.runId))?.status).toBe('failed');
    expect(run.events.at(-1)?.type).toBe('run_failed');
  });

  it('stops a streaming provider through its signal', async () => {
    const run = await runWithPolicy(
      { limits: { maxOutputTokens: 10 } },
      {
        mock: {
          events: [{ type: 'token_usage_updated', data: { outputTokens: 11 } }],
          deltas: 200,
          chunkDelayMs: 5,
        },
      },
    );
    expect(run.error?.code).toBe('policy_violation');
    expect(run.provider.cancelledRuns).toEqual([run.runId]);
    expect(
      run.events.filter((event) => isTerminalRunEventType(event.type)).map((event) => event.type),
    ).toEqual(['run_failed']);
  });
});

describe('warn', () => {
  it('keeps success and exposes the violations on the result, the report and onReport', async () => {
    const reports: PolicyReport[] = [];
    const run = await runWithPolicy(
      { name: 'soft', limits: { maxInputTokens: 100 }, onViolation: 'warn', metadata: { owner: 'ops' } },
      { mock: overBudget, extension: { onReport: (report) => void reports.push(report) } },
    );
    expect(run.error).toBeUndefined();
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([
      {
        policy: 'soft',
        kind: 'budget_exceeded',
        action: 'warn',
        details: { metric: 'inputTokens', limitKey: 'maxInputTokens', limit: 100, actual: 101 },
      },
    ]);
    expect(run.result?.metadata.policy).toMatchObject({
      name: 'soft',
      action: 'warn',
      metadata: { owner: 'ops' },
      violations: [{ kind: 'budget_exceeded', details: { actual: 101 } }],
    });
    expect((await run.manager.getRun(run.runId))?.metadata.policy).toMatchObject({ action: 'warn' });
    const report = run.extension.report(run.runId)!;
    expect(report).toMatchObject({
      violated: true,
      status: 'completed',
      cancelRequested: false,
      action: 'warn',
    });
    expect(run.extension.lastReport).toEqual(report);
    expect(reports).toEqual([report]);
    expect(run.events.at(-1)?.type).toBe('run_completed');
  });

  it('leaves the result untouched when nothing is violated', async () => {
    const run = await runWithPolicy({ limits: { maxInputTokens: 100 }, onViolation: 'warn' });
    expect(run.result?.metadata.policy).toBeUndefined();
    expect(run.extension.report(run.runId)).toMatchObject({ violated: false, violations: [] });
  });
});

describe('requestApproval on a budget', () => {
  it('records the violation and lets the run finish, like warn', async () => {
    const run = await runWithPolicy(
      { limits: { maxInputTokens: 100 }, onViolation: 'requestApproval' },
      { mock: overBudget },
    );
    expect(run.error).toBeUndefined();
    expect(run.violations).toEqual([
      expect.objectContaining({ action: 'requestApproval', kind: 'budget_exceeded' }),
    ]);
    expect(typesOf(run.events)).not.toContain('tool_approval_requested');
  });
});

describe('stacking at run time', () => {
  it('enforces the later limit with the strictest action', async () => {
    const org = definePolicy({ name: 'org', limits: { maxInputTokens: 1_000 }, onViolation: 'cancel' });
    const run = { name: 'run', limits: { maxInputTokens: 100 }, onViolation: 'warn' as const };
    const below = await runWithPolicy([org, run], { mock: { tokenUsage: { inputTokens: 100 } } });
    expect(below.error).toBeUndefined();
    const above = await runWithPolicy([org, run], { mock: overBudget });
    expect(above.error?.code).toBe('policy_violation');
    expect(above.violations).toEqual([
      expect.objectContaining({
        policy: 'org + run',
        action: 'cancel',
        details: expect.objectContaining({ limit: 100 }),
      }),
    ]);
  });
});

describe('preflight', () => {
  const refused = async (policy: Parameters<typeof runWithPolicy>[0], check: string) => {
    const run = await runWithPolicy(policy);
    expect(run.provider.calls.length).toBe(0);
    expect(run.error?.code).toBe('policy_violation');
    expect(run.error?.details).toMatchObject({ checks: [check], status: 'failed' });
    expect((await run.manager.getRun(run.runId))?.status).toBe('failed');
    expect(typesOf(run.events)).toEqual(['policy_violation', 'run_started', 'run_failed']);
    expect(run.violations[0]).toMatchObject({
      kind: 'preflight_failed',
      action: 'cancel',
      details: { check },
    });
    return run;
  };

  it('refuses an empty allow list without calling the provider', async () => {
    await refused({ tools: { allow: [] } }, 'empty_allow_list');
  });

  it('refuses every zero budget, whatever the action', async () => {
    for (const key of LIMIT_KEYS) {
      const run = await refused({ limits: { [key]: 0 }, onViolation: 'warn' }, 'zero_budget');
      expect(run.violations[0]!.details).toEqual({ check: 'zero_budget', limits: [key] });
    }
  });

  it('refuses a tool both allowed and denied', async () => {
    const run = await refused(
      [
        { name: 'org', tools: { allow: ['bash', 'read'] } },
        { name: 'team', tools: { deny: ['bash'] } },
      ],
      'contradictory_rules',
    );
    expect(run.violations[0]!.details).toEqual({ check: 'contradictory_rules', tools: ['bash'] });
  });

  it('lists every problem', async () => {
    const run = await runWithPolicy({ tools: { allow: [] }, limits: { maxToolCalls: 0 } });
    expect(run.provider.calls.length).toBe(0);
    expect(run.error?.details.checks).toEqual(['empty_allow_list', 'zero_budget']);
    expect(run.violations).toHaveLength(2);
  });
});
