import {
  AsmError,
  type EventBus,
  type EventBusFilter,
  type EventSubscription,
  type StoredEvent,
} from '@asm/core';
import type { Redis } from 'ioredis';
import { ChannelHub } from './channel-hub.js';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { closedError, toStorageError } from './errors.js';
import { type KeyLayout, keyLayout } from './keys.js';

/** Options of `createRedisEventBus`: a connection (`client` or `url`) and an optional key prefix. */
export type RedisEventBusOptions = RedisConnectionOptions & {
  /**
   * Prepended to channel names (`{keyPrefix}asm:session:{sessionId}`); publishers and subscribers
   * must agree on it. The second argument of `createRedisEventBus` wins over this one. Default: none.
   */
  keyPrefix?: string;
};

/** An `EventBus` on Redis pub/sub. */
export interface RedisEventBus extends EventBus {
  /** The client `publish` sends through (subscriptions use a `duplicate()` of it). */
  readonly client: Redis;
  /** The key prefix of the channel names. */
  readonly keyPrefix: string;
  /** Subscriptions active right now (for diagnostics and leak tests). */
  readonly subscriberCount: number;
  /** The channel a session's events are published on. */
  channelOf(sessionId: string): string;
}

interface Subscriber {
  readonly listener: (event: StoredEvent) => void;
  readonly runId: string | undefined;
  readonly types: ReadonlySet<string> | undefined;
}

interface SessionChannel {
  readonly subscribers: Set<Subscriber>;
  /** Resolves with the function that unsubscribes the channel, once Redis acknowledged it. */
  readonly listening: Promise<() => Promise<void>>;
}

/**
 * Creates an `EventBus` on Redis pub/sub, so that app instances share stored events live.
 *
 * ```ts
 * const bus = createRedisEventBus({ client: redis }, 'myapp:');
 * const manager = createSessionManager({ store, provider, bus }); // publishes every stored event
 * for await (const event of followSessionEvents(store, sessionId, { bus })) render(event);
 * ```
 *
 * - One channel per session, `{keyPrefix}asm:session:{sessionId}`; a message is the stored event's
 *   JSON. `publish` sends a batch as one pipeline on one connection, so messages of a session leave
 *   in sequence order; Redis delivers them to each subscriber in that order.
 * - `subscribe` resolves once Redis acknowledged the `SUBSCRIBE`: anything published after that is
 *   delivered. Subscriptions share one dedicated connection (a `duplicate()` of the client, made on
 *   first use); a session's channel is subscribed once however many listeners it has. Run and type
 *   filters apply in this process.
 * - Best-effort, as the port says: Redis pub/sub does not keep messages for a subscriber that is
 *   disconnected. ioredis resubscribes after a reconnect; readers notice the gap from sequence
 *   numbers and re-read the store (`followSessionEvents` does).
 * - A listener that throws does not stop delivery to the others.
 * - `close()` ends every subscription, closes the subscriber connection and, when the bus made the
 *   client (`url`), quits it; later `publish` / `subscribe` calls reject with
 *   `storage_connection_failed` (not retryable).
 */
export function createRedisEventBus(options: RedisEventBusOptions, keyPrefix?: string): RedisEventBus {
  const { client, owned } = resolveConnection(options, 'createRedisEventBus');
  const prefix = keyPrefix ?? options.keyPrefix ?? '';
  if (typeof prefix !== 'string') {
    throw new AsmError('validation_error', 'keyPrefix must be a string', { details: { field: 'keyPrefix' } });
  }
  const keys: KeyLayout = keyLayout(prefix);
  const hub = new ChannelHub(client);
  const channels = new Map<string, SessionChannel>();
  let count = 0;
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw closedError('event bus');
  };

  const deliver = (channel: SessionChannel, message: string): void => {
    let event: StoredEvent;
    try {
      event = JSON.parse(message) as StoredEvent;
    } catch {
      return; // Not ours: someone else published on the channel.
    }
    for (const subscriber of [...channel.subscribers]) {
      if (subscriber.runId !== undefined && event.runId !== subscriber.runId) continue;
      if (subscriber.types !== undefined && !subscriber.types.has(event.type)) continue;
      try {
        subscriber.listener(event);
      } catch {
        // One broken listener must not starve the others.
      }
    }
  };

  const removeSubscriber = async (name: string, channel: SessionChannel, subscriber: Subscriber) => {
    if (!channel.subscribers.delete(subscriber)) return;
    count--;
    if (channel.subscribers.size > 0 || channels.get(name) !== channel) return;
    channels.delete(name);
    try {
      const unlisten = await channel.listening;
      await unlisten();
    } catch {
      // The subscription never became active; nothing to undo.
    }
  };

  const bus = {
    specificationVersion: 'v1' as const,
    client,
    keyPrefix: prefix,

    get subscriberCount(): number {
      return count;
    },

    channelOf(sessionId: string): string {
      return keys.busChannel(sessionId);
    },

    async publish(events: readonly StoredEvent[]): Promise<void> {
      ensureOpen();
      if (!Array.isArray(events)) {
        throw new AsmError('validation_error', 'events must be an array', { details: { field: 'events' } });
      }
      if (events.length === 0) return;
      try {
        if (events.length === 1) {
          const event = events[0]!;
          await client.publish(keys.busChannel(event.sessionId), JSON.stringify(event));
          return;
        }
        const pipeline = client.pipeline();
        for (const event of events) pipeline.publish(keys.busChannel(event.sessionId), JSON.stringify(event));
        const results = (await pipeline.exec()) ?? [];
        const failed = results.find(([error]) => error);
        if (failed?.[0]) throw failed[0];
      } catch (error) {
        throw toStorageError(error, 'publish', 'write');
      }
    },

    async subscribe(
      sessionId: string,
      listener: (event: StoredEvent) => void,
      filter?: EventBusFilter,
    ): Promise<EventSubscription> {
      ensureOpen();
      if (typeof sessionId !== 'string' || sessionId === '') {
        throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
          details: { field: 'sessionId' },
        });
      }
      if (typeof listener !== 'function') {
        throw new AsmError('validation_error', 'listener must be a function', {
          details: { field: 'listener' },
        });
      }
      const subscriber: Subscriber = {
        listener,
        runId: filter?.runId,
        types: filter?.types === undefined ? undefined : new Set<string>(filter.types),
      };
      const name = keys.busChannel(sessionId);
      let channel = channels.get(name);
      if (channel === undefined) {
        const subscribers = new Set<Subscriber>();
        const created: SessionChannel = {
          subscribers,
          listening: hub.listen(name, (message) => deliver(created, message)),
        };
        created.listening.catch(() => undefined);
        channel = created;
        channels.set(name, channel);
      }
      const current = channel;
      current.subscribers.add(subscriber);
      count++;
      try {
        await current.listening;
      } catch (error) {
        await removeSubscriber(name, current, subscriber);
        if (channels.get(name) === current) channels.delete(name);
        if (closed) throw closedError('event bus');
        throw toStorageError(error, 'subscribe', 'read');
      }
      if (closed) throw closedError('event bus');
      let active = true;
      return {
        async unsubscribe(): Promise<void> {
          if (!active) return;
          active = false;
          await removeSubscriber(name, current, subscriber);
        },
      };
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      channels.clear();
      count = 0;
      await hub.close();
      if (owned) await closeConnection(client);
    },
  } satisfies RedisEventBus;

  return bus;
}
