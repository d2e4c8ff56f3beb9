/**
 * The key layout of the Redis store and the channel names of the store and the bus.
 *
 * Everything lives under `{keyPrefix}asm:`. Each kind of key has its own fixed segment before the id
 * (`session:`, `runs:`, `events:`, …), so an id chosen by the app can never make two kinds of keys
 * collide, whatever characters it contains.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `asm:session:{sessionId}` | hash | `json`, `status`, `agent`, `tags` (JSON array), `score` (createdAt in ms) |
 * | `asm:runs:{sessionId}` | sorted set | run ids, score = run createdAt (ms); ties ordered by id |
 * | `asm:run:{runId}` | hash | `json`, `session`, `status` |
 * | `asm:events:{sessionId}` | stream | one entry per event, entry id `{sequence}-0`, fields `r` (run id), `t` (type), `ms` (timestamp in ms), `e` (event JSON without `sequence`) |
 * | `asm:event-ids:{sessionId}` | hash | event id → sequence (its length is the latest sequence) |
 * | `asm:event:{eventId}` | string | the session id owning the event id (ids are unique across sessions) |
 * | `asm:index:all`, `asm:index:status:{status}`, `asm:index:agent:{agentId}`, `asm:index:tag:{tag}` | sorted sets | session ids, score = createdAt (ms); ties ordered by id |
 *
 * Channels: `asm:notify:{sessionId}` (the store's long-poll wake-up, payload = latest sequence) and
 * `asm:session:{sessionId}` (the event bus, payload = the stored event JSON).
 */

/** The namespace every key and channel of this package lives under, after the key prefix. */
export const NAMESPACE = 'asm:';

/** Key and channel names for one key prefix. */
export interface KeyLayout {
  /** `{keyPrefix}asm:`: what every Lua script prepends to its key names. */
  readonly base: string;
  /** The session hash. */
  session(sessionId: string): string;
  /** The sorted set of a session's run ids. */
  runs(sessionId: string): string;
  /** The run hash. */
  run(runId: string): string;
  /** The stream holding a session's event log. */
  events(sessionId: string): string;
  /** The hash of a session's event ids and their sequences. */
  eventIds(sessionId: string): string;
  /** The string naming the session an event id belongs to. */
  event(eventId: string): string;
  /** The index of every session. */
  indexAll(): string;
  /** The index of the sessions with this status. */
  indexStatus(status: string): string;
  /** The index of the sessions of this agent. */
  indexAgent(agentId: string): string;
  /** The index of the sessions carrying this tag. */
  indexTag(tag: string): string;
  /** The store's long-poll wake-up channel of a session. */
  notifyChannel(sessionId: string): string;
  /** The event bus channel of a session (`{keyPrefix}asm:session:{id}`). */
  busChannel(sessionId: string): string;
}

/** The key layout under `keyPrefix` (default: none, so keys start with `asm:`). */
export function keyLayout(keyPrefix = ''): KeyLayout {
  const base = `${keyPrefix}${NAMESPACE}`;
  return {
    base,
    session: (sessionId) => `${base}session:${sessionId}`,
    runs: (sessionId) => `${base}runs:${sessionId}`,
    run: (runId) => `${base}run:${runId}`,
    events: (sessionId) => `${base}events:${sessionId}`,
    eventIds: (sessionId) => `${base}event-ids:${sessionId}`,
    event: (eventId) => `${base}event:${eventId}`,
    indexAll: () => `${base}index:all`,
    indexStatus: (status) => `${base}index:status:${status}`,
    indexAgent: (agentId) => `${base}index:agent:${agentId}`,
    indexTag: (tag) => `${base}index:tag:${tag}`,
    notifyChannel: (sessionId) => `${base}notify:${sessionId}`,
    busChannel: (sessionId) => `${base}session:${sessionId}`,
  };
}
