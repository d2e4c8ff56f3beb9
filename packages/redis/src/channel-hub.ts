import type { Redis } from 'ioredis';
import { closeConnection, duplicateForSubscribe } from './connection.js';

/** Receives the payload of every message published on a channel. */
export type ChannelListener = (message: string) => void;

interface ChannelEntry {
  readonly listeners: Set<ChannelListener>;
  /** Settles when Redis acknowledged the `SUBSCRIBE` of this channel. */
  readonly subscribed: Promise<void>;
}

/**
 * One subscribed connection (a `duplicate()` of the client, made on first use) shared by any number
 * of listeners on any number of channels. A channel is subscribed when its first listener arrives and
 * unsubscribed when its last one leaves.
 *
 * `listen` resolves once Redis acknowledged the `SUBSCRIBE`: from then on, every message published on
 * the channel reaches the listener, in publish order (one connection, one ordered stream of replies).
 *
 * After a reconnect, ioredis subscribes the channels again; messages published while the connection
 * was down are lost (Redis pub/sub does not queue them). `onResubscribed` is called once the channels
 * are acknowledged again, so owners can re-read what they might have missed.
 */
export class ChannelHub {
  private connection: Redis | undefined;
  private readonly channels = new Map<string, ChannelEntry>();
  private connectedOnce = false;
  private closed = false;

  constructor(
    private readonly source: Redis,
    private readonly onResubscribed?: () => void,
  ) {}

  /** Channels with at least one listener (for diagnostics and leak tests). */
  get channelCount(): number {
    return this.channels.size;
  }

  /**
   * Adds a listener and resolves, once the channel is subscribed, with the function that removes it.
   * Rejects (and adds nothing) when the subscription fails.
   */
  async listen(channel: string, listener: ChannelListener): Promise<() => Promise<void>> {
    const connection = this.open();
    let entry = this.channels.get(channel);
    if (entry === undefined) {
      const subscribed = connection.subscribe(channel).then(() => undefined);
      // The rejection is handled by every `listen` awaiting it below.
      subscribed.catch(() => undefined);
      entry = { listeners: new Set(), subscribed };
      this.channels.set(channel, entry);
    }
    const current = entry;
    current.listeners.add(listener);
    try {
      await current.subscribed;
    } catch (error) {
      await this.remove(channel, current, listener);
      throw error;
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      await this.remove(channel, current, listener);
    };
  }

  /** Drops every listener and closes the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) await closeConnection(connection);
  }

  private open(): Redis {
    if (this.connection !== undefined) return this.connection;
    const connection = duplicateForSubscribe(this.source);
    connection.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    connection.on('ready', () => {
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        return;
      }
      // ioredis sends its own SUBSCRIBE for the known channels right after this event; ours goes
      // after it on the same connection, so its reply means theirs is done too.
      setImmediate(() => void this.afterReconnect(connection));
    });
    this.connection = connection;
    return connection;
  }

  private async afterReconnect(connection: Redis): Promise<void> {
    if (this.closed || this.connection !== connection) return;
    const channels = [...this.channels.keys()];
    if (channels.length > 0) {
      try {
        await connection.subscribe(...channels);
      } catch {
        // The connection dropped again; the next 'ready' retries.
        return;
      }
    }
    this.onResubscribed?.();
  }

  private dispatch(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (entry === undefined) return;
    for (const listener of [...entry.listeners]) {
      try {
        listener(message);
      } catch {
        // One broken listener must not starve the others.
      }
    }
  }

  private async remove(channel: string, entry: ChannelEntry, listener: ChannelListener): Promise<void> {
    entry.listeners.delete(listener);
    if (entry.listeners.size > 0 || this.channels.get(channel) !== entry) return;
    this.channels.delete(channel);
    const connection = this.connection;
    if (connection === undefined || this.closed) return;
    try {
      await connection.unsubscribe(channel);
    } catch {
      // A dropped connection has no subscriptions left to remove; ioredis forgets the channel too.
    }
  }
}
