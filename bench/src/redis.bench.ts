/**
 * `@asm/redis` against raw ioredis on the local Redis (127.0.0.1:6379, or ASM_REDIS_URL):
 *
 * (a) `appendEvents` of 10,000 events in batches of 100 (one Lua script call per batch: duplicate
 *     check, sequence, XADD, id index) against raw pipelined `XADD` of the same JSON payloads, one
 *     pipeline per batch of 100 and, stricter, one pipeline of all 10,000. Throughput, target ≥ 0.5x.
 * (b) Publish-to-receive latency for a subscriber in a second process, p50 and p99: the event bus
 *     against a raw ioredis `PUBLISH` → `message` of the same JSON, measured the same way (the send
 *     time travels in the payload; the child reads the clock when the listener runs).
 *
 * The raw baselines use the very ioredis client the store or bus holds (`store.client`), so both
 * sides share connection settings.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createEvent, createSession, type NewEvent, type StoredEvent, toStoredEvent } from '@asm/core';
import { createRedisEventBus, createRedisStore, type RedisSessionStore } from '@asm/redis';
import { type BenchRecord, median } from './harness.js';

type RedisClient = RedisSessionStore['client'];

const REDIS_URL = process.env.ASM_REDIS_URL ?? 'redis://127.0.0.1:6379';
const EVENTS = 10_000;
const BATCH = 100;
const CHILD_MODE = process.env.ASM_REDIS_BENCH_CHILD;

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function deltaEvents(sessionId: string): NewEvent[] {
  return Array.from(
    { length: EVENTS },
    (_, index) =>
      createEvent({
        type: 'message_streamed',
        sessionId,
        runId: 'run_bench',
        provider: 'mock',
        data: { kind: 'text', delta: `token ${index} ` },
      }) as NewEvent,
  );
}

async function removeKeys(client: RedisClient, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

async function benchAppend(): Promise<BenchRecord[]> {
  const prefix = `bench:redis:${randomBytes(6).toString('hex')}:`;
  const store = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  const raw = store.client;
  const rawKey = `${prefix}raw-stream`;

  const candidate = async (): Promise<number> => {
    const session = await store.saveSession(createSession({ agentId: 'bench' }));
    const events = deltaEvents(session.id);
    const started = performance.now();
    for (let start = 0; start < EVENTS; start += BATCH)
      await store.appendEvents(events.slice(start, start + BATCH));
    const elapsed = performance.now() - started;
    if ((await store.getLatestSequence(session.id)) !== EVENTS) throw new Error('store lost events');
    await store.deleteSession(session.id);
    return elapsed;
  };
  const pipelined = (batchSize: number) => async (): Promise<number> => {
    const events = deltaEvents('ses_raw');
    const started = performance.now();
    for (let start = 0; start < EVENTS; start += batchSize) {
      const pipeline = raw.pipeline();
      for (const event of events.slice(start, start + batchSize))
        pipeline.xadd(rawKey, '*', 'e', JSON.stringify(event));
      await pipeline.exec();
    }
    const elapsed = performance.now() - started;
    if ((await raw.xlen(rawKey)) !== EVENTS) throw new Error('raw lost events');
    await raw.unlink(rawKey);
    return elapsed;
  };

  const records: BenchRecord[] = [];
  try {
    for (const [label, baseline] of [
      ['pipelines of 100', pipelined(BATCH)],
      ['one pipeline of 10k', pipelined(EVENTS)],
    ] as const) {
      for (let round = 0; round < 2; round++) {
        await baseline();
        await candidate();
      }
      const baselineTimes: number[] = [];
      const candidateTimes: number[] = [];
      for (let round = 0; round < 7; round++) {
        baselineTimes.push(await baseline());
        candidateTimes.push(await candidate());
      }
      const baselineRate = EVENTS / (median(baselineTimes) / 1000);
      const candidateRate = EVENTS / (median(candidateTimes) / 1000);
      records.push({
        name: `redis appendEvents 10k in batches of 100 vs raw XADD (${label})`,
        metric: 'throughput',
        unit: 'events/s',
        baseline: Math.round(baselineRate),
        candidate: Math.round(candidateRate),
        ratio: Math.round((candidateRate / baselineRate) * 1000) / 1000,
        target: 0.5,
      });
    }
  } finally {
    await removeKeys(raw, prefix);
    await store.close();
  }
  return records;
}

/** A subscriber in a second process; answers every received event with its one-way latency (ms). */
interface LatencyChild {
  ready: Promise<void>;
  next(): Promise<number>;
  stop(): void;
}

function startChild(mode: 'bus' | 'raw', prefix: string, sessionId: string): LatencyChild {
  const file = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@asm/source', '--import', 'tsx', file], {
    env: {
      ...process.env,
      ASM_REDIS_BENCH_CHILD: mode,
      ASM_REDIS_BENCH_PREFIX: prefix,
      ASM_REDIS_BENCH_SESSION: sessionId,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending: Array<(latency: number) => void> = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`latency child exited with ${code}`)));
    child.on('message', (message: { ready?: true; latency?: number }) => {
      if (message.ready) resolve();
      else if (typeof message.latency === 'number') pending.shift()?.(message.latency);
    });
  });
  return {
    ready,
    next: () => new Promise<number>((resolve) => pending.push(resolve)),
    stop: () => {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

async function runChild(mode: string): Promise<void> {
  const prefix = process.env.ASM_REDIS_BENCH_PREFIX ?? '';
  const sessionId = process.env.ASM_REDIS_BENCH_SESSION ?? '';
  const report = (event: { data: { sentAt?: unknown } }): void => {
    process.send?.({ latency: now() - Number(event.data.sentAt) });
  };
  const bus = createRedisEventBus({ url: REDIS_URL }, prefix);
  if (mode === 'bus') {
    await bus.subscribe(sessionId, (event) => report(event as unknown as { data: { sentAt?: unknown } }));
  } else {
    const subscriber = bus.client.duplicate();
    subscriber.on('message', (_channel: string, message: string) => report(JSON.parse(message)));
    await subscriber.subscribe(bus.channelOf(sessionId));
  }
  process.send?.({ ready: true });
  process.on('disconnect', () => process.exit(0));
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function benchLatency(): Promise<BenchRecord[]> {
  const prefix = `bench:redis:${randomBytes(6).toString('hex')}:`;
  const sessionId = `ses_${randomBytes(16).toString('hex')}`;
  const bus = createRedisEventBus({ url: REDIS_URL }, prefix);
  const raw = bus.client;
  const channel = bus.channelOf(sessionId);
  const busChild = startChild('bus', prefix, sessionId);
  const rawChild = startChild('raw', prefix, sessionId.replace('ses_', 'ses_raw_'));
  const rawChannel = bus.channelOf(sessionId.replace('ses_', 'ses_raw_'));
  const template = createEvent({
    type: 'message_streamed',
    sessionId,
    runId: 'run_bench',
    data: { kind: 'text', delta: 'token ' },
  }) as NewEvent;
  const viaBus: number[] = [];
  const viaRaw: number[] = [];
  try {
    await Promise.all([busChild.ready, rawChild.ready]);
    let sequence = 0;
    const once = async (mode: 'bus' | 'raw'): Promise<number> => {
      sequence++;
      const event: StoredEvent = toStoredEvent(
        { ...template, data: { ...template.data, sentAt: now() } } as NewEvent,
        sequence,
      );
      if (mode === 'bus') {
        const received = busChild.next();
        await bus.publish([event]);
        return received;
      }
      const received = rawChild.next();
      await raw.publish(rawChannel, JSON.stringify(event));
      return received;
    };
    for (let index = 0; index < 100; index++) {
      await once('bus');
      await once('raw');
    }
    for (let round = 0; round < 1_000; round++) {
      viaBus.push(await once('bus'));
      viaRaw.push(await once('raw'));
    }
  } finally {
    busChild.stop();
    rawChild.stop();
    await bus.close();
  }
  void channel;
  const record = (label: string, baseline: number, candidate: number, target: number): BenchRecord => ({
    name: `redis bus publish→receive in a 2nd process, ${label} (vs raw PUBLISH)`,
    metric: 'time',
    unit: 'ms',
    baseline: Math.round(baseline * 1000) / 1000,
    candidate: Math.round(candidate * 1000) / 1000,
    ratio: Math.round((candidate / baseline) * 1000) / 1000,
    target,
  });
  return [
    record('p50', percentile(viaRaw, 0.5), percentile(viaBus, 0.5), 1.5),
    record('p99', percentile(viaRaw, 0.99), percentile(viaBus, 0.99), 2),
  ];
}

/** The Redis benchmarks (see the top of this file). */
export async function benchRedis(): Promise<BenchRecord[]> {
  return [...(await benchAppend()), ...(await benchLatency())];
}

if (CHILD_MODE !== undefined) await runChild(CHILD_MODE);
