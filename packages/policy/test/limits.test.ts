import { calculateCost, type PricingTable, type TokenUsage } from '@asm/core';
import { describe, expect, it } from 'vitest';
import type { LimitKey } from '../src/index.js';
import { runWithPolicy, steppedClock } from './helpers.js';

const calls = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    id: `call_${index + 1}`,
    name: 'read_file',
    input: { index },
  }));

async function crossings(limitKey: LimitKey, limit: number, mock: Parameters<typeof runWithPolicy>[1]) {
  const run = await runWithPolicy(
    { name: 'budget', limits: { [limitKey]: limit }, onViolation: 'warn' },
    mock,
  );
  expect(run.error).toBeUndefined();
  return run;
}

describe('token limits (cumulative token_usage_updated)', () => {
  const cases: { key: LimitKey; metric: string; at: Partial<TokenUsage>; over: Partial<TokenUsage> }[] = [
    {
      key: 'maxTotalTokens',
      metric: 'totalTokens',
      at: { inputTokens: 100, outputTokens: 50 },
      over: { inputTokens: 100, outputTokens: 51 },
    },
    { key: 'maxInputTokens', metric: 'inputTokens', at: { inputTokens: 150 }, over: { inputTokens: 151 } },
    {
      key: 'maxOutputTokens',
      metric: 'outputTokens',
      at: { outputTokens: 150 },
      over: { outputTokens: 151 },
    },
  ];

  for (const { key, metric, at, over } of cases) {
    it(`${key} - not exceeded at the limit, exceeded at limit + 1`, async () => {
      const equal = await crossings(key, 150, { mock: { tokenUsage: at } });
      expect(equal.violations).toEqual([]);
      const above = await crossings(key, 150, { mock: { tokenUsage: over } });
      expect(above.violations).toEqual([
        {
          policy: 'budget',
          kind: 'budget_exceeded',
          action: 'warn',
          details: { metric, limitKey: key, limit: 150, actual: 151 },
        },
      ]);
    });
  }

  it('counts cache tokens in maxTotalTokens', async () => {
    const run = await crossings('maxTotalTokens', 150, {
      mock: { tokenUsage: { inputTokens: 100, outputTokens: 40, cacheReadTokens: 11 } },
    });
    expect(run.violations.map((violation) => violation.details)).toEqual([
      { metric: 'totalTokens', limitKey: 'maxTotalTokens', limit: 150, actual: 151 },
    ]);
  });

  it('emits one violation per crossing while usage keeps growing', async () => {
    const run = await crossings('maxInputTokens', 100, {
      mock: {
        events: [
          { type: 'token_usage_updated', data: { inputTokens: 90 } },
          { type: 'token_usage_updated', data: { inputTokens: 101 } },
          { type: 'token_usage_updated', data: { inputTokens: 300 } },
        ],
        tokenUsage: { inputTokens: 400 },
        // Pauses between deltas let the events be stored (and seen) while the provider still runs.
        deltas: 3,
        chunkDelayMs: 5,
      },
    });
    expect(run.violations).toHaveLength(1);
    expect(run.violations[0]!.details).toMatchObject({ actual: 101 });
  });
});

describe('maxToolCalls (tool_call_started)', () => {
  it('is not exceeded at the limit and exceeded at limit + 1', async () => {
    const equal = await crossings('maxToolCalls', 2, { mock: { toolCalls: calls(2) } });
    expect(equal.violations).toEqual([]);
    const above = await crossings('maxToolCalls', 2, { mock: { toolCalls: calls(3) } });
    expect(above.violations.map((violation) => violation.details)).toEqual([
      { metric: 'toolCalls', limitKey: 'maxToolCalls', limit: 2, actual: 3 },
    ]);
    // warn: the call beyond the budget still runs.
    expect(above.provider.calls[0]!.toolDecisions.map((decision) => decision.allow)).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('denies the call beyond the budget under cancel', async () => {
    const run = await runWithPolicy({ limits: { maxToolCalls: 2 } }, { mock: { toolCalls: calls(3) } });
    expect(run.error?.code).toBe('policy_violation');
    expect(run.provider.calls[0]!.toolDecisions.map((decision) => decision.allow)).toEqual([
      true,
      true,
      false,
    ]);
    expect(run.events.filter((event) => event.type === 'tool_call_completed')).toHaveLength(2);
  });
});

describe('maxDurationMs (time since the run started)', () => {
  it('is not exceeded at the limit and exceeded at limit + 1', async () => {
    const equal = await crossings('maxDurationMs', 60_000, { extension: { now: steppedClock(60_000) } });
    expect(equal.violations).toEqual([]);
    const above = await crossings('maxDurationMs', 60_000, { extension: { now: steppedClock(60_001) } });
    expect(above.violations.map((violation) => violation.details)).toEqual([
      { metric: 'durationMs', limitKey: 'maxDurationMs', limit: 60_000, actual: 60_001 },
    ]);
  });

  it('catches a provider that goes silent (timer) and cancels it', async () => {
    const run = await runWithPolicy({ limits: { maxDurationMs: 25 } }, { mock: { stall: true } });
    expect(run.error?.code).toBe('policy_violation');
    expect(run.provider.cancelledRuns).toEqual([run.runId]);
    expect(run.violations.map((violation) => violation.details.limitKey)).toEqual(['maxDurationMs']);
    expect(run.events.at(-1)?.type).toBe('run_failed');
  });
});

describe('maxCostUsd (pricing table, cache rates included)', () => {
  // Binary fractions keep the arithmetic exact: cost = 2×0.5 + 1×1 + 8×0.125 + 4×0.25 = 4.
  const table: PricingTable = {
    mock: { models: { 'exact-model': { input: 0.5, output: 1, cacheRead: 0.125, cacheWrite: 0.25 } } },
  };
  const usage = { inputTokens: 2, outputTokens: 1, cacheReadTokens: 8, cacheWriteTokens: 4 };

  it('prices cache tokens at their rates: not exceeded at the limit, exceeded one cache token later', async () => {
    const equal = await crossings('maxCostUsd', 4, {
      mock: { model: 'exact-model', tokenUsage: usage },
      extension: { pricingTable: table },
    });
    expect(equal.violations).toEqual([]);
    expect(equal.extension.report(equal.runId)?.usage.costUsd).toBe(4);
    const above = await crossings('maxCostUsd', 4, {
      mock: { model: 'exact-model', tokenUsage: { ...usage, cacheReadTokens: 9 } },
      extension: { pricingTable: table },
    });
    expect(above.violations.map((violation) => violation.details)).toEqual([
      {
        metric: 'costUsd',
        limitKey: 'maxCostUsd',
        limit: 4,
        actual: 4.125,
        provider: 'mock',
        model: 'exact-model',
        source: 'pricing_table',
      },
    ]);
  });

  it('uses the model of run_started with the default pricing table', async () => {
    const model = 'claude-sonnet-4-5-20250929';
    const base = { inputTokens: 1_000, outputTokens: 200, cacheReadTokens: 10_000, cacheWriteTokens: 800 };
    const limit = calculateCost(base, 'mock', model)!;
    expect(limit).toBeGreaterThan(calculateCost({ inputTokens: 1_000, outputTokens: 200 }, 'mock', model)!);
    const equal = await crossings('maxCostUsd', limit, { mock: { model, tokenUsage: base } });
    expect(equal.violations).toEqual([]);
    const over = { ...base, cacheWriteTokens: 801 };
    const above = await crossings('maxCostUsd', limit, { mock: { model, tokenUsage: over } });
    expect(above.violations).toHaveLength(1);
    expect(above.violations[0]!.details).toMatchObject({ actual: calculateCost(over, 'mock', model), model });
  });

  it('records a warning once and skips the limit when the model has no rates', async () => {
    const seen: string[] = [];
    const run = await runWithPolicy(
      { limits: { maxCostUsd: 0.000001 } },
      {
        mock: {
          model: 'unpriced-model',
          events: [{ type: 'token_usage_updated', data: { inputTokens: 1_000_000 } }],
          tokenUsage: { inputTokens: 2_000_000 },
        },
        extension: { onWarning: (warning) => seen.push(warning.code) },
      },
    );
    expect(run.error).toBeUndefined();
    expect(run.violations).toEqual([]);
    expect(seen).toEqual(['missing_cost_rates']);
    const report = run.extension.report(run.runId)!;
    expect(report.costEnforced).toBe(false);
    expect(report.warnings).toEqual([
      expect.objectContaining({
        code: 'missing_cost_rates',
        details: expect.objectContaining({ model: 'unpriced-model' }),
      }),
    ]);
    expect(run.result?.metadata.policy).toMatchObject({
      warnings: [{ code: 'missing_cost_rates' }],
      violations: [],
    });
  });

  it('enforces a cost the provider reports itself, even without rates', async () => {
    const run = await runWithPolicy(
      { limits: { maxCostUsd: 0.4 }, onViolation: 'warn' },
      { mock: { model: 'unpriced-model', costUsd: 0.5 } },
    );
    expect(run.violations.map((violation) => violation.details)).toEqual([
      expect.objectContaining({ metric: 'costUsd', actual: 0.5, source: 'provider' }),
    ]);
    expect(run.extension.report(run.runId)?.costEnforced).toBe(true);
  });
});
