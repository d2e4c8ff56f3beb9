import {
  AsmError,
  type EventQuery,
  type NewEvent,
  type Run,
  type RunFilter,
  runFromJSON,
  type Session,
  type SessionFilter,
  type SessionQuery,
  type SessionStore,
  type StoredEvent,
  sessionFromJSON,
  toStoredEvent,
  validateNewEvent,
} from '@asm/core';
import type { Redis } from 'ioredis';
import { ChannelHub } from './channel-hub.js';
import { closeConnection, type RedisConnectionOptions, resolveConnection } from './connection.js';
import { closedError, type OperationKind, toStorageError } from './errors.js';
import { keyLayout } from './keys.js';
import { type ParkedLongPoll, parkLongPoll } from './long-poll.js';
import {
  checkLimit,
  checkOffset,
  type NormalizedQuery,
  normalizeQuery,
  statusList,
  UNBOUNDED_QUERY,
} from './query.js';
import {
  APPEND_EVENTS,
  DELETE_SESSION,
  LIST_RUNS,
  LIST_SESSIONS,
  type LuaScript,
  runScript,
  SAVE_RUN,
  SAVE_SESSION,
  SCAN_EVENTS,
} from './scripts.js';
import { sessionQueryOver } from './session-query.js';

/** Log entries a filtered read inspects per script call before yielding the server to other clients. */
const SCAN_BUDGET = 4_096;
/** Index entries `listSessions` inspects per script call. */
const LIST_CHUNK = 500;

/** Retention of finished sessions. */
export interface RedisStoreRetention {
  /**
   * Seconds a finished session (status `completed`, `failed` or `cancelled`) is kept after its last
   * write, with its runs and events; then Redis expires it. Fractions are allowed (millisecond
   * precision). Reopening a session (`completed → active`) removes the TTL.
   */
  ttlSeconds: number;
}

/** Options of `createRedisStore`: a connection (`client` or `url`) plus the settings below. */
export type RedisStoreOptions = RedisConnectionOptions & {
  /**
   * Prepended to every key and channel (`{keyPrefix}asm:session:…`), so several apps or tests can
   * share one Redis database. Default: none.
   */
  keyPrefix?: string;
  /** Expire finished sessions (off by default: everything is kept until `deleteSession`). */
  retention?: RedisStoreRetention;
};

/** A `SessionStore` on Redis. */
export interface RedisSessionStore extends SessionStore, SessionQuery {
  readonly specificationVersion: 'v1';
  readonly supportsLongPoll: true;
  /** The ioredis client the store sends its commands through. */
  readonly client: Redis;
  /** The key prefix in use. */
  readonly keyPrefix: string;
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /** Long-polls parked right now (for diagnostics and leak tests). */
  readonly activeLongPolls: number;
}

/**
 * Creates a `SessionStore` on Redis (ioredis 6), from a client the app owns or a URL.
 *
 * ```ts
 * import { Redis } from 'ioredis';
 * const store = createRedisStore({ client: new Redis(process.env.REDIS_URL), keyPrefix: 'myapp:' });
 * // or: createRedisStore({ url: 'redis://127.0.0.1:6379', retention: { ttlSeconds: 7 * 86_400 } });
 * ```
 *
 * - **Sequences.** Sequence assignment, duplicate detection and the write itself are one Lua script,
 *   so they are atomic across any number of clients and processes. `appendEvents` is one script call
 *   per batch: the batch is validated in the process first, then the script checks that every
 *   session exists and no id belongs to another session before it writes anything (all or nothing).
 * - **Scripts** are sent with `EVALSHA`; after `SCRIPT FLUSH` or a server restart the `NOSCRIPT`
 *   reply is answered by sending the source again, transparently.
 * - **Long-poll.** `getEvents` with `waitMs` parks on a pub/sub wake-up the append script publishes
 *   (`{prefix}asm:notify:{sessionId}`), then re-reads the log; it works across processes.
 * - **Faults.** A lost connection is `storage_connection_failed` (retryable). A retried append is
 *   safe: ids are idempotent, so a write whose reply was lost is found and returned, not repeated.
 * - **Closing.** `close()` releases parked long-polls with `[]` and, when the store made the client
 *   (`url`), quits it; an injected client stays open. Every later call rejects with
 *   `storage_connection_failed` (not retryable).
 *
 * Factory validation is eager; connecting is lazy (the first command connects).
 */
export function createRedisStore(options: RedisStoreOptions): RedisSessionStore {
  const { client, owned } = resolveConnection(options, 'createRedisStore');
  const keyPrefix = options.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string') {
    throw new AsmError('validation_error', 'keyPrefix must be a string', { details: { field: 'keyPrefix' } });
  }
  const ttlMs = retentionMs(options.retention);
  const keys = keyLayout(keyPrefix);
  const base = keys.base;

  const parked = new Set<ParkedLongPoll>();
  let hub: ChannelHub | undefined;
  let closed = false;

  const ensureOpen = (): void => {
    if (closed) throw closedError('store');
  };

  /** Runs a Redis interaction, turning failures into storage `AsmError`s. */
  const attempt = async <T>(operation: string, kind: OperationKind, body: () => Promise<T>): Promise<T> => {
    ensureOpen();
    try {
      return await body();
    } catch (error) {
      if (closed && !AsmError.isInstance(error)) throw closedError('store');
      throw toStorageError(error, operation, kind);
    }
  };

  const run = (lua: LuaScript, args: ReadonlyArray<string | number>): Promise<unknown> =>
    runScript(client, lua, args);

  /** The long-poll wake-up subscriptions, on a connection made on first use. */
  const notifications = (): ChannelHub => {
    ensureOpen();
    // After a reconnect, wake-ups published while the subscription was down are lost: re-read.
    hub ??= new ChannelHub(client, () => {
      for (const poll of [...parked]) poll.recheck();
    });
    return hub;
  };

  async function readEvents(sessionId: string, query: NormalizedQuery): Promise<StoredEvent[]> {
    const first = query.after + 1;
    if (query.before !== Number.POSITIVE_INFINITY && first > query.before - 1) return [];
    if (query.runId === '') return [];
    const last = query.before === Number.POSITIVE_INFINITY ? '+' : String(query.before - 1);
    if (!query.filtered) {
      const entries =
        query.limit === Number.POSITIVE_INFINITY
          ? await client.xrange(keys.events(sessionId), String(first), last)
          : await client.xrange(keys.events(sessionId), String(first), last, 'COUNT', query.limit);
      return entries.map(([id, fields]) => parseStoredEvent(id, fields[7]));
    }
    const found: StoredEvent[] = [];
    let cursor = first;
    const typeArgs = query.types ?? [];
    for (;;) {
      const remaining = query.limit === Number.POSITIVE_INFINITY ? 0 : query.limit - found.length;
      const reply = (await run(SCAN_EVENTS, [
        base,
        sessionId,
        cursor,
        last,
        remaining,
        SCAN_BUDGET,
        query.runId ?? '',
        query.sinceMs === undefined ? '' : query.sinceMs,
        typeArgs.length,
        ...typeArgs,
      ])) as Array<string | number>;
      for (let index = 1; index < reply.length; index += 2) {
        found.push(parseStoredEvent(String(reply[index]), reply[index + 1] as string));
      }
      const next = Number(reply[0]);
      if (next === 0 || found.length >= query.limit) return found;
      cursor = next;
    }
  }

  const store = {
    specificationVersion: 'v1' as const,
    supportsLongPoll: true as const,
    client,
    keyPrefix,

    get closed(): boolean {
      return closed;
    },

    get activeLongPolls(): number {
      return parked.size;
    },

    async saveSession(session: Session): Promise<Session> {
      ensureOpen();
      const parsed = sessionFromJSON(session);
      if (!Array.isArray(parsed.tags) || !parsed.tags.every((tag) => typeof tag === 'string')) {
        throw new AsmError('validation_error', 'tags must be an array of strings', {
          details: { field: 'tags' },
        });
      }
      const json = serialize(parsed, 'session');
      const tags = [...new Set(parsed.tags)];
      await attempt('saveSession', 'write', () =>
        run(SAVE_SESSION, [
          base,
          ttlMs,
          parsed.id,
          json,
          parsed.status,
          parsed.agentId,
          JSON.stringify(tags),
          scoreOf(parsed.createdAt),
          tags.length,
          ...tags,
        ]),
      );
      return JSON.parse(json) as Session;
    },

    async getSession(sessionId: string): Promise<Session | undefined> {
      const json = await attempt('getSession', 'read', () => client.hget(keys.session(sessionId), 'json'));
      return json === null ? undefined : (JSON.parse(json) as Session);
    },

    async listSessions(filter: SessionFilter = {}): Promise<Session[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const offset = checkOffset(filter.offset);
      const statuses = statusList(filter.status);
      const { agentId, tags } = filter;
      if (agentId !== undefined && typeof agentId !== 'string') {
        throw new AsmError('validation_error', 'agentId must be a string', { details: { field: 'agentId' } });
      }
      if (tags !== undefined && !(Array.isArray(tags) && tags.every((tag) => typeof tag === 'string'))) {
        throw new AsmError('validation_error', 'tags must be an array of strings', {
          details: { field: 'tags' },
        });
      }
      if (statuses?.length === 0 || agentId === '') return [];

      return attempt('listSessions', 'read', async () => {
        const index = await drivingIndex(agentId, tags, statuses);
        const result: Session[] = [];
        let matched = 0;
        let rank = 0;
        for (;;) {
          const reply = (await run(LIST_SESSIONS, [
            base,
            index,
            rank,
            LIST_CHUNK,
            agentId ?? '',
            statuses?.length ?? 0,
            ...(statuses ?? []),
          ])) as Array<number | string>;
          const scanned = Number(reply[0]);
          const removed = Number(reply[1]);
          for (let position = 2; position < reply.length; position++) {
            const session = JSON.parse(reply[position] as string) as Session;
            if (tags !== undefined && !tags.every((tag) => session.tags.includes(tag))) continue;
            matched++;
            if (matched <= offset) continue;
            result.push(session);
            if (result.length >= limit) return result;
          }
          if (scanned < LIST_CHUNK) return result;
          rank += scanned - removed;
        }
      });
    },

    async deleteSession(sessionId: string): Promise<void> {
      ensureOpen();
      requireId(sessionId, 'sessionId');
      await attempt('deleteSession', 'write', () => run(DELETE_SESSION, [base, sessionId]));
    },

    async saveRun(runRecord: Run): Promise<Run> {
      ensureOpen();
      const parsed = runFromJSON(runRecord);
      const json = serialize(parsed, 'run');
      await attempt('saveRun', 'write', () =>
        run(SAVE_RUN, [
          base,
          ttlMs,
          parsed.id,
          parsed.sessionId,
          json,
          parsed.status,
          scoreOf(parsed.createdAt),
        ]),
      );
      return JSON.parse(json) as Run;
    },

    async getRun(runId: string): Promise<Run | undefined> {
      const json = await attempt('getRun', 'read', () => client.hget(keys.run(runId), 'json'));
      return json === null ? undefined : (JSON.parse(json) as Run);
    },

    async listRuns(sessionId: string, filter: RunFilter = {}): Promise<Run[]> {
      ensureOpen();
      const limit = checkLimit(filter.limit);
      const statuses = statusList(filter.status);
      if (statuses?.length === 0) return [];
      const reply = await attempt('listRuns', 'read', () =>
        run(LIST_RUNS, [
          base,
          sessionId,
          limit === Number.POSITIVE_INFINITY ? 0 : limit,
          statuses?.length ?? 0,
          ...(statuses ?? []),
        ]),
      );
      return (reply as string[]).map((json) => JSON.parse(json) as Run);
    },

    async appendEvent(event: NewEvent): Promise<StoredEvent> {
      const [stored] = await store.appendEvents([event]);
      return stored!;
    },

    async appendEvents(events: NewEvent[]): Promise<StoredEvent[]> {
      ensureOpen();
      if (!Array.isArray(events)) {
        throw new AsmError('validation_error', 'events must be an array', { details: { field: 'events' } });
      }
      if (events.length === 0) return [];

      // Everything that can be checked here is checked before the script runs.
      const args: Array<string | number> = [base, ttlMs, events.length];
      const sessionOfId = new Map<string, string>();
      for (const event of events) {
        validateNewEvent(event);
        const seen = sessionOfId.get(event.id);
        if (seen !== undefined && seen !== event.sessionId) {
          throw new AsmError(
            'validation_error',
            `Event ${event.id} appears under two sessions in one batch`,
            {
              details: { eventId: event.id, sessionId: seen },
            },
          );
        }
        sessionOfId.set(event.id, event.sessionId);
        args.push(
          event.sessionId,
          event.id,
          event.runId ?? '',
          event.type,
          Date.parse(event.timestamp),
          serialize(persistedForm(event), 'event'),
        );
      }

      const reply = (await attempt('appendEvents', 'write', () => run(APPEND_EVENTS, args))) as Array<
        number | string
      >;
      const byId = new Map<string, StoredEvent>();
      return events.map((event, index) => {
        const earlier = byId.get(event.id);
        if (earlier !== undefined) return earlier;
        const sequence = Number(reply[index * 2]);
        const storedJson = reply[index * 2 + 1];
        const stored =
          typeof storedJson === 'string' && storedJson !== ''
            ? parseStoredEvent(String(sequence), storedJson)
            : toStoredEvent(event, sequence);
        byId.set(event.id, stored);
        return stored;
      });
    },

    async getEvents(sessionId: string, query?: EventQuery): Promise<StoredEvent[]> {
      ensureOpen();
      const normalized = query === undefined ? UNBOUNDED_QUERY : normalizeQuery(query);
      const found = await attempt('getEvents', 'read', () => readEvents(sessionId, normalized));
      const waitMs = query?.waitMs;
      if (found.length > 0 || typeof waitMs !== 'number' || !(waitMs > 0)) return found;
      if (query?.signal?.aborted || closed) return found;
      return parkLongPoll(
        {
          read: () => attempt('getEvents', 'read', () => readEvents(sessionId, normalized)),
          listen: async (onWakeUp) => notifications().listen(keys.notifyChannel(sessionId), onWakeUp),
          isClosed: () => closed,
        },
        { after: normalized.after, waitMs, signal: query?.signal },
        (poll) => {
          parked.add(poll);
          return () => parked.delete(poll);
        },
      );
    },

    async getLatestSequence(sessionId: string): Promise<number> {
      return attempt('getLatestSequence', 'read', () => client.hlen(keys.eventIds(sessionId)));
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const poll of [...parked]) poll.release();
      parked.clear();
      await hub?.close();
      if (owned) await closeConnection(client);
    },
  } satisfies Omit<RedisSessionStore, keyof SessionQuery>;

  /**
   * The index `listSessions` walks: the smallest of the agent, tag and (single) status indexes the
   * filter names, or the index of all sessions. The other filters are applied to what it yields.
   */
  async function drivingIndex(
    agentId: string | undefined,
    tags: readonly string[] | undefined,
    statuses: readonly string[] | undefined,
  ): Promise<string> {
    const candidates: string[] = [];
    if (agentId !== undefined) candidates.push(keys.indexAgent(agentId));
    for (const tag of tags ?? []) candidates.push(keys.indexTag(tag));
    if (statuses?.length === 1) candidates.push(keys.indexStatus(statuses[0]!));
    if (candidates.length === 0) return keys.indexAll();
    if (candidates.length === 1) return candidates[0]!;
    const pipeline = client.pipeline();
    for (const key of candidates) pipeline.zcard(key);
    const sizes = (await pipeline.exec()) ?? [];
    let best = 0;
    for (let index = 0; index < candidates.length; index++) {
      const [error, size] = sizes[index] ?? [];
      if (error) throw error;
      const current = sizes[best]?.[1] as number;
      if ((size as number) < current) best = index;
    }
    return candidates[best]!;
  }

  return Object.assign(store, sessionQueryOver(store)) satisfies RedisSessionStore;
}

/** The persisted form of an event: its envelope without `sequence` (the stream entry id holds it). */
function persistedForm(event: NewEvent): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: event.id,
    type: event.type,
    timestamp: event.timestamp,
    sessionId: event.sessionId,
    data: event.data,
    metadata: event.metadata ?? {},
    schemaVersion: event.schemaVersion,
  };
  if (event.runId !== undefined) record.runId = event.runId;
  if (event.provider !== undefined) record.provider = event.provider;
  if (event.correlationId !== undefined) record.correlationId = event.correlationId;
  return record;
}

/** Rebuilds a stored event from its stream entry id (`{sequence}-0`) and JSON. */
function parseStoredEvent(entryId: string, json: string | undefined): StoredEvent {
  if (json === undefined) {
    throw new AsmError('storage_read_failed', `Malformed log entry ${entryId}`, { details: { entryId } });
  }
  const event = JSON.parse(json) as StoredEvent;
  event.sequence = Number.parseInt(entryId, 10);
  return event;
}

/** JSON of a record, or `validation_error` when it holds something JSON cannot carry (a BigInt, a cycle). */
function serialize(value: unknown, what: string): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new AsmError('validation_error', `The ${what} holds a value that cannot be stored as JSON`, {
      cause: error,
    });
  }
}

/** The sort score of a `createdAt`: milliseconds since the epoch. */
function scoreOf(createdAt: string): number {
  return Date.parse(createdAt);
}

function requireId(value: unknown, field: string): void {
  if (typeof value !== 'string') {
    throw new AsmError('validation_error', `${field} must be a string`, { details: { field } });
  }
}

/** The retention TTL in milliseconds (0: off). */
function retentionMs(retention: RedisStoreRetention | undefined): number {
  if (retention === undefined) return 0;
  const seconds = retention?.ttlSeconds;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new AsmError('validation_error', 'retention.ttlSeconds must be a positive number', {
      details: { field: 'retention.ttlSeconds', value: seconds },
    });
  }
  return Math.max(1, Math.round(seconds * 1000));
}
