import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AsmError } from '@asm/core';
import type { RenderableEvent, Renderer } from './renderers.js';

/** Where rendered text (and the events themselves) go. */
export interface Sink {
  /** Called for every event with the text the renderer made for it ('' when none). */
  write(text: string, event: RenderableEvent | undefined): void;
  /** Waits until everything written so far is out. */
  flush?(): Promise<void>;
  /** Flushes and releases what the sink opened. */
  close?(): Promise<void>;
}

/** Strips ANSI escape sequences and carriage returns (for files). */
export function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point.
  return text.replace(/\x1b\[[0-9;]*[mABCDHJK]/g, '').replace(/\r(?!\n)/g, '');
}

/**
 * True when a stream shows colours: a TTY with colour support, unless `NO_COLOR` is set;
 * `FORCE_COLOR` (not `0`) forces them.
 */
export function supportsColor(
  stream: NodeJS.WritableStream & { isTTY?: boolean; hasColors?: () => boolean },
): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (process.env.NO_COLOR !== undefined) return false;
  return stream.isTTY === true && (stream.hasColors?.() ?? true);
}

async function endStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

/** Writes rendered text to a terminal (default `process.stdout`), ANSI codes intact. */
export function createTtySink(options: { stream?: NodeJS.WritableStream } = {}): Sink {
  const stream = options.stream ?? process.stdout;
  return {
    write(text) {
      if (text) stream.write(text);
    },
  };
}

/**
 * Writes rendered text to a file without ANSI codes: `{ path }` (created with its folder; the sink
 * owns and closes it) or `{ stream }` (the caller owns it).
 */
export function createFileSink(options: { path: string } | { stream: NodeJS.WritableStream }): Sink {
  if ('stream' in options) {
    return {
      write(text) {
        if (text) options.stream.write(stripAnsi(text));
      },
    };
  }
  if (typeof options.path !== 'string' || options.path === '') {
    throw new AsmError('validation_error', 'createFileSink needs a path or a stream', {
      details: { field: 'path' },
    });
  }
  let stream: WriteStream | undefined;
  const pending: string[] = [];
  const ready = mkdir(dirname(options.path), { recursive: true }).then(() => {
    stream = createWriteStream(options.path, { flags: 'a' });
    // What was written while the folder was being made goes first, in order.
    if (pending.length > 0) stream.write(pending.splice(0).join(''));
  });
  return {
    write(text) {
      if (!text) return;
      if (stream) stream.write(stripAnsi(text));
      else pending.push(stripAnsi(text));
    },
    async flush() {
      await ready;
      const current = stream;
      // Chunks are written in order: the callback of an empty write runs once everything before it is out.
      if (current)
        await new Promise<void>((resolve, reject) =>
          current.write('', (error) => (error ? reject(error) : resolve())),
        );
    },
    async close() {
      await this.flush?.();
      if (stream) await endStream(stream);
    },
  };
}

const COMPACT_CODES: Partial<Record<string, string>> = {
  run_started: 'rs',
  message_streamed: 'ms',
  tool_call_started: 'ts',
  tool_call_completed: 'tc',
  token_usage_updated: 'tu',
  message_received: 'mr',
  run_completed: 'rc',
  run_failed: 'rf',
  run_cancelled: 'rx',
  error_occurred: 'er',
};

function shortModel(model: string): string {
  return model
    .replace(/^claude-/, '')
    .replace(/^anthropic\./, '')
    .split('-')
    .slice(0, 3)
    .join('-');
}

/** The compact JSONL form of an event: `{ t: epochMs, e: { t: code, … } }`. */
export function compactEntry(event: RenderableEvent, now = Date.now()): Record<string, unknown> {
  const data = event.data as Record<string, unknown>;
  const code = COMPACT_CODES[event.type] ?? event.type;
  const entry: Record<string, unknown> = { t: code };
  switch (code) {
    case 'rs':
      if (typeof data.model === 'string') entry.m = shortModel(data.model);
      break;
    case 'ms':
      entry.l = Buffer.byteLength(String(data.delta ?? ''), 'utf8');
      break;
    case 'ts':
      entry.n = data.toolName;
      break;
    case 'tc':
      entry.n = data.toolName;
      entry.l = Buffer.byteLength(JSON.stringify(data.toolOutput ?? '') ?? '', 'utf8');
      break;
    case 'tu':
      entry.i = data.inputTokens ?? 0;
      entry.o = data.outputTokens ?? 0;
      if (typeof data.costUsd === 'number') entry.$ = data.costUsd;
      break;
    case 'rc':
      entry.sr =
        data.stopReason === 'tool_use' ? 'tool' : data.stopReason === 'end_turn' ? 'end' : data.stopReason;
      break;
    case 'rf':
    case 'er': {
      const message = String(data.errorMessage ?? data.errorCode ?? '');
      entry.x = message.length > 120 ? `${message.slice(0, 120)}...` : message;
      break;
    }
    default:
      break;
  }
  return { t: event.timestamp ? Date.parse(event.timestamp) : now, e: entry };
}

/**
 * Writes one JSON object per event to a file, ignoring the rendered text: `full` (type, data,
 * session, run, sequence, timestamp) or `compact` (short codes, for dashboards and logs).
 */
export function createJsonlSink(options: { path: string; mode?: 'full' | 'compact' }): Sink {
  const mode = options.mode ?? 'full';
  const file = createFileSink({ path: options.path });
  return {
    write(_text, event) {
      if (!event) return;
      const entry =
        mode === 'compact'
          ? compactEntry(event)
          : Object.fromEntries(
              Object.entries({
                ts: event.timestamp ?? new Date().toISOString(),
                type: event.type,
                sequence: event.sequence,
                sessionId: event.sessionId,
                runId: event.runId,
                data: event.data,
              }).filter(([, value]) => value !== undefined && value !== ''),
            );
      file.write(`${JSON.stringify(entry)}\n`, undefined);
    },
    flush: () => file.flush?.() ?? Promise.resolve(),
    close: () => file.close?.() ?? Promise.resolve(),
  };
}

/** Calls a function with each event and its rendered text. */
export function createCallbackSink(callback: (event: RenderableEvent, text: string) => void): Sink {
  if (typeof callback !== 'function') {
    throw new AsmError('validation_error', 'createCallbackSink needs a function', {
      details: { field: 'callback' },
    });
  }
  return {
    write(text, event) {
      if (event) callback(event, text);
    },
  };
}

/** Result of `renderEvents`. */
export interface RenderSummary {
  events: number;
}

/** A renderer and its sinks fed one event at a time (for a live `onEvent` callback). */
export interface RenderPipeline {
  /** Renders one event to every sink. */
  push(event: RenderableEvent): void;
  /** Writes the footer, then flushes and closes every sink. */
  finish(): Promise<RenderSummary>;
}

/** Composes one renderer with several sinks. */
export function createRenderPipeline(options: { renderer: Renderer; sinks: Sink[] }): RenderPipeline {
  let count = 0;
  return {
    push(event) {
      count++;
      const text = options.renderer.render(event);
      for (const sink of options.sinks) sink.write(text, event);
    },
    async finish() {
      const footer = options.renderer.finish();
      for (const sink of options.sinks) {
        if (footer) sink.write(footer, undefined);
        await sink.flush?.();
        await sink.close?.();
      }
      return { events: count };
    },
  };
}

/** Renders a whole stream of events (an array, or an `AsyncIterable` such as a subscription). */
export async function renderEvents(
  events: Iterable<RenderableEvent> | AsyncIterable<RenderableEvent>,
  options: { renderer: Renderer; sinks: Sink[] },
): Promise<RenderSummary> {
  const pipeline = createRenderPipeline(options);
  for await (const event of events) pipeline.push(event);
  return pipeline.finish();
}
