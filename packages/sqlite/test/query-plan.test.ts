/**
 * Query plans on a database of 1,000,000 events: every statement the store issues for `SessionQuery`
 * and `getEvents` is captured at the driver (a wrapped `prepare`), then explained with the same bind
 * values (`EXPLAIN QUERY PLAN`). No statement may scan the events table in full, and none may sort
 * events unless the case says why the sorted set is small and bounded by an index.
 *
 * `ASM_PRINT_PLANS=1` writes the plans as markdown to `/tmp/notes/query-plans-sqlite.md` (or to the
 * path given instead of `1`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StoredEvent } from '@asm/core';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore, type SqliteSessionStore } from '../src/index.js';
import { tempFolder } from './helpers.js';

const SESSIONS = 1_000;
const EVENTS_PER_SESSION = 1_000;
const RUNS_PER_SESSION = 4;
/** Sessions run in groups of 100 at a time, one event per second across the group. */
const GROUP = 100;
const EVENTS_PER_RUN = EVENTS_PER_SESSION / RUNS_PER_SESSION;
const BASE_SECONDS = Date.UTC(2026, 0, 1) / 1000;

const hexId = (prefix: string, index: number): string => `${prefix}${index.toString(16).padStart(32, '0')}`;
const sessionId = (index: number): string => hexId('ses_', index);
const runId = (index: number): string => hexId('run_', index);
/** The second (from BASE_SECONDS) of an event: groups follow each other, their sessions interleave. */
const eventSecond = (session: number, sequence: number): number =>
  Math.floor(session / GROUP) * GROUP * EVENTS_PER_SESSION + (sequence - 1) * GROUP + (session % GROUP);
const isoAt = (second: number): string => new Date((BASE_SECONDS + second) * 1000).toISOString();
/** The ISO timestamp SQL of `strftime` for a second offset expression. */
const isoSql = (expression: string): string =>
  `strftime('%Y-%m-%dT%H:%M:%fZ', ${BASE_SECONDS} + (${expression}), 'unixepoch')`;
const secondSql = (session: string, sequence: string): string =>
  `(${session} / ${GROUP}) * ${GROUP * EVENTS_PER_SESSION} + (${sequence} - 1) * ${GROUP} + ${session} % ${GROUP}`;

/**
 * One statement per table, each a recursive CTE. Events are inserted session by session (ids grow in
 * that order); their timestamps interleave the 100 sessions of a group. Per run of 250 events:
 * `message_sent`, `run_started`, five `tool_call_started`/`tool_call_completed` pairs sharing a
 * correlation id, `token_usage_updated`, then `run_completed` (`run_failed` for one run in ten); the
 * rest `message_streamed`. The first event of a session is `session_started`, without run or provider.
 */
const FILL_SQL = `
INSERT INTO asm_sessions (id, agent_id, status, metadata, context, tags, created_at, updated_at)
WITH RECURSIVE n(s) AS (SELECT 0 UNION ALL SELECT s + 1 FROM n WHERE s < ${SESSIONS - 1})
SELECT printf('ses_%032x', s), 'agent_' || (s % 5),
  CASE WHEN s % 10 = 3 THEN 'failed' WHEN s % 10 IN (0, 9) THEN 'active' ELSE 'completed' END,
  '{}', '{}', '[]', ${isoSql(secondSql('s', '1'))}, ${isoSql(secondSql('s', String(EVENTS_PER_SESSION)))}
FROM n;
INSERT INTO asm_session_sequences (session_id, last_sequence) SELECT id, ${EVENTS_PER_SESSION} FROM asm_sessions;
INSERT INTO asm_runs (id, session_id, status, input, token_usage, cost_usd, provider, provider_metadata,
  created_at, started_at, ended_at)
WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j < ${SESSIONS * RUNS_PER_SESSION - 1}),
  r AS (SELECT j, j / ${RUNS_PER_SESSION} AS s, (j % ${RUNS_PER_SESSION}) * ${EVENTS_PER_RUN} + 1 AS first FROM n)
SELECT printf('run_%032x', j), printf('ses_%032x', s),
  CASE WHEN j % 10 = 7 THEN 'failed' ELSE 'completed' END, '{"messages":[]}',
  json_object('inputTokens', 100 + j % 997, 'outputTokens', 50 + j % 13, 'cacheReadTokens', 0,
    'cacheWriteTokens', 0, 'totalTokens', 150 + j % 997 + j % 13),
  (j % 50) / 100.0, CASE j % 3 WHEN 0 THEN 'claude' WHEN 1 THEN 'codex' ELSE 'amp' END, '{"model":"model-a"}',
  ${isoSql(secondSql('s', 'first'))}, ${isoSql(secondSql('s', 'first + 1'))},
  ${isoSql(secondSql('s', `first + ${EVENTS_PER_RUN - 1}`))}
FROM r;
INSERT INTO asm_events (id, session_id, sequence, type, timestamp, run_id, data, metadata, schema_version,
  provider, correlation_id)
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${SESSIONS * EVENTS_PER_SESSION - 1}),
  e AS (SELECT i, i / ${EVENTS_PER_SESSION} AS s, i % ${EVENTS_PER_SESSION} + 1 AS seq FROM n),
  f AS (SELECT i, s, seq, s * ${RUNS_PER_SESSION} + (seq - 1) / ${EVENTS_PER_RUN} AS j,
    (seq - 1) % ${EVENTS_PER_RUN} AS p FROM e)
SELECT printf('evt_%032x', i), printf('ses_%032x', s), seq,
  CASE WHEN seq = 1 THEN 'session_started' WHEN p = 0 THEN 'message_sent' WHEN p = 1 THEN 'run_started'
    WHEN p = ${EVENTS_PER_RUN - 1} THEN CASE WHEN j % 10 = 7 THEN 'run_failed' ELSE 'run_completed' END
    WHEN p = ${EVENTS_PER_RUN - 2} THEN 'token_usage_updated'
    WHEN p % 50 = 20 THEN 'tool_call_started' WHEN p % 50 = 21 THEN 'tool_call_completed'
    ELSE 'message_streamed' END,
  ${isoSql(secondSql('s', 'seq'))},
  CASE WHEN seq = 1 THEN NULL ELSE printf('run_%032x', j) END,
  CASE WHEN p > 1 AND p < ${EVENTS_PER_RUN - 2} AND p % 50 NOT IN (20, 21)
    THEN '{"kind":"text","delta":"chunk"}' ELSE '{}' END,
  '{}', 1,
  CASE WHEN seq = 1 THEN NULL WHEN j % 3 = 0 THEN 'claude' WHEN j % 3 = 1 THEN 'codex' ELSE 'amp' END,
  CASE WHEN p % 50 IN (20, 21) THEN printf('corr_%x_%d', j, p / 50) END
FROM f;
`;

/** A statement the store ran, with its bind values. */
interface Captured {
  sql: string;
  params: unknown[];
}

/** One store call whose statements are explained. */
interface PlanCase {
  name: string;
  call(store: SqliteSessionStore): Promise<unknown>;
  /** Checks the answer, so the case proves the method works on the big database. */
  check(result: unknown): void;
  /** The events index the plan must use (cases that read events). */
  eventsIndex?: RegExp;
  /** Why sorting events is fine here: a small set, bounded by an index. Absent: no sort of events. */
  sortReason?: string;
  /** Why walking an events index with a filter is acceptable here. */
  note?: string;
}

const print = process.env.ASM_PRINT_PLANS;
const notesPath =
  print === undefined || print === '' || print === '0'
    ? undefined
    : print === '1'
      ? '/tmp/notes/query-plans-sqlite.md'
      : print;

const folder = tempFolder('query-plan');
let database: Database.Database;
let store: SqliteSessionStore;
let capturing = false;
const captured: Captured[] = [];
let explain: (statement: Captured) => string[];
const timings: Record<string, number> = {};
const report: string[] = [];
const started = performance.now();

/** Wraps `prepare` so every run of a statement (through `all`, `get`, `run`, `iterate`) is recorded. */
function captureStatements(target: Database.Database): (sql: string) => Database.Statement {
  const prepare = target.prepare.bind(target);
  const wrapped = (sql: string): Database.Statement => {
    const statement = prepare(sql);
    for (const method of ['all', 'get', 'run', 'iterate'] as const) {
      const original = statement[method] as (...params: unknown[]) => unknown;
      Object.defineProperty(statement, method, {
        value(this: Database.Statement, ...params: unknown[]) {
          if (capturing) captured.push({ sql, params });
          return original.apply(this, params);
        },
      });
    }
    return statement;
  };
  target.prepare = wrapped as Database.Database['prepare'];
  return prepare;
}

beforeAll(() => {
  const path = join(folder.path, 'plans.db');
  database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  const prepare = captureStatements(database);
  explain = (statement) =>
    (
      prepare(`EXPLAIN QUERY PLAN ${statement.sql}`).all(...statement.params) as Array<{ detail: string }>
    ).map((row) => row.detail);
  // The shipped migrations define the schema.
  store = createSqliteStore({ database });
  let mark = performance.now();
  database.exec(`BEGIN; ${FILL_SQL} COMMIT;`);
  timings.fill = performance.now() - mark;
  mark = performance.now();
  database.exec('ANALYZE');
  timings.analyze = performance.now() - mark;
}, 300_000);

afterAll(async () => {
  await store?.close();
  database?.close();
  folder.remove();
  if (notesPath !== undefined) {
    timings.total = performance.now() - started;
    mkdirSync(dirname(notesPath), { recursive: true });
    const header = [
      '## SQLite: query plans on 1,000,000 events',
      '',
      `${SESSIONS} sessions × ${EVENTS_PER_SESSION} events, ${SESSIONS * RUNS_PER_SESSION} runs. ` +
        `Fill ${seconds(timings.fill)}, ANALYZE ${seconds(timings.analyze)}, whole file ${seconds(timings.total)}.`,
      '',
    ];
    writeFileSync(notesPath, [...header, ...report].join('\n'));
  }
});

function seconds(ms: number | undefined): string {
  return ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`;
}

const firstOf = (result: unknown): StoredEvent => (result as { items: StoredEvent[] }).items[0]!;
const itemsOf = <T = StoredEvent>(result: unknown): T[] => (result as { items: T[] }).items;
const WINDOW_START = isoAt(eventSecond(300, 1) + 3_600);
const WINDOW_END = isoAt(eventSecond(300, 1) + 7_199);
const lastSecond = eventSecond(SESSIONS - 1, EVENTS_PER_SESSION);

const cases: PlanCase[] = [
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
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'searchEvents: no filter, sequenceAsc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ limit: 999 });
      return s.searchEvents({ limit: 10, cursor: first.nextCursor! });
    },
    check: (result) => expect(itemsOf(result).map((event) => event.sessionId)).toContain(sessionId(1)),
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'searchEvents: one session, sequenceAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(42)], limit: 100 }),
    check: (result) => expect(firstOf(result).sequence).toBe(1),
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'searchEvents: three sessions, sequenceAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(7), sessionId(500), sessionId(999)] }),
    check: (result) => expect(firstOf(result).sessionId).toBe(sessionId(7)),
    eventsIndex: /asm_events_session_sequence_idx/,
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
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'searchEvents: runIds',
    call: (s) => s.searchEvents({ runIds: [runId(8), runId(2_001)] }),
    check: (result) => expect(firstOf(result).runId).toBe(runId(8)),
    eventsIndex: /asm_events_run_idx/,
    sortReason: 'the events of the given runs (250 each), read from asm_events_run_idx',
  },
  {
    name: 'searchEvents: sessionIds + types',
    call: (s) =>
      s.searchEvents({
        sessionIds: [sessionId(9), sessionId(10)],
        types: ['tool_call_started', 'run_failed'],
      }),
    check: (result) => expect(itemsOf(result)).toHaveLength(2 * RUNS_PER_SESSION * 5 + 1),
    eventsIndex: /asm_events_session_type_idx/,
    sortReason: 'the events of the given sessions and types, read from asm_events_session_type_idx',
  },
  {
    name: 'searchEvents: one session, timestampAsc',
    call: (s) => s.searchEvents({ sessionIds: [sessionId(77)], orderBy: 'timestampAsc', limit: 20 }),
    check: (result) => expect(firstOf(result).sequence).toBe(1),
    eventsIndex: /asm_events_session_sequence_idx/,
    sortReason: 'one session (1,000 events), read from asm_events_session_sequence_idx',
  },
  {
    name: 'searchEvents: two old sessions, timestampDesc',
    call: (s) =>
      s.searchEvents({ sessionIds: [sessionId(3), sessionId(4)], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).sequence).toBe(EVENTS_PER_SESSION),
    eventsIndex: /asm_events_session_sequence_idx/,
    sortReason: 'the events of the given sessions, read from their session index',
  },
  {
    name: 'searchEvents: all sessions, timestampDesc, limit 50',
    call: (s) => s.searchEvents({ orderBy: 'timestampDesc', limit: 50 }),
    check: (result) => expect(firstOf(result).timestamp).toBe(isoAt(lastSecond)),
    eventsIndex: /asm_events_time_idx/,
  },
  {
    name: 'searchEvents: all sessions, timestampDesc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ orderBy: 'timestampDesc', limit: 50 });
      return s.searchEvents({ orderBy: 'timestampDesc', limit: 50, cursor: first.nextCursor! });
    },
    check: (result) => expect(firstOf(result).timestamp).toBe(isoAt(lastSecond - 50)),
    eventsIndex: /asm_events_time_idx/,
  },
  {
    name: 'searchEvents: since/until window (one hour), timestampAsc',
    call: (s) => s.searchEvents({ since: WINDOW_START, until: WINDOW_END, orderBy: 'timestampAsc' }),
    check: (result) => expect(firstOf(result).timestamp).toBe(WINDOW_START),
    eventsIndex: /asm_events_time_idx/,
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
    eventsIndex: /asm_events_time_idx/,
  },
  {
    name: 'searchEvents: since/until window (one hour), sequenceAsc',
    call: (s) => s.searchEvents({ since: WINDOW_START, until: WINDOW_END }),
    check: (result) => expect(itemsOf(result)).toHaveLength(100),
    eventsIndex: /asm_events_time_idx/,
    sortReason: 'the 3,600 events of the window, read from asm_events_time_idx',
  },
  {
    name: 'searchEvents: correlationId',
    call: (s) => s.searchEvents({ correlationId: 'corr_1f4_2' }),
    check: (result) =>
      expect(itemsOf(result).map((event) => event.type)).toEqual([
        'tool_call_started',
        'tool_call_completed',
      ]),
    eventsIndex: /asm_events_correlation_idx/,
    sortReason: 'the few events of one correlation id, read from asm_events_correlation_idx',
  },
  {
    name: 'searchEvents: providers only, timestampDesc',
    call: (s) => s.searchEvents({ providers: ['codex'], orderBy: 'timestampDesc', limit: 50 }),
    check: (result) => expect(firstOf(result).provider).toBe('codex'),
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on provider: stops after `limit` matches, so the cost grows as the provider gets rarer',
  },
  {
    name: 'searchEvents: a rare type only, timestampDesc',
    call: (s) => s.searchEvents({ types: ['run_failed'], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).type).toBe('run_failed'),
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on type: run_failed is 0.04% of the events, so about 50,000 index entries are read for 20 matches (a type absent from the log walks the whole index)',
  },
  {
    name: 'searchEvents: a common type only, timestampDesc',
    call: (s) => s.searchEvents({ types: ['message_streamed'], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).type).toBe('message_streamed'),
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on type: stops after `limit` matches',
  },
  {
    name: 'searchEvents: a rare type only, sequenceAsc',
    call: (s) => s.searchEvents({ types: ['run_failed'], limit: 20 }),
    check: (result) => expect(firstOf(result).sessionId).toBe(sessionId(1)),
    eventsIndex: /asm_events_session_type_idx/,
    note: 'skip-scan of asm_events_session_type_idx: one seek per session, in (session, sequence) order',
  },
  {
    name: 'searchEvents: providers only, sequenceAsc',
    call: (s) => s.searchEvents({ providers: ['amp'], limit: 20 }),
    check: (result) => expect(firstOf(result).provider).toBe('amp'),
    eventsIndex: /asm_events_session_sequence_idx/,
    note: 'walks asm_events_session_sequence_idx and filters on provider: stops after `limit` matches',
  },
  {
    name: 'countEvents: one session',
    call: (s) => s.countEvents({ sessionIds: [sessionId(321)] }),
    check: (result) => expect(result).toBe(EVENTS_PER_SESSION),
    eventsIndex: /asm_events_session_(sequence|type)_idx/,
  },
  {
    name: 'countEvents: one session and type',
    call: (s) => s.countEvents({ sessionIds: [sessionId(321)], types: ['tool_call_started'] }),
    check: (result) => expect(result).toBe(RUNS_PER_SESSION * 5),
    eventsIndex: /asm_events_session_type_idx/,
  },
  {
    name: 'countEvents: since/until window (one hour)',
    call: (s) => s.countEvents({ since: WINDOW_START, until: WINDOW_END }),
    check: (result) => expect(result).toBe(3_600),
    eventsIndex: /asm_events_time_idx/,
  },
  {
    name: 'getSessionStats',
    call: (s) => s.getSessionStats(sessionId(654)),
    check: (result) => {
      expect(result).toMatchObject({ eventCount: EVENTS_PER_SESSION, runCount: RUNS_PER_SESSION });
      expect((result as { firstEventAt: string }).firstEventAt).toBe(isoAt(eventSecond(654, 1)));
    },
    eventsIndex: /asm_events_session_(sequence|type)_idx/,
  },
  {
    name: 'getEvents: whole session',
    call: (s) => s.getEvents(sessionId(888)),
    check: (result) => expect(result).toHaveLength(EVENTS_PER_SESSION),
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'getEvents: after a cursor, limit 100',
    call: (s) => s.getEvents(sessionId(888), { after: 900, limit: 100 }),
    check: (result) => expect((result as StoredEvent[])[0]!.sequence).toBe(901),
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  {
    name: 'getEvents: one run',
    call: (s) => s.getEvents(sessionId(888), { runId: runId(888 * 4 + 2) }),
    check: (result) => expect(result).toHaveLength(EVENTS_PER_RUN),
    eventsIndex: /asm_events_(session_sequence|run)_idx/,
  },
  {
    name: 'getEvents: one type',
    call: (s) => s.getEvents(sessionId(888), { types: ['tool_call_started'] }),
    check: (result) => expect(result).toHaveLength(RUNS_PER_SESSION * 5),
    eventsIndex: /asm_events_session_type_idx/,
  },
  {
    name: 'getEvents: two types',
    call: (s) => s.getEvents(sessionId(888), { types: ['tool_call_started', 'run_failed'], limit: 10 }),
    check: (result) => expect(result).toHaveLength(10),
    eventsIndex: /asm_events_session_(type|sequence)_idx/,
  },
];

/** Steps that read the events table without an index (a full scan). */
const fullScan = (plan: string[]): string[] =>
  plan.filter((step) => /^SCAN asm_events\b/.test(step) && !/USING (COVERING )?INDEX/.test(step));
/** Steps that read the events table. */
const eventSteps = (plan: string[]): string[] =>
  plan.filter((step) => /^(SCAN|SEARCH) asm_events\b/.test(step));
const sortSteps = (plan: string[]): string[] =>
  plan.filter((step) => /USE TEMP B-TREE FOR .*ORDER BY/.test(step));

describe('query plans on 1,000,000 events (SQLite)', () => {
  it('holds 1,000,000 events', () => {
    expect(database.prepare('SELECT count(*) FROM asm_events').pluck().get()).toBe(
      SESSIONS * EVENTS_PER_SESSION,
    );
  });

  for (const testCase of cases) {
    it(`${testCase.name}: answers, using indexes`, async () => {
      captured.length = 0;
      capturing = true;
      let result: unknown;
      try {
        result = await testCase.call(store);
      } finally {
        capturing = false;
      }
      testCase.check(result);
      const statements = [...captured];
      expect(statements.length).toBeGreaterThan(0);
      const lines = [`### ${testCase.name}`, ''];
      if (testCase.sortReason !== undefined) lines.push(`Sort allowed: ${testCase.sortReason}.`, '');
      if (testCase.note !== undefined) lines.push(`Note: ${testCase.note}.`, '');
      const plans = statements.map((statement) => ({ statement, plan: explain(statement) }));
      for (const { statement, plan } of plans)
        lines.push('```sql', statement.sql, '```', '```', ...plan, '```', '');
      report.push(...lines);
      let readsEvents = false;
      for (const { statement, plan } of plans) {
        const context = `${statement.sql}\n${plan.join('\n')}`;
        expect(fullScan(plan), context).toEqual([]);
        const events = eventSteps(plan);
        if (events.length === 0) continue;
        readsEvents = true;
        if (testCase.eventsIndex !== undefined) {
          expect(
            events.some((step) => testCase.eventsIndex!.test(step)),
            context,
          ).toBe(true);
        }
        if (testCase.sortReason === undefined) expect(sortSteps(plan), context).toEqual([]);
      }
      expect(readsEvents).toBe(testCase.eventsIndex !== undefined);
    }, 60_000);
  }

  it('getEvents runs the statement explainEventsQuery explains', async () => {
    captured.length = 0;
    capturing = true;
    try {
      await store.getEvents(sessionId(5), { after: 10, limit: 5 });
    } finally {
      capturing = false;
    }
    expect(captured).toHaveLength(1);
    expect(store.explainEventsQuery(sessionId(5), { after: 10, limit: 5 })).toEqual(explain(captured[0]!));
  });
});
