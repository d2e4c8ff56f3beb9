import type { PricingTable } from '../cost.js';
import type { EventType, StoredEvent } from '../event.js';
import type { Run, RunStatus } from '../run.js';
import type { Session, SessionStatus } from '../session.js';
import type { TokenUsage } from '../token-usage.js';

/** Orders of `searchSessions`. Default `updatedAtDesc`. */
export type SessionOrder = 'updatedAtDesc' | 'createdAtAsc' | 'createdAtDesc';
/** Orders of `searchRuns`. Default `createdAtDesc`. */
export type RunOrder = 'createdAtDesc' | 'createdAtAsc' | 'totalTokensDesc';
/** Orders of `searchEvents`. Default `sequenceAsc` (by session, then sequence). */
export type EventOrder = 'sequenceAsc' | 'timestampAsc' | 'timestampDesc';

/** One page of results. `nextCursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

/** Filters of `searchSessions`. Time bounds are inclusive ISO-8601 strings. */
export interface SessionSearch {
  agentId?: string;
  status?: SessionStatus | SessionStatus[];
  /** Sessions with at least one run by one of these providers. */
  provider?: string | string[];
  /** Sessions carrying every one of these tags. */
  tags?: string[];
  createdAfter?: string;
  createdBefore?: string;
  orderBy?: SessionOrder;
  /** Default 50, at most 1,000. */
  limit?: number;
  cursor?: string;
}

/** Filters of `searchRuns`. */
export interface RunSearch {
  sessionId?: string;
  provider?: string | string[];
  status?: RunStatus | RunStatus[];
  createdAfter?: string;
  createdBefore?: string;
  /** Runs whose `tokenUsage.totalTokens` is at least this. */
  minTokens?: number;
  orderBy?: RunOrder;
  limit?: number;
  cursor?: string;
}

/** Filters of `searchEvents` and `countEvents`. */
export interface EventSearch {
  sessionIds?: string[];
  runIds?: string[];
  types?: EventType[];
  providers?: string[];
  since?: string;
  until?: string;
  correlationId?: string;
  orderBy?: EventOrder;
  /** Default 100, at most 1,000. */
  limit?: number;
  cursor?: string;
}

/** Filters of the usage and cost summaries (on the run's `createdAt`). */
export interface SummaryFilter {
  sessionId?: string;
  agentId?: string;
  provider?: string;
  since?: string;
  until?: string;
}

/** Counts of one session. */
export interface SessionStats {
  sessionId: string;
  eventCount: number;
  runCount: number;
  tokenTotals: TokenUsage;
  providersUsed: string[];
  firstEventAt?: string;
  lastEventAt?: string;
  runStatusCounts: Partial<Record<RunStatus, number>>;
}

/** Token totals, overall and per provider. */
export interface UsageSummary {
  runCount: number;
  tokens: TokenUsage;
  byProvider: Record<string, { runCount: number; tokens: TokenUsage }>;
}

/** Spend, overall, per provider and per model. */
export interface CostSummary {
  totalCostUsd: number;
  runCount: number;
  byProvider: Record<string, { costUsd: number; runCount: number }>;
  byModel: Record<string, { costUsd: number; runCount: number; inputTokens: number; outputTokens: number }>;
  /** Runs with tokens but no price (no stored cost, no rates for the model). */
  unpricedRuns: number;
}

/** Everything stored about a session. */
export interface SessionExport {
  session: Session;
  runs: Run[];
  events: StoredEvent[];
}

/**
 * Cross-session reads for dashboards and operators: an optional capability of a `SessionStore`.
 * Cursors are opaque, bound to the resource and the order; a cursor for another order, or a
 * tampered or malformed one, is `validation_error`. Database failures are `query_error`.
 * Proved by `testSessionQuery` from `@asm/testing`.
 */
export interface SessionQuery {
  searchSessions(search?: SessionSearch): Promise<Page<Session> & { totalCount: number }>;
  searchRuns(search?: RunSearch): Promise<Page<Run>>;
  searchEvents(search?: EventSearch): Promise<Page<StoredEvent>>;
  countEvents(search?: Omit<EventSearch, 'cursor' | 'limit' | 'orderBy'>): Promise<number>;
  /** `session_not_found` for an unknown session. */
  getSessionStats(sessionId: string): Promise<SessionStats>;
  getUsageSummary(filter?: SummaryFilter): Promise<UsageSummary>;
  /** Stored run costs first; otherwise priced after the fact with `pricingTable` (default table). */
  getCostSummary(filter?: SummaryFilter & { pricingTable?: PricingTable }): Promise<CostSummary>;
  /** `session_not_found` for an unknown session. */
  exportSession(sessionId: string): Promise<SessionExport>;
}

/** True when a store also answers `SessionQuery`. */
export function supportsSessionQuery<T extends object>(store: T): store is T & SessionQuery {
  const candidate = store as Partial<SessionQuery>;
  return (
    typeof candidate.searchSessions === 'function' &&
    typeof candidate.searchRuns === 'function' &&
    typeof candidate.searchEvents === 'function' &&
    typeof candidate.getSessionStats === 'function'
  );
}
