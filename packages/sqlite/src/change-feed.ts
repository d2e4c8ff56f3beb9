/**
 * In-process fan-out of appended events between the stores that share one database, so a long-poll
 * on one store wakes as soon as another store of this process appends to the same file. Appends from
 * other processes are seen by polling `PRAGMA data_version` (see the store).
 */
import type { StoredEvent } from '@asm/core';

/** A store listening to the appends made on its database. */
export interface ChangeListener {
  /** Called after a commit with the events it created (possibly of several sessions). */
  onAppended(events: readonly StoredEvent[]): void;
  /** True when the listener has a parked long-poll (so publishers can skip work otherwise). */
  readonly waiting: boolean;
}

/** The listeners of one database (a file path, or a connection object for in-memory databases). */
export class ChangeFeed {
  readonly #listeners = new Set<ChangeListener>();
  readonly #key: unknown;

  constructor(key: unknown) {
    this.#key = key;
  }

  /** True when some listener of this database has a parked long-poll. */
  get hasWaiters(): boolean {
    for (const listener of this.#listeners) if (listener.waiting) return true;
    return false;
  }

  /** Tells every waiting listener about freshly committed events. */
  publish(events: readonly StoredEvent[]): void {
    for (const listener of this.#listeners) if (listener.waiting) listener.onAppended(events);
  }

  /** Stops delivering to `listener`; the feed leaves the registry with its last listener. */
  leave(listener: ChangeListener): void {
    this.#listeners.delete(listener);
    if (this.#listeners.size === 0 && feeds.get(this.#key) === this) feeds.delete(this.#key);
  }

  /** @internal */
  add(listener: ChangeListener): void {
    this.#listeners.add(listener);
  }
}

const feeds = new Map<unknown, ChangeFeed>();

/** Joins the feed of a database (created on first use), keyed by its resolved path or connection. */
export function joinChangeFeed(key: unknown, listener: ChangeListener): ChangeFeed {
  let feed = feeds.get(key);
  if (feed === undefined) {
    feed = new ChangeFeed(key);
    feeds.set(key, feed);
  }
  feed.add(listener);
  return feed;
}
