/**
 * Query plans on a database of 1,000,000 events: every statement the store issues for `SessionQuery`
 * and `getEvents` is captured at the driver (a wrapped `pool.query`), then explained with the same
 * bind values (`EXPLAIN (FORMAT JSON)`). No statement may read the events table with a Seq Scan, and
 * none may sort events unless the case says why the sorted set is small and bounded by an index. The
 * `getEvents` statements are named prepared statements, so their generic plan is checked too.
 *
 * `ASM_PRINT_PLANS=1` writes the plans as markdown to `/tmp/notes/query-plans-postgres.md` (or to the
 * path given instead of `1`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type QueryPlanExpectation, queryPlanCasesWith, queryPlanDataset } from '@asm/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema } from './helpers.js';

const {
  sessions: SESSIONS,
  eventsPerSession: EVENTS_PER_SESSION,
  runsPerSession: RUNS_PER_SESSION,
  eventsPerRun: EVENTS_PER_RUN,
  baseSeconds: BASE_SECONDS,
  eventSecondSql: secondSql,
} = queryPlanDataset;
/** The instant of a second offset expression, as `timestamptz`. */
const instantSql = (expression: string): string => `to_timestamp(${BASE_SECONDS} + (${expression}))`;
/** The ISO string (`toISOString()` form) of a `timestamptz` expression. */
const isoSql = (instant: string): string =>
  `to_char(${instant} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const hexSql = (prefix: string, expression: string): string =>
  `'${prefix}' || lpad(to_hex(${expression}), 32, '0')`;

/**
 * One statement per table, each from `generate_series`. Events are inserted session by session (ids
 * grow in that order); their timestamps interleave the 100 sessions of a group. Per run of 250 events:
 * `message_sent`, `run_started`, five `tool_call_started`/`tool_call_completed` pairs sharing a
 * correlation id, `token_usage_updated`, then `run_completed` (`run_failed` for one run in ten); the
 * rest `message_streamed`. The first event of a session is `session_started`, without run or provider.
 */
function fillSql(schema: string): string {
  const table = (name: string): string => `"${schema}".${name}`;
  return `
INSERT INTO ${table('asm_sessions')} (id, agent_id, status, metadata, context, tags, created_at, created_at_iso,
  updated_at, updated_at_iso)
SELECT ${hexSql('ses_', 's')}, 'agent_' || (s % 5),
  CASE WHEN s % 10 = 3 THEN 'failed' WHEN s % 10 IN (0, 9) THEN 'active' ELSE 'completed' END,
  '{}', '{}', '{}', t.created, ${isoSql('t.created')}, t.updated, ${isoSql('t.updated')}
FROM generate_series(0, ${SESSIONS - 1}) AS s,
  LATERAL (SELECT ${instantSql(secondSql('s', '1'))} AS created,
    ${instantSql(secondSql('s', String(EVENTS_PER_SESSION)))} AS updated) AS t;
INSERT INTO ${table('asm_session_sequences')} (session_id, last_sequence)
SELECT id, ${EVENTS_PER_SESSION} FROM ${table('asm_sessions')};
INSERT INTO ${table('asm_runs')} (id, session_id, status, input, token_usage, cost_usd, provider, provider_metadata,
  created_at, created_at_iso, started_at, started_at_iso, ended_at, ended_at_iso)
SELECT ${hexSql('run_', 'j')}, ${hexSql('ses_', 'r.s')},
  CASE WHEN j % 10 = 7 THEN 'failed' ELSE 'completed' END, '{"messages":[]}',
  jsonb_build_object('inputTokens', 100 + j % 997, 'outputTokens', 50 + j % 13, 'cacheReadTokens', 0,
    'cacheWriteTokens', 0, 'totalTokens', 150 + j % 997 + j % 13),
  (j % 50) / 100.0, CASE j % 3 WHEN 0 THEN 'claude' WHEN 1 THEN 'codex' ELSE 'amp' END, '{"model":"model-a"}',
  t.created, ${isoSql('t.created')}, t.started, ${isoSql('t.started')}, t.ended, ${isoSql('t.ended')}
FROM generate_series(0, ${SESSIONS * RUNS_PER_SESSION - 1}) AS j,
  LATERAL (SELECT j / ${RUNS_PER_SESSION} AS s, (j % ${RUNS_PER_SESSION}) * ${EVENTS_PER_RUN} + 1 AS first) AS r,
  LATERAL (SELECT ${instantSql(secondSql('r.s', 'r.first'))} AS created,
    ${instantSql(secondSql('r.s', 'r.first + 1'))} AS started,
    ${instantSql(secondSql('r.s', `r.first + ${EVENTS_PER_RUN - 1}`))} AS ended) AS t;
INSERT INTO ${table('asm_events')} (id, session_id, sequence, type, timestamp, occurred_at, occurred_at_ns, run_id,
  data, metadata, schema_version, provider, correlation_id)
SELECT ${hexSql('evt_', 'i')}, ${hexSql('ses_', 'e.s')}, e.seq,
  CASE WHEN e.seq = 1 THEN 'session_started' WHEN f.p = 0 THEN 'message_sent' WHEN f.p = 1 THEN 'run_started'
    WHEN f.p = ${EVENTS_PER_RUN - 1} THEN CASE WHEN f.j % 10 = 7 THEN 'run_failed' ELSE 'run_completed' END
    WHEN f.p = ${EVENTS_PER_RUN - 2} THEN 'token_usage_updated'
    WHEN f.p % 50 = 20 THEN 'tool_call_started' WHEN f.p % 50 = 21 THEN 'tool_call_completed'
    ELSE 'message_streamed' END,
  ${isoSql('f.t')}, f.t, 0,
  CASE WHEN e.seq = 1 THEN NULL ELSE ${hexSql('run_', 'f.j')} END,
  CASE WHEN f.p > 1 AND f.p < ${EVENTS_PER_RUN - 2} AND f.p % 50 NOT IN (20, 21)
    THEN '{"kind":"text","delta":"chunk"}'::jsonb ELSE '{}'::jsonb END,
  '{}', 1,
  CASE WHEN e.seq = 1 THEN NULL WHEN f.j % 3 = 0 THEN 'claude' WHEN f.j % 3 = 1 THEN 'codex' ELSE 'amp' END,
  CASE WHEN f.p % 50 IN (20, 21) THEN 'corr_' || to_hex(f.j) || '_' || (f.p / 50) END
FROM generate_series(0, ${SESSIONS * EVENTS_PER_SESSION - 1}) AS i,
  LATERAL (SELECT i / ${EVENTS_PER_SESSION} AS s, i % ${EVENTS_PER_SESSION} + 1 AS seq) AS e,
  LATERAL (SELECT e.s * ${RUNS_PER_SESSION} + (e.seq - 1) / ${EVENTS_PER_RUN} AS j,
    (e.seq - 1) % ${EVENTS_PER_RUN} AS p, ${instantSql(secondSql('e.s', 'e.seq'))} AS t) AS f;
`;
}

/** A statement the store ran, with its bind values. */
interface Captured {
  text: string;
  values: unknown[];
  /** Set for named (prepared) statements, whose plan may become generic. */
  name?: string;
}

/** A node of `EXPLAIN (FORMAT JSON)`. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const print = process.env.ASM_PRINT_PLANS;
const notesPath =
  print === undefined || print === '' || print === '0'
    ? undefined
    : print === '1'
      ? '/tmp/notes/query-plans-postgres.md'
      : print;

const schema = randomSchema('plans');
let pool: pg.Pool;
let explainer: pg.Client;
let store: PostgresSessionStore;
let capturing = false;
const captured: Captured[] = [];
const timings: Record<string, number> = {};
const report: string[] = [];
const started = performance.now();
let prepared = 0;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    if (capturing) {
      const [config, values] = args as [
        string | { text: string; values?: unknown[]; name?: string },
        unknown[] | undefined,
      ];
      if (typeof config === 'string') captured.push({ text: config, values: values ?? [] });
      else {
        const entry: Captured = { text: config.text, values: config.values ?? values ?? [] };
        if (config.name !== undefined) entry.name = config.name;
        captured.push(entry);
      }
    }
    return query(...args);
  }) as typeof pool.query;
  explainer = new pg.Client({ connectionString: DATABASE_URL });
  await explainer.connect();
  // The shipped migrations define the schema.
  store = createPostgresStore({ pool, schema });
  await store.ready();
  // The plans do not depend on durability: unlogged tables skip the WAL of 1,000,000 rows and their
  // indexes (a third of the fill time).
  for (const table of ['asm_sessions', 'asm_session_sequences', 'asm_runs', 'asm_events']) {
    await explainer.query(`ALTER TABLE "${schema}".${table} SET UNLOGGED`);
  }
  let mark = performance.now();
  await explainer.query(`BEGIN; ${fillSql(schema)} COMMIT;`);
  timings.fill = performance.now() - mark;
  mark = performance.now();
  await explainer.query(
    `VACUUM (ANALYZE) "${schema}".asm_events, "${schema}".asm_runs, "${schema}".asm_sessions`,
  );
  timings.analyze = performance.now() - mark;
}, 300_000);

afterAll(async () => {
  await store?.close();
  await pool?.end();
  await explainer?.end();
  await dropSchema(schema);
  if (notesPath !== undefined) {
    timings.total = performance.now() - started;
    mkdirSync(dirname(notesPath), { recursive: true });
    const header = [
      '## PostgreSQL: query plans on 1,000,000 events',
      '',
      `${SESSIONS} sessions × ${EVENTS_PER_SESSION} events, ${SESSIONS * RUNS_PER_SESSION} runs. ` +
        `Fill ${seconds(timings.fill)}, VACUUM ANALYZE ${seconds(timings.analyze)}, ` +
        `whole file ${seconds(timings.total)}. Plans are EXPLAIN (estimates, not run); the schema name is ` +
        `replaced by \`asm\`.`,
      '',
    ];
    writeFileSync(notesPath, [...header, ...report].join('\n'));
  }
}, 60_000);

function seconds(ms: number | undefined): string {
  return ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`;
}

/** The plan tree and its text form; `generic`: the plan a prepared statement reuses for any values. */
async function explain(statement: Captured, generic = false): Promise<{ root: PlanNode; text: string[] }> {
  if (!generic) {
    const json = await explainer.query({
      text: `EXPLAIN (FORMAT JSON) ${statement.text}`,
      values: statement.values,
    });
    const text = await explainer.query({ text: `EXPLAIN ${statement.text}`, values: statement.values });
    return {
      root: (json.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan,
      text: text.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']),
    };
  }
  const name = `asm_plan_${++prepared}`;
  // EXECUTE takes no bind parameters: its arguments are literals.
  const literal = (value: unknown): string => {
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value)) {
      return explainer.escapeLiteral(
        `{${value.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`,
      );
    }
    return explainer.escapeLiteral(String(value));
  };
  const argumentList = statement.values.map(literal).join(', ');
  await explainer.query(`PREPARE ${name} AS ${statement.text}`);
  try {
    await explainer.query('SET plan_cache_mode = force_generic_plan');
    const execute = `EXECUTE ${name}${argumentList === '' ? '' : `(${argumentList})`}`;
    const json = await explainer.query(`EXPLAIN (FORMAT JSON) ${execute}`);
    const text = await explainer.query(`EXPLAIN ${execute}`);
    return {
      root: (json.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan,
      text: text.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']),
    };
  } finally {
    await explainer.query('RESET plan_cache_mode');
    await explainer.query(`DEALLOCATE ${name}`);
  }
}

/** Every node of a plan tree. */
function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}
const readsEvents = (node: PlanNode): boolean => node['Relation Name'] === 'asm_events';
/** Seq Scans of the events table. */
const fullScans = (root: PlanNode): PlanNode[] =>
  nodesOf(root).filter((node) => readsEvents(node) && node['Node Type'] === 'Seq Scan');
/** Sorts (full or incremental) whose input reads the events table. */
const eventSorts = (root: PlanNode): PlanNode[] =>
  nodesOf(root).filter((node) => /Sort$/.test(node['Node Type']) && nodesOf(node).some(readsEvents));

/** The plan each shared case must have on PostgreSQL, keyed by case name. */
const expectations: Record<string, QueryPlanExpectation> = {
  'searchSessions: default order (updatedAtDesc)': {},
  'searchSessions: agentId': {},
  'searchSessions: status': {},
  'searchRuns: default order (createdAtDesc)': {},
  'searchRuns: sessionId': {},
  'searchRuns: status': {},
  'searchRuns: totalTokensDesc': {},
  'searchEvents: no filter (default order, sequenceAsc)': {
    eventsIndex: /asm_events_session_order_idx/,
  },
  'searchEvents: no filter, sequenceAsc, next page (cursor)': {
    eventsIndex: /asm_events_session_order_idx/,
  },
  'searchEvents: one session, sequenceAsc': {
    eventsIndex: /asm_events_session_sequence_idx/,
  },
  'searchEvents: three sessions, sequenceAsc': {
    eventsIndex: /asm_events_session_order_idx/,
  },
  'searchEvents: sequenceAsc, next page (cursor)': {
    eventsIndex: /asm_events_session_order_idx/,
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
    eventsIndex: /asm_events_session_time_idx/,
  },
  'searchEvents: two old sessions, timestampDesc': {
    eventsIndex: /asm_events_session_(sequence|time)_idx/,
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
    note: 'walks asm_events_time_idx newest first and filters on type: run_failed is 0.04% of the events, so about 50,000 index entries are read for 20 matches',
  },
  'searchEvents: a common type only, timestampDesc': {
    eventsIndex: /asm_events_time_idx/,
    note: 'walks asm_events_time_idx newest first and filters on type: stops after `limit` matches',
  },
  'searchEvents: a rare type only, sequenceAsc': {
    eventsIndex: /asm_events_session_order_idx/,
    note: 'walks asm_events_session_order_idx and filters on type: stops after `limit` matches (PostgreSQL 15 has no skip scan of asm_events_session_type_idx)',
  },
  'searchEvents: providers only, sequenceAsc': {
    eventsIndex: /asm_events_session_order_idx/,
    note: 'walks asm_events_session_order_idx and filters on provider: stops after `limit` matches',
  },
  'countEvents: one session': {
    eventsIndex: /asm_events_session_(sequence|type|time)_idx/,
  },
  'countEvents: one session and type': {
    eventsIndex: /asm_events_session_type_idx/,
  },
  'countEvents: since/until window (one hour)': {
    eventsIndex: /asm_events_time_idx/,
  },
  getSessionStats: {
    eventsIndex: /asm_events_session_(sequence|type|time)_idx/,
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
    // The generic plan walks asm_events_session_sequence_idx with a filter on type instead.
    eventsIndex: /asm_events_session_(type|sequence)_idx/,
    sortReason: "one session's events of the given types, read from asm_events_session_type_idx",
  },
};

const cases = queryPlanCasesWith(expectations);

describe('query plans on 1,000,000 events (PostgreSQL)', () => {
  it('holds 1,000,000 events', async () => {
    const result = await explainer.query(`SELECT count(*)::int4 AS total FROM "${schema}".asm_events`);
    expect(result.rows[0].total).toBe(SESSIONS * EVENTS_PER_SESSION);
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
      const plans: Array<{ statement: Captured; label: string; root: PlanNode; text: string[] }> = [];
      for (const statement of statements) {
        plans.push({ statement, label: '', ...(await explain(statement)) });
        if (statement.name !== undefined) {
          plans.push({ statement, label: ' (generic plan)', ...(await explain(statement, true)) });
        }
      }
      const lines = [`### ${testCase.name}`, ''];
      if (testCase.sortReason !== undefined) lines.push(`Sort allowed: ${testCase.sortReason}.`, '');
      if (testCase.note !== undefined) lines.push(`Note: ${testCase.note}.`, '');
      const unqualified = (text: string): string => text.replaceAll(`"${schema}"`, 'asm');
      for (const { statement, label, text } of plans) {
        if (label === '') lines.push('```sql', unqualified(statement.text), '```');
        lines.push(
          '```',
          ...text.map(unqualified),
          '```',
          ...(label === '' ? [] : [`(above: generic plan)`]),
          '',
        );
      }
      report.push(...lines);
      let readEvents = false;
      for (const { statement, label, root, text } of plans) {
        const context = `${statement.text}${label}\n${text.join('\n')}`;
        expect(fullScans(root), context).toEqual([]);
        const events = nodesOf(root).filter(readsEvents);
        if (events.length === 0) continue;
        readEvents = true;
        if (testCase.eventsIndex !== undefined) {
          const indexes = nodesOf(root).map((node) => node['Index Name'] ?? '');
          expect(
            indexes.some((name) => testCase.eventsIndex!.test(name)),
            context,
          ).toBe(true);
        }
        if (testCase.sortReason === undefined) expect(eventSorts(root), context).toEqual([]);
      }
      expect(readEvents).toBe(testCase.eventsIndex !== undefined);
    }, 60_000);
  }
});
