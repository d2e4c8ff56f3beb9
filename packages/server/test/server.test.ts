import { AsmError, createInMemoryStore, type RunExtension, type StoredEvent } from '@asm/core';
import { createSessionRuntime } from '@asm/runtime';
import { createMockProvider, type MockProviderSettings } from '@asm/testing/fakes';
import { afterEach, describe, expect, it } from 'vitest';
import { type AsmServer, type AuthorizeRequest, bearerToken, createAsmServer } from '../src/index.js';

const servers: AsmServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(
  settings: MockProviderSettings = {},
  extra: { extensions?: RunExtension[]; authorize?: AuthorizeRequest } = {},
) {
  const store = createInMemoryStore();
  const provider = createMockProvider(settings);
  const runtime = createSessionRuntime({
    store,
    provider,
    managerOptions: {
      ...(extra.extensions ? { extensions: extra.extensions } : {}),
      config: { eventWriteLingerMs: 0 },
    },
  });
  const server = await createAsmServer({
    runtime,
    port: 0,
    heartbeatMs: 50,
    ...(extra.authorize ? { authorize: extra.authorize } : {}),
  });
  servers.push(server);
  return { server, store, provider, runtime };
}

async function json(server: AsmServer, path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } },
  };
}

async function waitForRun(
  server: AsmServer,
  runId: string,
  statuses = ['completed', 'failed', 'cancelled', 'timeout'],
) {
  for (let attempt = 0; attempt < 400; attempt++) {
    const { body } = await json(server, `/api/runs/${runId}`);
    if (statuses.includes(body.status as string)) return body;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`run ${runId} did not finish`);
}

/** Reads SSE events until `until` says stop; returns them and whether heartbeats were seen. */
async function readSse(
  url: string,
  options: {
    lastEventId?: string;
    until: (event: StoredEvent, all: StoredEvent[]) => boolean;
    signal?: AbortSignal;
  },
): Promise<{ events: StoredEvent[]; ids: string[]; heartbeats: number }> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: options.lastEventId ? { 'last-event-id': options.lastEventId } : {},
    signal: controller.signal,
  });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const events: StoredEvent[] = [];
  const ids: string[] = [];
  let heartbeats = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let boundary = buffer.indexOf('\n\n');
      while (boundary >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        if (block.startsWith(':')) {
          heartbeats++;
          continue;
        }
        const fields = Object.fromEntries(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]),
        );
        const event = JSON.parse(fields.data ?? 'null') as StoredEvent;
        ids.push(fields.id ?? '');
        events.push(event);
        if (options.until(event, events)) return { events, ids, heartbeats };
      }
    }
  } finally {
    controller.abort();
  }
  return { events, ids, heartbeats };
}

describe('JSON routes', () => {
  it('creates, gets and lists sessions with cursor paging', async () => {
    const { server } = await start();
    const created = [];
    for (const agentId of ['a', 'b', 'c']) {
      const { status, body } = await json(server, '/api/sessions', {
        method: 'POST',
        body: JSON.stringify({ agentId, tags: ['t'] }),
      });
      expect(status).toBe(201);
      expect(body).toMatchObject({ agentId, status: 'active' });
      created.push(body.id as string);
    }
    expect((await json(server, `/api/sessions/${created[0]}`)).body.id).toBe(created[0]);
    const first = await json(server, '/api/sessions?limit=2');
    expect((first.body.sessions as unknown[]).length).toBe(2);
    const second = await json(server, `/api/sessions?limit=2&cursor=${first.body.nextCursor}`);
    expect((second.body.sessions as { id: string }[]).map((session) => session.id)).toEqual([created[2]]);
    expect(second.body.nextCursor).toBeNull();
    expect((await json(server, '/api/sessions?status=completed')).body.sessions).toEqual([]);
  });

  it('submits a run, reports it, pages its events and sums usage', async () => {
    const { server } = await start({
      model: 'claude-haiku-4-5',
      tokenUsage: { inputTokens: 100, outputTokens: 10 },
    });
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    const submitted = await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'hello' }),
    });
    expect(submitted.status).toBe(202);
    const run = await waitForRun(server, submitted.body.runId as string);
    expect(run.status).toBe('completed');
    const page = await json(
      server,
      `/api/sessions/${session.id}/events?after=2&limit=3&types=message_streamed,message_sent`,
    );
    const events = page.body.events as StoredEvent[];
    expect(events.length).toBeLessThanOrEqual(3);
    expect(
      events.every(
        (event) => event.sequence > 2 && ['message_streamed', 'message_sent'].includes(event.type),
      ),
    ).toBe(true);
    const usage = await json(server, `/api/sessions/${session.id}/usage`);
    expect(usage.body).toMatchObject({ inputTokens: 100, outputTokens: 10, runs: 1, unpricedRuns: 0 });
    expect((usage.body.byModel as Record<string, unknown>)['claude-haiku-4-5']).toBeDefined();
    expect(((await json(server, `/api/sessions/${session.id}/runs`)).body.runs as unknown[]).length).toBe(1);
  });

  it('cancels a run over HTTP', async () => {
    const { server } = await start({ stall: true });
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    const { body } = await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'wait' }),
    });
    await waitForRun(server, body.runId as string, ['running']);
    const cancelled = await json(server, `/api/runs/${body.runId}/cancel`, { method: 'POST', body: '{}' });
    expect(cancelled.status).toBe(202);
    expect((await waitForRun(server, body.runId as string)).status).toBe('cancelled');
  });

  it('lists pending tool approvals and approves one, letting the run go on', async () => {
    const ask: RunExtension = { name: 'ask', authorizeToolCall: () => 'ask' };
    const { server, provider } = await start(
      { toolCalls: [{ id: 'toolu_1', name: 'bash', input: { command: 'ls' } }] },
      { extensions: [ask] },
    );
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    const { body } = await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'use a tool' }),
    });
    let approvals: { toolCallId: string }[] = [];
    for (let attempt = 0; attempt < 200 && approvals.length === 0; attempt++) {
      approvals = (await json(server, `/api/runs/${body.runId}/approvals`)).body.approvals as {
        toolCallId: string;
      }[];
      if (approvals.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(approvals).toMatchObject([{ toolCallId: 'toolu_1', toolName: 'bash' }]);
    const approved = await json(server, `/api/runs/${body.runId}/approvals/toolu_1/approve`, {
      method: 'POST',
      body: JSON.stringify({ approvedBy: 'ada' }),
    });
    expect(approved.body).toMatchObject({ decision: 'granted' });
    expect((await waitForRun(server, body.runId as string)).status).toBe('completed');
    expect(provider.calls[0]?.toolDecisions[0]).toEqual({ allow: true });
    expect((await json(server, `/api/runs/${body.runId}/approvals`)).body.approvals).toEqual([]);
  });
});

describe('bad requests change nothing and get the AsmError code', () => {
  it('answers 4xx for malformed JSON, unknown fields, bad ids, bad types, unknown resources and big bodies', async () => {
    const { server, store } = await start();
    const bad = await json(server, '/api/sessions', { method: 'POST', body: '{not json' });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'validation_error' } } });
    const unknown = await json(server, '/api/sessions', {
      method: 'POST',
      body: JSON.stringify({ agentId: 'x', admin: true }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toContain('admin');
    expect((await json(server, '/api/sessions/..%2Fetc')).status).toBe(400);
    expect((await json(server, '/api/sessions/ses_missing')).body.error?.code).toBe('session_not_found');
    expect((await json(server, '/api/nope')).status).toBe(404);
    const huge = await json(server, '/api/sessions', {
      method: 'POST',
      body: JSON.stringify({ agentId: 'x'.repeat(2_000_000) }),
    });
    expect(huge.status).toBe(413);
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    expect((await json(server, `/api/sessions/${session.id}/events?types=bogus`)).body.error?.code).toBe(
      'invalid_event_type',
    );
    expect(
      (await json(server, `/api/sessions/${session.id}/runs`, { method: 'POST', body: '{}' })).status,
    ).toBe(400);
    expect(await store.listSessions()).toHaveLength(1);
    expect(await store.listRuns(session.id as string)).toHaveLength(0);
  });
});

describe('authorize', () => {
  it('rejects requests without the bearer token', async () => {
    const { server } = await start({}, { authorize: bearerToken('s3cret-token') });
    expect((await fetch(`${server.url}/api/health`)).status).toBe(401);
    const ok = await fetch(`${server.url}/api/health`, { headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
  });

  it('refuses to listen beyond loopback without an authorize hook', async () => {
    const error = await createAsmServer({
      store: createInMemoryStore(),
      provider: createMockProvider(),
      host: '0.0.0.0',
      port: 0,
    }).catch((caught: unknown) => caught);
    expect(AsmError.isInstance(error) && error.code).toBe('validation_error');
  });
});

describe('Server-Sent Events', () => {
  it('streams backfill then live events with id = sequence, and heartbeats', async () => {
    const { server } = await start({ deltas: 20, chunkDelayMs: 5 });
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    const reading = readSse(`${server.url}/api/sessions/${session.id}/events/stream`, {
      until: (event) => event.type === 'run_completed',
    });
    await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'stream' }),
    });
    const { events, ids, heartbeats } = await reading;
    expect(events[0]?.type).toBe('session_created');
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));
    expect(ids).toEqual(events.map((event) => String(event.sequence)));
    expect(heartbeats).toBeGreaterThan(0);
  });

  it('resumes from Last-Event-ID after a disconnect mid-run with exactly the missing events', async () => {
    const { server, store } = await start({ deltas: 60, chunkDelayMs: 5 });
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'long' }),
    });
    const first = await readSse(`${server.url}/api/sessions/${session.id}/events/stream`, {
      until: (_event, all) => all.filter((item) => item.type === 'message_streamed').length === 10,
    });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const second = await readSse(`${server.url}/api/sessions/${session.id}/events/stream`, {
      lastEventId: first.ids.at(-1)!,
      until: (event) => event.type === 'run_completed',
    });
    const joined = [...first.events, ...second.events];
    const stored = (await store.getEvents(session.id as string)).filter(
      (event) => event.sequence <= joined.at(-1)!.sequence,
    );
    expect(joined.map((event) => event.id)).toEqual(stored.map((event) => event.id));
  });

  it('serves 100 clients following one session', async () => {
    const { server } = await start({ deltas: 30, chunkDelayMs: 2 });
    const session = (await json(server, '/api/sessions', { method: 'POST', body: '{}' })).body;
    const readers = Array.from({ length: 100 }, () =>
      readSse(`${server.url}/api/sessions/${session.id}/events/stream`, {
        until: (event) => event.type === 'run_completed',
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await json(server, `/api/sessions/${session.id}/runs`, {
      method: 'POST',
      body: JSON.stringify({ input: 'fan out' }),
    });
    const results = await Promise.all(readers);
    const expected = results[0]!.events.map((event) => event.id);
    expect(expected.length).toBeGreaterThan(30);
    for (const result of results) expect(result.events.map((event) => event.id)).toEqual(expected);
  }, 30_000);
});
