import { AsmError, type StoredEvent } from '@asm/core';
import { toStorageError } from './errors.js';

/** The longest delay `setTimeout` accepts (about 24.8 days); longer long-polls are capped to it. */
const MAX_TIMER_MS = 2_147_483_647;
/** First and longest delay before trying again after Redis was unreachable. */
const RETRY_MIN_DELAY_MS = 100;
const RETRY_MAX_DELAY_MS = 2_000;

/** What a parked long-poll needs from its store. */
export interface LongPollContext {
  /** Reads the query's matching events (throws storage `AsmError`s). */
  read(): Promise<StoredEvent[]>;
  /** Subscribes to the session's wake-up channel; resolves, once acknowledged, with the unsubscribe. */
  listen(onWakeUp: (message: string) => void): Promise<() => Promise<void>>;
  /** True once the store is closed (a failure then resolves `[]`). */
  isClosed(): boolean;
}

/** A parked long-poll, as the store tracks it. */
export interface ParkedLongPoll {
  /** Resolves the caller with `[]` (the store is closing). */
  release(): void;
  /** Reads again (the wake-up channel was down for a while and may have missed a message). */
  recheck(): void;
}

/**
 * Parks a `getEvents` call until a matching event is appended, the wait ends, or the signal aborts.
 *
 * 1. Subscribe to the session's wake-up channel (the append script publishes the session's latest
 *    sequence there) and wait for Redis to acknowledge it.
 * 2. Read once: an append that landed between the caller's first read and the `SUBSCRIBE` is found
 *    here; any later one is announced on the channel.
 * 3. On each wake-up past the cursor, read again; the first non-empty read answers. Wake-ups arriving
 *    during a read are coalesced into one more read.
 * 4. When the wait ends or `signal` aborts, answer with a last read (what matches now, maybe `[]`).
 *
 * Redis being unreachable does not end the wait: subscribing and reading are retried with a growing
 * delay until the deadline. Only the last read can fail the call.
 */
export function parkLongPoll(
  context: LongPollContext,
  options: { after: number; waitMs: number; signal: AbortSignal | undefined },
  track: (poll: ParkedLongPoll) => () => void,
): Promise<StoredEvent[]> {
  const { after, waitMs, signal } = options;
  return new Promise<StoredEvent[]>((resolve, reject) => {
    let settled = false;
    let reading = false;
    let readAgain = false;
    let unlisten: (() => Promise<void>) | undefined;
    let readRetry: NodeJS.Timeout | undefined;
    let readDelay = RETRY_MIN_DELAY_MS;
    let listenRetry: NodeJS.Timeout | undefined;
    let listenDelay = RETRY_MIN_DELAY_MS;

    const settle = (): void => {
      settled = true;
      clearTimeout(deadline);
      clearTimeout(readRetry);
      clearTimeout(listenRetry);
      signal?.removeEventListener('abort', finalRead);
      untrack();
      if (unlisten !== undefined) void unlisten();
    };
    const finish = (events: StoredEvent[]): void => {
      if (settled) return;
      settle();
      resolve(events);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      settle();
      if (context.isClosed()) resolve([]);
      else reject(error);
    };

    /** Reads again; failures because Redis is unreachable are retried later. */
    const check = (): void => {
      if (settled) return;
      if (reading) {
        readAgain = true;
        return;
      }
      reading = true;
      void (async () => {
        try {
          do {
            readAgain = false;
            const events = await context.read();
            readDelay = RETRY_MIN_DELAY_MS;
            if (events.length > 0) finish(events);
          } while (readAgain && !settled);
        } catch (error) {
          if (AsmError.isInstance(error) && error.retryable && !settled) {
            clearTimeout(readRetry);
            readRetry = setTimeout(check, readDelay);
            readDelay = Math.min(readDelay * 2, RETRY_MAX_DELAY_MS);
          } else {
            fail(error);
          }
        } finally {
          reading = false;
        }
      })();
    };

    /** Answers with what matches now (deadline or abort). */
    function finalRead(): void {
      if (settled) return;
      context.read().then(finish, fail);
    }

    const onWakeUp = (message: string): void => {
      // The payload is the session's latest sequence: nothing past the cursor, nothing to read.
      const latest = Number(message);
      if (Number.isFinite(latest) && latest <= after) return;
      check();
    };

    const listen = (): void => {
      context.listen(onWakeUp).then(
        (remove) => {
          if (settled) {
            void remove();
            return;
          }
          unlisten = remove;
          check();
        },
        (error: unknown) => {
          const mapped = toStorageError(error, 'getEvents', 'read');
          if (!mapped.retryable || settled) {
            fail(mapped);
            return;
          }
          listenRetry = setTimeout(listen, listenDelay);
          listenDelay = Math.min(listenDelay * 2, RETRY_MAX_DELAY_MS);
        },
      );
    };

    const deadline = setTimeout(finalRead, Math.min(waitMs, MAX_TIMER_MS));
    const untrack = track({ release: () => finish([]), recheck: check });
    signal?.addEventListener('abort', finalRead, { once: true });
    listen();
  });
}
