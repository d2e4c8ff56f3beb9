/**
 * The SSE stream's shared feed: clients that join mid-run at any cursor, filtered streams, a client
 * that stops reading while a large run streams (it leaves the shared feed and catches up alone), and
 * a cursor beyond the log's end — every client gets exactly the stored events after its cursor.
 */
import { createInMemoryStore, type StoredEvent } from '@asm/core';
import { createSessionRuntime } from '@asm/runtime';
import { createMockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import { afterEach, describe, expect, it } from 'vitest';
import { type AsmServer, createAsmServer } from '../src/index.js';
import { openSse, postJson } from './support/sse-client.js';

const servers: AsmServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
    await server.handler.runtime.close({ cancelInFlight: true });
  }
});

async function start(settings: MockProviderSettings) {
  const store = createInMemoryStore();
  const runtime = createSessionRuntime({ store, provider: createMockProvider(settings) });
  const server = await createAsmServer({ runtime, port: 0 });
  servers.push(server);
  const session = await postJson<{ id: string }>(`${server.url}/api/sessions`, { agentId: 'feed' });
  return { server, store, session, stream: `${server.url}/api/sessions/${session.id}/events/stream` };
}

function sequences(events: StoredEvent[]): number[] {
  return events.map((event) => event.sequence);
}

describe('shared SSE feed', () => {
  it('clients joining mid-run at different cursors each get exactly the events after theirs', async () => {
    const { server, store, session, stream } = await start({ deltas: 400, chunk: 'd', chunkDelayMs: 2 });
    const early = await openSse(stream);
    const { runId } = await postJson<{ runId: string }>(`${server.url}/api/sessions/${session.id}/runs`, {
      input: 'go',
    });
    const isEnd = (event: StoredEvent) => event.runId === runId && event.type === 'run_completed';
    const joined = [];
    for (const count of [10, 60, 150, 250]) {
      await early.waitFor((event) => event.sequence >= count);
      joined.push({ after: count - 5, reader: await openSse(stream, { lastEventId: count - 5 }) });
      joined.push({ after: 0, reader: await openSse(stream) });
    }
    await early.waitFor(isEnd);
    const stored = await store.getEvents(session.id);
    const last = stored.at(-1)!.sequence;
    expect(sequences(early.events.filter((event) => event.sequence <= last))).toEqual(sequences(stored));
    for (const { after, reader } of joined) {
      await reader.waitFor(isEnd);
      expect(reader.events.map((event) => event.id)).toEqual(
        stored.filter((event) => event.sequence > after).map((event) => event.id),
      );
      reader.close();
    }
    early.close();
  }, 120_000);

  it('filters by run and type on a stream of its own', async () => {
    const { server, store, session, stream } = await start({ deltas: 30, chunkDelayMs: 1 });
    const first = await postJson<{ runId: string }>(`${server.url}/api/sessions/${session.id}/runs`, {
      input: 'one',
    });
    const all = await openSse(stream);
    await all.waitFor((event) => event.runId === first.runId && event.type === 'run_completed');
    const byType = await openSse(`${stream}?types=run_started,run_completed`);
    const byRun = await openSse(`${stream}?runId=${first.runId}&types=message_streamed`);
    const second = await postJson<{ runId: string }>(`${server.url}/api/sessions/${session.id}/runs`, {
      input: 'two',
    });
    await byType.waitFor((event) => event.runId === second.runId && event.type === 'run_completed');
    await all.waitFor((event) => event.runId === second.runId && event.type === 'run_completed');
    const stored = await store.getEvents(session.id);
    expect(byType.events.map((event) => event.id)).toEqual(
      stored
        .filter((event) => event.type === 'run_started' || event.type === 'run_completed')
        .map((e) => e.id),
    );
    const ofFirstRun = stored.filter(
      (event) => event.runId === first.runId && event.type === 'message_streamed',
    );
    await byRun.waitFor((event) => event.id === ofFirstRun.at(-1)!.id);
    expect(byRun.events.map((event) => event.id)).toEqual(ofFirstRun.map((event) => event.id));
    for (const reader of [all, byType, byRun]) reader.close();
  }, 120_000);

  it('a client that stops reading during a large run catches up exactly', async () => {
    // About 12 MB of frames: far more than the socket buffers and the feed's per-client queue.
    const { server, store, session, stream } = await start({
      deltas: 20_000,
      chunk: 'x'.repeat(400),
      chunkDelayMs: 0,
    });
    const controller = new AbortController();
    const response = await fetch(stream, { signal: controller.signal });
    const reader = response.body!.getReader();
    const watcher = await openSse(stream);
    const { runId } = await postJson<{ runId: string }>(`${server.url}/api/sessions/${session.id}/runs`, {
      input: 'flood',
    });
    await watcher.waitFor((event) => event.runId === runId && event.type === 'run_completed', 120_000);
    watcher.close();
    // Only now does the stalled client read: everything, in order, once.
    const stored = await store.getEvents(session.id);
    const last = stored.at(-1)!.sequence;
    const decoder = new TextDecoder();
    let text = '';
    const ids: number[] = [];
    while (ids.at(-1) !== last) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let boundary = text.indexOf('\n\n');
      while (boundary >= 0) {
        const block = text.slice(0, boundary);
        text = text.slice(boundary + 2);
        boundary = text.indexOf('\n\n');
        const id = /^id: (\d+)$/m.exec(block);
        if (id) ids.push(Number(id[1]));
      }
    }
    controller.abort();
    expect(ids).toEqual(sequences(stored));
  }, 240_000);

  it('a cursor beyond the end waits for the events after it', async () => {
    const { server, store, session, stream } = await start({ deltas: 20, chunkDelayMs: 1 });
    const latest = await store.getLatestSequence(session.id);
    const ahead = await openSse(stream, { lastEventId: latest + 5 });
    const { runId } = await postJson<{ runId: string }>(`${server.url}/api/sessions/${session.id}/runs`, {
      input: 'go',
    });
    await ahead.waitFor((event) => event.runId === runId && event.type === 'run_completed');
    const stored = await store.getEvents(session.id);
    expect(ahead.events.map((event) => event.id)).toEqual(
      stored.filter((event) => event.sequence > latest + 5).map((event) => event.id),
    );
    ahead.close();
  }, 120_000);
});
