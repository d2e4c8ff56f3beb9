import { createEvent, createSession, type NewEvent, sha256Hex } from '@asm/core';
import { testStoreMaintenance } from '@asm/testing';
import { describe, expect, it } from 'vitest';
import {
  createSqliteArtifactRegistry,
  createSqliteMaintenance,
  createSqliteStore,
  type SqliteSessionStore,
} from '../src/index.js';
import { expectAsmError } from './helpers.js';

// The shared suite: soft/hard delete, pruning, orphaned artifacts, the report, a failing step.
testStoreMaintenance({
  name: 'sqlite :memory:',
  create: ({ now, artifacts }) => {
    const store = createSqliteStore({ path: ':memory:' });
    return { store, maintenance: createSqliteMaintenance(store, { now, artifacts }) };
  },
});

testStoreMaintenance({
  name: 'sqlite :memory: with a table prefix',
  create: ({ now, artifacts }) => {
    const store = createSqliteStore({ path: ':memory:', tablePrefix: 'm_' });
    return { store, maintenance: createSqliteMaintenance(store, { now, artifacts }) };
  },
});

const NOW = new Date('2026-06-01T00:00:00.000Z');

async function setup(): Promise<{
  store: SqliteSessionStore;
  maintenance: ReturnType<typeof createSqliteMaintenance>;
}> {
  const store = createSqliteStore({ path: ':memory:', tablePrefix: 'm_' });
  return { store, maintenance: createSqliteMaintenance(store, { now: () => NOW }) };
}

describe('SQLite maintenance: what the suite cannot set up', () => {
  it('healthCheck finds orphaned runs and a counter behind the log', async () => {
    const { store, maintenance } = await setup();
    const busy = createSession({ agentId: 'agent_health' });
    await store.saveSession(busy);
    await store.appendEvents(
      Array.from(
        { length: 6 },
        () => createEvent({ type: 'message_streamed', sessionId: busy.id }) as NewEvent,
      ),
    );
    expect(await maintenance.healthCheck()).toEqual([]);
    store.database.pragma('foreign_keys = OFF');
    store.database
      .prepare('UPDATE m_session_sequences SET last_sequence = 1 WHERE session_id = ?')
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

  it('without an artifacts option, cleans the rows of its own registry whose session is gone', async () => {
    const { store, maintenance } = await setup();
    const registry = createSqliteArtifactRegistry(store);
    const session = createSession({ agentId: 'agent_artifacts' });
    await store.saveSession(session);
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
    await store.deleteSession(session.id);
    await register('kept/b', (await store.saveSession(createSession({ agentId: 'x' }))).id);
    const report = await maintenance.runMaintenance();
    expect(report.artifactsCleaned).toBe(2);
    expect((await registry.list()).items.map((record) => record.key)).toEqual(['kept/b']);
    await store.close();
  });

  it('a broken table fails its step only: reported by runMaintenance, maintenance_error from the single step', async () => {
    const { store, maintenance } = await setup();
    store.database.exec('DROP TABLE m_events');
    const report = await maintenance.runMaintenance({ maxEventsPerSession: 2 });
    expect(report.eventsPruned).toBe(0);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatch(/^pruneSessionEvents: /);
    await expectAsmError(
      maintenance.pruneSessionEvents('ses_x', { maxEventsPerSession: 1 }),
      'maintenance_error',
    );
    await store.close();
  });
});
