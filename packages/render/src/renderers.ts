import type { EventType, StoredEvent } from '@asm/core';

/** What a renderer needs of an event: its type and data (stored events qualify). */
export type RenderableEvent = Pick<StoredEvent, 'type' | 'data'> &
  Partial<Pick<StoredEvent, 'sequence' | 'sessionId' | 'runId' | 'timestamp' | 'provider'>>;

/** Turns events into text. Stateful: make one per stream. */
export interface Renderer {
  /** Text for one event ('' when the event shows nothing). */
  render(event: RenderableEvent): string;
  /** Closing text (a footer with counts). */
  finish(): string;
}

/** Colour and terminal options shared by the renderers. */
export interface RendererOptions {
  /** ANSI colours. Default false. */
  color?: boolean;
}

const ANSI = {
  reset: '\x1b[0m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  blue: '\x1b[34m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
} as const;
type Colour = Exclude<keyof typeof ANSI, 'reset'>;

function painter(enabled: boolean) {
  return (colour: Colour, text: string) => (enabled ? `${ANSI[colour]}${text}${ANSI.reset}` : text);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** One line of JSON, for tool inputs and outputs. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** The first `max` characters of a one-line version of `text`. */
export function preview(text: string, max = 60): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function usageOf(data: Record<string, unknown>): { input: number; output: number; cost?: number } {
  const usage = (data.tokenUsage as Record<string, unknown> | undefined) ?? data;
  const result: { input: number; output: number; cost?: number } = {
    input: num(usage.inputTokens) ?? 0,
    output: num(usage.outputTokens) ?? 0,
  };
  const cost = num(data.costUsd);
  if (cost !== undefined) result.cost = cost;
  return result;
}

/**
 * One line per event in short tokens: `r+ <model>`, `>>` before streamed text, `t+name` / `t-name`
 * for tools, `tk:in/out $cost`, `msg <preview>`, `r-:<reason> $cost`, `! <message>` for failures,
 * `? <type>` for the rest; footer `N events, M tools`.
 */
export function createCompactRenderer(options: RendererOptions = {}): Renderer {
  const paint = painter(options.color === true);
  let events = 0;
  let tools = 0;
  let streaming = false;
  const line = (text: string) => {
    const prefix = streaming ? '\n' : '';
    streaming = false;
    return `${prefix}${text}\n`;
  };
  return {
    render(event) {
      events++;
      const data = event.data as Record<string, unknown>;
      switch (event.type) {
        case 'run_started':
          return line(paint('blue', `r+ ${str(data.model) ?? ''}`.trimEnd()));
        case 'message_streamed': {
          const delta = str(data.delta) ?? '';
          if (data.kind !== undefined && data.kind !== 'text') return '';
          const start = streaming ? '' : paint('dim', '>> ');
          streaming = true;
          return `${start}${delta}`;
        }
        case 'tool_call_started':
          tools++;
          return line(paint('yellow', `t+${str(data.toolName) ?? 'tool'}`));
        case 'tool_call_completed':
          return line(paint('green', `t-${str(data.toolName) ?? 'tool'}`));
        case 'tool_call_failed':
          return line(paint('red', `t!${str(data.toolName) ?? 'tool'}`));
        case 'token_usage_updated': {
          const usage = usageOf(data);
          const cost = usage.cost === undefined ? '' : ` $${usage.cost.toFixed(4)}`;
          return line(paint('dim', `tk:${usage.input}/${usage.output}${cost}`));
        }
        case 'message_received':
          return line(`msg ${preview(str(data.content) ?? '')}`);
        case 'run_completed': {
          const usage = usageOf(data);
          const reason = str(data.stopReason);
          const cost = usage.cost === undefined ? '' : ` $${usage.cost.toFixed(4)}`;
          return line(paint('green', `r-${reason ? `:${reason}` : ''}${cost}`));
        }
        case 'run_failed':
        case 'error_occurred':
          return line(paint('red', `! ${str(data.errorMessage) ?? str(data.errorCode) ?? event.type}`));
        case 'run_cancelled':
          return line(paint('red', `! cancelled${str(data.reason) ? `: ${str(data.reason)}` : ''}`));
        case 'run_timeout':
          return line(paint('red', '! timeout'));
        case 'message_sent':
          return line(paint('cyan', `> ${preview(str(data.content) ?? '')}`));
        default:
          return line(paint('dim', `? ${event.type}`));
      }
    },
    finish() {
      return `${streaming ? '\n' : ''}${events} events, ${tools} tools\n`;
    },
  };
}

/**
 * Bracketed lines with every detail: `[run_started] model=… session_id=…`, tool input and output
 * as JSON, `[token_usage] input= output= cost=$…` (6 decimals); streamed text inline; footer
 * `--- N events, M tools ---`.
 */
export function createVerboseRenderer(options: RendererOptions = {}): Renderer {
  const paint = painter(options.color === true);
  let events = 0;
  let tools = 0;
  let streaming = false;
  const line = (label: string, colour: Colour, rest: string) => {
    const prefix = streaming ? '\n' : '';
    streaming = false;
    return `${prefix}${paint(colour, `[${label}]`)}${rest ? ` ${rest}` : ''}\n`;
  };
  const fields = (pairs: [string, unknown][]) =>
    pairs
      .filter(([, value]) => value !== undefined && value !== '')
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : json(value)}`)
      .join(' ');
  return {
    render(event) {
      events++;
      const data = event.data as Record<string, unknown>;
      switch (event.type) {
        case 'message_streamed': {
          if (data.kind !== undefined && data.kind !== 'text') {
            return line(`${String(data.kind)}`, 'magenta', str(data.delta) ?? '');
          }
          streaming = true;
          return str(data.delta) ?? '';
        }
        case 'run_started':
          return line(
            'run_started',
            'blue',
            fields([
              ['model', data.model],
              ['session_id', event.sessionId],
              ['run_id', event.runId],
            ]),
          );
        case 'tool_call_started':
          tools++;
          return line(
            'tool_call_started',
            'yellow',
            fields([
              ['name', data.toolName],
              ['id', data.toolCallId],
              ['input', data.toolInput],
            ]),
          );
        case 'tool_call_completed':
          return line(
            'tool_call_completed',
            'green',
            fields([
              ['name', data.toolName],
              ['output', data.toolOutput],
            ]),
          );
        case 'tool_call_failed':
          return line(
            'tool_call_failed',
            'red',
            fields([
              ['name', data.toolName],
              ['error', data.errorMessage],
              ['output', data.toolOutput],
            ]),
          );
        case 'token_usage_updated': {
          const usage = usageOf(data);
          return line(
            'token_usage',
            'dim',
            `${fields([
              ['input', usage.input],
              ['output', usage.output],
            ])}${usage.cost === undefined ? '' : ` cost=$${usage.cost.toFixed(6)}`}`,
          );
        }
        case 'message_received':
          return line(
            'message_received',
            'cyan',
            fields([
              ['role', data.role],
              ['content', data.content],
            ]),
          );
        case 'message_sent':
          return line(
            'message_sent',
            'cyan',
            fields([
              ['role', data.role],
              ['content', data.content],
            ]),
          );
        case 'run_completed': {
          const usage = usageOf(data);
          return line(
            'run_completed',
            'green',
            `${fields([
              ['stop_reason', data.stopReason],
              ['input', usage.input],
              ['output', usage.output],
            ])}${usage.cost === undefined ? '' : ` cost=$${usage.cost.toFixed(6)}`}`,
          );
        }
        case 'run_failed':
          return line(
            'run_failed',
            'red',
            fields([
              ['code', data.errorCode],
              ['message', data.errorMessage],
            ]),
          );
        case 'run_cancelled':
          return line('run_cancelled', 'red', fields([['reason', data.reason]]));
        case 'run_timeout':
          return line('run_timeout', 'red', fields([['timeout_ms', data.timeoutMs]]));
        case 'error_occurred':
          return line(
            'error',
            'red',
            fields([
              ['code', data.errorCode],
              ['message', data.errorMessage],
            ]),
          );
        default:
          return line(event.type as EventType, 'dim', Object.keys(data).length > 0 ? json(data) : '');
      }
    },
    finish() {
      return `${streaming ? '\n' : ''}--- ${events} events, ${tools} tools ---\n`;
    },
  };
}

/** Renders nothing: for sinks that only want the events (JSONL, callback). */
export function createPassthroughRenderer(): Renderer {
  return { render: () => '', finish: () => '' };
}
