import { AsmError } from '@asm/core';

/**
 * How the router orders the providers it may use for a run:
 * - `priority`: the `prefer` list first, in its order, then the others in registration order;
 * - `weighted`: by score `weight − failurePenalty × recent failures`, highest first; ties go to the
 *   earlier `prefer` entry, then to registration order;
 * - `round-robin`: registration order, rotated by one position for every run.
 */
export type RoutingStrategy = 'priority' | 'weighted' | 'round-robin';

/** The strategies, for validation. */
export const ROUTING_STRATEGIES: readonly RoutingStrategy[] = ['priority', 'weighted', 'round-robin'];

/** The weight of a provider the `weights` map does not list. */
export const DEFAULT_WEIGHT = 1;
/** What each recent failure takes off a provider's weighted score. */
export const DEFAULT_FAILURE_PENALTY = 0.5;

/** Inputs of `orderCandidates`. */
export interface OrderInput {
  strategy: RoutingStrategy;
  /** Provider ids in registration order (already filtered). */
  ids: readonly string[];
  prefer?: readonly string[];
  weights?: Readonly<Record<string, number>>;
  /** Recent failures per provider (the weighted penalty); missing means 0. */
  failures?: Readonly<Record<string, number>>;
  failurePenalty?: number;
  /** Round-robin position: the run counter (any integer; taken modulo the number of ids). */
  rotation?: number;
}

/** Weighted score of a provider: `weight − penalty × failures`. */
export function weightedScore(
  id: string,
  weights: Readonly<Record<string, number>> | undefined,
  failures: number,
  failurePenalty = DEFAULT_FAILURE_PENALTY,
): number {
  const weight = weights?.[id];
  return (weight ?? DEFAULT_WEIGHT) - failurePenalty * failures;
}

/** Orders provider ids by a strategy. Pure: the same input gives the same order. */
export function orderCandidates(input: OrderInput): string[] {
  const ids = [...input.ids];
  const prefer = input.prefer ?? [];
  const preferIndex = (id: string) => {
    const index = prefer.indexOf(id);
    return index === -1 ? Number.POSITIVE_INFINITY : index;
  };
  switch (input.strategy) {
    case 'priority': {
      const preferred = prefer.filter((id) => ids.includes(id));
      return [...preferred, ...ids.filter((id) => !preferred.includes(id))];
    }
    case 'weighted': {
      const registration = new Map(ids.map((id, index) => [id, index]));
      const score = new Map(
        ids.map((id) => [
          id,
          weightedScore(id, input.weights, input.failures?.[id] ?? 0, input.failurePenalty),
        ]),
      );
      return ids.sort(
        (a, b) =>
          score.get(b)! - score.get(a)! ||
          preferIndex(a) - preferIndex(b) ||
          registration.get(a)! - registration.get(b)!,
      );
    }
    case 'round-robin': {
      if (ids.length === 0) return ids;
      const offset = (((input.rotation ?? 0) % ids.length) + ids.length) % ids.length;
      return [...ids.slice(offset), ...ids.slice(0, offset)];
    }
    default: {
      const unknown: never = input.strategy;
      throw new AsmError('validation_error', `Unknown routing strategy: ${String(unknown)}`, {
        details: { field: 'strategy' },
      });
    }
  }
}
