import { createEvent, type EventBus, type NewEvent, type StoredEvent, toStoredEvent } from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';

/** Options of `testEventBus`. */
export interface TestEventBusOptions {
  name?: string;
  /**
   * Creates a bus. Called twice per test: one bus publishes, the other subscribes, as two app
   * instances would (for an in-process bus, return the same instance both times).
   */
  create: () => EventBus | Promise<EventBus>;
  /** Called for every bus created, after each test. Default: `bus.close()`. */
  cleanup?: (bus: EventBus) => void | Promise<void>;
  /** How long to wait for a delivery before failing. Default 2,000 ms. */
  deliveryTimeoutMs?: number;
}

let counter = 0;

function storedEvents(sessionId: string, count: number, runId = 'run_a'): StoredEvent[] {
  return Array.from({ length: count }, (_, index) =>
    toStoredEvent(
      createEvent({
        type: index % 2 === 0 ? 'message_streamed' : 'token_usage_updated',
        sessionId,
        runId,
        data: index % 2 === 0 ? { kind: 'text', delta: `d${index}` } : { inputTokens: index },
      }) as NewEvent,
      index + 1,
    ),
  );
}

function uniqueSession(): string {
  counter++;
  return `ses_bus_${process.pid}_${Date.now()}_${counter}`;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for delivery');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The conformance suite every `EventBus` runs: delivery after `subscribe` resolves, order, per-session
 * isolation, run and type filters, unsubscribe, close, and isolation from a throwing listener.
 */
export function testEventBus(options: TestEventBusOptions): void {
  const timeout = options.deliveryTimeoutMs ?? 2_000;
  const created: EventBus[] = [];
  const make = async () => {
    const bus = await options.create();
    created.push(bus);
    return bus;
  };

  describe(`EventBus conformance: ${options.name ?? 'bus'}`, () => {
    afterEach(async () => {
      for (const bus of new Set(created.splice(0))) {
        await (options.cleanup ? options.cleanup(bus) : bus.close());
      }
    });

    it('declares specificationVersion v1', async () => {
      const bus = await make();
      expect(bus.specificationVersion).toBe('v1');
    });

    it('subscribe - delivers every event published after it resolved, in order', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const received: StoredEvent[] = [];
      await subscriber.subscribe(sessionId, (event) => received.push(event));
      const events = storedEvents(sessionId, 50);
      await publisher.publish(events.slice(0, 20));
      await publisher.publish(events.slice(20));
      await waitFor(() => received.length === 50, timeout);
      expect(received.map((event) => event.sequence)).toEqual(events.map((event) => event.sequence));
      expect(received[0]).toEqual(events[0]);
    });

    it('subscribe - does not deliver events of other sessions', async () => {
      const publisher = await make();
      const subscriber = await make();
      const mine = uniqueSession();
      const other = uniqueSession();
      const received: StoredEvent[] = [];
      await subscriber.subscribe(mine, (event) => received.push(event));
      await publisher.publish(storedEvents(other, 3));
      await publisher.publish(storedEvents(mine, 1));
      await waitFor(() => received.length >= 1, timeout);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(received.map((event) => event.sessionId)).toEqual([mine]);
    });

    it('subscribe - applies the run and type filters', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const byRun: StoredEvent[] = [];
      const byType: StoredEvent[] = [];
      const all: StoredEvent[] = [];
      await subscriber.subscribe(sessionId, (event) => byRun.push(event), { runId: 'run_b' });
      await subscriber.subscribe(sessionId, (event) => byType.push(event), {
        types: ['token_usage_updated'],
      });
      await subscriber.subscribe(sessionId, (event) => all.push(event));
      const first = storedEvents(sessionId, 4, 'run_a');
      const second = storedEvents(sessionId, 4, 'run_b').map((event, index) => ({
        ...event,
        sequence: 5 + index,
      }));
      await publisher.publish([...first, ...second]);
      await waitFor(() => all.length === 8, timeout);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(byRun.map((event) => event.sequence)).toEqual([5, 6, 7, 8]);
      expect(byType.every((event) => event.type === 'token_usage_updated')).toBe(true);
      expect(byType).toHaveLength(4);
    });

    it('unsubscribe - stops delivery and is idempotent', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const received: StoredEvent[] = [];
      const subscription = await subscriber.subscribe(sessionId, (event) => received.push(event));
      const events = storedEvents(sessionId, 2);
      await publisher.publish([events[0]!]);
      await waitFor(() => received.length === 1, timeout);
      await subscription.unsubscribe();
      await subscription.unsubscribe();
      await publisher.publish([events[1]!]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toHaveLength(1);
    });

    it('a throwing listener does not stop delivery to the others', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const received: StoredEvent[] = [];
      await subscriber.subscribe(sessionId, () => {
        throw new Error('listener bug');
      });
      await subscriber.subscribe(sessionId, (event) => received.push(event));
      await publisher.publish(storedEvents(sessionId, 3));
      await waitFor(() => received.length === 3, timeout);
    });

    it('close - ends subscriptions and is idempotent', async () => {
      const bus = await make();
      const sessionId = uniqueSession();
      await bus.subscribe(sessionId, () => undefined);
      await bus.close();
      await bus.close();
    });
  });
}
