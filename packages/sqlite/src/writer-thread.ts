/**
 * The store's side of the writer thread: one worker thread per process holds a connection for every
 * open file store and runs their event appends (`append-worker.ts`). The thread keeps the process
 * alive only while an append is in flight; a thread that dies is replaced at the next append, and the
 * stores it served reopen their connection on the new one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { AppendOutcome } from './append-batch.js';
import { packRows, type WireFailure, type WorkerReply, type WorkerRequest } from './writer-protocol.js';

/** A failure reported by the writer thread, as plain data (the store turns it into an `AsmError`). */
export class WriterFailure extends Error {
  constructor(readonly failure: WireFailure) {
    super(failure.message);
    this.name = 'WriterFailure';
  }
}

/** A store's connection on the writer thread. */
export interface ThreadWriter {
  /** Runs one append transaction (a flat batch, see `append-batch.ts`); rejects with `WriterFailure`. */
  append(rows: unknown[]): Promise<AppendOutcome>;
  /** Closes the connection after every append sent before; never rejects. */
  close(): Promise<void>;
}

/** How to start the thread: the built file, or a bootstrap (evaluated) that loads the source. */
type Entry = { url: URL } | { bootstrap: string };

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(error: WriterFailure): void;
}

let entry: Entry | null | undefined;

/**
 * Where the writer thread's code is: `append-worker.js` next to the built package, or, when this
 * package runs from its TypeScript sources (its own tests and benchmarks), `append-worker.ts`
 * imported through tsx's API (a worker does not take tsx's `--import` hooks on Node 20). `null` when
 * neither is there (a bundler that left the file behind): stores then write inline.
 */
function workerEntry(): Entry | null {
  if (entry !== undefined) return entry;
  entry = null;
  const built = new URL('./append-worker.js', import.meta.url);
  if (existsSync(built)) {
    entry = { url: built };
    return entry;
  }
  const source = new URL('./append-worker.ts', import.meta.url);
  if (!existsSync(source)) return entry;
  try {
    const require = createRequire(import.meta.url);
    const manifestPath = require.resolve('tsx/package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      exports: Record<string, { import?: { default?: string } }>;
    };
    const api = manifest.exports['./esm/api']?.import?.default;
    if (api === undefined) return entry;
    const apiUrl = pathToFileURL(join(dirname(manifestPath), api)).href;
    entry = {
      bootstrap: `import(${JSON.stringify(apiUrl)}).then((tsx) => tsx.tsImport(${JSON.stringify(source.href)}, ${JSON.stringify(source.href)}))`,
    };
  } catch {
    // No tsx: write inline.
  }
  return entry;
}

/** True when this installation can start the writer thread. */
export function writerThreadAvailable(): boolean {
  return workerEntry() !== null;
}

class WriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Why the thread stopped; set once, and the thread is then replaced. */
  stopped: WriterFailure | undefined;

  constructor(where: Entry) {
    this.worker =
      'url' in where
        ? new Worker(where.url, { execArgv: [] })
        : new Worker(where.bootstrap, { eval: true, execArgv: [] });
    this.worker.unref();
    this.worker.on('message', (reply: WorkerReply) => {
      const pending = this.pending.get(reply.id);
      if (pending === undefined) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) this.worker.unref();
      if (reply.failure !== undefined) pending.reject(new WriterFailure(reply.failure));
      else pending.resolve(reply);
    });
    this.worker.on('error', (error) => this.stop(`The SQLite writer thread failed: ${error.message}`));
    this.worker.on('exit', (code) => this.stop(`The SQLite writer thread exited with code ${code}`));
  }

  private stop(message: string): void {
    if (this.stopped !== undefined) return;
    this.stopped = new WriterFailure({ message, details: { writerThread: 'stopped' } });
    if (current === this) current = undefined;
    for (const pending of this.pending.values()) pending.reject(this.stopped);
    this.pending.clear();
  }

  /** Sends a message that needs no answer (`open`). */
  send(message: WorkerRequest): void {
    this.worker.postMessage(message);
  }

  /** Sends a request and resolves with its reply. */
  request(message: WorkerRequest & { id: number }): Promise<WorkerReply> {
    if (this.stopped !== undefined) return Promise.reject(this.stopped);
    return new Promise<WorkerReply>((resolve, reject) => {
      // A message that cannot be sent rejects here and leaves nothing pending (the reply comes as a
      // later event, so registering after the post is safe).
      this.worker.postMessage(message);
      this.pending.set(message.id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
    });
  }

  takeId(): number {
    return this.nextId++;
  }

  /** Stops the thread at once (tests use it to play a crash). */
  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

let current: WriterThread | undefined;
let nextStore = 1;

/**
 * Stops the running writer thread as a crash would: its pending appends reject, and the next append
 * starts a new one. Not exported from the package; the tests use it.
 */
export async function terminateWriterThread(): Promise<void> {
  await current?.terminate();
}

function thread(): WriterThread {
  if (current === undefined) {
    const where = workerEntry();
    if (where === null) throw new Error('The SQLite writer thread is not available');
    current = new WriterThread(where);
  }
  return current;
}

/**
 * Opens a store's connection on the writer thread (starting the thread when none runs). The
 * connection opens `path` (which must exist: the store has created and migrated it) with the same
 * pragmas as the store's own.
 */
export function openThreadWriter(config: {
  path: string;
  prefix: string;
  busyTimeoutMs: number;
}): ThreadWriter {
  const store = nextStore++;
  let attached: WriterThread | undefined;

  function attach(): WriterThread {
    if (attached === undefined || attached.stopped !== undefined) {
      attached = thread();
      attached.send({ op: 'open', store, ...config });
    }
    return attached;
  }
  attach();

  return {
    async append(rows: unknown[]): Promise<AppendOutcome> {
      const target = attach();
      const packed = packRows(rows);
      const reply = await target.request({ op: 'append', id: target.takeId(), store, rows: packed ?? rows });
      return reply.outcome as AppendOutcome;
    },
    async close(): Promise<void> {
      const target = attached;
      attached = undefined;
      if (target === undefined || target.stopped !== undefined) return;
      try {
        await target.request({ op: 'close', id: target.takeId(), store });
      } catch {
        // A thread that stopped has closed its connections with it.
      }
    },
  };
}
