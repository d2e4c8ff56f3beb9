import {
  AsmError,
  createEvent,
  createRun,
  createSession,
  type NewEvent,
  type Run,
  type Session,
  type SessionQuery,
  type SessionStore,
  supportsSessionQuery,
} from '@asm/core';
import { describe, expect, it } from 'vitest';

/** Options of `testSessionQuery`. */
export interface TestSessionQueryOptions {
  name?: string;
  create: () => (SessionStore & SessionQuery) | Promise<SessionStore & SessionQuery>;
  cleanup?: (store: SessionStore & SessionQuery) => void | Promise<void>;
  timeoutMs?: number;
}

type QueryStore = SessionStore & SessionQuery;

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  return AsmError.isInstance(error) ? error.code : `not an AsmError: ${String(error)}`;
}

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

/**
 * Three sessions of one agent (unique per call, so the suite runs on a shared database), with runs
 * by two providers and a handful of events each.
 */
async function seed(store: QueryStore) {
  const agentId = `query-agent-${process.pid}-${Math.random().toString(16).slice(2)}`;
  const sessions: Session[] = [];
  const runs: Run[] = [];
  for (let index = 0; index < 3; index++) {
    const session: Session = {
      ...createSession({
        agentId,
        tags: index === 0 ? ['pinned', 'x'] : ['x'],
        metadata: { correlationId: `corr-${index}` },
      }),
      status: index === 2 ? 'completed' : 'active',
      createdAt: at(index),
      updatedAt: at(10 + (2 - index)),
    };
    await store.saveSession(session);
    sessions.push(session);
    for (let runIndex = 0; runIndex < 2; runIndex++) {
      const provider = runIndex === 0 ? 'claude' : 'amp';
      const total = 100 * (index + 1) + runIndex;
      const run: Run = {
        ...createRun({ sessionId: session.id, input: 'q' }),
        status: runIndex === 0 ? 'completed' : 'failed',
        provider,
        createdAt: at(index * 2 + runIndex),
        tokenUsage: {
          inputTokens: total - 10,
          outputTokens: 10,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          totalTokens: total,
        },
        providerMetadata: { model: provider === 'claude' ? 'claude-haiku-4-5' : 'amp-smart' },
      };
      await store.saveRun(run);
      runs.push(run);
      await store.appendEvents(
        (['run_started', 'message_streamed', 'run_completed'] as const).map(
          (type, eventIndex) =>
            createEvent({
              type,
              sessionId: session.id,
              runId: run.id,
              provider,
              correlationId: `corr-${index}`,
              timestamp: at(index * 2 + runIndex + eventIndex),
              data: type === 'message_streamed' ? { kind: 'text', delta: 'x' } : {},
            }) as NewEvent,
        ),
      );
    }
  }
  return { agentId, sessions, runs };
}

/**
 * The conformance suite of the `SessionQuery` capability: every filter of the searches, keyset
 * paging in every order, cursor validation, stats, usage and cost summaries, and export.
 */
export function testSessionQuery(options: TestSessionQueryOptions): void {
  const timeout = options.timeoutMs ?? 15_000;
  const withStore = (body: (store: QueryStore) => Promise<void>) => async () => {
    const store = await options.create();
    try {
      expect(supportsSessionQuery(store)).toBe(true);
      await body(store);
    } finally {
      await (options.cleanup ? options.cleanup(store) : store.close());
    }
  };

  describe(`SessionQuery conformance: ${options.name ?? 'store'}`, () => {
    it(
      'searchSessions - filters by agent, status, provider, tags and inclusive creation time',
      withStore(async (store) => {
        const { agentId, sessions } = await seed(store);
        const ids = async (search: Parameters<QueryStore['searchSessions']>[0]) =>
          (await store.searchSessions({ agentId, ...search })).items.map((session) => session.id).sort();
        expect(await ids({})).toEqual(sessions.map((session) => session.id).sort());
        expect(await ids({ status: 'completed' })).toEqual([sessions[2]!.id]);
        expect(await ids({ status: ['active', 'completed'] })).toHaveLength(3);
        expect(await ids({ provider: 'amp' })).toHaveLength(3);
        expect(await ids({ provider: 'gemini' })).toEqual([]);
        expect(await ids({ tags: ['pinned', 'x'] })).toEqual([sessions[0]!.id]);
        expect(await ids({ createdAfter: at(1), createdBefore: at(2) })).toEqual(
          [sessions[1]!.id, sessions[2]!.id].sort(),
        );
        expect(await code(store.searchSessions({ status: 'bogus' as 'active' }))).toBe('validation_error');
        expect(await code(store.searchSessions({ limit: 1_001 }))).toBe('validation_error');
      }),
      timeout,
    );

    it(
      'searchSessions - pages with keyset cursors in every order, totalCount ignoring the cursor',
      withStore(async (store) => {
        const { agentId, sessions } = await seed(store);
        const expected = {
          updatedAtDesc: [sessions[0]!, sessions[1]!, sessions[2]!],
          createdAtAsc: [sessions[0]!, sessions[1]!, sessions[2]!],
          createdAtDesc: [sessions[2]!, sessions[1]!, sessions[0]!],
        } as const;
        for (const [orderBy, order] of Object.entries(expected)) {
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.searchSessions({
              agentId,
              orderBy: orderBy as keyof typeof expected,
              limit: 2,
              ...(cursor ? { cursor } : {}),
            });
            expect(page.totalCount).toBe(3);
            seen.push(...page.items.map((session) => session.id));
            cursor = page.nextCursor;
          } while (cursor);
          expect(seen, orderBy).toEqual(order.map((session) => session.id));
        }
      }),
      timeout,
    );

    it(
      'cursors are bound to the resource and the order; tampered or malformed ones are validation_error',
      withStore(async (store) => {
        const { agentId } = await seed(store);
        const page = await store.searchSessions({ agentId, orderBy: 'createdAtAsc', limit: 1 });
        const cursor = page.nextCursor!;
        expect(await code(store.searchSessions({ agentId, orderBy: 'createdAtDesc', cursor }))).toBe(
          'validation_error',
        );
        expect(await code(store.searchRuns({ cursor }))).toBe('validation_error');
        const tampered = `${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`;
        expect(await code(store.searchSessions({ agentId, orderBy: 'createdAtAsc', cursor: tampered }))).toBe(
          'validation_error',
        );
        expect(
          await code(store.searchSessions({ agentId, orderBy: 'createdAtAsc', cursor: 'not-a-cursor' })),
        ).toBe('validation_error');
      }),
      timeout,
    );

    it(
      'searchRuns - filters by session, provider, status, minTokens and pages by tokens',
      withStore(async (store) => {
        const { sessions, runs } = await seed(store);
        const mine = new Set(runs.map((run) => run.id));
        const all = async (search: Parameters<QueryStore['searchRuns']>[0]) => {
          const found: Run[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.searchRuns({ ...search, limit: 2, ...(cursor ? { cursor } : {}) });
            found.push(...page.items.filter((run) => mine.has(run.id)));
            cursor = page.nextCursor;
          } while (cursor);
          return found;
        };
        expect((await all({ sessionId: sessions[0]!.id })).map((run) => run.provider).sort()).toEqual([
          'amp',
          'claude',
        ]);
        expect((await all({ provider: 'claude', status: 'completed' })).length).toBe(3);
        expect((await all({ minTokens: 300 })).map((run) => run.tokenUsage.totalTokens).sort()).toEqual([
          300, 301,
        ]);
        const byTokens = (await all({ orderBy: 'totalTokensDesc' })).map((run) => run.tokenUsage.totalTokens);
        expect(byTokens).toEqual([...byTokens].sort((left, right) => right - left));
        expect(await code(store.searchRuns({ status: 'bogus' as 'failed' }))).toBe('validation_error');
        expect(await code(store.searchRuns({ minTokens: -1 }))).toBe('validation_error');
      }),
      timeout,
    );

    it(
      'searchEvents and countEvents - every filter, inclusive time bounds, paging in each order',
      withStore(async (store) => {
        const { sessions, runs } = await seed(store);
        const sessionIds = sessions.map((session) => session.id);
        expect(await store.countEvents({ sessionIds })).toBe(18);
        expect(await store.countEvents({ sessionIds, types: ['message_streamed'] })).toBe(6);
        expect(await store.countEvents({ sessionIds, runIds: [runs[0]!.id] })).toBe(3);
        expect(await store.countEvents({ sessionIds, providers: ['amp'] })).toBe(9);
        expect(await store.countEvents({ sessionIds, correlationId: 'corr-1' })).toBe(6);
        expect(await store.countEvents({ sessionIds, since: at(2), until: at(2) })).toBe(3);
        expect(await code(store.countEvents({ types: ['bogus' as 'run_started'] }))).toBe(
          'invalid_event_type',
        );
        for (const orderBy of ['sequenceAsc', 'timestampAsc', 'timestampDesc'] as const) {
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.searchEvents({
              sessionIds,
              orderBy,
              limit: 4,
              ...(cursor ? { cursor } : {}),
            });
            seen.push(...page.items.map((event) => event.id));
            cursor = page.nextCursor;
          } while (cursor);
          expect(new Set(seen).size, orderBy).toBe(18);
        }
      }),
      timeout,
    );

    it(
      'getSessionStats, usage and cost summaries, and export',
      withStore(async (store) => {
        const { agentId, sessions } = await seed(store);
        const stats = await store.getSessionStats(sessions[0]!.id);
        expect(stats).toMatchObject({ eventCount: 6, runCount: 2, providersUsed: ['amp', 'claude'] });
        expect(stats.tokenTotals.totalTokens).toBe(201);
        expect(stats.runStatusCounts).toEqual({ completed: 1, failed: 1 });
        expect(await code(store.getSessionStats('ses_missing'))).toBe('session_not_found');
        const usage = await store.getUsageSummary({ agentId });
        expect(usage.runCount).toBe(6);
        expect(usage.tokens.totalTokens).toBe(100 + 101 + 200 + 201 + 300 + 301);
        expect(usage.byProvider.claude?.runCount).toBe(3);
        const cost = await store.getCostSummary({ agentId });
        expect(cost.runCount).toBe(6);
        expect(cost.unpricedRuns).toBe(3);
        expect(cost.byModel['claude-haiku-4-5']?.runCount).toBe(3);
        expect(cost.totalCostUsd).toBeGreaterThan(0);
        const exported = await store.exportSession(sessions[1]!.id);
        expect(exported.session.id).toBe(sessions[1]!.id);
        expect(exported.runs).toHaveLength(2);
        expect(exported.events.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(await code(store.exportSession('ses_missing'))).toBe('session_not_found');
      }),
      timeout,
    );
  });
}
