/**
 * `@asm/server` over HTTP on 127.0.0.1:
 * - fan-out: one run streams 10,000 deltas (the mock provider yields to the event loop after each,
 *   like a network stream) while 100 SSE clients follow the session. The clients live in a worker
 *   thread (the other core), so they do not compete with the server for its thread. Compared with the
 *   same run and no client (time until the last client has the last event, against the run's own
 *   time), with delivered events per second and the delay from append (the store's write resolved)
 *   to client receipt: p50 and p99 over every client and event, against the p99 of a single client;
 * - resume: a 100,000-event session on a SQLite file, a client reconnecting with
 *   `Last-Event-ID: 50000`: time to the first event, against a client resuming 10 events from the
 *   end (so the ratio shows what the position in the log costs; the store's own page read is printed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  createEvent,
  createInMemoryStore,
  type NewEvent,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';
import { createSessionRuntime } from '@asm/runtime';
import { createAsmServer } from '@asm/server';
import { createSqliteStore } from '@asm/sqlite';
import { createMockProvider } from '@asm/testing/fakes';
import { type BenchRecord, compareTimes, median } from './harness.js';

const DELTAS = 10_000;
const CLIENTS = 100;
const RESUME_EVENTS = 100_000;

const now = () => performance.timeOrigin + performance.now();

/** A store that notes when each sequence's write resolved. */
function timedStore(store: SessionStore, appendedAt: Map<number, number>): SessionStore {
  const note = (events: StoredEvent[]) => {
    const time = now();
    for (const event of events) appendedAt.set(event.sequence, time);
    return events;
  };
  return {
    specificationVersion: 'v1',
    supportsLongPoll: store.supportsLongPoll,
    saveSession: (session) => store.saveSession(session),
    getSession: (id) => store.getSession(id),
    listSessions: (filter) => store.listSessions(filter),
    deleteSession: (id) => store.deleteSession(id),
    saveRun: (run) => store.saveRun(run),
    getRun: (id) => store.getRun(id),
    listRuns: (id, filter) => store.listRuns(id, filter),
    appendEvent: async (event) => note([await store.appendEvent(event)])[0]!,
    appendEvents: async (events) => note(await store.appendEvents(events)),
    getEvents: (id, query) => store.getEvents(id, query),
    getLatestSequence: (id) => store.getLatestSequence(id),
    close: () => store.close(),
  };
}

interface FanOutResult {
  /** From submit to the moment every client had the run's last event (or the run ended, without clients). */
  elapsedMs: number;
  /** From submit to the end of the run. */
  runMs: number;
  delivered: number;
  delaysMs: number[];
}

interface WorkerMessage {
  type: 'connected' | 'done';
  results?: { sequences: number[]; times: number[] }[];
}

async function fanOut(clients: number): Promise<FanOutResult> {
  const appendedAt = new Map<number, number>();
  const store = timedStore(createInMemoryStore(), appendedAt);
  const runtime = createSessionRuntime({
    store,
    provider: createMockProvider({ deltas: DELTAS, chunk: 'lorem ipsum ', chunkDelayMs: 0 }),
  });
  const server = await createAsmServer({ runtime, port: 0, dashboard: false });
  const sessionServer = await runtime.start({ session: { agentId: 'bench' } });
  const sessionId = sessionServer.sessionId;
  let worker: Worker | undefined;
  let done: Promise<WorkerMessage> | undefined;
  try {
    if (clients > 0) {
      // Node 20 does not hand the main thread's `--import tsx` hooks to workers: register them there.
      const script = new URL('./sse-clients.worker.ts', import.meta.url).href;
      worker = new Worker(
        `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(script)}); });`,
        {
          eval: true,
          workerData: { url: `${server.url}/api/sessions/${sessionId}/events/stream`, clients },
        },
      );
      const messages: WorkerMessage[] = [];
      const waiters: ((message: WorkerMessage) => void)[] = [];
      worker.on('message', (message: WorkerMessage) => {
        const waiter = waiters.shift();
        if (waiter) waiter(message);
        else messages.push(message);
      });
      const next = () =>
        new Promise<WorkerMessage>((resolve) => {
          const message = messages.shift();
          if (message) resolve(message);
          else waiters.push(resolve);
        });
      await next(); // connected
      done = next();
    }
    const started = now();
    const runId = await sessionServer.submitRun('stream', { timeoutMs: 30 * 60_000 });
    await sessionServer.awaitRun(runId);
    const runMs = now() - started;
    const last = await store.getLatestSequence(sessionId);
    if (!worker || !done) return { elapsedMs: runMs, runMs, delivered: 0, delaysMs: [] };
    worker.postMessage({ type: 'until', sequence: last });
    const { results } = await done;
    const finishedAt = Math.max(...results!.map((result) => result.times.at(-1)!));
    const delaysMs: number[] = [];
    let delivered = 0;
    for (const result of results!) {
      for (let index = 0; index < result.sequences.length; index++) {
        const appended = appendedAt.get(result.sequences[index]!);
        if (appended === undefined) continue;
        delivered++;
        delaysMs.push(result.times[index]! - appended);
      }
    }
    return { elapsedMs: finishedAt - started, runMs, delivered, delaysMs };
  } finally {
    await worker?.terminate();
    await server.close();
    await runtime.close();
    await store.close();
  }
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function benchFanOut(): Promise<BenchRecord[]> {
  await fanOut(0); // warm-up
  await fanOut(CLIENTS);
  const alone: number[] = [];
  const followed: FanOutResult[] = [];
  const single: FanOutResult[] = [];
  for (let round = 0; round < 3; round++) {
    alone.push((await fanOut(0)).elapsedMs);
    followed.push(await fanOut(CLIENTS));
    single.push(await fanOut(1));
  }
  const baseline = median(alone);
  const candidate = median(followed.map((result) => result.elapsedMs));
  const delays = followed.flatMap((result) => result.delaysMs);
  const p50 = percentile(delays, 0.5);
  const p99 = percentile(delays, 0.99);
  const singleP99 = median(single.map((result) => percentile(result.delaysMs, 0.99)));
  const deliveredPerSecond = median(followed.map((result) => result.delivered / (result.elapsedMs / 1000)));
  const events = followed[0]!.delivered / CLIENTS;
  console.log(
    `server: ${CLIENTS} SSE clients x ${Math.round(events)} events: ${Math.round(deliveredPerSecond).toLocaleString('en-US')} events/s delivered; ` +
      `append->receipt p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (1 client: p99 ${singleP99.toFixed(1)} ms); ` +
      `run alone ${baseline.toFixed(0)} ms, followed by ${CLIENTS} clients ${candidate.toFixed(0)} ms`,
  );
  return [
    {
      name: `server: run of ${DELTAS.toLocaleString('en-US')} deltas, ${CLIENTS} SSE clients vs none (time to last receipt)`,
      metric: 'time',
      unit: 'ms',
      baseline: round(baseline),
      candidate: round(candidate),
      ratio: round(candidate / baseline),
      target: 10,
    },
    {
      name: `server: p99 append->receipt delay, ${CLIENTS} SSE clients vs 1`,
      metric: 'time',
      unit: 'ms',
      baseline: round(singleP99),
      candidate: round(p99),
      ratio: round(p99 / singleP99),
      target: 25,
    },
  ];
}

/** Time to the first event of a stream resumed with `Last-Event-ID`. */
async function firstEventMs(url: string, lastEventId: number): Promise<number> {
  const controller = new AbortController();
  const started = performance.now();
  const response = await fetch(url, {
    headers: { 'last-event-id': String(lastEventId) },
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended before its first event');
      buffer += decoder.decode(value, { stream: true });
      if (buffer.includes('\n\n') && !buffer.startsWith(':')) return performance.now() - started;
    }
  } finally {
    controller.abort();
  }
}

async function benchResume(): Promise<BenchRecord> {
  const directory = mkdtempSync(join(tmpdir(), 'asm-bench-server-'));
  const store = createSqliteStore({ path: join(directory, 'resume.db') });
  try {
    const runtime = createSessionRuntime({ store, provider: createMockProvider() });
    const sessionServer = await runtime.start({ session: { agentId: 'resume' } });
    const sessionId = sessionServer.sessionId;
    const runId = 'run_00000000000000000000000000000000';
    for (let batch = 0; batch < RESUME_EVENTS / 1_000; batch++) {
      const events = Array.from(
        { length: 1_000 },
        (_, index) =>
          createEvent({
            type: 'message_streamed',
            sessionId,
            runId,
            provider: 'claude',
            data: { kind: 'text', delta: `delta ${batch * 1_000 + index} lorem ipsum dolor sit amet` },
          }) as NewEvent,
      );
      await store.appendEvents(events);
    }
    const total = await store.getLatestSequence(sessionId);
    const middle = Math.floor(total / 2);
    const server = await createAsmServer({ runtime, port: 0, dashboard: false });
    const url = `${server.url}/api/sessions/${sessionId}/events/stream`;
    try {
      const record = await compareTimes({
        name: `server: resume a ${RESUME_EVENTS.toLocaleString('en-US')}-event session from the middle vs 10 events from its end, time to first event (SQLite file)`,
        baseline: () => firstEventMs(url, total - 10),
        candidate: () => firstEventMs(url, middle),
        rounds: 21,
        warmup: 3,
        target: 2,
      });
      const fromStart: number[] = [];
      const storeRead: number[] = [];
      for (let index = 0; index < 5; index++) {
        fromStart.push(await firstEventMs(url, 0));
        const started = performance.now();
        await store.getEvents(sessionId, { after: middle, limit: 100 });
        storeRead.push(performance.now() - started);
      }
      console.log(
        `server: resume of ${total.toLocaleString('en-US')} events: first event after ${record.candidate.toFixed(2)} ms from the middle, ` +
          `${record.baseline.toFixed(2)} ms 10 events from the end, ${median(fromStart).toFixed(2)} ms from the start ` +
          `(the store's own read of that page: ${median(storeRead).toFixed(2)} ms)`,
      );
      return record;
    } finally {
      await server.close();
      await runtime.close();
    }
  } finally {
    await store.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

/** The `@asm/server` benchmarks. */
export async function benchServer(): Promise<BenchRecord[]> {
  return [...(await benchFanOut()), await benchResume()];
}
