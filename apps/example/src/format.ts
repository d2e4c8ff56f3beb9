import type { Run, StoredEvent, TokenUsage } from '@asm/core';
import {
  createCompactRenderer,
  createStudioRenderer,
  createVerboseRenderer,
  preview,
  type RenderableEvent,
  type Renderer,
  summarizeToolCall,
} from '@asm/render';

/** Names accepted by `--render`. */
export const RENDERER_NAMES = ['studio', 'compact', 'verbose'] as const;
/** One of `RENDERER_NAMES`. */
export type RendererName = (typeof RENDERER_NAMES)[number];

/** ANSI colour helper: returns the text unchanged when colour is off. */
export function painter(color: boolean): (code: string, text: string) => string {
  return (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
}

/**
 * `$0.000123`; without a cost, `none (no tokens used)` for runs that used no tokens (shell
 * commands) and `unknown (no price for this model)` for the others.
 */
export function formatCost(costUsd: number | undefined, usage?: Partial<TokenUsage>): string {
  if (costUsd !== undefined) return `$${costUsd.toFixed(6)}`;
  const tokens = (usage?.inputTokens ?? 0) + (usage?.outputTokens ?? 0) + (usage?.cacheReadTokens ?? 0);
  return usage !== undefined && tokens === 0 ? 'none (no tokens used)' : 'unknown (no price for this model)';
}

/** `25 in / 12 out`, plus cache reads and writes when there are any. */
export function formatTokens(usage: Partial<TokenUsage> | undefined): string {
  const input = usage?.inputTokens ?? 0;
  const output = usage?.outputTokens ?? 0;
  const cacheRead = usage?.cacheReadTokens ?? 0;
  const cacheWrite = usage?.cacheWriteTokens ?? 0;
  const cache = cacheRead || cacheWrite ? ` (cache ${cacheRead} read / ${cacheWrite} write)` : '';
  return `${input} in / ${output} out${cache}`;
}

/** `850 ms`, `1.2 s`, `3 min 4 s`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** How long a run took, from its stored timestamps. */
export function runDurationMs(run: Run): number | undefined {
  if (!run.startedAt || !run.endedAt) return undefined;
  return Date.parse(run.endedAt) - Date.parse(run.startedAt);
}

/** A plain text table: a header row and aligned columns (the last column is not padded). */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const ROUTING_KEYS = new Set([
  'routedProvider',
  'routingAttempt',
  'routingCandidates',
  'failoverFrom',
  'failoverReason',
]);

function withoutRouting(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !ROUTING_KEYS.has(key)));
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A one-line summary of an event's data, for log listings. */
export function summarizeEvent(event: Pick<StoredEvent, 'type' | 'data'>): string {
  const data = event.data as Record<string, unknown>;
  switch (event.type) {
    case 'run_started':
      return [str(data.model), str(data.command)].filter(Boolean).join(' ');
    case 'message_sent':
    case 'message_received':
      return `${str(data.role) ?? ''}: ${preview(str(data.content) ?? JSON.stringify(data.content ?? ''), 80)}`;
    case 'message_streamed': {
      const delta = str(data.delta) ?? '';
      return `${str(data.kind) ?? 'text'} ${JSON.stringify(delta.length > 60 ? `${delta.slice(0, 59)}…` : delta)}`;
    }
    case 'tool_call_started':
      return summarizeToolCall(str(data.toolName) ?? 'tool', data.toolInput);
    case 'tool_call_completed': {
      const output = data.toolOutput as Record<string, unknown> | undefined;
      const exit = typeof output?.exitCode === 'number' ? ` exit ${output.exitCode}` : '';
      return `${str(data.toolName) ?? 'tool'}${exit}`;
    }
    case 'tool_call_failed':
      return `${str(data.toolName) ?? 'tool'}: ${preview(str(data.errorMessage) ?? '', 80)}`;
    case 'token_usage_updated':
      return formatTokens(data as Partial<TokenUsage>);
    case 'run_completed': {
      const cost = typeof data.costUsd === 'number' ? ` $${data.costUsd.toFixed(6)}` : '';
      return `${str(data.stopReason) ?? ''}${cost}`.trim();
    }
    case 'run_failed':
    case 'error_occurred': {
      const attempt =
        typeof data.attempt === 'number' ? ` (attempt ${data.attempt} on ${str(data.provider)})` : '';
      return `${str(data.errorCode) ?? ''}: ${preview(str(data.errorMessage) ?? '', 100)}${attempt}`;
    }
    case 'error_recovered':
      return `failover from ${str(data.failoverFrom) ?? '?'} to ${str(data.provider) ?? '?'} (attempt ${String(data.attempt ?? '?')})`;
    case 'run_cancelled':
      return str(data.reason) ?? '';
    case 'policy_violation': {
      const details = (data.details ?? {}) as Record<string, unknown>;
      const what =
        data.kind === 'budget_exceeded'
          ? `${str(details.limitKey) ?? str(details.metric) ?? 'limit'} ${String(details.actual)} > ${String(details.limit)}`
          : data.kind === 'tool_denied'
            ? `tool ${str(details.toolName) ?? '?'} denied`
            : (str(data.kind) ?? '');
      return `${str(data.policy) ?? 'policy'}: ${what} → ${str(data.action) ?? ''}`;
    }
    default: {
      const rest = withoutRouting(data);
      return Object.keys(rest).length > 0 ? preview(JSON.stringify(rest), 100) : '';
    }
  }
}

/** `#  12 07:01:02.123 claude  run_started          claude-haiku-4-5`: one line of a stored log. */
export function eventLine(event: StoredEvent, color: boolean): string {
  const paint = painter(color);
  const time = event.timestamp.slice(11, 23);
  const type = event.type;
  const colour =
    type === 'run_failed' ||
    type === 'error_occurred' ||
    type === 'run_cancelled' ||
    type === 'policy_violation'
      ? '31'
      : type === 'run_completed' || type === 'error_recovered'
        ? '32'
        : type.startsWith('tool_')
          ? '33'
          : type.startsWith('session_')
            ? '34'
            : '0';
  const sequence = `#${String(event.sequence).padStart(4)}`;
  const provider = event.provider === 'session_manager' ? 'manager' : (event.provider ?? '');
  return `${paint('2', sequence)} ${paint('2', time)} ${provider.padEnd(8)} ${paint(colour, type.padEnd(20))} ${summarizeEvent(event)}`.trimEnd();
}

/**
 * A renderer from `@asm/render` for live output, with two lines it does not draw itself: a router
 * failover (`↻ failover from claude to shell`) and a policy violation (`⚠ policy …`).
 */
export function createLiveRenderer(name: RendererName, options: { color: boolean; tty: boolean }): Renderer {
  const paint = painter(options.color);
  const inner =
    name === 'compact'
      ? createCompactRenderer({ color: options.color })
      : name === 'verbose'
        ? createVerboseRenderer({ color: options.color })
        : createStudioRenderer({ color: options.color, tty: options.tty, toolOutput: 'preview' });
  if (name !== 'studio') return inner;
  let lastError: string | undefined;
  return {
    render(event: RenderableEvent) {
      const previousError = lastError;
      lastError = undefined;
      if (event.type === 'error_recovered') {
        return `${paint('33', '↻')} ${summarizeEvent(event)}\n`;
      }
      if (event.type === 'policy_violation') {
        return `${paint('31', '⚠')} policy ${summarizeEvent(event)}\n`;
      }
      if (event.type === 'error_occurred') {
        const data = event.data as Record<string, unknown>;
        if (typeof data.attempt === 'number') {
          return `${paint('31', '✗')} ${str(data.provider) ?? 'provider'} failed: ${str(data.errorCode) ?? ''} (${preview(str(data.errorMessage) ?? '', 100)})\n`;
        }
        lastError = str(data.errorMessage);
      }
      // A run that fails writes error_occurred, then run_failed with the same message: show it once.
      if (event.type === 'run_failed' && previousError !== undefined) {
        if (str((event.data as Record<string, unknown>).errorMessage) === previousError) return '';
      }
      return inner.render(event);
    },
    finish: () => inner.finish(),
  };
}
