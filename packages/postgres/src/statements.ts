/**
 * The SQL of the append and read hot path, built once per store, and the JSON that carries a batch.
 */
import { AsmError, type NewEvent } from '@asm/core';
import { MAX_SEQUENCE, type NormalizedQuery } from './event-query.js';
import type { QualifiedNames } from './identifiers.js';
import { EVENT_COLUMNS } from './rows.js';
import { toInstant } from './timestamps.js';

/** The SQL of the hot path, built once per store (names are schema-qualified and quoted). */
export function preparedStatements(names: QualifiedNames, prefix: string, notifyInTransaction: boolean) {
  const insertColumns =
    'id, session_id, sequence, type, timestamp, occurred_at, occurred_at_ns, run_id, data, metadata, schema_version, provider, correlation_id';
  const recordset = (parameter: string): string =>
    `jsonb_to_recordset(${parameter}::jsonb) AS e(q int4, s text, i text, t text, ts text, o timestamptz, n int2, r text, d jsonb, m jsonb, v int4, p text, c text)`;
  // One statement: the counter row is bumped (and row-locked until commit), the batch inserted with
  // sequences base + 1 …, and the count checked by the caller. Data-modifying CTEs always run to
  // completion, RETURNING lists included, so an in-transaction pg_notify fires exactly once.
  const notifyColumn = notifyInTransaction ? ', pg_notify($4, last_sequence::text || $5) AS notified' : '';
  const append = `WITH counter AS (
  UPDATE ${names.sessionSequences} SET last_sequence = last_sequence + $2::int4
  WHERE session_id = $1
  RETURNING last_sequence - $2::int4 AS base${notifyColumn}
), inserted AS (
  INSERT INTO ${names.events} (${insertColumns})
  SELECT e.i, $1, counter.base + e.q, e.t, e.ts, e.o, e.n, e.r, e.d, e.m, e.v, e.p, e.c
  FROM counter CROSS JOIN ${recordset('$3')}
  RETURNING 1
)
SELECT base, (SELECT count(*)::int4 FROM inserted) AS inserted FROM counter`;

  const selectCache = new Map<number, string>();
  return {
    appendName: `${prefix}append${notifyInTransaction ? '_notify' : ''}`,
    append,
    insertMany: `INSERT INTO ${names.events} (${insertColumns})
SELECT e.i, e.s, e.q, e.t, e.ts, e.o, e.n, e.r, e.d, e.m, e.v, e.p, e.c FROM ${recordset('$1')}`,
    lockCounters: `SELECT session_id, last_sequence FROM ${names.sessionSequences}
WHERE session_id = ANY($1::text[]) ORDER BY session_id COLLATE "C" FOR NO KEY UPDATE`,
    setCounters: `UPDATE ${names.sessionSequences} AS counter SET last_sequence = v.last
FROM unnest($1::text[], $2::int4[]) AS v(session_id, last)
WHERE counter.session_id = v.session_id`,
    notifyInTransaction: 'SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload',
    // Used alone (after-commit mode) it is its own short transaction: with synchronous_commit off
    // its commit does not wait for a WAL flush while holding PostgreSQL's notify lock.
    notify: `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, payload) FROM unnest($2::text[]) AS payload`,
    lookupName: `${prefix}lookup`,
    lookup: `SELECT ${EVENT_COLUMNS} FROM ${names.events} WHERE id = ANY($1::text[])`,
    latestName: `${prefix}latest`,
    latest: `SELECT last_sequence FROM ${names.sessionSequences} WHERE session_id = $1`,
    /** The SELECT of `getEvents` for this query's shape (one prepared statement per shape). */
    selectEvents(
      sessionId: string,
      query: NormalizedQuery,
    ): { text: string; name: string; values: unknown[] } {
      const values: unknown[] = [sessionId, query.after];
      let shape = 0;
      let where = 'session_id = $1 AND sequence > $2';
      if (query.before !== undefined && query.before <= MAX_SEQUENCE) {
        values.push(query.before);
        where += ` AND sequence < $${values.length}`;
        shape |= 1;
      }
      if (query.runId !== undefined) {
        values.push(query.runId);
        where += ` AND run_id = $${values.length}`;
        shape |= 2;
      }
      if (query.types?.length === 1) {
        // One type: an equality, so asm_events_session_type_idx returns the rows in sequence order.
        values.push(query.types[0]);
        where += ` AND type = $${values.length}`;
        shape |= 32;
      } else if (query.types !== undefined) {
        values.push(query.types);
        where += ` AND type = ANY($${values.length}::text[])`;
        shape |= 4;
      }
      if (query.since !== undefined) {
        values.push(query.since.utc, query.since.nanos);
        where += ` AND (occurred_at, occurred_at_ns) >= ($${values.length - 1}::timestamptz, $${values.length}::int2)`;
        shape |= 8;
      }
      let limit = '';
      if (query.limit !== undefined) {
        values.push(query.limit);
        limit = ` LIMIT $${values.length}`;
        shape |= 16;
      }
      let text = selectCache.get(shape);
      if (text === undefined) {
        text = `SELECT ${EVENT_COLUMNS} FROM ${names.events} WHERE ${where} ORDER BY sequence${limit}`;
        selectCache.set(shape, text);
      }
      return { text, name: `${prefix}events_${shape}`, values };
    },
  };
}

/**
 * The JSON array `jsonb_to_recordset` reads: one object per event with short keys. `q` is the
 * ordinal in the batch (single-session statement) or the sequence (multi-session statement).
 */
export function eventsJson(events: readonly NewEvent[], sequences: readonly number[] | undefined): string {
  const rows = new Array<Record<string, unknown>>(events.length);
  for (let index = 0; index < events.length; index++) {
    const event = events[index]!;
    const instant = toInstant(event.timestamp, 'timestamp');
    rows[index] = {
      q: sequences === undefined ? index + 1 : sequences[index],
      s: event.sessionId,
      i: event.id,
      t: event.type,
      ts: event.timestamp,
      o: instant.utc,
      n: instant.nanos,
      r: event.runId,
      d: event.data,
      m: event.metadata ?? {},
      v: event.schemaVersion,
      p: event.provider,
      c: event.correlationId,
    };
  }
  try {
    return JSON.stringify(rows);
  } catch (error) {
    throw new AsmError('validation_error', 'Event data or metadata cannot be stored as JSON', {
      details: { field: 'data' },
      cause: error,
    });
  }
}
