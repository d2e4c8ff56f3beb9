import {
  AsmError,
  createEvent,
  createRun,
  createSession,
  type EventOrder,
  type NewEvent,
  type Run,
  type RunOrder,
  type Session,
  type SessionOrder,
  type StoredEvent,
  searchEventsIn,
  searchRunsIn,
  searchSessionsIn,
  supportsSessionQuery,
} from '@asm/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresSessionStore } from '../src/index.js';
import { DATABASE_URL, dropSchema, randomSchema, withClient } from './helpers.js';

const schema = randomSchema('search');
let store: PostgresSessionStore;
/** Every statement the store's pool ran, for EXPLAIN. */
const statements: Array<{ text: string; values: unknown[] }> = [];
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((...args: unknown[]) => {
    const [config, values] = args as [string | { text: string; values?: unknown[] }, unknown[] | undefined];
    if (typeof config === 'object' && config !== null)
      statements.push({ text: config.text, values: config.values ?? [] });
    else statements.push({ text: config, values: values ?? [] });
    return query(...args);
  }) as typeof pool.query;
  store = createPostgresStore({ pool, schema });
  await store.ready();
});

afterAll(async () => {
  await store.close();
  await pool.end();
  await dropSchema(schema);
});

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

/** Pages through a search to the end, returning the items and the cursors handed out. */
async function allPages<T>(
  search: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<{ items: T[]; cursors: string[] }> {
  const items: T[] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await search(cursor);
    items.push(...result.items);
    if (result.nextCursor === undefined) return { items, cursors };
    cursors.push(result.nextCursor);
    cursor = result.nextCursor;
  }
  throw new Error('paging did not end');
}

describe('SessionQuery on PostgreSQL: same order and cursors as the in-memory reference', () => {
  const agentId = `parity-${process.pid}`;
  const sessions: Session[] = [];
  const runs: Run[] = [];
  let events: StoredEvent[] = [];

  beforeAll(async () => {
    // Colliding milliseconds with different sub-millisecond parts and offsets, ids in mixed case.
    const base = Date.UTC(2026, 2, 1, 12, 0, 0);
    const stamp = (index: number, fraction: string, zone = 'Z') => {
      const iso = new Date(base + Math.floor(index / 3) * 1000).toISOString().slice(0, 19);
      return zone === 'Z'
        ? `${iso}.${fraction}Z`
        : `${new Date(base + Math.floor(index / 3) * 1000 + 2 * 3_600_000).toISOString().slice(0, 19)}.${fraction}${zone}`;
    };
    const fractions = ['123', '1239', '123456789', '5', '500001'];
    for (let index = 0; index < 7; index++) {
      const created = stamp(index, fractions[index % fractions.length]!, index % 2 === 0 ? 'Z' : '+02:00');
      const session: Session = {
        ...createSession({ agentId, tags: index % 2 === 0 ? ['even'] : [] }),
        id: `ses_${index % 2 === 0 ? 'A' : 'a'}${index % 3}_${index}`,
        createdAt: created,
        updatedAt: stamp(6 - index, fractions[(index + 2) % fractions.length]!),
      };
      await store.saveSession(session);
      sessions.push(session);
      for (let runIndex = 0; runIndex < 2; runIndex++) {
        const total = (index % 3) * 100 + runIndex;
        const run: Run = {
          ...createRun({ sessionId: session.id, input: 'q' }),
          id: `run_${index}_${runIndex}_${index % 2 === 0 ? 'Z' : 'b'}`,
          provider: runIndex === 0 ? 'claude' : 'amp',
          createdAt: stamp(index + runIndex, fractions[(index + runIndex) % fractions.length]!),
          tokenUsage: {
            inputTokens: total,
            outputTokens: 0,
            cacheReadTokens: 0,
            cacheWriteTokens: 0,
            totalTokens: total,
          },
        };
        await store.saveRun(run);
        runs.push(run);
      }
      await store.appendEvents(
        Array.from(
          { length: 5 },
          (_, eventIndex) =>
            createEvent({
              type: 'message_sent',
              sessionId: session.id,
              data: { role: 'user', content: String(eventIndex) },
              // Out of sequence order on purpose, and colliding across sessions.
              timestamp: stamp(
                (eventIndex * 5 + index) % 7,
                fractions[(eventIndex + index) % fractions.length]!,
                eventIndex % 2 === 0 ? 'Z' : '+02:00',
              ),
            }) as NewEvent,
        ),
      );
    }
    for (const session of sessions) events.push(...(await store.exportSession(session.id)).events);
    events = events.filter((event) => event.sessionId.startsWith('ses_'));
  });

  it('the store is a SessionQuery', () => {
    expect(supportsSessionQuery(store)).toBe(true);
  });

  for (const orderBy of ['updatedAtDesc', 'createdAtAsc', 'createdAtDesc'] as SessionOrder[]) {
    it(`searchSessions ${orderBy}: items and cursors equal the in-memory ones, page by page`, async () => {
      for (const limit of [1, 2, 3]) {
        const stored = await allPages((cursor) => store.searchSessions({ agentId, orderBy, limit, cursor }));
        const expected = await allPages(async (cursor) =>
          searchSessionsIn(sessions, (id) => runs.filter((run) => run.sessionId === id), {
            agentId,
            orderBy,
            limit,
            cursor,
          }),
        );
        expect(stored.items.map((session) => session.id)).toEqual(
          expected.items.map((session) => session.id),
        );
        expect(stored.cursors).toEqual(expected.cursors);
      }
      expect((await store.searchSessions({ agentId, orderBy, limit: 2 })).totalCount).toBe(7);
    });
  }

  for (const orderBy of ['createdAtDesc', 'createdAtAsc', 'totalTokensDesc'] as RunOrder[]) {
    it(`searchRuns ${orderBy}: items and cursors equal the in-memory ones`, async () => {
      const sessionIds = new Set(sessions.map((session) => session.id));
      for (const limit of [1, 3]) {
        for (const minTokens of [undefined, 100]) {
          const mine = runs.filter((run) => sessionIds.has(run.sessionId));
          const stored = await allPages(async (cursor) => {
            const page = await store.searchRuns({
              orderBy,
              limit,
              cursor,
              minTokens,
              provider: ['claude', 'amp'],
            });
            return { ...page, items: page.items.filter((run) => sessionIds.has(run.sessionId)) };
          });
          const expected = await allPages(async (cursor) =>
            searchRunsIn(mine, { orderBy, limit, cursor, minTokens }),
          );
          // Other files' runs may share the database schema-wide: compare this file's runs only.
          expect(stored.items.map((run) => run.id)).toEqual(expected.items.map((run) => run.id));
        }
      }
    });
  }

  for (const orderBy of ['sequenceAsc', 'timestampAsc', 'timestampDesc'] as EventOrder[]) {
    it(`searchEvents ${orderBy}: items and cursors equal the in-memory ones (one and many sessions)`, async () => {
      const sessionSets = [
        sessions.map((session) => session.id),
        [sessions[3]!.id],
        [sessions[0]!.id, sessions[5]!.id],
      ];
      for (const sessionIds of sessionSets) {
        for (const limit of [1, 4, 100]) {
          const stored = await allPages((cursor) =>
            store.searchEvents({ sessionIds, orderBy, limit, cursor }),
          );
          const expected = await allPages(async (cursor) =>
            searchEventsIn(events, { sessionIds, orderBy, limit, cursor }),
          );
          expect(stored.items.map((event) => event.id)).toEqual(expected.items.map((event) => event.id));
          expect(stored.cursors).toEqual(expected.cursors);
          expect(stored.items).toEqual(expected.items);
        }
      }
      // A cursor of another session, used on a one-session search, positions it like in memory.
      const [first, other] = [sessions[1]!.id, sessions[4]!.id];
      const cursor = (await store.searchEvents({ sessionIds: [first, other], orderBy, limit: 3 })).nextCursor;
      for (const only of [first, other]) {
        const stored = await store.searchEvents({ sessionIds: [only], orderBy, cursor });
        const expected = searchEventsIn(events, { sessionIds: [only], orderBy, cursor });
        expect(stored.items.map((event) => event.id)).toEqual(expected.items.map((event) => event.id));
      }
    });
  }

  it('time bounds are inclusive and exact to the nanosecond the timestamp carries', async () => {
    const sessionIds = sessions.map((session) => session.id);
    const target = events.find((event) => event.timestamp.includes('.123456789'))!;
    const inclusive = await store.searchEvents({
      sessionIds,
      since: target.timestamp,
      until: target.timestamp,
    });
    expect(inclusive.items.map((event) => event.id)).toContain(target.id);
    // One nanosecond later: the same microsecond, so only the nanosecond column tells them apart.
    const later = target.timestamp.replace('.123456789', '.123456790');
    const after = await store.searchEvents({ sessionIds, since: later, until: later });
    expect(after.items.map((event) => event.id)).not.toContain(target.id);
    expect(await store.countEvents({ sessionIds, since: target.timestamp, until: target.timestamp })).toBe(
      inclusive.items.length,
    );
  });

  it('validation: statuses, orders, limits, cursors, time bounds', async () => {
    expect(await code(store.searchSessions({ status: 'nope' as 'active' }))).toBe('validation_error');
    expect(await code(store.searchRuns({ orderBy: 'nope' as 'createdAtAsc' }))).toBe('validation_error');
    expect(await code(store.searchEvents({ limit: 0 }))).toBe('validation_error');
    expect(await code(store.searchEvents({ since: 'yesterday' }))).toBe('validation_error');
    expect(await code(store.searchEvents({ sessionIds: [1 as unknown as string] }))).toBe('validation_error');
    const cursor = (await store.searchEvents({ limit: 1, orderBy: 'timestampAsc' })).nextCursor!;
    expect(await code(store.searchEvents({ orderBy: 'timestampDesc', cursor }))).toBe('validation_error');
    expect(await code(store.searchEvents({ orderBy: 'timestampAsc', cursor: `${cursor}x` }))).toBe(
      'validation_error',
    );
  });
});

describe('SessionQuery on PostgreSQL: indexes and failures', () => {
  it('searchEvents and getEvents tail reads of one session use an index, not a Seq Scan', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) {
      const session = createSession({ agentId: 'explain' });
      await store.saveSession(session);
      ids.push(session.id);
      await store.appendEvents(
        Array.from(
          { length: 200 },
          (_, eventIndex) =>
            createEvent({
              type: eventIndex % 2 === 0 ? 'message_sent' : 'message_streamed',
              sessionId: session.id,
              data: { role: 'user', content: 'x' },
              timestamp: new Date(Date.UTC(2026, 3, 1) + eventIndex * 1000 + index).toISOString(),
            }) as NewEvent,
        ),
      );
    }
    await withClient((client) => client.query(`ANALYZE "${schema}".asm_events`));
    const target = ids[7]!;
    const explain = async (run: () => Promise<unknown>): Promise<string> => {
      statements.length = 0;
      await run();
      const statement = statements.find((entry) => /FROM "[^"]+"\."asm_events"/.test(entry.text));
      expect(statement, 'the call ran no events query').toBeDefined();
      return withClient(async (client) => {
        const result = await client.query(`EXPLAIN ${statement!.text}`, statement!.values);
        return result.rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']).join('\n');
      });
    };
    const latest = await store.getLatestSequence(target);
    const plans = {
      getEventsTail: await explain(() => store.getEvents(target, { after: latest - 20 })),
      sequenceAsc: await explain(() => store.searchEvents({ sessionIds: [target], limit: 20 })),
      timestampDesc: await explain(() =>
        store.searchEvents({ sessionIds: [target], orderBy: 'timestampDesc', limit: 20 }),
      ),
      timestampDescNextPage: await explain(async () => {
        const first = await store.searchEvents({ sessionIds: [target], orderBy: 'timestampDesc', limit: 20 });
        statements.length = 0;
        await store.searchEvents({
          sessionIds: [target],
          orderBy: 'timestampDesc',
          limit: 20,
          cursor: first.nextCursor!,
        });
      }),
      timestampAscSince: await explain(() =>
        store.searchEvents({
          sessionIds: [target],
          orderBy: 'timestampAsc',
          since: new Date(Date.UTC(2026, 3, 1) + 150_000).toISOString(),
        }),
      ),
      count: await explain(() => store.countEvents({ sessionIds: [target], types: ['message_sent'] })),
    };
    for (const [name, plan] of Object.entries(plans)) {
      expect(plan, name).not.toMatch(/Seq Scan on asm_events/);
      expect(plan, name).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
    }
    // The time orders read the time index in order: no sort of the session's events.
    expect(plans.timestampDesc).toMatch(/asm_events_session_time_idx/);
    expect(plans.timestampDesc).not.toMatch(/Sort/);
    expect(plans.timestampDescNextPage).toMatch(/asm_events_session_time_idx/);
    expect(plans.sequenceAsc).not.toMatch(/Sort/);
    // And the answers are right.
    const page = await store.searchEvents({ sessionIds: [target], orderBy: 'timestampDesc', limit: 3 });
    expect(page.items.map((event) => event.sequence)).toEqual([200, 199, 198]);
  }, 60_000);

  it('a database failure is query_error', async () => {
    const brokenSchema = randomSchema('broken');
    const broken = createPostgresStore({ connectionString: DATABASE_URL, schema: brokenSchema, poolSize: 1 });
    try {
      await broken.ready();
      await withClient((client) => client.query(`DROP TABLE "${brokenSchema}".asm_runs`));
      expect(await code(broken.searchRuns())).toBe('query_error');
      expect(await code(broken.getUsageSummary())).toBe('query_error');
      expect(await code(broken.searchSessions({ provider: 'claude' }))).toBe('query_error');
    } finally {
      await broken.close();
      await dropSchema(brokenSchema);
    }
  });

  it('a closed store refuses queries with storage_connection_failed', async () => {
    const closed = createPostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await closed.close();
    expect(await code(closed.searchEvents())).toBe('storage_connection_failed');
    expect(await code(closed.getSessionStats('ses_x'))).toBe('storage_connection_failed');
  });
});
