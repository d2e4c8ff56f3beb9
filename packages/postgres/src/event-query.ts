/**
 * The `EventQuery` of `getEvents`, checked (`validation_error` for bad values) and turned into the
 * bounds the SQL uses, and the other list bounds of the store.
 */
import { AsmError, type EventQuery, isIsoTimestamp } from '@asm/core';
import { type Instant, toInstant } from './timestamps.js';

/** The largest `integer` (sequence column): cursors beyond it are clamped. */
export const MAX_SEQUENCE = 2_147_483_647;

/** A `getEvents` query, checked and ready for SQL. */
export interface NormalizedQuery {
  after: number;
  /** Exclusive upper bound, `undefined` when unbounded. */
  before: number | undefined;
  limit: number | undefined;
  runId: string | undefined;
  types: string[] | undefined;
  since: Instant | undefined;
}

/** Checks a query; `undefined` is the unbounded query. */
export function normalizeQuery(query: EventQuery | undefined): NormalizedQuery {
  if (query === undefined) {
    return {
      after: 0,
      before: undefined,
      limit: undefined,
      runId: undefined,
      types: undefined,
      since: undefined,
    };
  }
  if (typeof query !== 'object' || query === null) {
    throw new AsmError('validation_error', 'query must be an object', { details: { field: 'query' } });
  }
  const { after, before, runId, types, since } = query;
  if (after !== undefined && !(Number.isInteger(after) && after >= 0)) {
    throw new AsmError('validation_error', 'after must be a non-negative integer', {
      details: { field: 'after', value: after },
    });
  }
  if (before !== undefined && !(Number.isInteger(before) && before >= 0)) {
    throw new AsmError('validation_error', 'before must be a non-negative integer', {
      details: { field: 'before', value: before },
    });
  }
  const limit = checkLimit(query.limit);
  if (runId !== undefined && typeof runId !== 'string') {
    throw new AsmError('validation_error', 'runId must be a string', { details: { field: 'runId' } });
  }
  if (types !== undefined && !(Array.isArray(types) && types.every((type) => typeof type === 'string'))) {
    throw new AsmError('validation_error', 'types must be an array of event types', {
      details: { field: 'types' },
    });
  }
  if (since !== undefined && !isIsoTimestamp(since)) {
    throw new AsmError('validation_error', 'since must be an ISO-8601 timestamp', {
      details: { field: 'since', value: since },
    });
  }
  return {
    after: Math.min(after ?? 0, MAX_SEQUENCE),
    before,
    limit,
    runId,
    types: types === undefined ? undefined : [...types],
    since: since === undefined ? undefined : toInstant(since, 'since'),
  };
}

/** A positive integer, or `undefined` when absent. */
export function checkLimit(limit: unknown): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit === 'number' && Number.isInteger(limit) && limit > 0) return limit;
  throw new AsmError('validation_error', 'limit must be a positive integer', {
    details: { field: 'limit', value: limit },
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
