import { AsmError } from './errors.js';
import type { NewEvent, StoredEvent } from './event.js';
import type { SessionStore } from './ports/session-store.js';
import { channels } from './telemetry.js';

/**
 * The ordered write queue of one run: events are enqueued synchronously, written in batches with
 * `appendEvents` (group commit: while one write is in flight the next batch accumulates), and handed
 * to `onStored` in order once stored. One store round trip per batch, not per event.
 */
export class EventWriter {
  private pending: NewEvent[] = [];
  /** How many events at the front of `pending` were already taken into batches. */
  private taken = 0;
  private writing: Promise<void> | undefined;
  private scheduled = false;
  /** True while `drainSync` runs: what is enqueued meanwhile is written by that same drain. */
  private draining = false;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: AsmError | undefined;
  /** Batches sent and not yet handed on (pipelined mode). */
  private inFlight = 0;
  /** Settles once the last batch sent has been handed on, after every batch sent before it. */
  private delivered: Promise<void> = Promise.resolve();

  /**
   * @param lingerMs How long the first event after an idle period waits for company before the
   *   write starts (group commit). 0 writes at the end of the current tick. `flush()` never waits.
   * @param appendSync A synchronous append used instead of `store.appendEvents` (same contract:
   *   all or nothing, order kept, throws on failure). It spares a promise and a microtask per batch;
   *   the session manager passes one for stores that append in memory.
   * @param pipelineDepth How many batches may be in flight at once (default 1). Above 1, only for
   *   stores that apply appends in call order (`SessionStore.orderedConcurrentAppends`): a full batch
   *   is sent as soon as it fills, so writing overlaps with the stream. Results are still handed to
   *   `onStored` in order. After a failed batch, batches already sent may still be stored, but
   *   nothing more is handed on.
   */
  constructor(
    private readonly store: SessionStore,
    private readonly batchSize: number,
    private readonly onStored: (events: StoredEvent[]) => void,
    private readonly onFailure: (error: AsmError) => void,
    private readonly lingerMs = 0,
    private readonly appendSync?: (events: NewEvent[]) => StoredEvent[],
    private readonly pipelineDepth = 1,
  ) {}

  /** The write error that stopped the queue, if any. */
  get error(): AsmError | undefined {
    return this.failure;
  }

  /** Queues an event. Never throws; a failed queue drops new events (the failure is reported once). */
  enqueue(event: NewEvent): void {
    if (this.failure) return;
    this.pending.push(event);
    if (this.pipelineDepth > 1 && this.pending.length - this.taken >= this.batchSize) {
      // A full batch goes at once; with every slot taken, the next batch to settle sends it.
      if (this.inFlight < this.pipelineDepth) this.dispatch();
      return;
    }
    if (!this.scheduled && !this.writing && !this.draining) {
      this.scheduled = true;
      if (this.lingerMs > 0) {
        this.lingerTimer = setTimeout(this.scheduledStart, this.lingerMs);
      } else {
        queueMicrotask(this.scheduledStart);
      }
    }
  }

  private readonly scheduledStart = (): void => {
    this.scheduled = false;
    this.lingerTimer = undefined;
    this.startWriting();
  };

  /** Resolves once every event enqueued so far is stored; rejects with the write error if one failed. */
  async flush(): Promise<void> {
    while (this.writing || this.pending.length > this.taken || this.scheduled) {
      if (this.failure) break;
      // A linger timer set by an event enqueued while flushing would never fire under this loop.
      if (this.lingerTimer !== undefined) {
        clearTimeout(this.lingerTimer);
        this.scheduledStart();
      }
      if (!this.writing) this.startWriting();
      await this.writing;
    }
    if (this.failure) throw this.failure;
  }

  private startWriting(): void {
    if (this.pending.length === this.taken || this.failure) return;
    if (this.appendSync !== undefined) {
      this.drainSync(this.appendSync);
      return;
    }
    // One batch at a time by default; up to `pipelineDepth` for stores that keep call order.
    while (this.pending.length > this.taken && this.inFlight < this.pipelineDepth && !this.failure) {
      this.dispatch();
    }
  }

  /** Takes the next batch off the queue (the whole queue when it fits). */
  private nextBatch(): NewEvent[] {
    const pending = this.pending;
    const start = this.taken;
    if (start === 0 && pending.length <= this.batchSize) {
      this.pending = [];
      return pending;
    }
    // A long queue is cut into batches without copying what is left after each one.
    const end = Math.min(pending.length, start + this.batchSize);
    if (end === pending.length) {
      this.pending = [];
      this.taken = 0;
    } else {
      this.taken = end;
    }
    return pending.slice(start, end);
  }

  /** The synchronous drain: every queued batch is stored and handed on before this returns. */
  private drainSync(append: (events: NewEvent[]) => StoredEvent[]): void {
    if (this.draining) return;
    this.draining = true;
    try {
      this.drainBatches(append);
    } finally {
      this.draining = false;
    }
  }

  private drainBatches(append: (events: NewEvent[]) => StoredEvent[]): void {
    while (this.pending.length > this.taken && !this.failure) {
      const batch = this.nextBatch();
      const started = startTiming();
      let stored: StoredEvent[];
      try {
        stored = append(batch);
      } catch (error) {
        this.fail(error, started);
        return;
      }
      this.handOn(stored, started);
    }
  }

  /** Reports a stored batch (and its timing, when observed) to `onStored`. */
  private handOn(stored: StoredEvent[], started: number | undefined): void {
    if (started !== undefined) {
      channels.storeCall.publish({ operation: 'appendEvents', durationMs: performance.now() - started });
    }
    this.onStored(stored);
  }

  private fail(error: unknown, started: number | undefined): void {
    this.failure = AsmError.isInstance(error)
      ? error
      : AsmError.from(error, 'storage_write_failed', 'Writing events to the store failed');
    if (started !== undefined) {
      channels.storeCall.publish({
        operation: 'appendEvents',
        durationMs: performance.now() - started,
        errorCode: this.failure.code,
      });
    }
    this.pending = [];
    this.taken = 0;
    this.onFailure(this.failure);
  }

  /** Sends the next batch; with a pipeline, without waiting for the ones in flight. */
  private dispatch(): void {
    const batch = this.nextBatch();
    this.inFlight++;
    const started = startTiming();
    let appended: Promise<StoredEvent[]>;
    try {
      appended = this.store.appendEvents(batch);
    } catch (error) {
      appended = Promise.reject(error);
    }
    const delivered = this.deliver(appended, this.delivered, started);
    this.delivered = delivered;
    this.writing = delivered;
  }

  private async deliver(
    appended: Promise<StoredEvent[]>,
    previous: Promise<void>,
    started: number | undefined,
  ): Promise<void> {
    let stored: StoredEvent[] | undefined;
    let error: unknown;
    try {
      stored = await appended;
    } catch (caught) {
      error = caught;
    }
    // Hand results on in the order the batches were sent.
    await previous;
    this.inFlight--;
    if (!this.failure) {
      if (stored === undefined)
        this.fail(error ?? new Error('appendEvents resolved without events'), started);
      else this.handOn(stored, started);
    }
    if (this.inFlight === 0) this.writing = undefined;
    // An event enqueued while this batch was settling found a write in flight and scheduled nothing.
    if (this.pending.length > this.taken && !this.scheduled && !this.failure) this.startWriting();
  }
}

/** The start time of a store call when someone listens on the telemetry channel, else `undefined`. */
function startTiming(): number | undefined {
  return channels.storeCall.hasSubscribers ? performance.now() : undefined;
}
