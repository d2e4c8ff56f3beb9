import { apiUrl, authHeaders, type StoredEvent, UNAUTHORIZED_EVENT } from './api';

/** Where a followed stream is. */
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/** Callbacks of `followEvents`. */
export interface FollowHandlers {
  /** Each event once, in sequence order (after a reconnect the stream resumes after the last one). */
  onEvent(event: StoredEvent): void;
  /** Called after each chunk of events has been handled (a good time to scroll). */
  onBatch?(): void;
  onState?(state: StreamState): void;
}

/**
 * Follows a session's Server-Sent Events through `fetch` (not `EventSource`, which cannot send the
 * `Authorization` header). On a dropped connection it reconnects with `Last-Event-ID` set to the last
 * sequence it handled, so it gets exactly the missed events, from the durable log. Stops when
 * `signal` aborts or the server answers 401 / 404.
 */
export function followEvents(path: string, handlers: FollowHandlers, signal: AbortSignal): void {
  let lastId = 0;
  let delay = 250;
  const setState = (state: StreamState) => handlers.onState?.(state);

  const connectOnce = async (): Promise<'retry' | 'stop'> => {
    const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
    if (lastId > 0) headers['last-event-id'] = String(lastId);
    const response = await fetch(apiUrl(path), { headers, signal, cache: 'no-store' });
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
      return 'stop';
    }
    if (response.status === 404 || response.status === 400) return 'stop';
    if (!response.ok || !response.body) return 'retry';
    setState('live');
    delay = 250;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data: string[] = [];
    let id: string | undefined;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return 'retry';
      buffer += value;
      let handled = false;
      let start = 0;
      // Lines end in \n, \r\n or \r; a trailing \r may be the first half of a \r\n still in flight.
      // `cr` is searched again only once passed, so a chunk without \r is scanned once (linear time).
      let cr = buffer.indexOf('\r');
      for (;;) {
        const lf = buffer.indexOf('\n', start);
        if (cr >= 0 && cr < start) cr = buffer.indexOf('\r', start);
        let end = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
        if (end < 0 || (end === cr && end === buffer.length - 1)) break;
        const line = buffer.slice(start, end);
        if (end === cr && buffer[end + 1] === '\n') end++;
        start = end + 1;
        if (line === '') {
          if (data.length > 0) {
            const event = JSON.parse(data.join('\n')) as StoredEvent;
            const sequence = Number(id ?? event.sequence);
            if (sequence > lastId) {
              lastId = sequence;
              handlers.onEvent(event);
              handled = true;
            }
          }
          data = [];
          id = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? '' : line.slice(colon + 1);
        if (text.startsWith(' ')) text = text.slice(1);
        if (field === 'data') data.push(text);
        else if (field === 'id') id = text;
      }
      buffer = buffer.slice(start);
      if (handled) handlers.onBatch?.();
    }
  };

  const loop = async () => {
    setState('connecting');
    while (!signal.aborted) {
      let outcome: 'retry' | 'stop';
      try {
        outcome = await connectOnce();
      } catch {
        outcome = 'retry';
      }
      if (signal.aborted || outcome === 'stop') break;
      setState('reconnecting');
      await new Promise((resolve) => window.setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5_000);
    }
    setState('closed');
  };
  void loop();
}
