/**
 * The dataset layout and the query cases a SQL store can prove its query plans on: fill a database
 * with 1,000,000 events laid out as `queryPlanDataset` describes, run every case, capture the SQL at
 * the driver, EXPLAIN it and assert index use. The fill SQL and the plan expectations belong to each
 * store (they name its dialect and its indexes); the layout and the cases are shared, so every store
 * answers the same calls on the same data.
 */
import type { SessionQuery, SessionStore, StoredEvent } from '@asm/core';
import { expect } from 'vitest';

const SESSIONS = 1_000;
const EVENTS_PER_SESSION = 1_000;
const RUNS_PER_SESSION = 4;
const GROUP = 100;
const EVENTS_PER_RUN = EVENTS_PER_SESSION / RUNS_PER_SESSION;
const BASE_SECONDS = Date.UTC(2026, 0, 1) / 1000;

const hexId = (prefix: string, index: number): string => `${prefix}${index.toString(16).padStart(32, '0')}`;
const sessionId = (index: number): string => hexId('ses_', index);
const runId = (index: number): string => hexId('run_', index);
const eventSecond = (session: number, sequence: number): number =>
  Math.floor(session / GROUP) * GROUP * EVENTS_PER_SESSION + (sequence - 1) * GROUP + (session % GROUP);
const isoAt = (second: number): string => new Date((BASE_SECONDS + second) * 1000).toISOString();
const eventSecondSql = (session: string, sequence: string): string =>
  `(${session} / ${GROUP}) * ${GROUP * EVENTS_PER_SESSION} + (${sequence} - 1) * ${GROUP} + ${session} % ${GROUP}`;

/** The first second of the one-hour window the `since`/`until` cases read (3,600 events). */
const WINDOW_START = isoAt(eventSecond(300, 1) + 3_600);
/** The last second of that window (inclusive). */
const WINDOW_END = isoAt(eventSecond(300, 1) + 7_199);
/** The second of the newest event in the dataset. */
const lastSecond = eventSecond(SESSIONS - 1, EVENTS_PER_SESSION);

/**
 * The layout of the query-plan dataset, which a store's fill SQL must reproduce for the cases of
 * `queryPlanCases` to hold.
 *
 * - `sessions` sessions (`sessionId(s)`, `s` from 0), agent `agent_${s % 5}`, status `failed` when
 *   `s % 10 = 3`, `active` when `s % 10` is 0 or 9, otherwise `completed`; created at the second of
 *   their first event, updated at the second of their last.
 * - `runsPerSession` runs per session (`runId(j)`, `j` from 0, session `j / runsPerSession`), status
 *   `failed` when `j % 10 = 7`, otherwise `completed`; provider `claude`, `codex`, `amp` by `j % 3`;
 *   token usage with `totalTokens = 150 + j % 997 + j % 13`.
 * - `eventsPerSession` events per session (sequences 1..n, ids growing session by session), their
 *   timestamps at `isoAt(eventSecond(s, sequence))`: sessions run in groups of `group` at a time, one
 *   event per second across the group. The first event of a session is `session_started`, without run
 *   or provider. Then per run of `eventsPerRun` events (position `p`): `message_sent` (p = 0),
 *   `run_started` (p = 1), five `tool_call_started`/`tool_call_completed` pairs (p % 50 = 20, 21)
 *   sharing the correlation id `corr_${hex(j)}_${p / 50}`, `token_usage_updated` (second to last),
 *   then `run_completed` (`run_failed` for one run in ten); the rest `message_streamed`.
 */
export const queryPlanDataset = {
  /** Number of sessions. */
  sessions: SESSIONS,
  /** Events in each session. */
  eventsPerSession: EVENTS_PER_SESSION,
  /** Runs in each session. */
  runsPerSession: RUNS_PER_SESSION,
  /** Sessions run in groups of this many at a time, one event per second across the group. */
  group: GROUP,
  /** Events in each run. */
  eventsPerRun: EVENTS_PER_RUN,
  /** Unix seconds of second 0 (2026-01-01T00:00:00Z). */
  baseSeconds: BASE_SECONDS,
  /** The id of session `index`: `ses_` and 32 hex digits. */
  sessionId,
  /** The id of run `index`: `run_` and 32 hex digits. */
  runId,
  /** The second (from `baseSeconds`) of an event: groups follow each other, their sessions interleave. */
  eventSecond,
  /** The ISO timestamp (`toISOString()` form) of a second offset. */
  isoAt,
  /**
   * `eventSecond` as a SQL expression over two integer expressions (integer division, so it holds in
   * SQLite and PostgreSQL alike).
   */
  eventSecondSql,
  /** The first second of the one-hour window the `since`/`until` cases read (3,600 events). */
  windowStart: WINDOW_START,
  /** The last second of that window (inclusive). */
  windowEnd: WINDOW_END,
  /** The second of the newest event in the dataset. */
  lastSecond,
} as const;

/** The store the cases call: a session store that answers `SessionQuery`. */
export type QueryPlanStore = SessionStore & SessionQuery;

/** One store call whose statements a store's test explains. */
export interface QueryPlanCase {
  /** Unique; a store's test keys its plan expectation by it. */
  name: string;
  /** Runs the call (sometimes two, to follow a cursor) on a store filled with the dataset. */
  call(store: QueryPlanStore): Promise<unknown>;
  /** Checks the answer with vitest `expect`, so the case proves the method works on the big database. */
  check(result: unknown): void;
}

/**
 * The plan expectation the SQLite and PostgreSQL stores attach to each case. A store may use its own
 * shape with `queryPlanCasesWith`; this one is a suggestion.
 */
export interface QueryPlanExpectation {
  /** The events index the plan must use (cases that read events). Absent: the plan reads no events. */
  eventsIndex?: RegExp;
  /** Why sorting events is fine here: a small set, bounded by an index. Absent: no sort of events. */
  sortReason?: string;
  /** Why walking an events index with a filter is acceptable here. */
  note?: string;
}

const firstOf = (result: unknown): StoredEvent => (result as { items: StoredEvent[] }).items[0]!;
const itemsOf = <T = StoredEvent>(result: unknown): T[] => (result as { items: T[] }).items;

/**
 * Every `SessionQuery` and `getEvents` call a store proves its plans on, in order, with the check of
 * its answer on the `queryPlanDataset` data.
 */
export const queryPlanCases: readonly QueryPlanCase[] = [
  {
    name: 'searchSessions: default order (updatedAtDesc)',
    call: (s) => s.searchSessions({}),
    check: (result) => {
      expect((result as { totalCount: number }).totalCount).toBe(SESSIONS);
      expect(itemsOf<{ id: string }>(result)[0]!.id).toBe(sessionId(SESSIONS - 1));
    },
  },
  {
    name: 'searchSessions: agentId',
    call: (s) => s.searchSessions({ agentId: 'agent_3', limit: 20 }),
    check: (result) => expect((result as { totalCount: number }).totalCount).toBe(SESSIONS / 5),
  },
  {
    name: 'searchSessions: status',
    call: (s) => s.searchSessions({ status: ['failed'], orderBy: 'createdAtAsc' }),
    check: (result) => expect((result as { totalCount: number }).totalCount).toBe(SESSIONS / 10),
  },
  {
    name: 'searchRuns: default order (createdAtDesc)',
    call: (s) => s.searchRuns({}),
    check: (result) => expect(itemsOf(result)).toHaveLength(50),
  },
  {
    name: 'searchRuns: sessionId',
    call: (s) => s.searchRuns({ sessionId: sessionId(123) }),
    check: (result) => expect(itemsOf(result)).toHaveLength(RUNS_PER_SESSION),
  },
  {
    name: 'searchRuns: status',
    call: (s) => s.searchRuns({ status: 'failed', limit: 10 }),
    check: (result) => expect(itemsOf(result)).toHaveLength(10),
  },
  {
    name: 'searchRuns: totalTokensDesc',
    call: (s) => s.searchRuns({ orderBy: 'totalTokensDesc', limit: 10 }),
    check: (result) => expect(itemsOf(result)).toHaveLength(10),
  },
  {
    name: 'searchEvents: no filter (default order, sequenceAsc)',
    call: (s) => s.searchEvents({}),
    check: (result) => expect(firstOf(result).sessionId).toBe(sessionId(0)),
  },
  {
    name: 'searchEvents: no filter, sequenceAsc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ limit: 999 });
      return s.searchEvents({ limit: 10, cursor: first.nextCursor! });
    },
    check: (result) => expect(itemsOf(result).map((event) => event.sessionId)).toContain(sessionId(1)),
  },
  {
    name: 'searchEvents: one session, sequenceAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(42)], limit: 100 }),
    check: (result) => expect(firstOf(result).sequence).toBe(1),
  },
  {
    name: 'searchEvents: three sessions, sequenceAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(7), sessionId(500), sessionId(999)] }),
    check: (result) => expect(firstOf(result).sessionId).toBe(sessionId(7)),
  },
  {
    name: 'searchEvents: sequenceAsc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ sessionIds: [sessionId(7), sessionId(500)], limit: 100 });
      return s.searchEvents({
        sessionIds: [sessionId(7), sessionId(500)],
        limit: 100,
        cursor: first.nextCursor!,
      });
    },
    check: (result) => expect(firstOf(result).sequence).toBe(101),
  },
  {
    name: 'searchEvents: runIds',
    call: (s) => s.searchEvents({ runIds: [runId(8), runId(2_001)] }),
    check: (result) => expect(firstOf(result).runId).toBe(runId(8)),
  },
  {
    name: 'searchEvents: sessionIds + types',
    call: (s) =>
      s.searchEvents({
        sessionIds: [sessionId(9), sessionId(10)],
        types: ['tool_call_started', 'run_failed'],
      }),
    check: (result) => expect(itemsOf(result)).toHaveLength(2 * RUNS_PER_SESSION * 5 + 1),
  },
  {
    name: 'searchEvents: one session, timestampAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(77)], orderBy: 'timestampAsc', limit: 20 }),
    check: (result) => expect(firstOf(result).sequence).toBe(1),
  },
  {
    name: 'searchEvents: two old sessions, timestampDesc',
    call: (s) =>
      s.searchEvents({ sessionIds: [sessionId(3), sessionId(4)], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).sequence).toBe(EVENTS_PER_SESSION),
  },
  {
    name: 'searchEvents: all sessions, timestampDesc, limit 50',
    call: (s) => s.searchEvents({ orderBy: 'timestampDesc', limit: 50 }),
    check: (result) => expect(firstOf(result).timestamp).toBe(isoAt(lastSecond)),
  },
  {
    name: 'searchEvents: all sessions, timestampDesc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ orderBy: 'timestampDesc', limit: 50 });
      return s.searchEvents({ orderBy: 'timestampDesc', limit: 50, cursor: first.nextCursor! });
    },
    check: (result) => expect(firstOf(result).timestamp).toBe(isoAt(lastSecond - 50)),
  },
  {
    name: 'searchEvents: since/until window (one hour), timestampAsc',
    call: (s) => s.searchEvents({ since: WINDOW_START, until: WINDOW_END, orderBy: 'timestampAsc' }),
    check: (result) => expect(firstOf(result).timestamp).toBe(WINDOW_START),
  },
  {
    name: 'searchEvents: since/until window (one hour), timestampAsc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ since: WINDOW_START, until: WINDOW_END, orderBy: 'timestampAsc' });
      return s.searchEvents({
        since: WINDOW_START,
        until: WINDOW_END,
        orderBy: 'timestampAsc',
        cursor: first.nextCursor!,
      });
    },
    check: (result) => expect(firstOf(result).timestamp).toBe(isoAt(eventSecond(300, 1) + 3_700)),
  },
  {
    name: 'searchEvents: since/until window (one hour), sequenceAsc',
    call: (s) => s.searchEvents({ since: WINDOW_START, until: WINDOW_END }),
    check: (result) => expect(itemsOf(result)).toHaveLength(100),
  },
  {
    name: 'searchEvents: correlationId',
    call: (s) => s.searchEvents({ correlationId: 'corr_1f4_2' }),
    check: (result) =>
      expect(itemsOf(result).map((event) => event.type)).toEqual([
        'tool_call_started',
        'tool_call_completed',
      ]),
  },
  {
    name: 'searchEvents: providers only, timestampDesc',
    call: (s) => s.searchEvents({ providers: ['codex'], orderBy: 'timestampDesc', limit: 50 }),
    check: (result) => expect(firstOf(result).provider).toBe('codex'),
  },
  {
    name: 'searchEvents: a rare type only, timestampDesc',
    call: (s) => s.searchEvents({ types: ['run_failed'], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).type).toBe('run_failed'),
  },
  {
    name: 'searchEvents: a common type only, timestampDesc',
    call: (s) => s.searchEvents({ types: ['message_streamed'], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).type).toBe('message_streamed'),
  },
  {
    name: 'searchEvents: a rare type only, sequenceAsc',
    call: (s) => s.searchEvents({ types: ['run_failed'], limit: 20 }),
    check: (result) => expect(firstOf(result).sessionId).toBe(sessionId(1)),
  },
  {
    name: 'searchEvents: providers only, sequenceAsc',
    call: (s) => s.searchEvents({ providers: ['amp'], limit: 20 }),
    check: (result) => expect(firstOf(result).provider).toBe('amp'),
  },
  {
    name: 'countEvents: one session',
    call: (s) => s.countEvents({ sessionIds: [sessionId(321)] }),
    check: (result) => expect(result).toBe(EVENTS_PER_SESSION),
  },
  {
    name: 'countEvents: one session and type',
    call: (s) => s.countEvents({ sessionIds: [sessionId(321)], types: ['tool_call_started'] }),
    check: (result) => expect(result).toBe(RUNS_PER_SESSION * 5),
  },
  {
    name: 'countEvents: since/until window (one hour)',
    call: (s) => s.countEvents({ since: WINDOW_START, until: WINDOW_END }),
    check: (result) => expect(result).toBe(3_600),
  },
  {
    name: 'getSessionStats',
    call: (s) => s.getSessionStats(sessionId(654)),
    check: (result) => {
      expect(result).toMatchObject({ eventCount: EVENTS_PER_SESSION, runCount: RUNS_PER_SESSION });
      expect((result as { firstEventAt: string }).firstEventAt).toBe(isoAt(eventSecond(654, 1)));
    },
  },
  {
    name: 'getEvents: whole session',
    call: (s) => s.getEvents(sessionId(888)),
    check: (result) => expect(result).toHaveLength(EVENTS_PER_SESSION),
  },
  {
    name: 'getEvents: after a cursor, limit 100',
    call: (s) => s.getEvents(sessionId(888), { after: 900, limit: 100 }),
    check: (result) => expect((result as StoredEvent[])[0]!.sequence).toBe(901),
  },
  {
    name: 'getEvents: one run',
    call: (s) => s.getEvents(sessionId(888), { runId: runId(888 * 4 + 2) }),
    check: (result) => expect(result).toHaveLength(EVENTS_PER_RUN),
  },
  {
    name: 'getEvents: one type',
    call: (s) => s.getEvents(sessionId(888), { types: ['tool_call_started'] }),
    check: (result) => expect(result).toHaveLength(RUNS_PER_SESSION * 5),
  },
  {
    name: 'getEvents: two types',
    call: (s) => s.getEvents(sessionId(888), { types: ['tool_call_started', 'run_failed'], limit: 10 }),
    check: (result) => expect(result).toHaveLength(10),
  },
];

/**
 * `queryPlanCases`, each joined with a store's own plan expectation (keyed by case name), in order.
 * Throws when a case has no expectation, or an expectation names no case, so a store's test cannot
 * silently skip a case the shared list gains, nor keep one it lost.
 */
export function queryPlanCasesWith<Expectation extends object>(
  expectations: Readonly<Record<string, Expectation>>,
): Array<QueryPlanCase & Expectation> {
  const names = new Set(queryPlanCases.map((testCase) => testCase.name));
  const missing = [...names].filter((name) => !Object.hasOwn(expectations, name));
  const unknown = Object.keys(expectations).filter((name) => !names.has(name));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      [
        ...missing.map((name) => `query plan case without an expectation: ${name}`),
        ...unknown.map((name) => `plan expectation for no query plan case: ${name}`),
      ].join('\n'),
    );
  }
  return queryPlanCases.map((testCase) => ({ ...expectations[testCase.name]!, ...testCase }));
}
