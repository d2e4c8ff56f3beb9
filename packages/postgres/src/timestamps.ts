/**
 * ISO-8601 strings to PostgreSQL instants, exactly. `timestamptz` keeps microseconds and rounds what
 * lies below; the store instead floors to the microsecond and keeps the 0–999 nanoseconds below it
 * in a second column, so comparisons agree with the strings at any precision they carry.
 */
import { AsmError } from '@asm/core';

/** An instant as the store writes it. */
export interface Instant {
  /** UTC, microsecond precision, in a form PostgreSQL parses exactly (`2026-01-02T03:04:05.678901Z`). */
  utc: string;
  /** Nanoseconds below the microsecond (0–999). */
  nanos: number;
}

const ISO_PARTS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
/** 0001-01-01T00:00:00Z: PostgreSQL has no year 0, and earlier years need a BC suffix. */
const EARLIEST_MS = -62_135_596_800_000;
/** 9999-12-31T23:59:59Z: ISO strings have four-digit years. */
const LATEST_MS = 253_402_300_799_000;

/** The instant of an ISO-8601 timestamp with a zone. Throws `validation_error` for anything else. */
export function toInstant(value: string, field: string): Instant {
  // The form `Date.prototype.toISOString()` writes (and core's `nowIso`): already UTC, milliseconds.
  if (value.length === 24 && value.charCodeAt(23) === 90 /* Z */ && value.charCodeAt(19) === 46 /* . */) {
    return { utc: value, nanos: 0 };
  }
  const parts = typeof value === 'string' ? ISO_PARTS.exec(value) : null;
  const seconds = parts === null ? Number.NaN : Date.parse(`${parts[1]}${parts[3]}`);
  if (parts === null || Number.isNaN(seconds)) {
    throw new AsmError('validation_error', `${field} must be an ISO-8601 timestamp with a zone`, {
      details: { field, value },
    });
  }
  if (seconds < EARLIEST_MS || seconds > LATEST_MS) {
    throw new AsmError('validation_error', `${field} must lie between the years 0001 and 9999 (UTC)`, {
      details: { field, value },
    });
  }
  const fraction = (parts[2] ?? '').padEnd(9, '0');
  return {
    utc: `${new Date(seconds).toISOString().slice(0, 19)}.${fraction.slice(0, 6)}Z`,
    nanos: Number(fraction.slice(6)),
  };
}

/** `toInstant` of an optional timestamp. */
export function toOptionalInstant(value: string | undefined | null, field: string): Instant | null {
  return value === undefined || value === null ? null : toInstant(value, field);
}
