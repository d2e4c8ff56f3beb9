/**
 * Worker thread of `server.bench.ts`: opens N Server-Sent Events connections (plain `node:http`,
 * frames scanned as bytes, to keep the clients' own cost low) to one session's stream and records,
 * for every event each client receives, its sequence and the receipt time
 * (`performance.timeOrigin + performance.now()`, comparable with the main thread's clock).
 * Posts `{ type: 'connected' }` once every stream is open; after `{ type: 'until', sequence }` it posts
 * `{ type: 'done', results }` as soon as every client has received that sequence.
 */
import { type ClientRequest, get } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

interface Input {
  url: string;
  clients: number;
}

interface ClientRecord {
  sequences: number[];
  times: number[];
  done: boolean;
}

const { url, clients } = workerData as Input;
const records: ClientRecord[] = [];
const requests: ClientRequest[] = [];
let target = Number.POSITIVE_INFINITY;
let finished = 0;
let reported = false;

const now = () => performance.timeOrigin + performance.now();
const NEWLINE = 0x0a;
/** `id: ` */
const ID = [0x69, 0x64, 0x3a, 0x20];

function maybeDone(): void {
  if (finished < clients || reported) return;
  reported = true;
  parentPort!.postMessage({
    type: 'done',
    results: records.map(({ sequences, times }) => ({ sequences, times })),
  });
  for (const request of requests) request.destroy();
}

function markDone(record: ClientRecord): void {
  if (record.done) return;
  record.done = true;
  finished++;
  maybeDone();
}

/** Reads the frames of `buffer`; returns the unread rest. Frames start with their `id:` line. */
function scan(buffer: Buffer, record: ClientRecord, received: number): Buffer {
  let start = 0;
  for (;;) {
    const end = buffer.indexOf('\n\n', start);
    if (end < 0) return buffer.subarray(start);
    if (
      buffer[start] === ID[0] &&
      buffer[start + 1] === ID[1] &&
      buffer[start + 2] === ID[2] &&
      buffer[start + 3] === ID[3]
    ) {
      let sequence = 0;
      for (let index = start + 4; buffer[index] !== NEWLINE; index++)
        sequence = sequence * 10 + buffer[index]! - 48;
      record.sequences.push(sequence);
      record.times.push(received);
      if (sequence >= target) markDone(record);
    }
    start = end + 2;
  }
}

function follow(index: number): Promise<void> {
  const record: ClientRecord = { sequences: [], times: [], done: false };
  records[index] = record;
  return new Promise((resolve, reject) => {
    const request = get(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      let rest: Buffer = Buffer.alloc(0);
      response.on('data', (chunk: Buffer) => {
        const received = now();
        rest = scan(rest.length === 0 ? chunk : Buffer.concat([rest, chunk]), record, received);
      });
      response.on('error', () => undefined);
      resolve();
    });
    request.on('error', (error) => (reported ? undefined : reject(error)));
    requests.push(request);
  });
}

parentPort!.on('message', (message: { type: 'until'; sequence: number }) => {
  target = message.sequence;
  for (const record of records) if ((record.sequences.at(-1) ?? 0) >= target) markDone(record);
  maybeDone();
});

await Promise.all(Array.from({ length: clients }, (_, index) => follow(index)));
parentPort!.postMessage({ type: 'connected' });
