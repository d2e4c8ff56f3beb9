/**
 * Two server processes over one PostgreSQL schema and one Redis event bus (a key prefix of their
 * own): a run submitted to instance A executes there; an SSE client connected to instance B sees it
 * live — including the approval request the run is blocked on, which a person then answers through B.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChildConfig } from './support/child-server.js';
import { killAllChildren, startChild } from './support/processes.js';
import { allEvents, openSse, postJson, waitForRunStatus } from './support/sse-client.js';

const POSTGRES_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.ASM_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const suffix = randomBytes(5).toString('hex');
const schema = `asm_server_multi_${suffix}`;
const prefix = `asm-server-multi-${suffix}:`;

afterAll(async () => {
  await killAllChildren();
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}, 60_000);

describe('two server processes over PostgreSQL and Redis', () => {
  it('a client on instance B follows a run executing on instance A, live, and approves through B', async () => {
    const config: ChildConfig = {
      store: { kind: 'postgres', url: POSTGRES_URL, schema },
      bus: { url: REDIS_URL, prefix },
      provider: {
        toolCalls: [{ id: 'toolu_multi', name: 'deploy', input: { service: 'api' } }],
        deltas: 60,
        chunk: 'z',
        chunkDelayMs: 5,
      },
      approvalTools: ['deploy'],
    };
    // Started one after the other: the first applies the schema's migrations.
    const instanceA = await startChild(config);
    const instanceB = await startChild(config);

    const session = await postJson<{ id: string }>(`${instanceA.url}/api/sessions`, { agentId: 'multi' });
    const follower = await openSse(`${instanceB.url}/api/sessions/${session.id}/events/stream`);
    await follower.waitFor((event) => event.type === 'session_started');
    const { runId } = await postJson<{ runId: string }>(`${instanceA.url}/api/sessions/${session.id}/runs`, {
      input: 'deploy the api',
    });

    // B's client sees the run start and ask for approval while it is blocked on A: live, not replayed.
    await follower.waitFor((event) => event.runId === runId && event.type === 'run_started');
    await follower.waitFor((event) => event.runId === runId && event.type === 'tool_approval_requested');
    const running = (await (await fetch(`${instanceA.url}/api/runs/${runId}`)).json()) as { status: string };
    expect(running.status).toBe('running');
    const pending = (await (await fetch(`${instanceB.url}/api/runs/${runId}/approvals`)).json()) as {
      approvals: unknown[];
    };
    expect(pending.approvals).toMatchObject([{ toolCallId: 'toolu_multi', toolName: 'deploy' }]);

    // The approval goes through B; the run waiting on A wakes and finishes.
    await postJson(`${instanceB.url}/api/runs/${runId}/approvals/toolu_multi/approve`, { approvedBy: 'bob' });
    await follower.waitFor((event) => event.runId === runId && event.type === 'run_completed');
    expect((await waitForRunStatus(instanceA.url, runId, ['completed', 'failed'])).status).toBe('completed');
    follower.close();
    await follower.ended;

    const stored = await allEvents(instanceA.url, session.id);
    expect(follower.events.map((event) => event.id)).toEqual(stored.map((event) => event.id));
    expect(follower.events.map((event) => event.sequence)).toEqual(stored.map((_, index) => index + 1));
    expect(stored.filter((event) => event.type === 'message_streamed')).toHaveLength(60);
    expect(stored.find((event) => event.type === 'tool_approval_granted')?.data).toMatchObject({
      toolCallId: 'toolu_multi',
      approvedBy: 'bob',
    });

    await instanceB.stop();
    await instanceA.stop();
  }, 240_000);
});
