import type { EventType, StoredEvent } from '../event.js';

/** Narrows a subscription to one run or some types (a bus may filter server-side or locally). */
export interface EventBusFilter {
  runId?: string;
  types?: EventType[];
}

/** An active subscription. */
export interface EventSubscription {
  /** Stops delivery. Idempotent. */
  unsubscribe(): Promise<void>;
}

/**
 * Live fan-out of stored events between processes (the durable log stays in the SessionStore).
 *
 * Contract (proved by `testEventBus` from `@asm/testing`):
 * - `publish` is called with events that are already stored, in sequence order per session;
 * - a subscriber receives the published events of its session that match its filter, in sequence
 *   order, each at most once; delivery is best-effort (a subscriber that was disconnected may miss
 *   events: readers detect the gap from sequence numbers and re-read the store);
 * - `subscribe` resolves once the subscription is active: anything published after that moment is
 *   delivered. This is what lets a reader subscribe first, then backfill from the store, with no gap.
 */
export interface EventBus {
  /** The port version this bus implements. */
  readonly specificationVersion: 'v1';
  /** Publishes stored events (all of one session or several). */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /** Delivers the session's published events to `listener`, in order. */
  subscribe(
    sessionId: string,
    listener: (event: StoredEvent) => void,
    filter?: EventBusFilter,
  ): Promise<EventSubscription>;
  /** Ends every subscription and releases connections. Idempotent. */
  close(): Promise<void>;
}
