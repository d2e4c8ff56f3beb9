/**
 * Identifiers: a prefix plus 16 random bytes as 32 lowercase hex characters (128 bits of entropy).
 */

/** The prefixes of generated ids. */
export type IdPrefix = 'ses' | 'run' | 'evt' | 'tc' | 'apr';

const POOL_BYTES = 4096;
let hexPool = '';
let hexOffset = POOL_BYTES * 2;

/** A new id such as `evt_3f9c…` (32 hex characters after the prefix). */
export function generateId(prefix: IdPrefix): string {
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
/** A new event id (`evt_…`). */
export const newEventId = (): string => generateId('evt');

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
