import { AsmError } from '@asm/core';
import { Redis, type RedisOptions } from 'ioredis';

/** How a store or bus gets its Redis connection: one the app already has, or a URL. */
export type RedisConnectionOptions =
  | {
      /** An ioredis client the app owns. It is used as is and left open by `close()`. */
      client: Redis;
      url?: never;
      redisOptions?: never;
    }
  | {
      /** A `redis://` or `rediss://` URL. The client made from it is closed by `close()`. */
      url: string;
      /**
       * ioredis options for the client made from `url` (they win over the defaults: `lazyConnect`,
       * `maxRetriesPerRequest: 2`, a reconnect delay growing 100 ms per attempt up to 2 s).
       */
      redisOptions?: RedisOptions;
      client?: never;
    };

/** A resolved connection: the client and whether we made it (and so must close it). */
export interface ResolvedConnection {
  client: Redis;
  owned: boolean;
}

/**
 * Defaults for clients made from a URL. A store call fails with a retryable
 * `storage_connection_failed` after three reconnect attempts instead of ioredis's twenty, so callers
 * hear about an outage within a second or two rather than half a minute.
 */
const URL_CLIENT_DEFAULTS: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 2,
  retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
};

/** Checks the connection options and makes the client when given a URL (no I/O: it connects lazily). */
export function resolveConnection(options: RedisConnectionOptions, what: string): ResolvedConnection {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError('validation_error', `${what} options are required: { client } or { url }`);
  }
  const { client, url } = options as { client?: unknown; url?: unknown };
  if (client !== undefined && url !== undefined) {
    throw new AsmError('validation_error', `${what}: pass either client or url, not both`, {
      details: { field: 'client' },
    });
  }
  if (client !== undefined) {
    if (!isRedisClient(client)) {
      throw new AsmError('validation_error', `${what}: client must be an ioredis Redis instance`, {
        details: { field: 'client' },
      });
    }
    return { client, owned: false };
  }
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new AsmError('validation_error', `${what}: url must be a redis:// or rediss:// URL`, {
      details: { field: 'url' },
    });
  }
  const redisOptions = (options as { redisOptions?: RedisOptions }).redisOptions ?? {};
  const created = new Redis(url, { ...URL_CLIENT_DEFAULTS, ...redisOptions });
  silenceErrors(created);
  return { client: created, owned: true };
}

/**
 * A second connection for pub/sub (a subscribed connection cannot run other commands). It inherits
 * the client's options; we own it and close it.
 */
export function duplicateForSubscribe(client: Redis): Redis {
  const subscriber = client.duplicate();
  silenceErrors(subscriber);
  return subscriber;
}

/**
 * ioredis emits `error` on every failed reconnect attempt and prints it when nobody listens. Our own
 * connections report failures through the promises of the calls instead.
 */
function silenceErrors(client: Redis): void {
  client.on('error', () => undefined);
}

/** Closes a connection we own: `QUIT` when it is up (pending replies arrive first), else a hard disconnect. */
export async function closeConnection(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      const ended = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        client.once('end', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await client.quit();
      await ended;
    } catch {
      // Fall through to a hard disconnect.
    }
  }
  if (client.status !== 'end') client.disconnect();
}

function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).evalsha === 'function' &&
    typeof (value as Redis).duplicate === 'function'
  );
}
