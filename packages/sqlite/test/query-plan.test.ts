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
import { type QueryPlanExpectation, queryPlanCasesWith, queryPlanDataset } from '@asm/testing';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore, type SqliteSessionStore } from '../src/index.js';
import { tempFolder } from './helpers.js';

const {
  sessions: SESSIONS,
  eventsPerSession: EVENTS_PER_SESSION,
  runsPerSession: RUNS_PER_SESSION,
  eventsPerRun: EVENTS_PER_RUN,
  baseSeconds: BASE_SECONDS,
  sessionId,
  eventSecondSql: secondSql,
} = queryPlanDataset;
/** The ISO timestamp SQL of `strftime` for a second offset expression. */
const isoSql = (expression: string): string =>
  `strftime('%Y-%m-%dT%H:%M:%fZ', ${BASE_SECONDS} + (${expression}), 'unixepoch')`;

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

/** The plan each shared case must have on SQLite, keyed by case name. */
const expectations: Record<string, QueryPlanExpectation> = {
  'searchSessions: default order (updatedAtDesc)': {},
  'searchSessions: agentId': {},
  'searchSessions: status': {},
  'searchRuns: default order (createdAtDesc)': {},
  'searchRuns: sessionId': {},
  'searchRuns: status': {},
  'searchRuns: totalTokensDesc': {},
  'searchEvents: no filter (default order, sequenceAsc)': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: no filter, sequenceAsc, next page (cursor)': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: one session, sequenceAsc': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: three sessions, sequenceAsc': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: sequenceAsc, next page (cursor)': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: runIds': {
    eventsIndex: /asm_events_run_idx/,
    sortReason: 'the events of the given runs (250 each), read from asm_events_run_idx',
  },
  'searchEvents: sessionIds + types': {
    eventsIndex: /asm_events_session_type_idx/,
    sortReason: 'the events of the given sessions and types, read from asm_events_session_type_idx',
  },
  'searchEvents: one session, timestampAsc': {
    eventsIndex: /asm_events_session_sequence_idx/,
    sortReason: 'one session (1,000 events), read from asm_events_session_sequence_idx',
  },
  'searchEvents: two old sessions, timestampDesc': {
    eventsIndex: /asm_events_session_sequence_idx/,
    sortReason: 'the events of the given sessions, read from their session index',
  },
  'searchEvents: all sessions, timestampDesc, limit 50': {
    eventsIndex: /asm_events_time_idx/,
  },
  'searchEvents: all sessions, timestampDesc, next page (cursor)': {
    eventsIndex: /asm_events_time_idx/,
  },
  'searchEvents: since/until window (one hour), timestampAsc': {
    eventsIndex: /asm_events_time_idx/,
  },
  'searchEvents: since/until window (one hour), timestampAsc, next page (cursor)': {
    eventsIndex: /asm_events_time_idx/,
  },
  'searchEvents: since/until window (one hour), sequenceAsc': {
    eventsIndex: /asm_events_time_idx/,
    sortReason: 'the 3,600 events of the window, read from asm_events_time_idx',
  },
  'searchEvents: correlationId': {
    eventsIndex: /asm_events_correlation_idx/,
    sortReason: 'the few events of one correlation id, read from asm_events_correlation_idx',
  },
  'searchEvents: providers only, timestampDesc': {
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on provider: stops after `limit` matches, so the cost grows as the provider gets rarer',
  },
  'searchEvents: a rare type only, timestampDesc': {
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on type: run_failed is 0.04% of the events, so about 50,000 index entries are read for 20 matches (a type absent from the log walks the whole index)',
  },
  'searchEvents: a common type only, timestampDesc': {
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on type: stops after `limit` matches',
  },
  'searchEvents: a rare type only, sequenceAsc': {
    eventsIndex: /asm_events_session_type_idx/,
    note: 'skip-scan of asm_events_session_type_idx: one seek per session, in (session, sequence) order',
  },
  'searchEvents: providers only, sequenceAsc': {
    eventsIndex: /asm_events_session_sequence_idx/,
    note: 'walks asm_events_session_sequence_idx and filters on provider: stops after `limit` matches',
  },
  'countEvents: one session': {
    eventsIndex: /asm_events_session_(sequence|type)_idx/,
  },
  'countEvents: one session and type': {
    eventsIndex: /asm_events_session_type_idx/,
  },
  'countEvents: since/until window (one hour)': {
    eventsIndex: /asm_events_time_idx/,
  },
  getSessionStats: {
    eventsIndex: /asm_events_session_(sequence|type)_idx/,
  },
  'getEvents: whole session': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'getEvents: after a cursor, limit 100': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'getEvents: one run': {
    eventsIndex: /asm_events_(session_sequence|run)_idx/,
  },
  'getEvents: one type': {
    eventsIndex: /asm_events_session_type_idx/,
  },
  'getEvents: two types': {
    eventsIndex: /asm_events_session_(type|sequence)_idx/,
  },
};

const cases = queryPlanCasesWith(expectations);

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
