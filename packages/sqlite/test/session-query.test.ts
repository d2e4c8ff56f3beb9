import { createEvent, createRun, createSession, encodeQueryCursor, type NewEvent } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index.js';
import { expectAsmError } from './helpers.js';

const at = (second: number): string => new Date(Date.UTC(2026, 0, 1, 10, 0, second)).toISOString();

async function seeded() {
  const store = createSqliteStore({ path: ':memory:' });
  const agentId = 'agent_query';
  const sessionIds: string[] = [];
  for (let index = 0; index < 4; index++) {
    const session = {
      ...createSession({ agentId }),
      id: `ses_${index}`,
      createdAt: at(index),
      updatedAt: at(100 - (index % 2)),
    };
    await store.saveSession(session);
    sessionIds.push(session.id);
    await store.appendEvents(
      Array.from(
        { length: 5 },
        (_, eventIndex) =>
          createEvent({
            type: 'message_sent',
            sessionId: session.id,
            timestamp: at(eventIndex * 10 + index),
            data: { role: 'user', content: `${index}/${eventIndex}` },
          }) as NewEvent,
      ),
    );
  }
  return { store, agentId, sessionIds };
}

describe('SessionQuery on SQLite', () => {
  it('searchEvents pages in exact key order: by session then sequence, by timestamp both ways', async () => {
    const { store, sessionIds } = await seeded();
    const collect = async (orderBy: 'sequenceAsc' | 'timestampAsc' | 'timestampDesc') => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.searchEvents({
          sessionIds,
          orderBy,
          limit: 3,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((event) => `${event.timestamp}|${event.sessionId}|${event.sequence}`));
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };
    const bySequence = await collect('sequenceAsc');
    const keyOf = (text: string) => text.split('|');
    expect(bySequence.map((text) => `${keyOf(text)[1]}|${keyOf(text)[2]}`)).toEqual(
      sessionIds.flatMap((sessionId) => [1, 2, 3, 4, 5].map((sequence) => `${sessionId}|${sequence}`)),
    );
    const ascending = await collect('timestampAsc');
    expect(ascending).toEqual([...ascending].sort());
    expect(ascending).toHaveLength(20);
    expect(await collect('timestampDesc')).toEqual([...ascending].reverse());
    await store.close();
  });

  it('searchSessions breaks ties on the sort time by id, and hides soft-deleted sessions', async () => {
    const { store, agentId, sessionIds } = await seeded();
    // updatedAt: sessions 0 and 2 share the later time, 1 and 3 the earlier one.
    const page = await store.searchSessions({ agentId, limit: 10 });
    expect(page.items.map((session) => session.id)).toEqual(['ses_2', 'ses_0', 'ses_3', 'ses_1']);
    const deleted = (await store.getSession(sessionIds[0]!))!;
    await store.saveSession({ ...deleted, deletedAt: at(200) });
    const after = await store.searchSessions({ agentId });
    expect(after.totalCount).toBe(3);
    expect(after.items.map((session) => session.id)).not.toContain('ses_0');
    await store.close();
  });

  it('a cursor whose key has the wrong shape is validation_error', async () => {
    const { store, agentId } = await seeded();
    const wrong = encodeQueryCursor('sessions', 'createdAtAsc', [1, 2, 3]);
    await expectAsmError(
      store.searchSessions({ agentId, orderBy: 'createdAtAsc', cursor: wrong }),
      'validation_error',
    );
    await expectAsmError(store.searchEvents({ orderBy: 'bogus' as 'sequenceAsc' }), 'validation_error');
    await expectAsmError(store.searchRuns({ createdAfter: 'yesterday' }), 'validation_error');
    await store.close();
  });

  it('a database failure is query_error; a closed store is storage_connection_failed', async () => {
    const { store, sessionIds } = await seeded();
    store.database.exec('DROP TABLE asm_events');
    await expectAsmError(store.countEvents({ sessionIds }), 'query_error');
    await store.close();
    await expectAsmError(store.searchSessions(), 'storage_connection_failed');
  });

  it('getCostSummary uses a stored cost first and prices the others from the table', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const session = createSession({ agentId: 'agent_cost' });
    await store.saveSession(session);
    const usage = {
      inputTokens: 1_000,
      outputTokens: 100,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      totalTokens: 1_100,
    };
    await store.saveRun({
      ...createRun({ sessionId: session.id }),
      provider: 'claude',
      tokenUsage: usage,
      costUsd: 2,
    });
    await store.saveRun({
      ...createRun({ sessionId: session.id }),
      provider: 'claude',
      tokenUsage: usage,
      providerMetadata: { model: 'claude-haiku-4-5', other: { nested: true } },
    });
    const cost = await store.getCostSummary({ agentId: 'agent_cost' });
    expect(cost.runCount).toBe(2);
    expect(cost.unpricedRuns).toBe(0);
    expect(cost.totalCostUsd).toBeGreaterThan(2);
    expect(cost.byModel['claude-haiku-4-5']?.runCount).toBe(1);
    const usageSummary = await store.getUsageSummary({ sessionId: session.id, provider: 'claude' });
    expect(usageSummary.tokens.totalTokens).toBe(2_200);
    await store.close();
  });
});
