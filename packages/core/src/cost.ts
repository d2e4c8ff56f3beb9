import { AsmError } from './errors.js';
import { normalizeTokenUsage, type TokenUsage } from './token-usage.js';

/**
 * Prices of one model, in **USD per token** (a price of $3 per million tokens is `3e-6`).
 * Cache rates that are absent fall back as `calculateCost` describes.
 */
export interface PricingRates {
  input: number;
  output: number;
  /** Reading a cached prompt token. Default: `input`. */
  cacheRead?: number;
  /** Writing a prompt-cache token with the five-minute lifetime. Default: `input`. */
  cacheWrite?: number;
  /** Writing a prompt-cache token with the one-hour lifetime. Default: `cacheWrite`, then `input`. */
  cacheWrite1h?: number;
}

/** Prices of one provider: a fallback for unknown models and rates keyed by model name prefix. */
export interface ProviderPricing {
  /** Rates of a model that no key of `models` matches (and of an unknown model). */
  default?: PricingRates;
  /** Rates by model prefix: `claude-sonnet-4-5` also prices `claude-sonnet-4-5-20250929`. */
  models: Record<string, PricingRates>;
}

/** Prices by provider (adapter name: `claude`, `codex`, `amp`, or a third-party name). */
export type PricingTable = Record<string, ProviderPricing>;

/**
 * The day the rates of `DEFAULT_PRICING_TABLE` were written down. Providers change their prices:
 * apps that need exact figures pass their own table (`pricingTable`, merged over this one with
 * `mergePricingTables`) instead of relying on the defaults.
 */
export const PRICING_TABLE_DATE = '2026-11-25';

/** USD per token from USD per million tokens. */
function perMTok(usd: number): number {
  return usd / 1_000_000;
}

/** Anthropic rates: cache read 0.1× input, five-minute write 1.25× input, one-hour write 2× input. */
function claudeRates(inputPerMTok: number, outputPerMTok: number): PricingRates {
  return {
    input: perMTok(inputPerMTok),
    output: perMTok(outputPerMTok),
    cacheRead: perMTok(inputPerMTok / 10),
    cacheWrite: perMTok((inputPerMTok * 5) / 4),
    cacheWrite1h: perMTok(inputPerMTok * 2),
  };
}

/** OpenAI rates: cached input has its own price; cache writes are billed as input. */
function openAiRates(inputPerMTok: number, outputPerMTok: number, cachedInputPerMTok: number): PricingRates {
  return {
    input: perMTok(inputPerMTok),
    output: perMTok(outputPerMTok),
    cacheRead: perMTok(cachedInputPerMTok),
  };
}

const CLAUDE_SONNET = claudeRates(3, 15);
const GPT_5 = openAiRates(1.25, 10, 0.125);

/**
 * Built-in prices (as of `PRICING_TABLE_DATE`) for the bundled providers. Keys of `models` are model
 * name prefixes; the longest matching prefix wins. `amp` has no prices (Amp bills by its own credits),
 * so its cost is unknown unless the app supplies rates. Override with your own `pricingTable` when
 * prices change.
 */
export const DEFAULT_PRICING_TABLE: PricingTable = {
  claude: {
    default: CLAUDE_SONNET,
    models: {
      'claude-opus-4-6': claudeRates(5, 25),
      'claude-opus-4-5': claudeRates(5, 25),
      'claude-opus-4-1': claudeRates(15, 75),
      'claude-opus-4': claudeRates(15, 75),
      'claude-sonnet-4-5': CLAUDE_SONNET,
      'claude-sonnet-4': CLAUDE_SONNET,
      'claude-haiku-4-5': claudeRates(1, 5),
      'claude-3-5-haiku': claudeRates(0.8, 4),
    },
  },
  codex: {
    default: GPT_5,
    models: {
      'gpt-5': GPT_5,
      'gpt-5-codex': GPT_5,
      'gpt-5.1': GPT_5,
      'gpt-5.1-codex': GPT_5,
      'gpt-5-mini': openAiRates(0.25, 2, 0.025),
      'gpt-5-nano': openAiRates(0.05, 0.4, 0.005),
      'gpt-4.1': openAiRates(2, 8, 0.5),
      'gpt-4.1-mini': openAiRates(0.4, 1.6, 0.1),
      'gpt-4o': openAiRates(2.5, 10, 1.25),
      'gpt-4o-mini': openAiRates(0.15, 0.6, 0.075),
      o3: openAiRates(2, 8, 0.5),
      'o3-mini': openAiRates(1.1, 4.4, 0.275),
      'o4-mini': openAiRates(1.1, 4.4, 0.275),
    },
  },
  amp: { models: {} },
};

function isRate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function usableRates(rates: PricingRates | undefined): PricingRates | undefined {
  return rates && isRate(rates.input) && isRate(rates.output) ? rates : undefined;
}

/** The exact key, else the longest key that `model` starts with. */
function matchModel(models: Record<string, PricingRates>, model: string): PricingRates | undefined {
  const exact = Object.hasOwn(models, model) ? usableRates(models[model]) : undefined;
  if (exact) return exact;
  return longestPrefix(models, model)?.rates;
}

function longestPrefix(
  models: Record<string, PricingRates>,
  model: string,
): { key: string; rates: PricingRates } | undefined {
  let best: { key: string; rates: PricingRates } | undefined;
  for (const [key, value] of Object.entries(models)) {
    const rates = usableRates(value);
    if (rates && key !== '' && model.startsWith(key) && (!best || key.length > best.key.length)) {
      best = { key, rates };
    }
  }
  return best;
}

/**
 * The rates of a model: for a provider in the table, the exact model key, else the longest key the
 * model starts with, else the provider's `default` (a missing model goes straight to the default).
 * For a provider not in the table (a third-party adapter, a router name), every provider's models
 * are searched: an exact key first, then the longest prefix. `undefined` when nothing matches or the
 * matching entry lacks numeric `input` and `output`.
 */
export function resolveRates(
  provider: string | undefined,
  model: string | undefined,
  table: PricingTable = DEFAULT_PRICING_TABLE,
): PricingRates | undefined {
  const pricing =
    typeof provider === 'string' && Object.hasOwn(table, provider) ? table[provider] : undefined;
  if (pricing) {
    const models = pricing.models ?? {};
    const matched = typeof model === 'string' && model !== '' ? matchModel(models, model) : undefined;
    return matched ?? usableRates(pricing.default);
  }
  if (typeof model !== 'string' || model === '') return undefined;
  const providers = Object.values(table);
  for (const entry of providers) {
    const models = entry.models ?? {};
    const exact = Object.hasOwn(models, model) ? usableRates(models[model]) : undefined;
    if (exact) return exact;
  }
  let best: { key: string; rates: PricingRates } | undefined;
  for (const entry of providers) {
    const candidate = longestPrefix(entry.models ?? {}, model);
    if (candidate && (!best || candidate.key.length > best.key.length)) best = candidate;
  }
  return best?.rates;
}

/**
 * The cost of a usage in USD, or `undefined` when `resolveRates` finds no rates:
 *
 * `input × input + output × output + cacheRead × (cacheRead ?? input)
 *  + (cacheWrite − cacheWrite1h) × (cacheWrite ?? input)
 *  + cacheWrite1h × (cacheWrite1h ?? cacheWrite ?? input)`
 *
 * where the token counts come from `usage` (`cacheWriteTokens` includes the one-hour part,
 * `cacheWrite1hTokens`). Counts are normalized first: missing, negative or non-numeric ones are 0.
 */
export function calculateCost(
  usage: Partial<TokenUsage>,
  provider: string | undefined,
  model: string | undefined,
  table: PricingTable = DEFAULT_PRICING_TABLE,
): number | undefined {
  const rates = resolveRates(provider, model, table);
  if (!rates) return undefined;
  const tokens = normalizeTokenUsage(usage);
  const oneHour = tokens.cacheWrite1hTokens ?? 0;
  const fiveMinutes = tokens.cacheWriteTokens - oneHour;
  const cacheReadRate = isRate(rates.cacheRead) ? rates.cacheRead : rates.input;
  const cacheWriteRate = isRate(rates.cacheWrite) ? rates.cacheWrite : rates.input;
  const cacheWrite1hRate = isRate(rates.cacheWrite1h) ? rates.cacheWrite1h : cacheWriteRate;
  return (
    tokens.inputTokens * rates.input +
    tokens.outputTokens * rates.output +
    tokens.cacheReadTokens * cacheReadRate +
    fiveMinutes * cacheWriteRate +
    oneHour * cacheWrite1hRate
  );
}

/**
 * A new table: `base` with `override` laid over it. For a provider in both, the override's `default`
 * (when given) replaces the base one and its model entries replace those of the same key; other base
 * models stay. Providers only in `override` are added. Neither input is modified.
 */
export function mergePricingTables(base: PricingTable, override: PricingTable): PricingTable {
  const merged: PricingTable = {};
  for (const [provider, pricing] of Object.entries(base)) {
    merged[provider] = { ...pricing, models: { ...(pricing.models ?? {}) } };
  }
  for (const [provider, pricing] of Object.entries(override)) {
    const current = merged[provider];
    const entry: ProviderPricing = {
      models: { ...(current?.models ?? {}), ...(pricing.models ?? {}) },
    };
    const fallback = pricing.default ?? current?.default;
    if (fallback !== undefined) entry.default = fallback;
    merged[provider] = entry;
  }
  return merged;
}

function invalid(path: string, message: string): AsmError {
  return new AsmError('validation_error', `Invalid pricing table at ${path}: ${message}`, {
    details: { path },
  });
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateRates(value: unknown, path: string): void {
  if (!isPlainRecord(value)) throw invalid(path, 'rates must be an object');
  for (const key of ['input', 'output'] as const) {
    if (!isRate(value[key])) throw invalid(`${path}.${key}`, 'must be a non-negative number (USD per token)');
  }
  for (const key of ['cacheRead', 'cacheWrite', 'cacheWrite1h'] as const) {
    if (value[key] !== undefined && !isRate(value[key])) {
      throw invalid(`${path}.${key}`, 'must be a non-negative number (USD per token)');
    }
  }
}

/**
 * Checks a pricing table supplied by an app: an object of providers, each an object with an
 * optional `default` and a `models` object, every rate a finite non-negative number with `input` and
 * `output` present. Throws `validation_error` whose `details.path` names the offending entry
 * (`claude.models.claude-opus-4-6.input`).
 */
export function validatePricingTable(table: unknown): asserts table is PricingTable {
  if (!isPlainRecord(table)) throw invalid('(root)', 'a pricing table must be an object');
  for (const [provider, pricing] of Object.entries(table)) {
    if (!isPlainRecord(pricing)) throw invalid(provider, 'provider pricing must be an object');
    if (pricing.default !== undefined) validateRates(pricing.default, `${provider}.default`);
    if (!isPlainRecord(pricing.models)) throw invalid(`${provider}.models`, 'models must be an object');
    for (const [model, rates] of Object.entries(pricing.models)) {
      validateRates(rates, `${provider}.models.${model}`);
    }
  }
}
