import { AsmError, type ControlBus, type ControlMessage } from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';

/** Options of `testControlBus`. */
export interface TestControlBusOptions {
  name?: string;
  /**
   * Creates a bus. Called twice per test: one bus publishes, the other subscribes, as two app
   * instances would (for an in-process bus, return the same instance both times).
   */
  create: () => ControlBus | Promise<ControlBus>;
  /** Called for every bus created, after each test. Default: `bus.close()`. */
  cleanup?: (bus: ControlBus) => void | Promise<void>;
  /** How long to wait for a delivery before failing. Default 2,000 ms. */
  deliveryTimeoutMs?: number;
}

let counter = 0;

function uniqueSession(): string {
  counter++;
  return `ses_ctl_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for delivery');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The conformance suite every `ControlBus` runs: delivery after `subscribe` resolved, per-publisher
 * order, per-session isolation, delivery to the publisher's own subscriptions, unsubscribe, a
 * throwing listener, validation and close.
 */
export function testControlBus(options: TestControlBusOptions): void {
  const timeout = options.deliveryTimeoutMs ?? 2_000;
  const created: ControlBus[] = [];
  const make = async () => {
    const bus = await options.create();
    created.push(bus);
    return bus;
  };
  const message = (
    sessionId: string,
    index: number,
    extra: Partial<ControlMessage> = {},
  ): ControlMessage => ({
    type: 'run_submitted',
    sessionId,
    runId: `run_${index}`,
    from: 'instance-a',
    data: { index, nested: { ok: true } },
    ...extra,
  });

  describe(`ControlBus conformance: ${options.name ?? 'bus'}`, () => {
    afterEach(async () => {
      for (const bus of new Set(created.splice(0))) {
        await (options.cleanup ? options.cleanup(bus) : bus.close());
      }
    });

    it('declares specificationVersion v1', async () => {
      expect((await make()).specificationVersion).toBe('v1');
    });

    it('subscribe - delivers every message published after it resolved, in order, intact', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const received: ControlMessage[] = [];
      await subscriber.subscribe(sessionId, (received_) => received.push(received_));
      const sent = Array.from({ length: 30 }, (_, index) => message(sessionId, index));
      for (const item of sent) await publisher.publish(item);
      await waitFor(() => received.length >= 30, timeout);
      expect(received).toEqual(sent);
    });

    it('subscribe - isolates sessions and reaches the publisher own subscriptions too', async () => {
      const publisher = await make();
      const other = await make();
      const [s1, s2] = [uniqueSession(), uniqueSession()];
      const own: ControlMessage[] = [];
      const remote: ControlMessage[] = [];
      const unrelated: ControlMessage[] = [];
      await publisher.subscribe(s1, (item) => own.push(item));
      await other.subscribe(s1, (item) => remote.push(item));
      await other.subscribe(s2, (item) => unrelated.push(item));
      await publisher.publish(message(s1, 1, { type: 'operation_requested' }));
      await waitFor(() => own.length === 1 && remote.length === 1, timeout);
      expect(own[0]?.type).toBe('operation_requested');
      expect(remote[0]?.runId).toBe('run_1');
      await publisher.publish(message(s2, 2));
      await waitFor(() => unrelated.length === 1, timeout);
      expect(own).toHaveLength(1);
      expect(remote).toHaveLength(1);
    });

    it('unsubscribe - stops delivery to that listener only; a throwing listener does not starve others', async () => {
      const publisher = await make();
      const subscriber = await make();
      const sessionId = uniqueSession();
      const kept: ControlMessage[] = [];
      const dropped: ControlMessage[] = [];
      await subscriber.subscribe(sessionId, () => {
        throw new Error('broken listener');
      });
      await subscriber.subscribe(sessionId, (item) => kept.push(item));
      const subscription = await subscriber.subscribe(sessionId, (item) => dropped.push(item));
      await publisher.publish(message(sessionId, 1));
      await waitFor(() => kept.length === 1 && dropped.length === 1, timeout);
      await subscription.unsubscribe();
      await subscription.unsubscribe();
      await publisher.publish(message(sessionId, 2));
      await waitFor(() => kept.length === 2, timeout);
      // A marker published after the second message: once it arrives, the second would have too.
      await publisher.publish(message(sessionId, 3));
      await waitFor(() => kept.length === 3, timeout);
      expect(dropped.map((item) => item.runId)).toEqual(['run_1']);
    });

    it('publish - rejects malformed messages with validation_error; a closed bus refuses calls', async () => {
      const bus = await make();
      const bad = [
        { type: '', sessionId: 's', from: 'a' },
        { type: 't', sessionId: '', from: 'a' },
        { type: 't', sessionId: 's', from: '' },
        { type: 't', sessionId: 's', from: 'a', data: [1] },
        { type: 't', sessionId: 's', from: 'a', runId: 5 },
      ];
      for (const item of bad) {
        const error = await bus.publish(item as unknown as ControlMessage).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(AsmError.isInstance(error) && error.code).toBe('validation_error');
      }
      await bus.close();
      await bus.close();
      const error = await bus.publish(message(uniqueSession(), 1)).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(AsmError.isInstance(error) && error.code).toBe('storage_connection_failed');
    });
  });
}
