/**
 * Identifiers: a prefix plus 32 lowercase hex characters. Session, run and other ids are 16 random
 * bytes (128 bits of entropy); event ids start with their creation time (see `newEventId`).
 */

/** The prefixes of generated ids. */
export type IdPrefix = 'ses' | 'run' | 'evt' | 'tc' | 'apr';

const POOL_BYTES = 4096;
let hexPool = '';
let hexOffset = POOL_BYTES * 2;

/** A new id such as `ses_3f9c…` (32 hex characters after the prefix); `evt` gives `newEventId()`. */
export function generateId(prefix: IdPrefix): string {
  if (prefix === 'evt') return newEventId();
  if (hexOffset + 32 > POOL_BYTES * 2) {
    // One native call turns 4 KiB of randomness into hex for the next 256 ids.
    const bytes = new Uint8Array(POOL_BYTES);
    globalThis.crypto.getRandomValues(bytes);
    hexPool = Buffer.from(bytes.buffer).toString('hex');
    hexOffset = 0;
  }
  const start = hexOffset;
  hexOffset += 32;
  return `${prefix}_${hexPool.slice(start, hexOffset)}`;
}

/** A new session id (`ses_…`). */
export const newSessionId = (): string => generateId('ses');
/** A new run id (`run_…`). */
export const newRunId = (): string => generateId('run');

let eventIdMillis = -1;
/** `evt_` and the 12 hex digits of `eventIdMillis`, shared by the ids of one millisecond. */
let eventIdPrefix = '';
const EVENT_ID_RANDOM_HEX = 20;
/** Reused for every refill of `eventRandomHex`. */
const eventRandomBytes = new Uint8Array(POOL_BYTES);
let eventRandomHex = '';
let eventRandomOffset = 0;

/**
 * A new event id: `evt_`, 12 hex digits of the current time in milliseconds, then 20 random hex
 * digits (80 bits), like a UUIDv7. The format is the one of every id (`evt_` + 32 lowercase hex);
 * the time prefix makes ids made one after the other sort together, so a store's id index grows at
 * its end instead of at random places (fewer index pages touched per commit, a smaller write-ahead
 * log in SQLite). 80 random bits per millisecond keep collisions out of reach.
 */
export function newEventId(): string {
  const millis = Date.now();
  if (millis !== eventIdMillis) {
    eventIdMillis = millis;
    eventIdPrefix = `evt_${millis.toString(16).padStart(12, '0').slice(-12)}`;
  }
  if (eventRandomOffset + EVENT_ID_RANDOM_HEX > eventRandomHex.length) {
    globalThis.crypto.getRandomValues(eventRandomBytes);
    eventRandomHex = Buffer.from(eventRandomBytes.buffer).toString('hex');
    eventRandomOffset = 0;
  }
  const start = eventRandomOffset;
  eventRandomOffset += EVENT_ID_RANDOM_HEX;
  return eventIdPrefix + eventRandomHex.slice(start, eventRandomOffset);
}

let lastMillis = -1;
let lastIso = '';

/** The current time as an ISO-8601 UTC string (millisecond precision). */
export function nowIso(): string {
  const millis = Date.now();
  if (millis !== lastMillis) {
    lastMillis = millis;
    lastIso = new Date(millis).toISOString();
  }
  return lastIso;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** True for an ISO-8601 date-time string with a zone (`2026-11-25T04:31:21.123Z`, `…+02:00`). */
export function isIsoTimestamp(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  // Events written in the same millisecond share a timestamp string: check it once.
  if (value === lastValidTimestamp) return true;
  if (!ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) return false;
  lastValidTimestamp = value;
  return true;
}
let lastValidTimestamp = '';
