/**
 * Token usage of a run: the counts every provider reports, in one shape.
 *
 * `cacheWriteTokens` counts every token written to a prompt cache; `cacheWrite1hTokens` is the part of
 * it written with the one-hour lifetime (Anthropic bills it at a higher rate than the five-minute one).
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Part of `cacheWriteTokens` written with a one-hour lifetime. */
  cacheWrite1hTokens?: number;
  /** Input + output + cache read + cache write. */
  totalTokens: number;
}

/** A usage with every count at zero. */
export function emptyTokenUsage(): TokenUsage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, totalTokens: 0 };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.trunc(value) : 0;
}

/**
 * Normalizes a partial or loosely typed usage: missing, negative or non-numeric counts become 0,
 * fractions are truncated, and `totalTokens` is computed when absent.
 */
export function normalizeTokenUsage(
  usage: Partial<TokenUsage> | Record<string, unknown> | undefined,
): TokenUsage {
  const source = (usage ?? {}) as Record<string, unknown>;
  const result: TokenUsage = {
    inputTokens: count(source.inputTokens),
    outputTokens: count(source.outputTokens),
    cacheReadTokens: count(source.cacheReadTokens),
    cacheWriteTokens: count(source.cacheWriteTokens),
    totalTokens: 0,
  };
  const oneHour = count(source.cacheWrite1hTokens);
  if (oneHour > 0) result.cacheWrite1hTokens = Math.min(oneHour, result.cacheWriteTokens);
  const computed =
    result.inputTokens + result.outputTokens + result.cacheReadTokens + result.cacheWriteTokens;
  result.totalTokens = Math.max(count(source.totalTokens), computed);
  return result;
}

/** Adds two usages count by count. */
export function addTokenUsage(left: TokenUsage, right: Partial<TokenUsage>): TokenUsage {
  const other = normalizeTokenUsage(right);
  const sum: TokenUsage = {
    inputTokens: left.inputTokens + other.inputTokens,
    outputTokens: left.outputTokens + other.outputTokens,
    cacheReadTokens: left.cacheReadTokens + other.cacheReadTokens,
    cacheWriteTokens: left.cacheWriteTokens + other.cacheWriteTokens,
    totalTokens: left.totalTokens + other.totalTokens,
  };
  const oneHour = (left.cacheWrite1hTokens ?? 0) + (other.cacheWrite1hTokens ?? 0);
  if (oneHour > 0) sum.cacheWrite1hTokens = oneHour;
  return sum;
}
