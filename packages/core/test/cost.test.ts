import { describe, expect, it } from 'vitest';
import {
  calculateCost,
  DEFAULT_PRICING_TABLE,
  mergePricingTables,
  PRICING_TABLE_DATE,
  type PricingTable,
  resolveRates,
  validatePricingTable,
} from '../src/cost.js';
import { AsmError } from '../src/errors.js';

const M = 1_000_000;
const table: PricingTable = {
  acme: {
    default: { input: 1e-6, output: 2e-6 },
    models: {
      'acme-large': { input: 10e-6, output: 20e-6 },
      'acme-large-v2': { input: 30e-6, output: 40e-6 },
      acme: { input: 5e-6, output: 6e-6 },
    },
  },
  other: { models: { 'widget-pro': { input: 7e-6, output: 8e-6 }, widget: { input: 9e-6, output: 9e-6 } } },
};

function validationPath(value: unknown): unknown {
  try {
    validatePricingTable(value);
  } catch (error) {
    if (AsmError.isInstance(error) && error.code === 'validation_error') return error.details.path;
    throw error;
  }
  return undefined;
}

describe('calculateCost', () => {
  it('calculateCost - prices input tokens', () => {
    expect(calculateCost({ inputTokens: M }, 'claude', 'claude-sonnet-4-5')).toBeCloseTo(3, 10);
  });

  it('calculateCost - prices output tokens', () => {
    expect(calculateCost({ outputTokens: M }, 'claude', 'claude-sonnet-4-5')).toBeCloseTo(15, 10);
  });

  it('calculateCost - prices cache reads at 0.1x input for Claude', () => {
    expect(calculateCost({ cacheReadTokens: M }, 'claude', 'claude-opus-4-6')).toBeCloseTo(0.5, 10);
  });

  it('calculateCost - prices five-minute cache writes at 1.25x input', () => {
    expect(calculateCost({ cacheWriteTokens: M }, 'claude', 'claude-haiku-4-5')).toBeCloseTo(1.25, 10);
  });

  it('calculateCost - prices one-hour cache writes at 2x input', () => {
    const usage = { cacheWriteTokens: 3 * M, cacheWrite1hTokens: M };
    // 2M five-minute writes at $3.75 + 1M one-hour writes at $6.
    expect(calculateCost(usage, 'claude', 'claude-sonnet-4-5')).toBeCloseTo(2 * 3.75 + 6, 10);
  });

  it('calculateCost - sums every token class', () => {
    const usage = {
      inputTokens: 1000,
      outputTokens: 2000,
      cacheReadTokens: 3000,
      cacheWriteTokens: 4000,
      cacheWrite1hTokens: 1000,
    };
    const expected = (1000 * 15 + 2000 * 75 + 3000 * 1.5 + 3000 * 18.75 + 1000 * 30) / M;
    expect(calculateCost(usage, 'claude', 'claude-opus-4-1-20250805')).toBeCloseTo(expected, 12);
  });

  it('calculateCost - falls back to the input rate for missing cache rates', () => {
    const usage = { cacheReadTokens: M, cacheWriteTokens: 2 * M, cacheWrite1hTokens: M };
    expect(calculateCost(usage, 'acme', 'acme-large', table)).toBeCloseTo(30, 10);
    // OpenAI has a cached-input rate but no write rate: writes cost input.
    expect(calculateCost({ cacheReadTokens: M, cacheWriteTokens: M }, 'codex', 'gpt-5')).toBeCloseTo(
      0.125 + 1.25,
      10,
    );
  });

  it('calculateCost - one-hour writes fall back to the five-minute rate', () => {
    const custom: PricingTable = { p: { models: { m: { input: 1e-6, output: 1e-6, cacheWrite: 4e-6 } } } };
    expect(calculateCost({ cacheWriteTokens: M, cacheWrite1hTokens: M }, 'p', 'm', custom)).toBeCloseTo(
      4,
      10,
    );
  });

  it('calculateCost - treats negative and non-numeric counts as zero', () => {
    const usage = { inputTokens: -5, outputTokens: 'x' } as unknown as { inputTokens: number };
    expect(calculateCost(usage, 'claude', 'claude-sonnet-4-5')).toBe(0);
  });

  it('calculateCost - is undefined when no rates match', () => {
    expect(calculateCost({ inputTokens: 10 }, 'amp', 'whatever')).toBeUndefined();
    expect(calculateCost({ inputTokens: 10 }, 'mystery', 'unknown-model')).toBeUndefined();
    expect(calculateCost({ inputTokens: 10 }, undefined, undefined)).toBeUndefined();
  });
});

describe('resolveRates', () => {
  it('resolveRates - an exact key wins over a prefix', () => {
    expect(resolveRates('acme', 'acme-large', table)?.input).toBe(10e-6);
    expect(resolveRates('acme', 'acme', table)?.input).toBe(5e-6);
  });

  it('resolveRates - the longest prefix wins', () => {
    expect(resolveRates('acme', 'acme-large-v2-2025', table)?.input).toBe(30e-6);
    expect(resolveRates('acme', 'acme-large-2024', table)?.input).toBe(10e-6);
    expect(resolveRates('acme', 'acme-small', table)?.input).toBe(5e-6);
    expect(resolveRates('claude', 'claude-opus-4-1-20250805')?.input).toBeCloseTo(15e-6, 15);
    expect(resolveRates('claude', 'claude-opus-4-20250514')?.input).toBeCloseTo(15e-6, 15);
    expect(resolveRates('claude', 'claude-opus-4-5-20251101')?.input).toBeCloseTo(5e-6, 15);
    expect(resolveRates('codex', 'gpt-4o-mini-2024-07-18')?.input).toBeCloseTo(0.15e-6, 15);
  });

  it('resolveRates - falls back to the provider default', () => {
    expect(resolveRates('acme', 'unrelated', table)?.input).toBe(1e-6);
    expect(resolveRates('acme', undefined, table)?.input).toBe(1e-6);
    expect(resolveRates('claude', 'claude-future-9')).toEqual(
      DEFAULT_PRICING_TABLE.claude?.models['claude-sonnet-4-5'],
    );
    expect(resolveRates('codex', undefined)).toEqual(DEFAULT_PRICING_TABLE.codex?.models['gpt-5']);
  });

  it('resolveRates - searches every provider for an unknown provider', () => {
    expect(resolveRates('my-adapter', 'widget', table)?.input).toBe(9e-6);
    expect(resolveRates('my-adapter', 'widget-pro-max', table)?.input).toBe(7e-6);
    expect(resolveRates('router', 'acme-large-v2', table)?.input).toBe(30e-6);
    expect(resolveRates('openrouter', 'claude-haiku-4-5-20251001')?.input).toBeCloseTo(1e-6, 15);
  });

  it('resolveRates - an exact key in any provider beats a longer-named provider prefix', () => {
    const custom: PricingTable = {
      a: { models: { 'm-1': { input: 1, output: 1 } } },
      b: { models: { m: { input: 2, output: 2 } } },
    };
    expect(resolveRates('x', 'm', custom)?.input).toBe(2);
    expect(resolveRates('x', 'm-1-beta', custom)?.input).toBe(1);
  });

  it('resolveRates - is undefined when nothing matches', () => {
    expect(resolveRates('amp', 'claude-sonnet-4-5')).toBeUndefined();
    expect(resolveRates('amp', undefined)).toBeUndefined();
    expect(resolveRates('nobody', 'nothing', table)).toBeUndefined();
    expect(resolveRates('nobody', undefined, table)).toBeUndefined();
  });
});

describe('pricing table', () => {
  it('DEFAULT_PRICING_TABLE - has dated, valid Claude and Codex prices and none for Amp', () => {
    expect(PRICING_TABLE_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(() => validatePricingTable(DEFAULT_PRICING_TABLE)).not.toThrow();
    const claude = DEFAULT_PRICING_TABLE.claude;
    for (const rates of Object.values(claude?.models ?? {})) {
      expect(rates.cacheRead).toBeCloseTo(rates.input * 0.1, 15);
      expect(rates.cacheWrite).toBeCloseTo(rates.input * 1.25, 15);
      expect(rates.cacheWrite1h).toBeCloseTo(rates.input * 2, 15);
    }
    expect(claude?.models['claude-3-5-haiku']?.output).toBeCloseTo(4e-6, 15);
    expect(DEFAULT_PRICING_TABLE.codex?.models['o4-mini']).toMatchObject({ input: 1.1e-6, output: 4.4e-6 });
    expect(DEFAULT_PRICING_TABLE.amp).toEqual({ models: {} });
  });

  it('mergePricingTables - override providers and models replace, the rest stays', () => {
    const merged = mergePricingTables(DEFAULT_PRICING_TABLE, {
      claude: { models: { 'claude-sonnet-4-5': { input: 1e-6, output: 1e-6 } } },
      amp: { default: { input: 2e-6, output: 3e-6 }, models: {} },
      acme: { models: { acme: { input: 4e-6, output: 4e-6 } } },
    });
    expect(merged.claude?.models['claude-sonnet-4-5']?.input).toBe(1e-6);
    expect(merged.claude?.models['claude-opus-4-6']).toEqual(
      DEFAULT_PRICING_TABLE.claude?.models['claude-opus-4-6'],
    );
    expect(merged.claude?.default).toEqual(DEFAULT_PRICING_TABLE.claude?.default);
    expect(merged.amp?.default?.input).toBe(2e-6);
    expect(merged.acme?.models.acme?.input).toBe(4e-6);
    expect(DEFAULT_PRICING_TABLE.claude?.models['claude-sonnet-4-5']?.input).toBeCloseTo(3e-6, 15);
    expect(DEFAULT_PRICING_TABLE.amp?.default).toBeUndefined();
  });

  it('validatePricingTable - rejects bad rates with the path', () => {
    expect(validationPath(null)).toBe('(root)');
    expect(validationPath({ p: 3 })).toBe('p');
    expect(validationPath({ p: { default: { input: 1 }, models: {} } })).toBe('p.default.output');
    expect(validationPath({ p: { models: { m: { input: -1, output: 1 } } } })).toBe('p.models.m.input');
    expect(validationPath({ p: { models: { m: { input: 1, output: 1, cacheRead: '0.1' } } } })).toBe(
      'p.models.m.cacheRead',
    );
    expect(validationPath({ p: { models: { m: { input: 1, output: Number.NaN } } } })).toBe(
      'p.models.m.output',
    );
    expect(validationPath({ p: { default: { input: 1, output: 1 } } })).toBe('p.models');
    expect(
      validationPath({ p: { models: { m: { input: 0, output: 0, cacheWrite1h: 0 } } } }),
    ).toBeUndefined();
  });
});
