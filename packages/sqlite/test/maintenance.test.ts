import {
  createEvent,
  createRun,
  createSession,
  type EventType,
  type NewEvent,
  type Session,
} from '@asm/core';
import { describe, expect, it } from 'vitest';
import { createSqliteMaintenance, createSqliteStore, resolveRetentionPolicy } from '../src/index.js';
import { expectAsmError } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString();

async function setup() {
  const store = createSqliteStore({ path: ':memory:', tablePrefix: 'm_' });
  const maintenance = createSqliteMaintenance(store, { now: () => NOW });
  const save = async (overrides: Partial<Session>): Promise<Session> => {
    const session = { ...createSession({ agentId: 'agent_retention' }), ...overrides };
    await store.saveSession(session);
    return session;
  };
  return { store, maintenance, save };
}

describe('maintenance', () => {
  it('soft-deletes old sessions except exempt statuses and tags', async () => {
    const { store, maintenance, save } = await setup();
    const old = await save({ status: 'completed', updatedAt: daysAgo(100) });
    const oldFailed = await save({ status: 'failed', updatedAt: daysAgo(91) });
    const oldActive = await save({ status: 'active', updatedAt: daysAgo(100) });
    const pinned = await save({ status: 'completed', tags: ['pinned'], updatedAt: daysAgo(100) });
    const recent = await save({ status: 'completed', updatedAt: daysAgo(10) });
    expect(await maintenance.softDeleteExpiredSessions()).toBe(2);
    expect((await store.getSession(old.id))?.deletedAt).toBe(NOW.toISOString());
    expect((await store.getSession(oldFailed.id))?.deletedAt).toBe(NOW.toISOString());
    for (const kept of [oldActive, pinned, recent])
      expect((await store.getSession(kept.id))?.deletedAt).toBeUndefined();
    expect(
      await maintenance.softDeleteExpiredSessions({ maxCompletedSessionAgeDays: Number.POSITIVE_INFINITY }),
    ).toBe(0);
    await store.close();
  });

  it('hard-deletes sessions soft-deleted long enough ago, with their runs and events', async () => {
    const { store, maintenance, save } = await setup();
    const gone = await save({ deletedAt: daysAgo(31) });
    const graced = await save({ deletedAt: daysAgo(5) });
    await store.saveRun(createRun({ sessionId: gone.id }));
    await store.appendEvent(createEvent({ type: 'run_started', sessionId: gone.id }) as NewEvent);
    expect(await maintenance.hardDeleteExpiredSessions({ batchSize: 1 })).toBe(1);
    expect(await store.getSession(gone.id)).toBeUndefined();
    expect(await store.listRuns(gone.id)).toEqual([]);
    expect(await store.getEvents(gone.id)).toEqual([]);
    expect(await store.getSession(graced.id)).toBeDefined();
    await store.close();
  });

  it('prunes the oldest streamed deltas first, never protected types, and never reuses a sequence', async () => {
    const { store, maintenance, save } = await setup();
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
    const left = await store.getEvents(session.id);
    expect(left.map((event) => event.type)).toEqual([
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
    expect(
      (await store.appendEvent(createEvent({ type: 'message_sent', sessionId: session.id }) as NewEvent))
        .sequence,
    ).toBe(9);
    await store.close();
  });

  it('execute runs every step and reports; healthCheck finds orphans and a counter behind the log', async () => {
    const { store, maintenance, save } = await setup();
    await save({ status: 'completed', updatedAt: daysAgo(200) });
    await save({ deletedAt: daysAgo(60) });
    const busy = await save({});
    await store.appendEvents(
      Array.from(
        { length: 6 },
        () => createEvent({ type: 'message_streamed', sessionId: busy.id }) as NewEvent,
      ),
    );
    const report = await maintenance.execute({ maxEventsPerSession: 2 });
    expect(report).toMatchObject({
      sessionsSoftDeleted: 1,
      sessionsHardDeleted: 1,
      eventsPruned: 4,
      errors: [],
    });
    expect(await maintenance.healthCheck()).toEqual([]);

    store.database.pragma('foreign_keys = OFF');
    store.database
      .prepare(`UPDATE m_session_sequences SET last_sequence = 1 WHERE session_id = ?`)
      .run(busy.id);
    store.database
      .prepare(
        `INSERT INTO m_runs (id, session_id, status, input, token_usage, created_at) VALUES ('run_x', 'ses_gone', 'pending', '{}', '{}', ?)`,
      )
      .run(NOW.toISOString());
    const issues = await maintenance.healthCheck();
    expect(issues).toContain('1 runs reference non-existent sessions');
    expect(issues).toContain(`Sequence mismatch for ${busy.id}: counter=1, max_sequence=6`);
    await store.close();
  });

  it('rejects an invalid policy with validation_error, and a closed store with storage_connection_failed', async () => {
    const { store, maintenance } = await setup();
    expect(() => resolveRetentionPolicy({ maxEventsPerSession: 0 })).toThrow();
    await expectAsmError(maintenance.execute({ batchSize: 1.5 }), 'validation_error');
    await expectAsmError(maintenance.execute({ exemptStatuses: ['bogus' as 'active'] }), 'validation_error');
    await expectAsmError(
      maintenance.pruneSessionEvents('x', { protectedEventTypes: ['nope' as 'run_started'] }),
      'validation_error',
    );
    await store.close();
    await expectAsmError(maintenance.healthCheck(), 'storage_connection_failed');
  });
});
