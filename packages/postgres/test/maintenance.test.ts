import { AsmError, createEvent, createSession, type NewEvent, type Session, sha256Hex } from '@asm/core';
import { testStoreMaintenance } from '@asm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPostgresArtifactRegistry,
  createPostgresMaintenance,
  createPostgresStore,
  type PostgresSessionStore,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

const NOW = new Date('2026-06-01T00:00:00.000Z');
const daysAgo = (days: number): string => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

/** A store in a schema of its own (maintenance works schema-wide). */
function newStore(label: string): { schema: string; store: PostgresSessionStore } {
  const schema = randomSchema(label);
  schemas.push(schema);
  return { schema, store: createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 4 }) };
}

// The shared suite: soft/hard delete, pruning, orphaned artifacts, the report, a failing step.
testStoreMaintenance({
  name: 'postgres',
  create: ({ now, artifacts }) => {
    const { store } = newStore('msuite');
    return { store, maintenance: createPostgresMaintenance(store, { now, artifacts }) };
  },
});

function setup() {
  const { schema, store } = newStore('maint');
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

describe('PostgreSQL maintenance: what the suite cannot set up', () => {
  it('soft-deleted sessions leave the query results', async () => {
    const { store, maintenance, save } = setup();
    try {
      await save({ status: 'completed', updatedAt: daysAgo(100) });
      await save({ status: 'active', updatedAt: daysAgo(100) });
      expect(await maintenance.softDeleteExpiredSessions()).toBe(1);
      expect((await store.searchSessions({ agentId: 'agent_retention' })).totalCount).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('cleans orphaned counters; healthCheck finds orphans, missing and lagging counters', async () => {
    const { schema, store, maintenance, save } = setup();
    try {
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
      const report = await maintenance.runMaintenance();
      expect(report.orphanedSequencesCleaned).toBe(1);
      expect(report.errors).toEqual([]);
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

  it('without an artifacts option, cleans the rows of its own registry whose session is gone', async () => {
    const { store, maintenance, save } = setup();
    try {
      const registry = createPostgresArtifactRegistry(store);
      const session = await save({});
      const register = (key: string, sessionId: string) =>
        registry.register({
          key,
          byteSize: 1,
          sha256: sha256Hex('x'),
          backend: 'file',
          reference: key,
          sessionId,
        });
      await register('kept/a', session.id);
      await register('gone/a', 'ses_deleted');
      const report = await maintenance.runMaintenance();
      expect(report.artifactsCleaned).toBe(1);
      expect((await registry.list()).items.map((record) => record.key)).toEqual(['kept/a']);
    } finally {
      await store.close();
    }
  });

  it('a dropped table fails its step only: reported by runMaintenance, maintenance_error from the single step', async () => {
    const { schema, store, maintenance } = setup();
    try {
      await store.ready();
      await withClient((client) => client.query(`DROP TABLE "${schema}".asm_events`));
      const report = await maintenance.runMaintenance({ maxEventsPerSession: 2 });
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

  it('refuses a store it did not make', async () => {
    expect(() => createPostgresMaintenance({} as PostgresSessionStore)).toThrow(/createPostgresStore/);
    expect(() => createPostgresArtifactRegistry({} as PostgresSessionStore)).toThrow(/createPostgresStore/);
  });
});
