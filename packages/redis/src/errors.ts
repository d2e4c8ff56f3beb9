import { AsmError, type ErrorCode } from '@asm/core';

/** Whether a failed call read or wrote (picks `storage_read_failed` or `storage_write_failed`). */
export type OperationKind = 'read' | 'write';

/** Socket error codes that mean the connection to Redis is gone or unreachable. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
]);

/**
 * Reply errors of a server that is (re)starting, busy or failing over: the command did not run and
 * the same call can succeed a moment later.
 */
const TRANSIENT_REPLY_PREFIXES = ['LOADING', 'BUSY', 'TRYAGAIN', 'MASTERDOWN', 'READONLY', 'CLUSTERDOWN'];

/**
 * True when `error` says the connection to Redis was lost or never established: ioredis's
 * `MaxRetriesPerRequestError`, an aborted command, `Connection is closed.`, a command timeout, or a
 * socket error.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError' || error.name === 'AbortError') return true;
  const message = error.message;
  return (
    message === 'Connection is closed.' ||
    message.startsWith('Command timed out') ||
    message.includes("Stream isn't writeable") ||
    message.includes('Connection is closed') ||
    message.includes('Command aborted due to connection close')
  );
}

/** True for Redis's "this script is not in the script cache" reply (after `SCRIPT FLUSH` or a restart). */
export function isNoScriptError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Turns anything a Redis call threw into an `AsmError` with a storage code:
 * - an `AsmError` passes through;
 * - an error reply of one of this package's Lua scripts (`ASM <code> …`) becomes that code;
 * - a lost or refused connection, and a server that is loading, busy or read-only, become
 *   `storage_connection_failed` (retryable);
 * - any other error becomes `storage_read_failed` or `storage_write_failed` (not retryable).
 */
export function toStorageError(error: unknown, operation: string, kind: OperationKind): AsmError {
  if (AsmError.isInstance(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const scripted = scriptError(message);
  if (scripted !== undefined) return scripted;
  if (isConnectionError(error) || TRANSIENT_REPLY_PREFIXES.some((prefix) => message.startsWith(prefix))) {
    return new AsmError(
      'storage_connection_failed',
      `Redis connection failed during ${operation}: ${message}`,
      {
        cause: error,
        retryable: true,
        details: { operation },
      },
    );
  }
  const code: ErrorCode = kind === 'read' ? 'storage_read_failed' : 'storage_write_failed';
  return new AsmError(code, `Redis ${operation} failed: ${message}`, {
    cause: error,
    details: { operation },
  });
}

/**
 * The `AsmError` a Lua script of this package asked for with
 * `redis.error_reply('ASM <reason> ' .. cjson.encode({ ... }))`.
 */
function scriptError(message: string): AsmError | undefined {
  if (!message.startsWith('ASM ')) return undefined;
  const space = message.indexOf(' ', 4);
  const reason = space === -1 ? message.slice(4) : message.slice(4, space);
  let values: string[] = [];
  try {
    const parsed: unknown = JSON.parse(space === -1 ? '[]' : message.slice(space + 1));
    if (Array.isArray(parsed)) values = parsed.map(String);
  } catch {
    values = [];
  }
  const [first = '', second = ''] = values;
  switch (reason) {
    case 'session_not_found':
      return new AsmError('session_not_found', `Session not found: ${first}`, {
        details: { sessionId: first },
      });
    case 'event_in_other_session':
      return new AsmError(
        'validation_error',
        `Event ${first} is already stored in another session (${second})`,
        {
          details: { eventId: first, sessionId: second },
        },
      );
    default:
      return new AsmError('storage_error', `Unexpected script error: ${message}`);
  }
}

/** The error of every call on a closed store, bus, lease or limiter (not retryable: it stays closed). */
export function closedError(what: string): AsmError {
  return new AsmError('storage_connection_failed', `The Redis ${what} is closed`, {
    retryable: false,
    details: { closed: true },
  });
}

/**
 * The guard of a Redis-backed component: `ensureOpen()` refuses calls once `isClosed()`, and
 * `call(operation, kind, body)` also turns Redis failures into storage errors (`toStorageError`).
 */
export function guardedCalls(
  what: string,
  isClosed: () => boolean,
): {
  ensureOpen: () => void;
  call: <T>(operation: string, kind: OperationKind, body: () => Promise<T>) => Promise<T>;
} {
  const ensureOpen = (): void => {
    if (isClosed()) throw closedError(what);
  };
  return {
    ensureOpen,
    async call<T>(operation: string, kind: OperationKind, body: () => Promise<T>): Promise<T> {
      ensureOpen();
      try {
        return await body();
      } catch (error) {
        throw toStorageError(error, operation, kind);
      }
    },
  };
}
