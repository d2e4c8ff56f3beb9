import {
  AsmError,
  createEvent,
  createRun,
  createSession,
  type EventType,
  type NewEvent,
  type Session,
} from '@asm/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPostgresMaintenance,
  createPostgresStore,
  type PostgresSessionStore,
  resolveRetentionPolicy,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

/** A store in a schema of its own (maintenance works schema-wide), with its maintenance. */
async function setup() {
  const schema = randomSchema('maint');
  schemas.push(schema);
  const store = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 2 });
  const maintenance = createPostgresMaintenance(store, { now: () => NOW });
  const save = async (overrides: Partial<Session>): Promise<Session> => {
    const session = { ...createSession({ agentId: 'agent_retention' }), ...overrides };
    await store.saveSession(session);
    return session;
  };
  return { schema, store, maintenance, save };
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

describe('createPostgresMaintenance', () => {
  it('soft-deletes old sessions except exempt statuses and tags', async () => {
    const { store, maintenance, save } = await setup();
    try {
      const old = await save({ status: 'completed', updatedAt: daysAgo(100) });
      const oldFailed = await save({ status: 'failed', updatedAt: daysAgo(91) });
      const oldActive = await save({ status: 'active', updatedAt: daysAgo(100) });
      const pinned = await save({ status: 'completed', tags: ['x', 'pinned'], updatedAt: daysAgo(100) });
      const recent = await save({ status: 'completed', updatedAt: daysAgo(10) });
      expect(await maintenance.softDeleteExpiredSessions()).toBe(2);
      expect((await store.getSession(old.id))?.deletedAt).toBe(NOW.toISOString());
      expect((await store.getSession(oldFailed.id))?.deletedAt).toBe(NOW.toISOString());
      for (const kept of [oldActive, pinned, recent])
        expect((await store.getSession(kept.id))?.deletedAt).toBeUndefined();
      // Soft-deleted sessions leave the query results.
      expect((await store.searchSessions({ agentId: 'agent_retention' })).totalCount).toBe(3);
      expect(
        await maintenance.softDeleteExpiredSessions({ maxCompletedSessionAgeDays: Number.POSITIVE_INFINITY }),
      ).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('hard-deletes sessions soft-deleted long enough ago, with runs, events and counters', async () => {
    const { schema, store, maintenance, save } = await setup();
    try {
      const gone = await save({ deletedAt: daysAgo(31) });
      const goneToo = await save({ deletedAt: daysAgo(40) });
      const graced = await save({ deletedAt: daysAgo(5) });
      await store.saveRun(createRun({ sessionId: gone.id }));
      await store.appendEvent(createEvent({ type: 'run_started', sessionId: gone.id }) as NewEvent);
      expect(await maintenance.hardDeleteExpiredSessions({ batchSize: 1 })).toBe(2);
      for (const id of [gone.id, goneToo.id]) {
        expect(await store.getSession(id)).toBeUndefined();
        expect(await store.listRuns(id)).toEqual([]);
        expect(await store.getEvents(id)).toEqual([]);
      }
      expect(await store.getSession(graced.id)).toBeDefined();
      const counters = await withClient((client) =>
        client.query(`SELECT session_id FROM "${schema}".asm_session_sequences`),
      );
      expect(counters.rows.map((row: { session_id: string }) => row.session_id)).toEqual([graced.id]);
      expect(await maintenance.healthCheck()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('prunes the oldest streamed deltas first, never protected types, and never reuses a sequence', async () => {
    const { store, maintenance, save } = await setup();
    try {
      const session = await save({});
      const types: EventType[] = [
        'session_created',
        'run_started',
        'message_streamed',
        'message_sent',
        'message_streamed',
        'token_usage_updated',
        'message_received',
        'run_completed',
      ];
      await store.appendEvents(types.map((type) => createEvent({ type, sessionId: session.id }) as NewEvent));
      // 8 events, keep 4: the 3 first-to-prune go, then the oldest unprotected (message_sent).
      expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 4 })).toBe(4);
      expect((await store.getEvents(session.id)).map((event) => event.type)).toEqual([
        'session_created',
        'run_started',
        'message_received',
        'run_completed',
      ]);
      // Protected events are never pruned, even over the limit.
      expect(await maintenance.pruneSessionEvents(session.id, { maxEventsPerSession: 1 })).toBe(1);
      expect((await store.getEvents(session.id)).map((event) => event.type)).toEqual([
        'session_created',
        'run_started',
        'run_completed',
      ]);
      const next = await store.appendEvent(
        createEvent({ type: 'message_sent', sessionId: session.id }) as NewEvent,
      );
      expect(next.sequence).toBe(9);
      expect(await maintenance.pruneSessionEvents('ses_unknown', { maxEventsPerSession: 1 })).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('execute runs every step and reports; healthCheck finds orphans, missing and lagging counters', async () => {
    const { schema, store, maintenance, save } = await setup();
    try {
      await save({ status: 'completed', updatedAt: daysAgo(200) });
      await save({ deletedAt: daysAgo(60) });
      const busy = await save({});
      await store.appendEvents(
        Array.from(
          { length: 6 },
          () => createEvent({ type: 'message_streamed', sessionId: busy.id }) as NewEvent,
        ),
      );
      await withClient((client) =>
        client.query(`INSERT INTO "${schema}".asm_session_sequences (session_id) VALUES ('ses_orphan')`),
      );
      const report = await maintenance.execute({ maxEventsPerSession: 2 });
      expect(report).toMatchObject({
        sessionsSoftDeleted: 1,
        sessionsHardDeleted: 1,
        eventsPruned: 4,
        orphanedSequencesCleaned: 1,
        errors: [],
      });
      expect(await maintenance.healthCheck()).toEqual([]);

      const lonely = await save({});
      await withClient(async (client) => {
        await client.query(
          `UPDATE "${schema}".asm_session_sequences SET last_sequence = 1 WHERE session_id = $1`,
          [busy.id],
        );
        await client.query(`DELETE FROM "${schema}".asm_session_sequences WHERE session_id = $1`, [
          lonely.id,
        ]);
        await client.query(
          `INSERT INTO "${schema}".asm_runs (id, session_id, status, token_usage, created_at, created_at_iso)
           VALUES ('run_x', 'ses_gone', 'pending', '{}', now(), $1)`,
          [NOW.toISOString()],
        );
      });
      const issues = await maintenance.healthCheck();
      expect(issues).toContain('1 runs reference non-existent sessions');
      expect(issues).toContain(`Sequence mismatch for ${busy.id}: counter=1, max_sequence=6`);
      expect(issues).toContain('1 sessions have no sequence counter (appends to them fail)');
    } finally {
      await store.close();
    }
  });

  it('a failing step is reported, not thrown; single steps fail with maintenance_error', async () => {
    const { schema, store, maintenance } = await setup();
    try {
      await store.ready();
      await withClient((client) => client.query(`DROP TABLE "${schema}".asm_events`));
      const report = await maintenance.execute({ maxEventsPerSession: 2 });
      expect(report.eventsPruned).toBe(0);
      // Only pruning reads the events table here; the other steps still ran.
      expect(report.errors).toHaveLength(1);
      expect(report.errors[0]).toMatch(/^pruneSessionEvents: /);
      expect(await code(maintenance.pruneSessionEvents('ses_x', { maxEventsPerSession: 1 }))).toBe(
        'maintenance_error',
      );
    } finally {
      await store.close();
    }
  });

  it('rejects an invalid policy with validation_error, a foreign store, and a closed store', async () => {
    const { store, maintenance } = await setup();
    expect(() => resolveRetentionPolicy({ maxEventsPerSession: 0 })).toThrow();
    expect(await code(maintenance.execute({ batchSize: 1.5 }))).toBe('validation_error');
    expect(await code(maintenance.execute({ exemptStatuses: ['bogus' as 'active'] }))).toBe(
      'validation_error',
    );
    expect(
      await code(maintenance.pruneSessionEvents('x', { protectedEventTypes: ['nope' as 'run_started'] })),
    ).toBe('validation_error');
    expect(() => createPostgresMaintenance({} as PostgresSessionStore)).toThrow(/createPostgresStore/);
    await store.close();
    expect(await code(maintenance.healthCheck())).toBe('storage_connection_failed');
  });
});
