/** A Server-Sent Events reader for the tests: collects a session's events and waits for conditions. */
import type { StoredEvent } from '@asm/core';

/** An open SSE connection. */
export interface SseReader {
  /** Events received so far, in order. */
  readonly events: StoredEvent[];
  /** The `id:` field of each event. */
  readonly ids: string[];
  /** Resolves once an event satisfies `predicate` (checks events already received too). */
  waitFor(predicate: (event: StoredEvent) => boolean, timeoutMs?: number): Promise<StoredEvent>;
  /** Disconnects. */
  close(): void;
  /** Resolves when the stream ends (server closed it, or `close()`). */
  readonly ended: Promise<void>;
}

/** Opens `url` as an SSE stream, resuming after `lastEventId` when given. */
export async function openSse(
  url: string,
  options: { lastEventId?: number | string } = {},
): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: {
      accept: 'text/event-stream',
      ...(options.lastEventId === undefined ? {} : { 'last-event-id': String(options.lastEventId) }),
    },
    signal: controller.signal,
  });
  if (!response.ok || !response.headers.get('content-type')?.includes('text/event-stream')) {
    throw new Error(`SSE request failed: ${response.status} ${await response.text()}`);
  }
  const events: StoredEvent[] = [];
  const ids: string[] = [];
  const waiters = new Set<() => void>();
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const ended = (async () => {
    let buffer = '';
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
          let id = '';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) id = line.slice(3).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trimStart();
          }
          if (data === '') continue;
          ids.push(id);
          events.push(JSON.parse(data) as StoredEvent);
        }
        for (const wake of [...waiters]) wake();
      }
    } catch {
      // aborted or dropped
    } finally {
      for (const wake of [...waiters]) wake();
    }
  })();
  let closed = false;
  void ended.then(() => {
    closed = true;
  });
  return {
    events,
    ids,
    ended,
    close: () => controller.abort(),
    waitFor(predicate, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (found) {
            finish();
            resolve(found);
          } else if (closed) {
            finish();
            reject(new Error(`SSE stream ended before the awaited event (${events.length} events)`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`Timed out waiting for an SSE event (${events.length} events received)`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Every stored event of a session, read through the JSON events route page by page. */
export async function allEvents(baseUrl: string, sessionId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const response = await fetch(`${baseUrl}/api/sessions/${sessionId}/events?after=${after}&limit=1000`);
    const page = (await response.json()) as { events: StoredEvent[] };
    events.push(...page.events);
    if (page.events.length < 1000) return events;
    after = page.events.at(-1)!.sequence;
  }
}

/** POSTs JSON and returns the parsed answer. */
export async function postJson<T>(url: string, body: unknown = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const parsed = (await response.json()) as T;
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Polls a run until its status is one of `statuses` (a bounded, generous loop). */
export async function waitForRunStatus(
  baseUrl: string,
  runId: string,
  statuses: string[],
  timeoutMs = 90_000,
): Promise<{ status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await (await fetch(`${baseUrl}/api/runs/${runId}`)).json()) as { status: string };
    if (statuses.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} stayed ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
