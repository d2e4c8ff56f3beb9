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
import type { StoredEvent } from '@asm/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema } from './helpers.js';

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
const secondSql = (session: string, sequence: string): string =>
  `(${session} / ${GROUP}) * ${GROUP * EVENTS_PER_SESSION} + (${sequence} - 1) * ${GROUP} + ${session} % ${GROUP}`;
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

/** One store call whose statements are explained. */
interface PlanCase {
  name: string;
  call(store: PostgresSessionStore): Promise<unknown>;
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
    eventsIndex: /asm_events_session_order_idx/,
  },
  {
    name: 'searchEvents: no filter, sequenceAsc, next page (cursor)',
    call: async (s) => {
      const first = await s.searchEvents({ limit: 999 });
      return s.searchEvents({ limit: 10, cursor: first.nextCursor! });
    },
    check: (result) => expect(itemsOf(result).map((event) => event.sessionId)).toContain(sessionId(1)),
    eventsIndex: /asm_events_session_order_idx/,
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
    eventsIndex: /asm_events_session_order_idx/,
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
    eventsIndex: /asm_events_session_order_idx/,
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
    eventsIndex: /asm_events_session_time_idx/,
  },
  {
    name: 'searchEvents: two old sessions, timestampDesc',
    call: (s) =>
      s.searchEvents({ sessionIds: [sessionId(3), sessionId(4)], orderBy: 'timestampDesc', limit: 20 }),
    check: (result) => expect(firstOf(result).sequence).toBe(EVENTS_PER_SESSION),
    eventsIndex: /asm_events_session_(sequence|time)_idx/,
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
    note: 'walks asm_events_time_idx newest first and filters on type: run_failed is 0.04% of the events, so about 50,000 index entries are read for 20 matches',
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
    eventsIndex: /asm_events_session_order_idx/,
    note: 'walks asm_events_session_order_idx and filters on type: stops after `limit` matches (PostgreSQL 15 has no skip scan of asm_events_session_type_idx)',
  },
  {
    name: 'searchEvents: providers only, sequenceAsc',
    call: (s) => s.searchEvents({ providers: ['amp'], limit: 20 }),
    check: (result) => expect(firstOf(result).provider).toBe('amp'),
    eventsIndex: /asm_events_session_order_idx/,
    note: 'walks asm_events_session_order_idx and filters on provider: stops after `limit` matches',
  },
  {
    name: 'countEvents: one session',
    call: (s) => s.countEvents({ sessionIds: [sessionId(321)] }),
    check: (result) => expect(result).toBe(EVENTS_PER_SESSION),
    eventsIndex: /asm_events_session_(sequence|type|time)_idx/,
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
    eventsIndex: /asm_events_session_(sequence|type|time)_idx/,
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
    // The generic plan walks asm_events_session_sequence_idx with a filter on type instead.
    eventsIndex: /asm_events_session_(type|sequence)_idx/,
    sortReason: "one session's events of the given types, read from asm_events_session_type_idx",
  },
];

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
