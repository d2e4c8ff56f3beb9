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
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private failure: AsmError | undefined;

  /**
   * @param lingerMs How long the first event after an idle period waits for company before the
   *   write starts (group commit). 0 writes at the end of the current tick. `flush()` never waits.
   */
  constructor(
    private readonly store: SessionStore,
    private readonly batchSize: number,
    private readonly onStored: (events: StoredEvent[]) => void,
    private readonly onFailure: (error: AsmError) => void,
    private readonly lingerMs = 0,
  ) {}

  /** The write error that stopped the queue, if any. */
  get error(): AsmError | undefined {
    return this.failure;
  }

  /** Queues an event. Never throws; a failed queue drops new events (the failure is reported once). */
  enqueue(event: NewEvent): void {
    if (this.failure) return;
    this.pending.push(event);
    if (!this.scheduled && !this.writing) {
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
    if (this.lingerTimer !== undefined) {
      clearTimeout(this.lingerTimer);
      this.scheduledStart();
    }
    while (this.writing || this.pending.length > 0 || this.scheduled) {
      if (this.failure) break;
      if (!this.writing) this.startWriting();
      await this.writing;
    }
    if (this.failure) throw this.failure;
  }

  private startWriting(): void {
    if (this.writing || this.pending.length === 0 || this.failure) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      // An event enqueued while the last batch was settling found `writing` set and scheduled nothing.
      if (this.pending.length > 0 && !this.scheduled && !this.failure) this.startWriting();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0 && !this.failure) {
      const batch =
        this.pending.length <= this.batchSize ? this.pending : this.pending.slice(0, this.batchSize);
      this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
      let stored: StoredEvent[];
      const observed = channels.storeCall.hasSubscribers;
      const started = observed ? performance.now() : 0;
      try {
        stored = await this.store.appendEvents(batch);
        if (observed) {
          channels.storeCall.publish({ operation: 'appendEvents', durationMs: performance.now() - started });
        }
      } catch (error) {
        this.failure = AsmError.isInstance(error)
          ? error
          : AsmError.from(error, 'storage_write_failed', 'Writing events to the store failed');
        if (observed) {
          channels.storeCall.publish({
            operation: 'appendEvents',
            durationMs: performance.now() - started,
            errorCode: this.failure.code,
          });
        }
        this.pending = [];
        this.onFailure(this.failure);
        return;
      }
      this.onStored(stored);
    }
  }
}
