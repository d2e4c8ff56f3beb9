/**
 * Resuming the event stream across a restart of the server PROCESS: a client disconnects mid-run,
 * the process stops (cleanly, or killed mid-run), a new process opens the same durable store, and the
 * client reconnects with `Last-Event-ID` → exactly the events it missed, then live events. Runs on a
 * SQLite file and on PostgreSQL (a schema of its own; the shared server is never restarted).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '@asm/core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChildConfig } from './support/child-server.js';
import { killAllChildren, startChild } from './support/processes.js';
import { allEvents, openSse, postJson, waitForRunStatus } from './support/sse-client.js';

const POSTGRES_URL = process.env.ASM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `asm_server_restart_${randomBytes(5).toString('hex')}`;
const directory = mkdtempSync(join(tmpdir(), 'asm-server-restart-'));

afterAll(async () => {
  await killAllChildren();
  rmSync(directory, { recursive: true, force: true });
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}, 60_000);

type StoreConfig = ChildConfig['store'];

function ids(events: StoredEvent[]): string[] {
  return events.map((event) => event.id);
}

function expectContiguous(events: StoredEvent[], from: number): void {
  expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => from + index));
}

/** Clean stop between disconnect and reconnect; the run finished in the first process. */
async function stopThenResume(store: StoreConfig): Promise<void> {
  const provider = { deltas: 150, chunk: 'x', chunkDelayMs: 10 };
  const first = await startChild({ store, provider });
  const session = await postJson<{ id: string }>(`${first.url}/api/sessions`, { agentId: 'restart' });
  const streamUrl = (base: string) => `${base}/api/sessions/${session.id}/events/stream`;
  const reader = await openSse(streamUrl(first.url));
  const { runId } = await postJson<{ runId: string }>(`${first.url}/api/sessions/${session.id}/runs`, {
    input: 'long answer',
  });
  await reader.waitFor(() => reader.events.filter((event) => event.type === 'message_streamed').length >= 20);
  reader.close();
  await reader.ended;
  const seen = [...reader.events];
  const lastId = Number(reader.ids.at(-1));
  expect(lastId).toBe(seen.at(-1)!.sequence);
  expect((await waitForRunStatus(first.url, runId, ['completed', 'failed'])).status).toBe('completed');
  await first.stop();

  const second = await startChild({ store, provider: { response: 'Second answer, live.' } });
  const resumed = await openSse(streamUrl(second.url), { lastEventId: lastId });
  await resumed.waitFor((event) => event.runId === runId && event.type === 'run_completed');
  // A new run on the new process arrives on the same stream, live, after the backfill.
  const next = await postJson<{ runId: string }>(`${second.url}/api/sessions/${session.id}/runs`, {
    input: 'and now?',
  });
  await resumed.waitFor((event) => event.runId === next.runId && event.type === 'run_completed');
  resumed.close();

  const stored = await allEvents(second.url, session.id);
  const received = resumed.events.filter((event) => event.sequence <= stored.at(-1)!.sequence);
  expect(ids([...seen, ...received])).toEqual(ids(stored));
  expectContiguous(received, lastId + 1);
  expect(resumed.ids).toEqual(resumed.events.map((event) => String(event.sequence)));
  expect(stored.filter((event) => event.type === 'message_streamed' && event.runId === runId)).toHaveLength(
    150,
  );
  await second.stop();
}

/** The first process is killed mid-run; the next one marks the run failed, and the client gets the rest. */
async function crashThenResume(store: StoreConfig): Promise<void> {
  const first = await startChild({ store, provider: { deltas: 5_000, chunk: 'y', chunkDelayMs: 5 } });
  const session = await postJson<{ id: string }>(`${first.url}/api/sessions`, { agentId: 'crash' });
  const streamUrl = (base: string) => `${base}/api/sessions/${session.id}/events/stream`;
  const reader = await openSse(streamUrl(first.url));
  const { runId } = await postJson<{ runId: string }>(`${first.url}/api/sessions/${session.id}/runs`, {
    input: 'very long answer',
  });
  await reader.waitFor(() => reader.events.filter((event) => event.type === 'message_streamed').length >= 20);
  reader.close();
  await reader.ended;
  const seen = [...reader.events];
  const lastId = seen.at(-1)!.sequence;
  // Let more events be stored while nobody listens, so there is something to miss; then crash.
  for (;;) {
    const page = await fetch(`${first.url}/api/sessions/${session.id}/events?after=${lastId + 20}&limit=1`);
    if (((await page.json()) as { events: unknown[] }).events.length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await first.kill();

  const second = await startChild({ store, provider: {}, recover: true });
  expect((await waitForRunStatus(second.url, runId, ['failed'])).status).toBe('failed');
  const resumed = await openSse(streamUrl(second.url), { lastEventId: lastId });
  const terminal = await resumed.waitFor((event) => event.runId === runId && event.type === 'run_failed');
  expect(terminal.data).toMatchObject({ errorCode: 'internal_error', details: { recovered: true } });
  resumed.close();
  await resumed.ended;

  const stored = await allEvents(second.url, session.id);
  expect(resumed.events.at(-1)!.id).toBe(stored.at(-1)!.id);
  expect(ids([...seen, ...resumed.events])).toEqual(ids(stored));
  expectContiguous(resumed.events, lastId + 1);
  expect(resumed.events.length).toBeGreaterThan(20);
  expect(
    stored.filter((event) => event.type === 'run_failed' || event.type === 'run_completed'),
  ).toHaveLength(1);
  await second.stop();
}

describe('SSE resume across a server process restart, SQLite file', () => {
  const store = (): StoreConfig => ({
    kind: 'sqlite',
    path: join(directory, `${randomBytes(4).toString('hex')}.db`),
  });

  it('stopped between disconnect and reconnect: exactly the missing events, then live ones', async () => {
    await stopThenResume(store());
  }, 240_000);

  it('killed mid-run: the new process marks the run failed; the client gets exactly what is stored', async () => {
    await crashThenResume(store());
  }, 240_000);
});

describe('SSE resume across a server process restart, PostgreSQL', () => {
  const store: StoreConfig = { kind: 'postgres', url: POSTGRES_URL, schema };

  it('stopped between disconnect and reconnect: exactly the missing events, then live ones', async () => {
    await stopThenResume(store);
  }, 240_000);

  it('killed mid-run: the new process marks the run failed; the client gets exactly what is stored', async () => {
    await crashThenResume(store);
  }, 240_000);
});
