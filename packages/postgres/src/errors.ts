/**
 * Translation of `pg` and PostgreSQL failures into `AsmError` storage codes.
 *
 * - Lost or refused connections, a server shutting down or starting up, too many connections, and a
 *   statement or lock timeout: `storage_connection_failed`, retryable. Every store operation is
 *   idempotent (upserts, appends keyed by event id), so retrying the same call is safe.
 * - Characters PostgreSQL cannot store (a NUL character in JSON text) and timestamps it rejects:
 *   `validation_error`.
 * - A missing table or schema (dropped under a running store): `storage_error`.
 * - Anything else: the operation's own code (`storage_write_failed` or `storage_read_failed`).
 */
import { AsmError, type ErrorCode } from '@asm/core';

/** Node.js socket error codes that mean the connection is gone or was never made. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** SQLSTATEs (besides class 08) after which the same call may succeed. */
const TRANSIENT_STATES: Record<string, string> = {
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '53300': 'too_many_connections',
  '57014': 'query_canceled',
  '55P03': 'lock_not_available',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
};

/** SQLSTATEs that say the input cannot be stored. */
const INPUT_STATES: Record<string, string> = {
  '22P05': 'untranslatable_character',
  '22021': 'character_not_in_repertoire',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22P02': 'invalid_text_representation',
  '22003': 'numeric_value_out_of_range',
  '54000': 'program_limit_exceeded',
};

/** Messages of `pg` itself (no SQLSTATE) when a connection is lost or cannot be made. */
const CLIENT_CONNECTION_MESSAGE =
  /Connection terminated|connection error|not queryable|Client was closed|Connection ended|timeout exceeded when trying to connect|Query read timeout|Cannot use a pool after calling end/i;

/** The error `pg` raised, unwrapped from drizzle's `DrizzleQueryError` when needed. */
function driverError(error: unknown): unknown {
  if (
    error instanceof Error &&
    error.message.startsWith('Failed query:') &&
    (error as { cause?: unknown }).cause !== undefined
  ) {
    return (error as { cause?: unknown }).cause;
  }
  return error;
}

/** The SQLSTATE or Node.js error code of a failure, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const original = driverError(error) as { code?: unknown } | null;
  return typeof original?.code === 'string' ? original.code : undefined;
}

/** True when the failure means the database was unreachable or dropped the call (worth a retry). */
export function isTransient(error: unknown): boolean {
  if (AsmError.isInstance(error)) return error.code === 'storage_connection_failed' && error.retryable;
  const original = driverError(error);
  const code = errorCode(original);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code) || code.startsWith('08') || code in TRANSIENT_STATES) return true;
  }
  return original instanceof Error && CLIENT_CONNECTION_MESSAGE.test(original.message);
}

/**
 * An `AsmError` for a failure of `operation`. `fallback` is the code when the failure is neither
 * transient nor bad input. An `AsmError` passes through unchanged.
 */
export function toStorageError(
  error: unknown,
  operation: string,
  fallback: ErrorCode = 'storage_error',
): AsmError {
  if (AsmError.isInstance(error)) return error;
  const original = driverError(error);
  const code = errorCode(original);
  const reason = original instanceof Error ? original.message : String(original);
  const details: Record<string, unknown> = { operation };
  if (code !== undefined) details.sqlState = code;

  if (isTransient(original)) {
    const name = code === undefined ? undefined : TRANSIENT_STATES[code];
    if (name !== undefined) details.reason = name;
    return new AsmError('storage_connection_failed', `PostgreSQL ${operation} failed: ${reason}`, {
      details,
      cause: original,
      retryable: true,
    });
  }
  if (code !== undefined && code in INPUT_STATES) {
    details.reason = INPUT_STATES[code];
    return new AsmError('validation_error', `PostgreSQL cannot store this value (${operation}): ${reason}`, {
      details,
      cause: original,
    });
  }
  if (code === '42P01' || code === '3F000') {
    return new AsmError(
      'storage_error',
      `PostgreSQL ${operation} failed: ${reason} (was the store's schema dropped while it was open?)`,
      { details, cause: original },
    );
  }
  return new AsmError(fallback, `PostgreSQL ${operation} failed: ${reason}`, { details, cause: original });
}

/** The error every call of a closed store rejects with. */
export function closedError(): AsmError {
  return new AsmError('storage_connection_failed', 'The store is closed', {
    retryable: false,
    details: { closed: true },
  });
}
