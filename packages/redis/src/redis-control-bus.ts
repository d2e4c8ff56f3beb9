import {
  AsmError,
  type ControlBus,
  type ControlMessage,
  type EventSubscription,
  validateControlMessage,
} from '@asm/core';
import type { Redis } from 'ioredis';
import { ChannelHub } from './channel-hub.js';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { closedError, toStorageError } from './errors.js';
import { NAMESPACE } from './keys.js';

/** Options of `createRedisControlBus`: a connection (`client` or `url`) and an optional key prefix. */
export type RedisControlBusOptions = RedisConnectionOptions & {
  /** Prepended to channel names (`{keyPrefix}asm:control:{sessionId}`); every instance must agree. */
  keyPrefix?: string;
};

/** A `ControlBus` on Redis pub/sub, with its client. */
export interface RedisControlBus extends ControlBus {
  /** The client `publish` sends through (subscriptions use a `duplicate()` of it). */
  readonly client: Redis;
  /** The channel of a session's control messages. */
  channelOf(sessionId: string): string;
}

/**
 * A `ControlBus` on Redis pub/sub: one channel per session (`{keyPrefix}asm:control:{sessionId}`),
 * a message is its JSON. Subscriptions share one dedicated connection (a `duplicate()` of the client,
 * made on first use), and `subscribe` resolves once Redis acknowledged the `SUBSCRIBE`. Best effort,
 * as the port says: messages published while a subscriber is disconnected are lost, which is why the
 * runtime also polls the store.
 *
 * ```ts
 * const control = createRedisControlBus({ client: redis, keyPrefix: 'myapp:' });
 * const runtime = createSessionRuntime({ store, provider, bus, lease, control });
 * ```
 */
export function createRedisControlBus(options: RedisControlBusOptions): RedisControlBus {
  const { client, owned } = resolveConnection(options, 'createRedisControlBus');
  const prefix = options.keyPrefix ?? '';
  if (typeof prefix !== 'string') {
    throw new AsmError('validation_error', 'keyPrefix must be a string', { details: { field: 'keyPrefix' } });
  }
  const channelOf = (sessionId: string) => `${prefix}${NAMESPACE}control:${sessionId}`;
  const hub = new ChannelHub(client);
  const unlisteners = new Set<() => Promise<void>>();
  let closed = false;

  return {
    specificationVersion: 'v1',
    client,
    channelOf,
    async publish(message: ControlMessage): Promise<void> {
      if (closed) throw closedError('control bus');
      validateControlMessage(message);
      try {
        await client.publish(channelOf(message.sessionId), JSON.stringify(message));
      } catch (error) {
        throw toStorageError(error, 'publishControl', 'write');
      }
    },
    async subscribe(sessionId, listener): Promise<EventSubscription> {
      if (closed) throw closedError('control bus');
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
      let unlisten: () => Promise<void>;
      try {
        unlisten = await hub.listen(channelOf(sessionId), (payload) => {
          let message: ControlMessage;
          try {
            message = JSON.parse(payload) as ControlMessage;
          } catch {
            return; // Not ours.
          }
          listener(message);
        });
      } catch (error) {
        if (closed) throw closedError('control bus');
        throw toStorageError(error, 'subscribeControl', 'read');
      }
      unlisteners.add(unlisten);
      let active = true;
      return {
        async unsubscribe() {
          if (!active) return;
          active = false;
          unlisteners.delete(unlisten);
          await unlisten();
        },
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      unlisteners.clear();
      await hub.close();
      if (owned) await closeConnection(client);
    },
  } satisfies RedisControlBus;
}
