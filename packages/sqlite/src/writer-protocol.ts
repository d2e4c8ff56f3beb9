/**
 * Messages between a store and the writer thread (`append-worker.ts`), and the checkpoint limits both
 * sides use. Nothing from `@asm/core`, so the thread loads without it.
 */
import type { AppendOutcome } from './append-batch.js';

/**
 * Checkpoints leave the append path. SQLite's automatic checkpoint (it copies the WAL into the
 * database file and syncs it: tens of milliseconds) runs on the writer thread's connections only past
 * this many WAL pages (SQLite's default is 1,000), and an idle writer connection checkpoints shortly
 * after its last append.
 */
export const WRITER_AUTO_CHECKPOINT_PAGES = 4_000;

/**
 * The automatic checkpoint limit of a store's own connection while the writer thread serves it:
 * higher than the thread's, so the store's small writes (sessions, runs) leave checkpoints to the
 * thread and never pay for one on the application's thread.
 */
export const STORE_AUTO_CHECKPOINT_PAGES = 8_000;

/** A request to the writer thread; `store` names the store's connection there. */
export type WorkerRequest =
  | { op: 'open'; store: number; path: string; prefix: string; busyTimeoutMs: number }
  | { op: 'append'; id: number; store: number; rows: unknown[] | string }
  | { op: 'close'; id: number; store: number };

/** A failure as plain data: an `AppendRejection` (`rejection` set) or a driver error. */
export interface WireFailure {
  rejection?: 'session_not_found' | 'validation_error' | 'storage_write_failed';
  sqliteCode?: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The answer to the request with the same `id`: the append's outcome, a failure, or (close) neither. */
export interface WorkerReply {
  id: number;
  outcome?: AppendOutcome;
  failure?: WireFailure;
}

/** Separates the values of a packed batch. JSON text never holds it raw (`JSON.stringify` escapes it). */
const FIELD = '\u0001';
/** Stands for `null` in a packed batch. */
const NULL = '\u0000';

/**
 * Packs a flat batch (`ROW_WIDTH` values per event: strings, `null`, and the schema version) into one
 * string, which crosses to the writer thread as a single copy instead of one clone per value.
 * `undefined` when a value holds the separator or is exactly the null marker (the batch then goes as
 * an array).
 */
export function packRows(rows: readonly unknown[]): string | undefined {
  let packed = '';
  for (let index = 0; index < rows.length; index++) {
    const value = rows[index];
    let text: string;
    if (value === null) text = NULL;
    else if (typeof value === 'number') text = String(value);
    else if (typeof value === 'string') {
      if (value === NULL || value.includes(FIELD)) return undefined;
      text = value;
    } else return undefined;
    packed = index === 0 ? text : packed + FIELD + text;
  }
  return packed;
}

/**
 * The flat batch `packRows` packed. `numberColumns` lists the positions in a row (of `width`) that
 * hold numbers.
 */
export function unpackRows(packed: string, width: number, numberColumns: readonly number[]): unknown[] {
  const rows: unknown[] = packed.split(FIELD);
  for (let index = 0; index < rows.length; index++) {
    if (rows[index] === NULL) rows[index] = null;
  }
  for (let at = 0; at < rows.length; at += width) {
    for (const column of numberColumns) rows[at + column] = Number(rows[at + column]);
  }
  return rows;
}
