import type { IncomingMessage, ServerResponse } from 'node:http';

/** @internal The whole body of a request, as UTF-8 text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** @internal Resolves after `ms`, or on the next turn of the event loop for 0. */
export const wait = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

/** @internal How a fake stream breaks off after some events. */
export interface FakeStreamInterrupt {
  mode: 'truncate' | 'disconnect' | 'stall' | 'error';
}

/**
 * @internal Writes SSE chunks (all at once, or one per `eventDelayMs`), then ends the response the
 * way `interrupt` says: end it cleanly, drop the connection, leave it open, or end with `errorChunk()`.
 * Stops early when the client went away.
 */
export async function writeSseStream(
  res: ServerResponse,
  chunks: readonly string[],
  options: {
    eventDelayMs: number | undefined;
    interrupt: FakeStreamInterrupt | undefined;
    errorChunk: () => string;
  },
): Promise<void> {
  if (options.eventDelayMs === undefined) {
    res.write(chunks.join(''));
  } else {
    for (const chunk of chunks) {
      if (res.destroyed) return;
      res.write(chunk);
      await wait(options.eventDelayMs);
    }
  }
  if (res.destroyed) return;
  const interrupt = options.interrupt;
  if (!interrupt) {
    res.end();
    return;
  }
  switch (interrupt.mode) {
    case 'truncate':
      res.end();
      return;
    case 'disconnect':
      // Let what was written reach the client first, then drop the connection.
      await new Promise<void>((resolve) => res.write('', () => resolve()));
      await wait(5);
      res.socket?.destroy();
      return;
    case 'stall':
      return;
    case 'error':
      res.end(options.errorChunk());
      return;
    default: {
      const unhandled: never = interrupt.mode;
      throw new Error(`Unhandled interrupt mode: ${String(unhandled)}`);
    }
  }
}
