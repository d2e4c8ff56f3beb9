import { AsmError, checkEventQuery, type EventQuery } from '@asm/core';

/** An `EventQuery` checked and turned into the bounds the store reads with. */
export interface NormalizedQuery {
  /** Events with `sequence > after`. */
  after: number;
  /** Events with `sequence < before`; `Infinity` when unbounded. */
  before: number;
  /** `Infinity` when unbounded. */
  limit: number;
  runId: string | undefined;
  types: readonly string[] | undefined;
  sinceMs: number | undefined;
  /** True when `runId`, `types` or `since` is set, so entries must be inspected one by one. */
  filtered: boolean;
}

/** The query with no bounds and no filters. */
export const UNBOUNDED_QUERY: NormalizedQuery = {
  after: 0,
  before: Number.POSITIVE_INFINITY,
  limit: Number.POSITIVE_INFINITY,
  runId: undefined,
  types: undefined,
  sinceMs: undefined,
  filtered: false,
};

/** Checks a query (`validation_error` naming the field) and normalizes it (core's shared check). */
export function normalizeQuery(query: EventQuery): NormalizedQuery {
  return checkEventQuery(query);
}

/** A positive integer, or `Infinity` when absent. */
export function checkLimit(limit: unknown, field = 'limit'): number {
  if (limit === undefined) return Number.POSITIVE_INFINITY;
  if (typeof limit === 'number' && Number.isInteger(limit) && limit > 0) return limit;
  throw new AsmError('validation_error', `${field} must be a positive integer`, {
    details: { field, value: limit },
  });
}

/** A non-negative integer, 0 when absent. */
export function checkOffset(offset: unknown): number {
  if (offset === undefined) return 0;
  if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  throw new AsmError('validation_error', 'offset must be a non-negative integer', {
    details: { field: 'offset', value: offset },
  });
}

/** The statuses of a `status` filter (one or several), or `undefined` when there is none. */
export function statusList(status: unknown): string[] | undefined {
  if (status === undefined) return undefined;
  const list = Array.isArray(status) ? status : [status];
  if (!list.every((item) => typeof item === 'string')) {
    throw new AsmError('validation_error', 'status must be a status or an array of statuses', {
      details: { field: 'status' },
    });
  }
  return [...new Set<string>(list)];
}
