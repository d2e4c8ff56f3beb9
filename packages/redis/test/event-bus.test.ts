import { AsmError, createEvent, type NewEvent, type StoredEvent, toStoredEvent } from '@asm/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisEventBus, type RedisEventBus } from '../src/index.js';
import { REDIS_URL, randomPrefix, waitUntil } from './helpers.js';

const opened: RedisEventBus[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const bus of opened.splice(0)) await bus.close();
  for (const client of clients.splice(0)) client.disconnect();
});

function newBus(prefix: string): RedisEventBus {
  const bus = createRedisEventBus({ url: REDIS_URL }, prefix);
  opened.push(bus);
  return bus;
}

let counter = 0;
function sessionId(): string {
  counter++;
  return `ses_bus_${process.pid}_${counter}`;
}

function events(session: string, count: number, from = 1, runId = 'run_a'): StoredEvent[] {
  return Array.from({ length: count }, (_, index) =>
    toStoredEvent(
      createEvent({
        type: index % 3 === 0 ? 'tool_call_started' : 'message_streamed',
        sessionId: session,
        runId,
        data:
          index % 3 === 0
            ? { toolCallId: `tc_${index}`, toolName: 'read' }
            : { kind: 'text', delta: `${index}` },
      }) as NewEvent,
      from + index,
    ),
  );
}

async function subscriberCount(channel: string): Promise<number> {
  const admin = new Redis(REDIS_URL);
  clients.push(admin);
  const [, count] = (await admin.pubsub('NUMSUB', channel)) as [string, number];
  return count;
}

describe('createRedisEventBus', () => {
  it('delivers across connections, in sequence order, 1,000 events in 20 publishes', async () => {
    const prefix = randomPrefix();
    const publisher = newBus(prefix);
    const subscriber = newBus(prefix);
    const session = sessionId();
    const received: StoredEvent[] = [];
    await subscriber.subscribe(session, (event) => received.push(event));
    const all = events(session, 1_000);
    for (let start = 0; start < all.length; start += 50)
      await publisher.publish(all.slice(start, start + 50));
    await waitUntil(() => received.length === 1_000);
    expect(received.map((event) => event.sequence)).toEqual(all.map((event) => event.sequence));
    expect(received).toEqual(JSON.parse(JSON.stringify(all)));
  });

  it('publishes the stored event JSON on {prefix}asm:session:{id}', async () => {
    const prefix = randomPrefix();
    const bus = newBus(prefix);
    const session = sessionId();
    expect(bus.channelOf(session)).toBe(`${prefix}asm:session:${session}`);
    const raw = new Redis(REDIS_URL);
    clients.push(raw);
    const messages: Array<[string, string]> = [];
    raw.on('message', (channel: string, message: string) => messages.push([channel, message]));
    await raw.subscribe(bus.channelOf(session));
    const [event] = events(session, 1);
    await bus.publish([event!]);
    await waitUntil(() => messages.length === 1);
    expect(messages[0]?.[0]).toBe(`${prefix}asm:session:${session}`);
    expect(JSON.parse(messages[0]![1])).toEqual(JSON.parse(JSON.stringify(event)));
  });

  it('isolates prefixes: a bus does not hear another prefix', async () => {
    const session = sessionId();
    const mine = newBus(randomPrefix());
    const other = newBus(randomPrefix());
    const received: StoredEvent[] = [];
    await mine.subscribe(session, (event) => received.push(event));
    await other.publish(events(session, 3));
    await mine.publish(events(session, 1, 4));
    await waitUntil(() => received.length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(received.map((event) => event.sequence)).toEqual([4]);
  });

  it('filters per subscription: run and types on one shared channel subscription', async () => {
    const prefix = randomPrefix();
    const publisher = newBus(prefix);
    const subscriber = newBus(prefix);
    const session = sessionId();
    const runB: StoredEvent[] = [];
    const tools: StoredEvent[] = [];
    const both: StoredEvent[] = [];
    const all: StoredEvent[] = [];
    await subscriber.subscribe(session, (event) => runB.push(event), { runId: 'run_b' });
    await subscriber.subscribe(session, (event) => tools.push(event), { types: ['tool_call_started'] });
    await subscriber.subscribe(session, (event) => both.push(event), {
      runId: 'run_b',
      types: ['tool_call_started'],
    });
    await subscriber.subscribe(session, (event) => all.push(event));
    expect(subscriber.subscriberCount).toBe(4);
    expect(await subscriberCount(subscriber.channelOf(session))).toBe(1);
    await publisher.publish([...events(session, 6, 1, 'run_a'), ...events(session, 6, 7, 'run_b')]);
    await waitUntil(() => all.length === 12);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runB.map((event) => event.sequence)).toEqual([7, 8, 9, 10, 11, 12]);
    expect(tools.map((event) => event.sequence)).toEqual([1, 4, 7, 10]);
    expect(both.map((event) => event.sequence)).toEqual([7, 10]);
  });

  it('unsubscribes the channel in Redis when its last listener leaves, and can subscribe again', async () => {
    const prefix = randomPrefix();
    const publisher = newBus(prefix);
    const subscriber = newBus(prefix);
    const session = sessionId();
    const channel = subscriber.channelOf(session);
    const first = await subscriber.subscribe(session, () => undefined);
    const received: StoredEvent[] = [];
    const second = await subscriber.subscribe(session, (event) => received.push(event));
    await first.unsubscribe();
    expect(await subscriberCount(channel)).toBe(1);
    await second.unsubscribe();
    await second.unsubscribe();
    expect(subscriber.subscriberCount).toBe(0);
    expect(await subscriberCount(channel)).toBe(0);
    await publisher.publish(events(session, 1));
    const again: StoredEvent[] = [];
    await subscriber.subscribe(session, (event) => again.push(event));
    await publisher.publish(events(session, 1, 2));
    await waitUntil(() => again.length === 1);
    expect(again[0]?.sequence).toBe(2);
    expect(received).toEqual([]);
  });

  it('close - ends subscriptions, rejects later calls, and leaves an injected client open', async () => {
    const client = new Redis(REDIS_URL);
    clients.push(client);
    const prefix = randomPrefix();
    const bus = createRedisEventBus({ client, keyPrefix: prefix });
    expect(bus.keyPrefix).toBe(prefix);
    const session = sessionId();
    await bus.subscribe(session, () => undefined);
    expect(await subscriberCount(bus.channelOf(session))).toBe(1);
    await bus.close();
    await bus.close();
    expect(await subscriberCount(bus.channelOf(session))).toBe(0);
    for (const call of [
      () => bus.publish(events(session, 1)),
      () => bus.subscribe(session, () => undefined),
    ]) {
      const error = await call().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(AsmError.isInstance(error)).toBe(true);
      expect((error as AsmError).code).toBe('storage_connection_failed');
      expect((error as AsmError).retryable).toBe(false);
    }
    expect(await client.ping()).toBe('PONG');
  });

  it('close - quits the client it made from a URL', async () => {
    const bus = createRedisEventBus({ url: REDIS_URL });
    await bus.publish(events(sessionId(), 1));
    await bus.close();
    expect(bus.client.status).toBe('end');
  });
});
