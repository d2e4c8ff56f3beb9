import {
  type EventBus,
  type EventType,
  followSessionEvents,
  type SessionStore,
  type StoredEvent,
} from '@asm/core';

/** What the SSE writer needs of a stream (Hono's `SSEStreamingApi` has it). */
export interface SseSink {
  write(chunk: Uint8Array | string): Promise<unknown>;
  /** True once the client went away (writes are then dropped). */
  readonly aborted?: boolean;
}

/** Largest batch of frames written at once. */
const MAX_BATCH_BYTES = 64 * 1024;
/** A client this far behind the live edge leaves the shared feed and reads on its own. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const NOT_READY = Symbol('not ready');

/**
 * Encoded SSE frames, shared by every stream that sends the same event object (the event bus and the
 * shared feed hand one object to all their readers): one `JSON.stringify` and one UTF-8 encoding per
 * event, however many clients.
 */
const frames = new WeakMap<StoredEvent, Uint8Array>();
const encoder = new TextEncoder();

/** One Server-Sent Events frame: `id:` = sequence, `event:` = type, `data:` = the stored event. */
export function sseFrame(event: StoredEvent): Uint8Array {
  let frame = frames.get(event);
  if (frame === undefined) {
    // JSON.stringify leaves no CR or LF in its output, so the data is one line.
    frame = encoder.encode(`id: ${event.sequence}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    frames.set(event, frame);
  }
  return frame;
}

/** Resolves with `NOT_READY` after `ms`, or after the current turn of the event loop when `ms <= 0`. */
function notReadyAfter(ms: number): Promise<typeof NOT_READY> {
  return new Promise((resolve) => {
    if (ms <= 0) setImmediate(() => resolve(NOT_READY));
    else setTimeout(() => resolve(NOT_READY), ms);
  });
}

/** A run of consecutive frames, ready to write. */
interface Batch {
  chunk: Uint8Array;
  first: number;
  last: number;
}

/**
 * Reads events and hands them on in batches: events that are ready together (a backfill page, a
 * burst of deltas) form one batch, and batches leave at most once per `batchMs`, so a fast run costs
 * a few writes per frame instead of one per delta, while an event after a quiet spell leaves at once.
 * `emit` is awaited (backpressure). Resolves when the events end.
 */
async function batchEvents(
  events: AsyncIterable<StoredEvent>,
  batchMs: number,
  emit: (batch: Batch) => unknown,
): Promise<void> {
  const iterator = events[Symbol.asyncIterator]();
  let pending: Uint8Array[] = [];
  let bytes = 0;
  let first = 0;
  let last = 0;
  let lastEmit = 0;
  let deadline: Promise<typeof NOT_READY> | undefined;
  const flush = async () => {
    deadline = undefined;
    if (bytes === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes);
    const batch = { chunk, first, last };
    pending = [];
    bytes = 0;
    lastEmit = performance.now();
    await emit(batch);
    // A backfill from a synchronous store resolves every read and write in microtasks: without a
    // turn of the event loop here it would read the whole log before the socket sends anything.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };
  try {
    let next = iterator.next();
    for (;;) {
      let result: IteratorResult<StoredEvent> | typeof NOT_READY;
      if (bytes === 0) result = await next;
      else {
        deadline ??= notReadyAfter(lastEmit + batchMs - performance.now());
        result = await Promise.race([next, deadline]);
      }
      if (result === NOT_READY) {
        await flush();
        result = await next;
      }
      if (result.done) break;
      const frame = sseFrame(result.value);
      if (bytes === 0) first = result.value.sequence;
      last = result.value.sequence;
      pending.push(frame);
      bytes += frame.byteLength;
      next = iterator.next();
      if (bytes >= MAX_BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    await iterator.return?.();
  }
}

type HubListener = (batch: Batch | Error) => void;

/**
 * One reader of a session's live events, shared by every unfiltered stream of that session: it
 * encodes each batch once, and every client at the live edge writes the same bytes. Clients behind
 * (backfill) read on their own and join at the seam; a client that falls too far behind leaves and
 * reads on its own again. Closed when its last client leaves.
 */
class SessionFeed {
  private readonly listeners = new Set<HubListener>();
  private readonly controller = new AbortController();
  /** Highest sequence handed to the listeners (or known stored when the feed opened). */
  private cursor: number;

  constructor(
    store: SessionStore,
    sessionId: string,
    latest: number,
    bus: EventBus | undefined,
    batchMs: number,
    private readonly onClose: () => void,
  ) {
    this.cursor = latest;
    const events = followSessionEvents(store, sessionId, {
      after: latest,
      signal: this.controller.signal,
      ...(bus ? { bus } : {}),
    });
    batchEvents(events, batchMs, (batch) => {
      this.cursor = batch.last;
      for (const listener of [...this.listeners]) listener(batch);
    }).then(
      () => this.close(),
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const listener of [...this.listeners]) listener(failure);
        this.close();
      },
    );
  }

  /** Adds a client; every batch after `cursor` (the returned value) reaches it, in order. */
  attach(listener: HubListener): { cursor: number; detach: () => void } {
    // Closed in the meantime (its last client just left): the newcomer reads on its own.
    if (this.closed) listener(new Error('feed closed'));
    else this.listeners.add(listener);
    return {
      cursor: this.cursor,
      detach: () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.close();
      },
    };
  }

  private close(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort();
    this.onClose();
  }

  get closed(): boolean {
    return this.controller.signal.aborted;
  }
}

/** The shared feeds of one handler, by session. */
export class SessionFeeds {
  private readonly feeds = new Map<string, Promise<SessionFeed>>();

  constructor(
    private readonly store: SessionStore,
    private readonly bus: EventBus | undefined,
    private readonly batchMs: number,
  ) {}

  /** The session's feed, opened on first use. */
  async open(sessionId: string): Promise<SessionFeed> {
    let feed = this.feeds.get(sessionId);
    if (feed) {
      const existing = await feed;
      if (!existing.closed) return existing;
    }
    feed = this.store.getLatestSequence(sessionId).then(
      (latest) =>
        new SessionFeed(this.store, sessionId, latest, this.bus, this.batchMs, () => {
          if (this.feeds.get(sessionId) === feed) this.feeds.delete(sessionId);
        }),
    );
    this.feeds.set(sessionId, feed);
    feed.catch(() => {
      if (this.feeds.get(sessionId) === feed) this.feeds.delete(sessionId);
    });
    return feed;
  }
}

/** What `streamSessionEvents` streams. */
export interface StreamSessionOptions {
  store: SessionStore;
  bus: EventBus | undefined;
  feeds: SessionFeeds;
  sessionId: string;
  /** Resume after this sequence (exclusive). */
  after: number;
  runId?: string;
  types?: EventType[];
  batchMs: number;
  signal: AbortSignal;
}

/**
 * Writes a session's events to an SSE stream from `after`: backfill, then live, with no gap and no
 * duplicate at the seam (the sequence of the last frame written is the cursor). Unfiltered streams
 * join the session's shared feed once they caught up; filtered ones (`runId`, `types`) and clients
 * that fall behind read on their own. Resolves when `signal` aborts or the stream fails.
 */
export async function streamSessionEvents(sink: SseSink, options: StreamSessionOptions): Promise<void> {
  const { store, bus, sessionId, batchMs } = options;
  // Ends with the caller's signal, or as soon as a write finds the client gone.
  const controller = new AbortController();
  const signal = controller.signal;
  const stop = () => controller.abort();
  options.signal.addEventListener('abort', stop, { once: true });
  if (options.signal.aborted) stop();
  let sent = options.after;
  const write = async (batch: Batch) => {
    await sink.write(batch.chunk);
    if (sink.aborted) stop();
    else sent = batch.last;
  };
  const readAlone = (before?: number) =>
    batchEvents(
      followSessionEvents(store, sessionId, {
        after: sent,
        signal,
        ...(before === undefined ? {} : { before }),
        ...(bus ? { bus } : {}),
        ...(options.runId ? { runId: options.runId } : {}),
        ...(options.types ? { types: options.types } : {}),
      }),
      batchMs,
      write,
    );

  try {
    if (options.runId !== undefined || options.types !== undefined) await readAlone();
    else await followShared();
  } finally {
    options.signal.removeEventListener('abort', stop);
  }

  async function followShared(): Promise<void> {
    const feed = await options.feeds.open(sessionId);
    const queue: (Batch | Error)[] = [];
    let queuedBytes = 0;
    let overflowed = false;
    let wake: (() => void) | undefined;
    const { cursor, detach } = feed.attach((batch) => {
      if (overflowed) return;
      if (!(batch instanceof Error)) {
        queuedBytes += batch.chunk.byteLength;
        if (queuedBytes > MAX_QUEUED_BYTES) overflowed = true;
      }
      queue.push(batch);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // Catch up on our own up to where the feed was when we joined…
      if (sent < cursor) await readAlone(cursor + 1);
      // …then write the feed's batches, the same bytes for every client.
      while (!signal.aborted) {
        if (overflowed) break;
        const batch = queue.shift();
        if (batch === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (batch instanceof Error) break;
        queuedBytes -= batch.chunk.byteLength;
        if (batch.last <= sent) continue;
        // Only a batch that starts right after the last frame written keeps the stream exact.
        if (batch.first !== sent + 1) break;
        await write(batch);
      }
    } finally {
      detach();
      signal.removeEventListener('abort', onAbort);
    }
    // Behind, off the seam, or the feed stopped: go on alone from the last frame written.
    if (!signal.aborted) await readAlone();
  }
}
