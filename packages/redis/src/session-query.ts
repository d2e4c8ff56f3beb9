import {
  AsmError,
  costSummaryOf,
  countEventsIn,
  type Run,
  runsForSummary,
  type SessionQuery,
  type SessionStore,
  type StoredEvent,
  searchEventsIn,
  searchRunsIn,
  searchSessionsIn,
  sessionStatsOf,
  usageSummaryOf,
} from '@asm/core';

/** Database failures of a query are `query_error`; our own AsmErrors pass through. */
async function asQuery<T>(operation: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (AsmError.isInstance(error)) throw error;
    throw AsmError.from(
      error,
      'query_error',
      `Redis ${operation} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/**
 * `SessionQuery` for the Redis store, evaluated in this process with core's reference query helpers
 * over what the store's own reads return: correct for every filter and order, with the same cursors
 * as the in-memory store, but each search reads the sessions it may touch (and their runs or events)
 * rather than using a secondary index. Fine for dashboards over thousands of sessions; for large
 * analytical queries keep the durable log in PostgreSQL and use Redis for live fan-out.
 */
export function sessionQueryOver(store: SessionStore): SessionQuery {
  const runsOf = async (sessionIds: string[]) => {
    const runs = new Map<string, Run[]>();
    await Promise.all(sessionIds.map(async (id) => runs.set(id, await store.listRuns(id))));
    return runs;
  };
  const eventsOf = async (sessionIds: string[] | undefined): Promise<StoredEvent[]> => {
    const ids = sessionIds ?? (await store.listSessions()).map((session) => session.id);
    const logs = await Promise.all(ids.map((id) => store.getEvents(id)));
    return logs.flat();
  };
  const allRuns = async () => {
    const sessions = await store.listSessions();
    const runs = await runsOf(sessions.map((session) => session.id));
    return { sessions, runs: [...runs.values()].flat() };
  };
  const requireSession = async (sessionId: string) => {
    const session = await store.getSession(sessionId);
    if (!session) {
      throw new AsmError('session_not_found', `Session not found: ${sessionId}`, { details: { sessionId } });
    }
    return session;
  };

  return {
    searchSessions: (search) =>
      asQuery('searchSessions', async () => {
        const sessions = await store.listSessions({
          ...(search?.agentId === undefined ? {} : { agentId: search.agentId }),
        });
        const runs =
          search?.provider === undefined ? new Map<string, Run[]>() : await runsOf(sessions.map((s) => s.id));
        return searchSessionsIn(sessions, (id) => runs.get(id) ?? [], search);
      }),
    searchRuns: (search) =>
      asQuery('searchRuns', async () => {
        const runs =
          search?.sessionId === undefined ? (await allRuns()).runs : await store.listRuns(search.sessionId);
        return searchRunsIn(runs, search);
      }),
    searchEvents: (search) =>
      asQuery('searchEvents', async () => searchEventsIn(await eventsOf(search?.sessionIds), search)),
    countEvents: (search) =>
      asQuery('countEvents', async () => countEventsIn(await eventsOf(search?.sessionIds), search)),
    getSessionStats: (sessionId) =>
      asQuery('getSessionStats', async () => {
        const session = await requireSession(sessionId);
        return sessionStatsOf(session, await store.listRuns(sessionId), await store.getEvents(sessionId));
      }),
    getUsageSummary: (filter) =>
      asQuery('getUsageSummary', async () => {
        const { sessions, runs } = await allRuns();
        return usageSummaryOf(runsForSummary(runs, new Map(sessions.map((s) => [s.id, s])), filter));
      }),
    getCostSummary: (filter) =>
      asQuery('getCostSummary', async () => {
        const { sessions, runs } = await allRuns();
        return costSummaryOf(
          runsForSummary(runs, new Map(sessions.map((s) => [s.id, s])), filter),
          filter?.pricingTable,
        );
      }),
    exportSession: (sessionId) =>
      asQuery('exportSession', async () => ({
        session: await requireSession(sessionId),
        runs: await store.listRuns(sessionId),
        events: await store.getEvents(sessionId),
      })),
  };
}
