/**
 * A minimal Server-Sent Events reader for `fetch` response bodies
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * lines are split on CRLF, LF or CR, `data:` lines of one event are joined with `\n`, a blank line
 * dispatches the event, comment lines (`:`) are skipped. `id` and `retry` are not needed here.
 */

/** One dispatched event. */
export interface ServerSentEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  data: string;
}

/**
 * Yields the events of an SSE body as they arrive. Cancelling the iteration (break, or an aborted
 * fetch) releases the reader. An event still buffered when the body ends is dispatched too, as most
 * servers omit the final blank line only by mistake.
 */
export async function* readServerSentEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let sawData = false;

  const dispatch = (): ServerSentEvent | undefined => {
    const result = sawData ? { event: event || 'message', data: data.join('\n') } : undefined;
    event = '';
    data = [];
    sawData = false;
    return result;
  };

  const handleLine = (line: string): ServerSentEvent | undefined => {
    if (line === '') return dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      data.push(value);
      sawData = true;
    } else if (field === 'event') {
      event = value;
    }
    return undefined;
  };

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
        if (match[0] === '\r' && match.index === buffer.length - 1) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        const dispatched = handleLine(line);
        if (dispatched) yield dispatched;
      }
    }
    buffer += decoder.decode();
    if (buffer !== '') handleLine(buffer);
    const last = dispatch();
    if (last) yield last;
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
