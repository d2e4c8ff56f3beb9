import { AsmError, type ErrorCode } from '@asm/core';

/** What an operation does to the database, which picks the storage code of its failures. */
export type OperationKind = 'read' | 'write' | 'open' | 'query';

const CODE_OF_KIND: Record<OperationKind, ErrorCode> = {
  read: 'storage_read_failed',
  write: 'storage_write_failed',
  open: 'storage_error',
  query: 'query_error',
};

/** SQLite result codes that mean the file is not a usable database. */
const CORRUPTION_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_VTAB',
  'SQLITE_CORRUPT_INDEX',
]);

/** The error of any call on a closed store. */
export function closedStoreError(): AsmError {
  return new AsmError('storage_connection_failed', 'The SQLite store is closed', {
    retryable: false,
    details: { closed: true },
  });
}

/**
 * Turns whatever an operation threw into an `AsmError` with a storage code. `AsmError`s pass
 * through. SQLite's busy and locked results (another writer held the lock past the busy timeout)
 * keep the operation's code but are marked retryable; corruption is `storage_error`.
 */
export function toStorageError(error: unknown, operation: string, kind: OperationKind): AsmError {
  if (AsmError.isInstance(error)) return error;
  const sqliteCode =
    typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  const details: Record<string, unknown> = { operation };
  if (sqliteCode !== undefined) details.sqliteCode = sqliteCode;
  if (sqliteCode !== undefined && CORRUPTION_CODES.has(sqliteCode)) {
    return new AsmError(
      'storage_error',
      `SQLite ${operation} failed, the database file is damaged: ${reason}`,
      {
        details: { ...details, corrupt: true },
        cause: error,
      },
    );
  }
  const busy =
    sqliteCode?.startsWith('SQLITE_BUSY') === true || sqliteCode?.startsWith('SQLITE_LOCKED') === true;
  return new AsmError(CODE_OF_KIND[kind], `SQLite ${operation} failed: ${reason}`, {
    details,
    cause: error,
    retryable: busy,
  });
}

/** A stored JSON value that does not parse: the row is reported, the rest of the database is fine. */
export function corruptJsonError(table: string, column: string, id: string, cause: unknown): AsmError {
  return new AsmError('storage_read_failed', `Row ${id} of ${table} holds invalid JSON in ${column}`, {
    details: { table, column, id },
    cause,
  });
}

/** A value that cannot be written as JSON (a BigInt, a cycle). */
export function unserializableError(what: string, field: string, cause: unknown): AsmError {
  return new AsmError('validation_error', `The ${what} ${field} cannot be stored as JSON`, {
    details: { field },
    cause,
  });
}
