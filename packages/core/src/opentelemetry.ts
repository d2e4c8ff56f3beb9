import diagnosticsChannel from 'node:diagnostics_channel';
import { ASM_CHANNELS, type RunEndMessage, type RunStartMessage } from './telemetry.js';

/** The part of an OpenTelemetry `Span` this integration uses (structurally typed: no dependency). */
export interface OtelSpanLike {
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number): void;
}

/** The part of an OpenTelemetry `Tracer` this integration uses: pass `trace.getTracer('my-app')`. */
export interface OtelTracerLike {
  startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean> }): OtelSpanLike;
}

/** Options of `instrumentOpenTelemetry`. */
export interface OpenTelemetryOptions {
  /** A tracer from `@opentelemetry/api` (`trace.getTracer('my-app')`). */
  tracer: OtelTracerLike;
  /** Span name. Default `asm.run`. */
  spanName?: string;
}

const STATUS_OK = 1;
const STATUS_ERROR = 2;

/**
 * Makes an OpenTelemetry span per run from the diagnostics channels: attributes `asm.run_id`,
 * `asm.session_id`, `asm.provider`, `asm.model`, `asm.status`, token counts, `asm.cost_usd` and
 * `asm.error_code`; status ERROR unless the run completed. `@opentelemetry/api` stays the app's
 * dependency (an optional peer): core only calls the tracer it is given. Returns a function that
 * stops the instrumentation. Router attempts publish their own channels (see `@asm/routing`).
 */
export function instrumentOpenTelemetry(options: OpenTelemetryOptions): () => void {
  const spans = new Map<string, OtelSpanLike>();
  const spanName = options.spanName ?? 'asm.run';
  const onStart = (message: unknown) => {
    const start = message as RunStartMessage;
    spans.set(
      start.runId,
      options.tracer.startSpan(spanName, {
        attributes: {
          'asm.run_id': start.runId,
          'asm.session_id': start.sessionId,
          'asm.provider': start.provider,
        },
      }),
    );
  };
  const onEnd = (message: unknown) => {
    const end = message as RunEndMessage;
    const span = spans.get(end.runId);
    if (!span) return;
    spans.delete(end.runId);
    span.setAttribute('asm.provider', end.provider);
    if (end.model !== undefined) span.setAttribute('asm.model', end.model);
    span.setAttribute('asm.status', end.status);
    span.setAttribute('asm.duration_ms', end.durationMs);
    span.setAttribute('asm.tokens.input', end.tokenUsage.inputTokens);
    span.setAttribute('asm.tokens.output', end.tokenUsage.outputTokens);
    span.setAttribute('asm.tokens.cache_read', end.tokenUsage.cacheReadTokens);
    span.setAttribute('asm.tokens.cache_write', end.tokenUsage.cacheWriteTokens);
    span.setAttribute('asm.tokens.total', end.tokenUsage.totalTokens);
    if (end.costUsd !== undefined) span.setAttribute('asm.cost_usd', end.costUsd);
    if (end.errorCode !== undefined) span.setAttribute('asm.error_code', end.errorCode);
    span.setStatus(
      end.status === 'completed'
        ? { code: STATUS_OK }
        : { code: STATUS_ERROR, message: end.errorCode ?? end.status },
    );
    span.end();
  };
  diagnosticsChannel.subscribe(ASM_CHANNELS.runStart, onStart);
  diagnosticsChannel.subscribe(ASM_CHANNELS.runEnd, onEnd);
  return () => {
    diagnosticsChannel.unsubscribe(ASM_CHANNELS.runStart, onStart);
    diagnosticsChannel.unsubscribe(ASM_CHANNELS.runEnd, onEnd);
    for (const span of spans.values()) span.end();
    spans.clear();
  };
}
