import { createInMemoryStore, type SessionStore } from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type AsmServer, createAsmServer, type SessionSummary, type UsageReport } from '../src/index.js';
import { createRealisticRuntime, seedRealisticData } from './support/seed.js';

const servers: AsmServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
    await server.handler.runtime.close({ cancelInFlight: true });
  }
});

async function seeded() {
  const store = createInMemoryStore();
  const { runtime, providers } = createRealisticRuntime(store);
  const ids = await seedRealisticData(runtime, providers);
  const server = await createAsmServer({ runtime, port: 0 });
  servers.push(server);
  return { server, ids, store, runtime };
}

async function get<T>(server: AsmServer, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

type SummaryPage = {
  sessions: { id: string; agentId: string; summary: SessionSummary }[];
  nextCursor: string | null;
  totalCount?: number;
};

describe('routes the dashboard reads', () => {
  it('lists sessions newest first with a summary of runs, providers, tokens and cost', async () => {
    const { server, ids } = await seeded();
    const { status, body } = await get<SummaryPage>(
      server,
      '/api/sessions?include=summary&order=createdAtDesc',
    );
    expect(status).toBe(200);
    expect(body.totalCount).toBe(5);
    expect(body.sessions.map((session) => session.id)).toEqual([
      ids.timeout,
      ids.approvals,
      ids.policy,
      ids.failover,
      ids.support,
    ]);
    const byId = new Map(body.sessions.map((session) => [session.id, session.summary]));
    expect(byId.get(ids.support)).toMatchObject({
      runs: 3,
      runStatusCounts: { completed: 3 },
      providers: ['claude'],
      models: ['claude-sonnet-4-5'],
      activeRuns: 0,
      lastRun: { status: 'completed' },
    });
    expect(byId.get(ids.support)!.costUsd).toBeGreaterThan(0);
    expect(byId.get(ids.failover)).toMatchObject({ providers: ['codex'], runStatusCounts: { completed: 1 } });
    expect(byId.get(ids.policy)).toMatchObject({ runStatusCounts: { failed: 2 } });
    expect(byId.get(ids.approvals)).toMatchObject({ runStatusCounts: { completed: 2, cancelled: 1 } });
    expect(byId.get(ids.timeout)).toMatchObject({
      runStatusCounts: { timeout: 1, completed: 1 },
      providers: ['claude', 'amp'],
      unpricedRuns: 1,
    });

    const first = await get<SummaryPage>(server, '/api/sessions?order=createdAtAsc&limit=2');
    expect(first.body.sessions.map((session) => session.id)).toEqual([ids.support, ids.failover]);
    const second = await get<SummaryPage>(
      server,
      `/api/sessions?order=createdAtAsc&limit=2&cursor=${encodeURIComponent(first.body.nextCursor!)}`,
    );
    expect(second.body.sessions.map((session) => session.id)).toEqual([ids.policy, ids.approvals]);
    expect((second.body.sessions[0] as { summary?: unknown }).summary).toBeUndefined();
  }, 60_000);

  it('sums usage and cost per provider, model and pair over every session', async () => {
    const { server } = await seeded();
    const { body } = await get<UsageReport & { truncated: boolean }>(server, '/api/usage');
    expect(body.truncated).toBe(false);
    expect(body.runs).toBe(11);
    expect(Object.keys(body.byProvider).sort()).toEqual(['amp', 'claude', 'codex']);
    expect(body.byProvider.amp).toMatchObject({ runs: 1, inputTokens: 5_000, unpricedRuns: 1, costUsd: 0 });
    expect(body.byProvider.codex).toMatchObject({ runs: 1, inputTokens: 3_000, outputTokens: 90 });
    expect(body.byProvider.codex!.costUsd).toBeGreaterThan(0);
    const pair = body.byProviderModel.find((entry) => entry.provider === 'claude')!;
    expect(pair.model).toBe('claude-sonnet-4-5');
    expect(body.byProviderModel[0]!.costUsd).toBeGreaterThanOrEqual(body.byProviderModel.at(-1)!.costUsd);
    expect(body.costUsd).toBeCloseTo(
      Object.values(body.byProvider).reduce((sum, entry) => sum + entry.costUsd, 0),
      10,
    );
    const future = await get<UsageReport>(
      server,
      `/api/usage?since=${new Date(Date.now() + 60_000).toISOString()}`,
    );
    expect(future.body.runs).toBe(0);
    const research = await get<UsageReport>(server, '/api/usage?agentId=research');
    expect(research.body.runs).toBe(2);
    expect((await get(server, '/api/usage?since=yesterday')).status).toBe(400);
  }, 60_000);

  it('rejects unknown includes and orders, and an order the store cannot sort by', async () => {
    const { server } = await seeded();
    expect((await get(server, '/api/sessions?include=everything')).status).toBe(400);
    expect((await get(server, '/api/sessions?order=random')).status).toBe(400);
    const store = createInMemoryStore();
    // A third-party store without the SessionQuery capability.
    const plain: SessionStore = {
      specificationVersion: 'v1',
      supportsLongPoll: false,
      saveSession: (session) => store.saveSession(session),
      getSession: (id) => store.getSession(id),
      listSessions: (filter) => store.listSessions(filter),
      deleteSession: (id) => store.deleteSession(id),
      saveRun: (run) => store.saveRun(run),
      getRun: (id) => store.getRun(id),
      listRuns: (id, filter) => store.listRuns(id, filter),
      appendEvent: (event) => store.appendEvent(event),
      appendEvents: (events) => store.appendEvents(events),
      getEvents: (id, query) => store.getEvents(id, query),
      getLatestSequence: (id) => store.getLatestSequence(id),
      close: () => store.close(),
    };
    const { runtime, providers } = createRealisticRuntime(plain);
    providers.claude.configure({ tokenUsage: { inputTokens: 10, outputTokens: 2 } });
    const server2 = await createAsmServer({ runtime, port: 0 });
    servers.push(server2);
    const session = await (await fetch(`${server2.url}/api/sessions`, { method: 'POST', body: '{}' })).json();
    const unsupported = await get<{ error: { code: string } }>(server2, '/api/sessions?order=updatedAtDesc');
    expect(unsupported.status).toBe(501);
    expect(unsupported.body.error.code).toBe('capability_not_supported');
    const fallback = await get<SummaryPage>(server2, '/api/sessions?include=summary');
    expect(fallback.body.sessions.map((item) => item.id)).toEqual([(session as { id: string }).id]);
    expect((await get<UsageReport>(server2, '/api/usage')).body.runs).toBe(0);
  }, 60_000);
});
