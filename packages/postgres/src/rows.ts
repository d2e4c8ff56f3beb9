/**
 * Conversions between the domain objects of `@asm/core` and the rows of the schema.
 */
import { AsmError, type Run, type Session, type StoredEvent, type TokenUsage } from '@asm/core';
import type { PostgresTables } from './schema.js';
import { toInstant, toOptionalInstant } from './timestamps.js';

/** A row of the sessions table as drizzle writes it. */
export type SessionRow = PostgresTables['sessions']['$inferInsert'];
/** A row of the sessions table as drizzle reads it. */
export type SessionRecord = PostgresTables['sessions']['$inferSelect'];
/** A row of the runs table as drizzle writes it. */
export type RunRow = PostgresTables['runs']['$inferInsert'];
/** A row of the runs table as drizzle reads it. */
export type RunRecord = PostgresTables['runs']['$inferSelect'];

/**
 * The event columns the hot path reads, in this order (rows come back as arrays): keep
 * `EVENT_COLUMNS` and `eventFromRow` in step.
 */
export const EVENT_COLUMNS =
  'id, type, timestamp, session_id, run_id, data, metadata, schema_version, provider, correlation_id, sequence';

/** An event row in `EVENT_COLUMNS` order (`pg` has already parsed the jsonb columns). */
export type EventRow = [
  id: string,
  type: string,
  timestamp: string,
  sessionId: string,
  runId: string | null,
  data: unknown,
  metadata: unknown,
  schemaVersion: number,
  provider: string | null,
  correlationId: string | null,
  sequence: number,
];

/** The stored event of a row. */
export function eventFromRow(row: EventRow): StoredEvent {
  const event = {
    id: row[0],
    type: row[1],
    timestamp: row[2],
    sessionId: row[3],
    data: row[5] as Record<string, unknown>,
    metadata: (row[6] ?? {}) as Record<string, unknown>,
    schemaVersion: row[7],
    sequence: row[10],
  } as StoredEvent;
  if (row[4] !== null) event.runId = row[4];
  if (row[8] !== null) event.provider = row[8];
  if (row[9] !== null) event.correlationId = row[9];
  return event;
}

/** Throws `validation_error` when `value` cannot be written as JSON (a BigInt, a cycle, a function). */
export function assertJson(value: unknown, what: string, field: string): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new AsmError('validation_error', `The ${what} ${field} cannot be stored as JSON`, {
      details: { field },
      cause: error,
    });
  }
  if (text === undefined && value !== undefined) {
    throw new AsmError('validation_error', `The ${what} ${field} cannot be stored as JSON`, {
      details: { field },
    });
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The row of a (validated) session. */
export function sessionToRow(session: Session): SessionRow {
  if (!isStringArray(session.tags)) {
    throw new AsmError('validation_error', 'tags must be an array of strings', {
      details: { field: 'tags' },
    });
  }
  if (!isPlainObject(session.metadata) || !isPlainObject(session.context)) {
    throw new AsmError('validation_error', 'session metadata and context must be objects', {
      details: { field: isPlainObject(session.metadata) ? 'context' : 'metadata' },
    });
  }
  assertJson(session.metadata, 'session', 'metadata');
  assertJson(session.context, 'session', 'context');
  const deleted = toOptionalInstant(session.deletedAt, 'deletedAt');
  return {
    id: session.id,
    agentId: session.agentId,
    status: session.status,
    parentSessionId: session.parentSessionId ?? null,
    metadata: session.metadata,
    context: session.context,
    tags: session.tags,
    createdAt: toInstant(session.createdAt, 'createdAt').utc,
    createdAtIso: session.createdAt,
    updatedAt: toInstant(session.updatedAt, 'updatedAt').utc,
    updatedAtIso: session.updatedAt,
    deletedAt: deleted?.utc ?? null,
    deletedAtIso: deleted === null ? null : (session.deletedAt ?? null),
  };
}

/** The session of a row. */
export function sessionFromRecord(record: SessionRecord): Session {
  const session: Session = {
    id: record.id,
    agentId: record.agentId,
    status: record.status as Session['status'],
    metadata: record.metadata as Record<string, unknown>,
    context: record.context as Session['context'],
    tags: record.tags,
    createdAt: record.createdAtIso,
    updatedAt: record.updatedAtIso,
  };
  if (record.parentSessionId !== null) session.parentSessionId = record.parentSessionId;
  if (record.deletedAtIso !== null) session.deletedAt = record.deletedAtIso;
  return session;
}

/** The row of a (validated) run. */
export function runToRow(run: Run): RunRow {
  for (const field of ['input', 'output', 'error', 'metadata', 'tokenUsage', 'providerMetadata'] as const) {
    assertJson(run[field], 'run', field);
  }
  if (!Number.isInteger(run.turnCount)) {
    throw new AsmError('validation_error', 'turnCount must be an integer', {
      details: { field: 'turnCount' },
    });
  }
  const started = toOptionalInstant(run.startedAt, 'startedAt');
  const ended = toOptionalInstant(run.endedAt, 'endedAt');
  return {
    id: run.id,
    sessionId: run.sessionId,
    status: run.status,
    input: run.input ?? null,
    output: run.output ?? null,
    error: run.error ?? null,
    metadata: run.metadata,
    turnCount: run.turnCount,
    tokenUsage: run.tokenUsage,
    costUsd: run.costUsd ?? null,
    provider: run.provider ?? null,
    providerMetadata: run.providerMetadata,
    createdAt: toInstant(run.createdAt, 'createdAt').utc,
    createdAtIso: run.createdAt,
    startedAt: started?.utc ?? null,
    startedAtIso: started === null ? null : (run.startedAt ?? null),
    endedAt: ended?.utc ?? null,
    endedAtIso: ended === null ? null : (run.endedAt ?? null),
  };
}

/** The run of a row. */
export function runFromRecord(record: RunRecord): Run {
  const run = {
    id: record.id,
    sessionId: record.sessionId,
    status: record.status as Run['status'],
    metadata: record.metadata as Record<string, unknown>,
    turnCount: record.turnCount,
    tokenUsage: record.tokenUsage as TokenUsage,
    providerMetadata: record.providerMetadata as Record<string, unknown>,
    createdAt: record.createdAtIso,
  } as Run;
  if (record.input !== null) run.input = record.input as Run['input'];
  if (record.output !== null) run.output = record.output as Run['output'];
  if (record.error !== null) run.error = record.error as Run['error'];
  if (record.costUsd !== null) run.costUsd = record.costUsd;
  if (record.provider !== null) run.provider = record.provider;
  if (record.startedAtIso !== null) run.startedAt = record.startedAtIso;
  if (record.endedAtIso !== null) run.endedAt = record.endedAtIso;
  return run;
}
