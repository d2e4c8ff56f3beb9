/**
 * The writer thread of `@asm/sqlite` (started by `writer-thread.ts`): it holds one connection per
 * open store and runs their event appends, so the B-tree work of a streaming run does not block the
 * application's event loop. Requests are answered in the order they arrive.
 *
 * Imports nothing from `@asm/core` (see `append-batch.ts`); failures travel as plain data.
 */
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { AppendRejection, type BatchAppender, createBatchAppender, ROW_WIDTH } from './append-batch.js';

/** The position of the schema version in a row (the one number). */
const NUMBER_COLUMNS = [7];

function rowsOf(request: AppendRequest): readonly unknown[] {
  return typeof request.rows === 'string'
    ? unpackRows(request.rows, ROW_WIDTH, NUMBER_COLUMNS)
    : request.rows;
}

import {
  unpackRows,
  type WireFailure,
  type WorkerReply,
  type WorkerRequest,
  WRITER_AUTO_CHECKPOINT_PAGES,
} from './writer-protocol.js';

if (parentPort === null) throw new Error('append-worker.js runs as a worker thread only');
const port = parentPort;

/** An idle connection checkpoints this long after its last append (see `WRITER_AUTO_CHECKPOINT_PAGES`). */
const IDLE_CHECKPOINT_MS = 1_000;

interface Connection {
  database: Database.Database | undefined;
  /** The idle checkpoint, armed after each append. */
  checkpoint: ReturnType<typeof setTimeout> | undefined;
  appender: BatchAppender | undefined;
  /** Why the connection could not be opened; every append of the store answers with it. */
  openFailure: WireFailure | undefined;
}

const connections = new Map<number, Connection>();

function failureOf(error: unknown): WireFailure {
  if (error instanceof AppendRejection) {
    return { rejection: error.code, message: error.message, details: error.details };
  }
  const code = (error as { code?: unknown } | null)?.code;
  return {
    message: error instanceof Error ? error.message : String(error),
    ...(typeof code === 'string' ? { sqliteCode: code } : {}),
  };
}

function open(request: Extract<WorkerRequest, { op: 'open' }>): void {
  const connection: Connection = {
    database: undefined,
    checkpoint: undefined,
    appender: undefined,
    openFailure: undefined,
  };
  connections.set(request.store, connection);
  try {
    const database = new Database(request.path, { timeout: request.busyTimeoutMs, fileMustExist: true });
    connection.database = database;
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.pragma(`busy_timeout = ${request.busyTimeoutMs}`);
    database.pragma(`wal_autocheckpoint = ${WRITER_AUTO_CHECKPOINT_PAGES}`);
    connection.appender = createBatchAppender(database, request.prefix);
  } catch (error) {
    connection.openFailure = failureOf(error);
    try {
      connection.database?.close();
    } catch {
      // The open failed; there is nothing to keep.
    }
    connection.database = undefined;
  }
}

function armCheckpoint(connection: Connection): void {
  if (connection.checkpoint !== undefined) clearTimeout(connection.checkpoint);
  connection.checkpoint = setTimeout(() => {
    connection.checkpoint = undefined;
    try {
      // PASSIVE: copies what no reader still needs and never waits for a lock.
      connection.database?.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // A busy or closed database is checkpointed later, by SQLite or by the next idle moment.
    }
  }, IDLE_CHECKPOINT_MS);
  connection.checkpoint.unref();
}

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

type AppendRequest = Extract<WorkerRequest, { op: 'append' }>;

/**
 * Runs a store's appends that queued up together: one transaction and one commit for all of them
 * (group commit), each batch in its own savepoint and answered on its own.
 */
function appendAll(requests: AppendRequest[]): void {
  const connection = connections.get(requests[0]!.store);
  const appender = connection?.appender;
  if (connection === undefined || appender === undefined) {
    const failure = connection?.openFailure ?? {
      message: 'The writer thread has no connection for this store',
    };
    for (const request of requests) reply({ id: request.id, failure });
    return;
  }
  if (requests.length === 1) {
    const request = requests[0]!;
    try {
      reply({ id: request.id, outcome: appender.append(rowsOf(request)) });
    } catch (error) {
      reply({ id: request.id, failure: failureOf(error) });
    }
  } else {
    let results: ReturnType<BatchAppender['appendGroup']>;
    try {
      results = appender.appendGroup(requests.map(rowsOf));
    } catch (error) {
      const failure = failureOf(error);
      for (const request of requests) reply({ id: request.id, failure });
      armCheckpoint(connection);
      return;
    }
    results.forEach((result, index) => {
      const id = requests[index]!.id;
      reply('outcome' in result ? { id, outcome: result.outcome } : { id, failure: failureOf(result.error) });
    });
  }
  armCheckpoint(connection);
}

function handle(request: Exclude<WorkerRequest, AppendRequest>): void {
  switch (request.op) {
    case 'open':
      open(request);
      return;
    case 'close': {
      const connection = connections.get(request.store);
      connections.delete(request.store);
      if (connection?.checkpoint !== undefined) clearTimeout(connection.checkpoint);
      try {
        connection?.database?.close();
      } catch {
        // Closing releases the file either way; every append was committed or answered already.
      }
      reply({ id: request.id });
      return;
    }
  }
}

port.on('message', (first: WorkerRequest) => {
  // Everything that queued up while the last batch was written is taken now, in order.
  const queue: WorkerRequest[] = [first];
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    queue.push(next.message as WorkerRequest);
  }
  let index = 0;
  while (index < queue.length) {
    const request = queue[index]!;
    if (request.op !== 'append') {
      handle(request);
      index++;
      continue;
    }
    // Consecutive appends of one store share a transaction.
    let end = index + 1;
    while (end < queue.length && queue[end]!.op === 'append' && queue[end]!.store === request.store) end++;
    appendAll(queue.slice(index, end) as AppendRequest[]);
    index = end;
  }
});
