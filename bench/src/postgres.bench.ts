/**
 * `@asm/postgres` against raw `pg` on the same server (ASM_BENCH_POSTGRES_URL, default the local
 * `test` database), in a schema of its own that is dropped afterwards.
 *
 * (a) 10,000 events appended in batches of 100 through `appendEvents` (gapless per-session sequences,
 *     idempotent ids, NOTIFY) against raw `pg`: one prepared multi-row INSERT per batch of the same
 *     rows into a copy of the events table (same columns and indexes), sequences computed by the
 *     client. Reported as throughput (events/s), target >= 0.5x.
 * (b) 8 concurrent writers, each appending 100 batches of 10 events, to ONE session and to 8 different
 *     sessions, against 8 concurrent raw writers of the same rows without any sequencing.
 */
import { randomBytes } from 'node:crypto';
import { createEvent, createSession, type NewEvent } from '@asm/core';
import { createPostgresStore, type PostgresSessionStore } from '@asm/postgres';
import pg from 'pg';
import { type BenchRecord, compareTimes, median, timeOnce } from './harness.js';

const URL = process.env.ASM_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const COLUMNS =
  'id, session_id, sequence, type, timestamp, occurred_at, occurred_at_ns, run_id, data, metadata, schema_version, provider, correlation_id';
const PER_ROW = 13;

/** A streamed delta of about 244 bytes as stored JSON (the size of the peer comparison). */
function eventsOf(sessionId: string, count: number, runId: string): NewEvent[] {
  return Array.from(
    { length: count },
    (_, index) =>
      createEvent({
        type: 'message_streamed',
        sessionId,
        runId,
        provider: 'claude',
        data: { kind: 'text', delta: `token ${index} `.padEnd(48, '.') },
      }) as NewEvent,
  );
}

/** Raw `pg`: one multi-row INSERT (prepared once per batch size) with client-side sequences. */
async function rawInsert(
  pool: pg.Pool,
  table: string,
  events: NewEvent[],
  firstSequence: number,
): Promise<void> {
  const values: unknown[] = [];
  const rows: string[] = [];
  events.forEach((event, index) => {
    const offset = index * PER_ROW;
    rows.push(`(${Array.from({ length: PER_ROW }, (_, column) => `$${offset + column + 1}`).join(', ')})`);
    values.push(
      event.id,
      event.sessionId,
      firstSequence + index,
      event.type,
      event.timestamp,
      event.timestamp,
      0,
      event.runId ?? null,
      JSON.stringify(event.data),
      JSON.stringify(event.metadata),
      event.schemaVersion,
      event.provider ?? null,
      event.correlationId ?? null,
    );
  });
  await pool.query({
    name: `raw_insert_${table.length}_${events.length}`,
    text: `INSERT INTO ${table} (${COLUMNS}) VALUES ${rows.join(', ')}`,
    values,
  });
}

function batches<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let index = 0; index < items.length; index += size) result.push(items.slice(index, index + size));
  return result;
}

function throughput(name: string, events: number, baselineMs: number, candidateMs: number, target: number) {
  const baseline = (events / baselineMs) * 1000;
  const candidate = (events / candidateMs) * 1000;
  return {
    name,
    metric: 'throughput' as const,
    unit: 'events/s',
    baseline: Math.round(baseline),
    candidate: Math.round(candidate),
    ratio: Math.round((candidate / baseline) * 1000) / 1000,
    target,
  };
}

export async function benchPostgres(): Promise<BenchRecord[]> {
  const schema = `asm_bench_${randomBytes(4).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: URL, max: 8 });
  const store: PostgresSessionStore = createPostgresStore({ pool, schema });
  await store.ready();
  const raw = `"${schema}".raw_events`;
  await pool.query(`CREATE TABLE ${raw} (LIKE "${schema}".asm_events INCLUDING ALL)`);
  const records: BenchRecord[] = [];
  try {
    // (a) 10,000 events in batches of 100, one writer.
    const newSession = async () => {
      const session = createSession({ agentId: 'bench' });
      await store.saveSession(session);
      return session.id;
    };
    const serial = await compareTimes({
      name: 'postgres appendEvents 10k in batches of 100 vs raw pg multi-row INSERT',
      baseline: async () => {
        const sessionId = `ses_${randomBytes(16).toString('hex')}`;
        const events = eventsOf(sessionId, 10_000, `run_${randomBytes(16).toString('hex')}`);
        let next = 1;
        for (const batch of batches(events, 100)) {
          await rawInsert(pool, raw, batch, next);
          next += batch.length;
        }
      },
      candidate: async () => {
        const sessionId = await newSession();
        const events = eventsOf(sessionId, 10_000, `run_${randomBytes(16).toString('hex')}`);
        for (const batch of batches(events, 100)) await store.appendEvents(batch);
      },
      rounds: 7,
      warmup: 1,
      // As a time ratio; the record below reports it as throughput (target >= 0.5x, i.e. <= 2x time).
      target: 2,
    });
    records.push(
      throughput(
        'postgres appendEvents 10k events, batches of 100 (throughput vs raw pg multi-row INSERT)',
        10_000,
        serial.baseline,
        serial.candidate,
        0.5,
      ),
    );

    // (b) 8 concurrent writers x 100 batches of 10 events, to one session and to 8 sessions.
    const WRITERS = 8;
    const BATCHES = 100;
    const SIZE = 10;
    const total = WRITERS * BATCHES * SIZE;
    for (const shape of ['one session', '8 sessions'] as const) {
      const baselineTimes: number[] = [];
      const candidateTimes: number[] = [];
      const runBaseline = () =>
        timeOnce(async () => {
          const shared = `ses_${randomBytes(16).toString('hex')}`;
          await Promise.all(
            Array.from({ length: WRITERS }, async (_, writer) => {
              const sessionId = shape === 'one session' ? shared : `ses_${randomBytes(16).toString('hex')}`;
              const events = eventsOf(sessionId, BATCHES * SIZE, `run_${writer}`);
              // No sequencing: every writer owns a disjoint range of numbers.
              let next = writer * BATCHES * SIZE + 1;
              for (const batch of batches(events, SIZE)) {
                await rawInsert(pool, raw, batch, next);
                next += SIZE;
              }
            }),
          );
        });
      const runCandidate = async () => {
        const shared = await newSession();
        const sessionIds = await Promise.all(
          Array.from({ length: WRITERS }, () => (shape === 'one session' ? shared : newSession())),
        );
        return timeOnce(async () => {
          await Promise.all(
            sessionIds.map(async (sessionId, writer) => {
              const events = eventsOf(sessionId, BATCHES * SIZE, `run_${writer}`);
              for (const batch of batches(events, SIZE)) await store.appendEvents(batch);
            }),
          );
        });
      };
      await runBaseline();
      await runCandidate();
      // Alternate which side goes first, so neither always runs right after the other's writes.
      for (let round = 0; round < 6; round++) {
        if (round % 2 === 0) {
          baselineTimes.push(await runBaseline());
          candidateTimes.push(await runCandidate());
        } else {
          candidateTimes.push(await runCandidate());
          baselineTimes.push(await runBaseline());
        }
      }
      records.push(
        throughput(
          `postgres 8 concurrent writers to ${shape}, batches of 10 (events/s vs raw pg concurrent INSERTs without sequencing)`,
          total,
          median(baselineTimes),
          median(candidateTimes),
          0.5,
        ),
      );
    }
  } finally {
    await store.close();
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  }
  return records;
}
