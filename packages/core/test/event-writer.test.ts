import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AsmError,
  createEvent,
  EventWriter,
  type NewEvent,
  type SessionStore,
  type StoredEvent,
  toStoredEvent,
} from '../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

function delta(i: number): NewEvent {
  return createEvent({
    type: 'message_streamed',
    sessionId: 'ses_writer',
    runId: 'run_writer',
    data: { kind: 'text', delta: `chunk-${i}` },
  });
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A fake store that implements only `appendEvents`. Each call is recorded; with `gated`, every call
 * waits until the test releases it.
 */
function fakeStore(options: { gated?: boolean; fail?: (callIndex: number) => unknown } = {}) {
  const batches: NewEvent[][] = [];
  const gates: Deferred[] = [];
  let sequence = 0;
  const store = {
    async appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      const index = batches.length;
      batches.push([...events]);
      if (options.gated) {
        const gate = deferred();
        gates.push(gate);
        await gate.promise;
      }
      const failure = options.fail?.(index);
      if (failure !== undefined) throw failure;
      return events.map((event) => toStoredEvent(event, ++sequence));
    },
  };
  return {
    store: store as unknown as SessionStore,
    batches,
    gates,
    /** Releases the gate of the call at `index` once that call has been made. */
    async release(index: number): Promise<void> {
      await vi.waitFor(() => {
        if (gates[index] === undefined) throw new Error(`appendEvents call ${index} not made yet`);
      }, WAIT);
      gates[index]!.resolve();
    },
  };
}

function collector() {
  const stored: StoredEvent[] = [];
  const failures: AsmError[] = [];
  return {
    stored,
    failures,
    onStored: (events: StoredEvent[]) => {
      stored.push(...events);
    },
    onFailure: (error: AsmError) => {
      failures.push(error);
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason,
  );
}

/** Polls often so waiting for a condition costs milliseconds, not the default 50 ms steps. */
const WAIT = { interval: 1, timeout: 1_000 };

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('EventWriter', () => {
  it('writes events in order across batches and hands them to onStored in order', async () => {
    const fake = fakeStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 3, sink.onStored, sink.onFailure);
    const events = Array.from({ length: 10 }, (_, i) => delta(i));
    for (const event of events) writer.enqueue(event);
    await writer.flush();

    expect(fake.batches.flat().map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(sink.stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(sink.stored.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sink.failures).toEqual([]);
  });

  it('keeps order when events arrive while earlier batches are being written', async () => {
    const fake = fakeStore({ gated: true });
    const sink = collector();
    const writer = new EventWriter(fake.store, 4, sink.onStored, sink.onFailure);
    const events = Array.from({ length: 30 }, (_, i) => delta(i));
    for (const event of events.slice(0, 5)) writer.enqueue(event);
    await vi.waitFor(() => expect(fake.batches).toHaveLength(1), WAIT);
    for (const event of events.slice(5, 20)) writer.enqueue(event);
    await fake.release(0);
    await fake.release(1);
    for (const event of events.slice(20)) writer.enqueue(event);
    let done = false;
    const flushing = writer.flush().finally(() => {
      done = true;
    });
    while (!done) {
      for (const gate of fake.gates) gate.resolve();
      await tick(1);
    }
    await flushing;
    expect(fake.batches.flat().map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(sink.stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
    for (const batch of fake.batches) expect(batch.length).toBeLessThanOrEqual(4);
  });

  it('a burst of 2,000 enqueues becomes a handful of appendEvents calls', async () => {
    const fake = fakeStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 500, sink.onStored, sink.onFailure);
    for (let i = 0; i < 2_000; i++) writer.enqueue(delta(i));
    await writer.flush();
    expect(sink.stored).toHaveLength(2_000);
    expect(fake.batches.length).toBe(4);
  });

  it('events enqueued while a write is in flight are grouped into the next write', async () => {
    const fake = fakeStore({ gated: true });
    const sink = collector();
    const writer = new EventWriter(fake.store, 10_000, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));
    await vi.waitFor(() => expect(fake.batches).toHaveLength(1), WAIT);
    for (let i = 1; i < 2_000; i++) {
      writer.enqueue(delta(i));
      if (i % 100 === 0) await Promise.resolve();
    }
    await fake.release(0);
    await fake.release(1);
    await writer.flush();
    expect(fake.batches.map((batch) => batch.length)).toEqual([1, 1_999]);
    expect(sink.stored).toHaveLength(2_000);
  });

  it('never writes more than batchSize events per call', async () => {
    const fake = fakeStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 7, sink.onStored, sink.onFailure);
    for (let i = 0; i < 50; i++) writer.enqueue(delta(i));
    await writer.flush();
    expect(fake.batches.map((batch) => batch.length)).toEqual([7, 7, 7, 7, 7, 7, 7, 1]);
    expect(sink.stored).toHaveLength(50);
  });

  it('batchSize 1 writes one event per call', async () => {
    const fake = fakeStore();
    const writer = new EventWriter(
      fake.store,
      1,
      () => {},
      () => {},
    );
    for (let i = 0; i < 5; i++) writer.enqueue(delta(i));
    await writer.flush();
    expect(fake.batches.map((batch) => batch.length)).toEqual([1, 1, 1, 1, 1]);
  });

  it('writes without flush() once the current tick ends', async () => {
    const fake = fakeStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));
    writer.enqueue(delta(1));
    expect(fake.batches).toHaveLength(0);
    await vi.waitFor(() => expect(sink.stored).toHaveLength(2), WAIT);
    expect(fake.batches).toHaveLength(1);
  });

  it('writes an event enqueued at any microtask offset after the previous one, without flush()', async () => {
    // A producer that emits from promise callbacks can enqueue in the few microtasks between the end
    // of one write and the moment the writer notices it is idle; such an event must still be written.
    for (let offset = 0; offset < 12; offset++) {
      const fake = fakeStore();
      const sink = collector();
      const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure);
      writer.enqueue(delta(0));
      for (let k = 0; k < offset; k++) await Promise.resolve();
      writer.enqueue(delta(1));
      await tick(20);
      expect(sink.stored.length, `second event enqueued ${offset} microtasks later`).toBe(2);
    }
  });

  it('flush() resolves only after everything enqueued is stored', async () => {
    const fake = fakeStore({ gated: true });
    const sink = collector();
    const writer = new EventWriter(fake.store, 2, sink.onStored, sink.onFailure);
    const events = Array.from({ length: 5 }, (_, i) => delta(i));
    for (const event of events) writer.enqueue(event);

    let flushed = false;
    const flushing = writer.flush().then(() => {
      flushed = true;
    });
    await fake.release(0);
    await fake.release(1);
    await tick();
    expect(flushed).toBe(false);
    expect(sink.stored).toHaveLength(4);
    await fake.release(2);
    await flushing;
    expect(flushed).toBe(true);
    expect(sink.stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('flush() also waits for events enqueued after it was called', async () => {
    const fake = fakeStore({ gated: true });
    const sink = collector();
    const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));
    const flushing = writer.flush();
    writer.enqueue(delta(1));
    await fake.release(0);
    await fake.release(1);
    await flushing;
    expect(sink.stored.map((event) => event.data)).toEqual([
      { kind: 'text', delta: 'chunk-0' },
      { kind: 'text', delta: 'chunk-1' },
    ]);
  });

  it('flush() with nothing enqueued resolves at once', async () => {
    const fake = fakeStore();
    const writer = new EventWriter(
      fake.store,
      10,
      () => {},
      () => {},
    );
    await writer.flush();
    expect(fake.batches).toHaveLength(0);
    expect(writer.error).toBeUndefined();
  });

  it('an AsmError from the store rejects flush() as it is, once reported to onFailure', async () => {
    const failure = new AsmError('storage_connection_failed', 'connection reset');
    const fake = fakeStore({ fail: (index) => (index === 1 ? failure : undefined) });
    const sink = collector();
    const writer = new EventWriter(fake.store, 2, sink.onStored, sink.onFailure);
    for (let i = 0; i < 6; i++) writer.enqueue(delta(i));

    const error = await rejection(writer.flush());
    expect(error).toBe(failure);
    expect(writer.error).toBe(failure);
    expect(sink.failures).toEqual([failure]);
    expect(sink.stored).toHaveLength(2);
    expect(fake.batches).toHaveLength(2);
  });

  it('a non-AsmError from the store becomes storage_write_failed', async () => {
    const cause = new Error('disk full');
    const fake = fakeStore({ fail: () => cause });
    const sink = collector();
    const writer = new EventWriter(fake.store, 10, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));

    const error = await rejection(writer.flush());
    expect(AsmError.isInstance(error)).toBe(true);
    expect((error as AsmError).code).toBe('storage_write_failed');
    expect((error as AsmError).details.originalMessage).toBe('disk full');
    expect((error as AsmError).cause).toBe(cause);
    expect(sink.failures).toHaveLength(1);
    expect(sink.failures[0]).toBe(error);
  });

  it('after a failure, later enqueues are dropped and onFailure is not called again', async () => {
    const fake = fakeStore({ fail: (index) => (index === 0 ? new Error('down') : undefined) });
    const sink = collector();
    const writer = new EventWriter(fake.store, 10, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));
    const first = await rejection(writer.flush());

    expect(() => writer.enqueue(delta(1))).not.toThrow();
    writer.enqueue(delta(2));
    const second = await rejection(writer.flush());
    await tick();

    expect(second).toBe(first);
    expect(fake.batches).toHaveLength(1);
    expect(sink.stored).toHaveLength(0);
    expect(sink.failures).toHaveLength(1);
  });

  it('a failure with nobody flushing is still reported to onFailure once', async () => {
    const fake = fakeStore({ fail: () => new Error('down') });
    const sink = collector();
    const writer = new EventWriter(fake.store, 10, sink.onStored, sink.onFailure);
    writer.enqueue(delta(0));
    await vi.waitFor(() => expect(sink.failures).toHaveLength(1), WAIT);
    writer.enqueue(delta(1));
    await tick();
    expect(sink.failures).toHaveLength(1);
    expect(fake.batches).toHaveLength(1);
    expect(writer.error?.code).toBe('storage_write_failed');
  });

  describe('lingerMs', () => {
    it('groups events that arrive during the linger into one write', async () => {
      vi.useFakeTimers();
      const fake = fakeStore();
      const sink = collector();
      const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure, 50);
      writer.enqueue(delta(0));
      await vi.advanceTimersByTimeAsync(20);
      expect(fake.batches).toHaveLength(0);
      writer.enqueue(delta(1));
      writer.enqueue(delta(2));
      await vi.advanceTimersByTimeAsync(30);
      expect(fake.batches.map((batch) => batch.length)).toEqual([3]);
      expect(sink.stored).toHaveLength(3);
    });

    it('flush() writes at once instead of waiting out the linger, and leaves no timer behind', async () => {
      vi.useFakeTimers();
      const fake = fakeStore();
      const sink = collector();
      const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure, 60_000);
      writer.enqueue(delta(0));
      writer.enqueue(delta(1));
      await Promise.resolve();
      expect(fake.batches).toHaveLength(0);
      await writer.flush();
      expect(sink.stored).toHaveLength(2);
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(fake.batches).toHaveLength(1);
    });

    it('flush() is prompt with a real long linger', async () => {
      const fake = fakeStore();
      const sink = collector();
      const writer = new EventWriter(fake.store, 100, sink.onStored, sink.onFailure, 30_000);
      writer.enqueue(delta(0));
      await writer.flush();
      expect(sink.stored).toHaveLength(1);
    }, 2_000);
  });
});

/**
 * A store that applies appends in call order (sequences are taken when the call is made) and resolves
 * each call when the test says so, in any order.
 */
function orderedStore(options: { fail?: (callIndex: number) => unknown } = {}) {
  const batches: NewEvent[][] = [];
  const gates: Array<(outcome: 'resolve' | 'reject') => void> = [];
  let sequence = 0;
  const store = {
    orderedConcurrentAppends: true,
    appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      const index = batches.length;
      batches.push([...events]);
      const stored = events.map((event) => toStoredEvent(event, ++sequence));
      return new Promise<StoredEvent[]>((resolve, reject) => {
        gates.push(() => {
          const failure = options.fail?.(index);
          if (failure === undefined) resolve(stored);
          else reject(failure);
        });
      });
    },
  };
  return { store: store as unknown as SessionStore, batches, gates };
}

describe('EventWriter, pipelined (a store with ordered concurrent appends)', () => {
  it('sends each batch as soon as it fills, up to the depth, without waiting for a tick', () => {
    const fake = orderedStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 3, sink.onStored, sink.onFailure, 2, undefined, 2);
    for (let i = 0; i < 11; i++) writer.enqueue(delta(i));
    // Two full batches went out inside the enqueue calls; the third waits for a free slot.
    expect(fake.batches.map((batch) => batch.length)).toEqual([3, 3]);
    expect(sink.stored).toEqual([]);
  });

  it('hands batches on in the order they were sent, whichever settles first', async () => {
    const fake = orderedStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 3, sink.onStored, sink.onFailure, 2, undefined, 4);
    const events = Array.from({ length: 10 }, (_, i) => delta(i));
    for (const event of events) writer.enqueue(event);
    expect(fake.batches).toHaveLength(3);
    fake.gates[2]!('resolve');
    fake.gates[1]!('resolve');
    await tick(1);
    expect(sink.stored).toEqual([]);
    fake.gates[0]!('resolve');
    const flushing = writer.flush();
    await vi.waitFor(() => expect(fake.batches).toHaveLength(4), WAIT);
    fake.gates[3]!('resolve');
    await flushing;
    expect(fake.batches.flat().map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(sink.stored.map((event) => event.id)).toEqual(events.map((event) => event.id));
    expect(sink.stored.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a slot that frees sends the next full batch; flush() waits for every batch in flight', async () => {
    const fake = orderedStore();
    const sink = collector();
    const writer = new EventWriter(fake.store, 2, sink.onStored, sink.onFailure, 2, undefined, 2);
    for (let i = 0; i < 8; i++) writer.enqueue(delta(i));
    expect(fake.batches).toHaveLength(2);
    let flushed = false;
    const flushing = writer.flush().then(() => {
      flushed = true;
    });
    fake.gates[0]!('resolve');
    await vi.waitFor(() => expect(fake.batches).toHaveLength(3), WAIT);
    for (let index = 1; index < 4; index++) {
      await vi.waitFor(() => expect(fake.gates[index]).toBeDefined(), WAIT);
      expect(flushed).toBe(false);
      fake.gates[index]!('resolve');
    }
    await flushing;
    expect(sink.stored).toHaveLength(8);
  });

  it('a failed batch is reported once; nothing after it is handed on', async () => {
    const failure = new AsmError('storage_write_failed', 'disk full');
    const fake = orderedStore({ fail: (index) => (index === 1 ? failure : undefined) });
    const sink = collector();
    const writer = new EventWriter(fake.store, 2, sink.onStored, sink.onFailure, 2, undefined, 4);
    for (let i = 0; i < 6; i++) writer.enqueue(delta(i));
    expect(fake.batches).toHaveLength(3);
    const flushing = rejection(writer.flush());
    fake.gates[2]!('resolve');
    fake.gates[1]!('reject');
    fake.gates[0]!('resolve');
    expect(await flushing).toBe(failure);
    expect(sink.failures).toEqual([failure]);
    expect(sink.stored.map((event) => event.sequence)).toEqual([1, 2]);
    writer.enqueue(delta(99));
    await tick(5);
    expect(fake.batches).toHaveLength(3);
  });
});
