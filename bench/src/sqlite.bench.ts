/**
 * `@asm/sqlite` against raw better-sqlite3 in the same process, on the same schema and pragmas (the
 * baseline database is opened by `createSqliteStore` too, then written with the driver's own prepared
 * statements and sequence numbers computed in JavaScript):
 * - `appendEvents` of 10,000 events in batches of 100 vs raw prepared inserts in the same batch
 *   transactions (throughput, target >= 0.5x);
 * - `appendEvent` one at a time (autocommit) vs a raw single-row insert in autocommit (>= 0.5x);
 * - `getEvents({ after, limit: 100 })` at the end of a session of 1,000,000 events vs the raw
 *   prepared SELECT of the same rows (time), with the query plan printed.
 * The appends run on files (WAL, `synchronous=NORMAL`: what users get, where checkpoints weigh on
 * both sides) and in memory (the CPU cost of the store alone).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEvent, createSession, type NewEvent } from '@asm/core';
import { createSqliteStore, type SqliteSessionStore } from '@asm/sqlite';
import { type BenchRecord, compareTimes } from './harness.js';

const EVENTS = 10_000;
const BATCH = 100;
/** About 244 bytes once serialized, like the peers' records. */
const DELTA = 'lorem ipsum dolor sit amet, consectetur adipiscing elit '.repeat(2);

const INSERT_SQL =
  'INSERT INTO asm_events (id, session_id, sequence, type, timestamp, run_id, data, metadata, schema_version, provider, correlation_id)' +
  ' VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

function makeEvents(sessionId: string, count: number): NewEvent[] {
  return Array.from(
    { length: count },
    (_, index) =>
      createEvent({
        type: 'message_streamed',
        sessionId,
        runId: 'run_00000000000000000000000000000000',
        provider: 'claude',
        data: { kind: 'text', delta: DELTA, index },
      }) as NewEvent,
  );
}

/** The raw driver's insert of one event with a sequence number computed by the caller. */
function rawInsert(store: SqliteSessionStore): (event: NewEvent, sequence: number) => void {
  const insert = store.database.prepare(INSERT_SQL);
  return (event, sequence) => {
    insert.run(
      event.id,
      event.sessionId,
      sequence,
      event.type,
      event.timestamp,
      event.runId ?? null,
      JSON.stringify(event.data),
      JSON.stringify(event.metadata),
      event.schemaVersion,
      event.provider ?? null,
      event.correlationId ?? null,
    );
  };
}

/** Per round: a fresh session in each database and one shared set of events (new ids every round). */
async function prepareRounds(
  candidate: SqliteSessionStore,
  baseline: SqliteSessionStore,
  rounds: number,
  count: number,
): Promise<NewEvent[][]> {
  const all: NewEvent[][] = [];
  for (let round = 0; round < rounds; round++) {
    const session = { ...createSession({ agentId: 'bench' }), status: 'active' as const };
    await candidate.saveSession(session);
    await baseline.saveSession(session);
    all.push(makeEvents(session.id, count));
  }
  return all;
}

function throughput(record: BenchRecord, name: string, count: number, target: number): BenchRecord {
  // compareTimes reports times; turn them into events per second (higher is better).
  const baseline = Math.round((count / record.baseline) * 1000);
  const candidate = Math.round((count / record.candidate) * 1000);
  return {
    name,
    metric: 'throughput',
    unit: 'events/s',
    baseline,
    candidate,
    ratio: Math.round((candidate / baseline) * 1000) / 1000,
    target,
  };
}

/** Where a pair of databases lives: files (WAL) or private in-memory databases (CPU cost only). */
type Storage = { label: string; path: (name: string) => string };

async function benchBatchedAppends(storage: Storage): Promise<BenchRecord> {
  const candidate = createSqliteStore({ path: storage.path('batched-store.db') });
  const baseline = createSqliteStore({ path: storage.path('batched-raw.db') });
  const rounds = 15;
  const warmup = 3;
  const candidateRounds = await prepareRounds(candidate, baseline, rounds + warmup, EVENTS);
  const baselineRounds = [...candidateRounds];
  const insert = rawInsert(baseline);
  const rawBatch = baseline.database.transaction((events: NewEvent[], first: number) => {
    for (let index = 0; index < events.length; index++) insert(events[index]!, first + index);
  });
  const record = await compareTimes({
    name: 'sqlite appendEvents',
    rounds,
    warmup,
    target: 0.5,
    baseline: async () => {
      const events = baselineRounds.shift()!;
      for (let start = 0; start < events.length; start += BATCH) {
        rawBatch(events.slice(start, start + BATCH), start + 1);
      }
    },
    candidate: async () => {
      const events = candidateRounds.shift()!;
      for (let start = 0; start < events.length; start += BATCH) {
        await candidate.appendEvents(events.slice(start, start + BATCH));
      }
    },
  });
  await candidate.close();
  await baseline.close();
  return throughput(
    record,
    `sqlite appendEvents, 10k events in batches of 100 (${storage.label})`,
    EVENTS,
    0.5,
  );
}

async function benchSingleAppends(storage: Storage): Promise<BenchRecord> {
  const candidate = createSqliteStore({ path: storage.path('single-store.db') });
  const baseline = createSqliteStore({ path: storage.path('single-raw.db') });
  const rounds = 7;
  const warmup = 1;
  const candidateRounds = await prepareRounds(candidate, baseline, rounds + warmup, EVENTS);
  const baselineRounds = [...candidateRounds];
  const insert = rawInsert(baseline);
  const record = await compareTimes({
    name: 'sqlite appendEvent',
    rounds,
    warmup,
    target: 0.5,
    baseline: async () => {
      const events = baselineRounds.shift()!;
      for (let index = 0; index < events.length; index++) insert(events[index]!, index + 1);
    },
    candidate: async () => {
      const events = candidateRounds.shift()!;
      for (const event of events) await candidate.appendEvent(event);
    },
  });
  await candidate.close();
  await baseline.close();
  return throughput(
    record,
    `sqlite appendEvent, 10k single autocommit appends (${storage.label})`,
    EVENTS,
    0.5,
  );
}

async function benchTailRead(folder: string): Promise<BenchRecord> {
  const total = 1_000_000;
  const store = createSqliteStore({ path: join(folder, 'tail.db') });
  const session = { ...createSession({ agentId: 'bench' }), status: 'active' as const };
  await store.saveSession(session);
  const database = store.database;
  const insert = database.prepare(INSERT_SQL);
  const data = JSON.stringify({ kind: 'text', delta: 'tok ' });
  const fill = database.transaction((first: number, count: number) => {
    const timestamp = new Date().toISOString();
    for (let sequence = first; sequence < first + count; sequence++) {
      insert.run(
        `evt_${sequence.toString(16).padStart(32, '0')}`,
        session.id,
        sequence,
        'message_streamed',
        timestamp,
        null,
        data,
        '{}',
        1,
        'claude',
        null,
      );
    }
  });
  const started = performance.now();
  for (let first = 1; first <= total; first += 100_000) fill(first, 100_000);
  database
    .prepare('UPDATE asm_session_sequences SET last_sequence = ? WHERE session_id = ?')
    .run(total, session.id);
  console.log(
    `sqlite: wrote ${total} events for the tail read in ${Math.round(performance.now() - started)} ms`,
  );

  const after = total - 100;
  console.log('sqlite: EXPLAIN QUERY PLAN of getEvents({ after, limit: 100 }):');
  for (const line of store.explainEventsQuery(session.id, { after, limit: 100 })) console.log(`  ${line}`);

  const raw = database.prepare(
    'SELECT * FROM asm_events WHERE session_id = ? AND sequence > ? ORDER BY sequence LIMIT 100',
  );
  const reads = 200;
  const record = await compareTimes({
    name: 'sqlite getEvents tail',
    rounds: 15,
    warmup: 3,
    target: 2,
    baseline: async () => {
      for (let index = 0; index < reads; index++) {
        if (raw.all(session.id, after).length !== 100) throw new Error('raw read found too few rows');
      }
    },
    candidate: async () => {
      for (let index = 0; index < reads; index++) {
        if ((await store.getEvents(session.id, { after, limit: 100 })).length !== 100) {
          throw new Error('getEvents found too few events');
        }
      }
    },
  });
  await store.close();
  // Per read rather than per 200 reads.
  return {
    ...record,
    name: 'sqlite getEvents({ after, limit: 100 }) at the end of 1M events, per read',
    baseline: Math.round((record.baseline / reads) * 1000) / 1000,
    candidate: Math.round((record.candidate / reads) * 1000) / 1000,
  };
}

/** The `@asm/sqlite` benchmarks. */
export async function benchSqlite(): Promise<BenchRecord[]> {
  const folder = mkdtempSync(join(tmpdir(), 'asm-bench-sqlite-'));
  try {
    const file: Storage = { label: 'file, WAL', path: (name) => join(folder, name) };
    const memory: Storage = { label: 'in memory', path: () => ':memory:' };
    return [
      await benchBatchedAppends(file),
      await benchBatchedAppends(memory),
      await benchSingleAppends(file),
      await benchSingleAppends(memory),
      await benchTailRead(folder),
    ];
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
