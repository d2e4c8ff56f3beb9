import { normalizeTokenUsage, type TokenUsage } from '@asm/core';

/**
 * Usage as Codex reports it in `turn.completed`: **cumulative for the whole thread**, across turns
 * and processes (a resumed thread keeps counting). Cached and cache-write tokens are part of
 * `inputTokens`; reasoning tokens are part of `outputTokens`.
 */
export interface CodexCumulativeUsage {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens: number;
  outputTokens: number;
  reasoningOutputTokens: number;
}

/**
 * Keeps the last cumulative usage of each Codex thread, so the next run on that thread reports only
 * its own tokens. The default keeps it in memory; pass a persistent one (backed by your database)
 * when runs of one thread may execute in different processes.
 */
export interface CodexThreadUsageStore {
  get(threadId: string): CodexCumulativeUsage | undefined | Promise<CodexCumulativeUsage | undefined>;
  set(threadId: string, usage: CodexCumulativeUsage): void | Promise<void>;
}

/** An in-memory `CodexThreadUsageStore` that forgets the least recently used threads beyond `limit`. */
export function createMemoryThreadUsageStore(limit = 1_000): CodexThreadUsageStore {
  const entries = new Map<string, CodexCumulativeUsage>();
  return {
    get(threadId) {
      const usage = entries.get(threadId);
      if (usage !== undefined) {
        entries.delete(threadId);
        entries.set(threadId, usage);
      }
      return usage;
    },
    set(threadId, usage) {
      entries.delete(threadId);
      entries.set(threadId, { ...usage });
      while (entries.size > limit) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.trunc(value) : 0;
}

/** Reads the snake_case usage of a `turn.completed` event. */
export function parseCodexUsage(raw: unknown): CodexCumulativeUsage {
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    inputTokens: count(source.input_tokens),
    cachedInputTokens: count(source.cached_input_tokens),
    cacheWriteInputTokens: count(source.cache_write_input_tokens),
    outputTokens: count(source.output_tokens),
    reasoningOutputTokens: count(source.reasoning_output_tokens),
  };
}

/**
 * The usage of one run: `current − previous` count by count (each floored at 0, in case the thread's
 * history was compacted), or `current` itself when nothing is known of the thread.
 */
export function usageDelta(
  current: CodexCumulativeUsage,
  previous: CodexCumulativeUsage | undefined,
): CodexCumulativeUsage {
  if (!previous) return { ...current };
  const minus = (a: number, b: number) => Math.max(0, a - b);
  return {
    inputTokens: minus(current.inputTokens, previous.inputTokens),
    cachedInputTokens: minus(current.cachedInputTokens, previous.cachedInputTokens),
    cacheWriteInputTokens: minus(current.cacheWriteInputTokens, previous.cacheWriteInputTokens),
    outputTokens: minus(current.outputTokens, previous.outputTokens),
    reasoningOutputTokens: minus(current.reasoningOutputTokens, previous.reasoningOutputTokens),
  };
}

/**
 * Usage in the OpenAI shape (cached and cache-write tokens inside input, reasoning inside output) as
 * core's `TokenUsage`, where `inputTokens` is only the uncached part, so the pricing table bills
 * each token once: input at the input rate, cached at the cache-read rate.
 */
export function toTokenUsage(usage: {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteInputTokens: number;
  outputTokens: number;
}): TokenUsage {
  const cacheRead = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const cacheWrite = Math.min(usage.cacheWriteInputTokens, usage.inputTokens - cacheRead);
  return normalizeTokenUsage({
    inputTokens: usage.inputTokens - cacheRead - cacheWrite,
    outputTokens: usage.outputTokens,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    totalTokens: usage.inputTokens + usage.outputTokens,
  });
}
