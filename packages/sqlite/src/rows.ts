/**
 * Conversions between the domain objects of `@asm/core` and the rows of the schema.
 */
import {
  AsmError,
  isIsoTimestamp,
  type Run,
  type Session,
  type StoredEvent,
  type TokenUsage,
} from '@asm/core';
import type { EventRow } from './append-batch.js';
import { corruptJsonError, unserializableError } from './errors.js';
import type { SqliteTables } from './schema.js';

/** A row of the sessions table as drizzle reads and writes it. */
export type SessionRow = SqliteTables['sessions']['$inferSelect'];
/** A row of the runs table as drizzle reads and writes it. */
export type RunRow = SqliteTables['runs']['$inferSelect'];

export { EVENT_COLUMNS, type EventRow } from './append-batch.js';

/**
 * The UTC `toISOString()` form of an ISO-8601 timestamp: the persisted form, whose text order is time
 * order. The common case (already in that form) costs two character checks.
 */
export function toUtcIso(value: string, field: string): string {
  if (value.length === 24 && value.charCodeAt(23) === 90 /* Z */ && value.charCodeAt(19) === 46 /* . */) {
    return value;
  }
  const millis = Date.parse(value);
  if (Number.isNaN(millis)) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 timestamp`, {
      details: { field, value },
    });
  }
  return new Date(millis).toISOString();
}

/** An optional timestamp that no core parser has checked yet: validated in full. */
function optionalUtcIso(value: string | undefined, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (!isIsoTimestamp(value)) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 timestamp`, {
      details: { field, value },
    });
  }
  return toUtcIso(value, field);
}

/** `JSON.stringify` that reports a value JSON cannot hold as `validation_error`. */
export function toJson(value: unknown, what: string, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw unserializableError(what, field, error);
  }
  if (text === undefined) throw unserializableError(what, field, undefined);
  return text;
}

/** `JSON.parse` of a stored column; a value that does not parse is `storage_read_failed`. */
export function parseJson(text: string, table: string, column: string, id: string): unknown {
  if (text === '{}') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw corruptJsonError(table, column, id, error);
  }
}

/** The row of a session (timestamps normalized to UTC). */
export function sessionToRow(session: Session): SessionRow {
  return {
    id: session.id,
    agentId: session.agentId,
    status: session.status,
    parentSessionId: session.parentSessionId ?? null,
    metadata: toJson(session.metadata ?? {}, 'session', 'metadata'),
    context: toJson(session.context ?? {}, 'session', 'context'),
    tags: toJson(session.tags ?? [], 'session', 'tags'),
    createdAt: toUtcIso(session.createdAt, 'createdAt'),
    updatedAt: toUtcIso(session.updatedAt, 'updatedAt'),
    deletedAt: optionalUtcIso(session.deletedAt, 'deletedAt'),
  };
}

/** The session of a row. */
export function sessionFromRow(row: SessionRow, table: string): Session {
  const session: Session = {
    id: row.id,
    agentId: row.agentId,
    status: row.status as Session['status'],
    metadata: parseJson(row.metadata, table, 'metadata', row.id) as Record<string, unknown>,
    context: parseJson(row.context, table, 'context', row.id) as Session['context'],
    tags: parseJson(row.tags, table, 'tags', row.id) as string[],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
  if (row.parentSessionId !== null) session.parentSessionId = row.parentSessionId;
  if (row.deletedAt !== null) session.deletedAt = row.deletedAt;
  return session;
}

/** The row of a run (timestamps normalized to UTC). */
export function runToRow(run: Run): RunRow {
  return {
    id: run.id,
    sessionId: run.sessionId,
    status: run.status,
    input: toJson(run.input ?? {}, 'run', 'input'),
    output: run.output === undefined ? null : toJson(run.output, 'run', 'output'),
    error: run.error === undefined ? null : toJson(run.error, 'run', 'error'),
    metadata: toJson(run.metadata ?? {}, 'run', 'metadata'),
    turnCount: run.turnCount,
    tokenUsage: toJson(run.tokenUsage, 'run', 'tokenUsage'),
    costUsd: run.costUsd ?? null,
    provider: run.provider ?? null,
    providerMetadata: toJson(run.providerMetadata ?? {}, 'run', 'providerMetadata'),
    createdAt: toUtcIso(run.createdAt, 'createdAt'),
    startedAt: optionalUtcIso(run.startedAt, 'startedAt'),
    endedAt: optionalUtcIso(run.endedAt, 'endedAt'),
  };
}

/** The run of a row. */
export function runFromRow(row: RunRow, table: string): Run {
  const run: Run = {
    id: row.id,
    sessionId: row.sessionId,
    status: row.status as Run['status'],
    input: parseJson(row.input, table, 'input', row.id) as Run['input'],
    metadata: parseJson(row.metadata, table, 'metadata', row.id) as Record<string, unknown>,
    turnCount: row.turnCount,
    tokenUsage: parseJson(row.tokenUsage, table, 'token_usage', row.id) as TokenUsage,
    providerMetadata: parseJson(row.providerMetadata, table, 'provider_metadata', row.id) as Record<
      string,
      unknown
    >,
    createdAt: row.createdAt,
  };
  if (row.output !== null) run.output = parseJson(row.output, table, 'output', row.id) as Run['output'];
  if (row.error !== null) run.error = parseJson(row.error, table, 'error', row.id) as Run['error'];
  if (row.costUsd !== null) run.costUsd = row.costUsd;
  if (row.provider !== null) run.provider = row.provider;
  if (row.startedAt !== null) run.startedAt = row.startedAt;
  if (row.endedAt !== null) run.endedAt = row.endedAt;
  return run;
}

/** The stored event of a raw row (see `EVENT_COLUMNS`). */
export function eventFromRow(row: EventRow, table: string): StoredEvent {
  const id = row[0];
  const event = {
    id,
    type: row[1],
    timestamp: row[2],
    sessionId: row[3],
    data: parseJson(row[5], table, 'data', id),
    metadata: parseJson(row[6], table, 'metadata', id),
    schemaVersion: row[7],
    sequence: row[10],
  } as StoredEvent;
  if (row[4] !== null) event.runId = row[4];
  if (row[8] !== null) event.provider = row[8];
  if (row[9] !== null) event.correlationId = row[9];
  return event;
}
