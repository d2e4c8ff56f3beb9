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
  /** Span name of a provider attempt behind a router. Default `asm.provider_attempt`. */
  attemptSpanName?: string;
}

/** The router's attempt channels (published by `@asm/routing`). */
const ROUTER_ATTEMPT_CHANNELS = {
  start: 'asm:router:attempt:start',
  stop: 'asm:router:attempt:stop',
  failure: 'asm:router:attempt:failure',
} as const;

interface AttemptMessage {
  router: string;
  runId: string;
  sessionId: string;
  provider: string;
  attempt: number;
}

const STATUS_OK = 1;
const STATUS_ERROR = 2;

/**
 * Makes an OpenTelemetry span per run from the diagnostics channels: attributes `asm.run_id`,
 * `asm.session_id`, `asm.provider`, `asm.model`, `asm.status`, token counts, `asm.cost_usd` and
 * `asm.error_code`; status ERROR unless the run completed. Behind a router (`@asm/routing`), each
 * provider attempt gets its own span (`asm.provider_attempt`: provider, attempt, probe, continuation,
 * duration, error code, whether it failed over). `@opentelemetry/api` stays the app's dependency (an
 * optional peer): core only calls the tracer it is given. Returns a function that stops it.
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
  // Provider attempts behind a router (`@asm/routing` publishes these channels; core only listens).
  const attempts = new Map<string, OtelSpanLike>();
  const attemptKey = (message: AttemptMessage) => `${message.runId}#${message.attempt}`;
  const onAttemptStart = (message: unknown) => {
    const start = message as AttemptMessage & { probe?: boolean; continuation?: string };
    attempts.set(
      attemptKey(start),
      options.tracer.startSpan(options.attemptSpanName ?? 'asm.provider_attempt', {
        attributes: {
          'asm.run_id': start.runId,
          'asm.session_id': start.sessionId,
          'asm.router': start.router,
          'asm.provider': start.provider,
          'asm.attempt': start.attempt,
          'asm.probe': start.probe === true,
          ...(start.continuation === undefined ? {} : { 'asm.continuation': start.continuation }),
        },
      }),
    );
  };
  const onAttemptEnd = (failed: boolean) => (message: unknown) => {
    const end = message as AttemptMessage & {
      durationMs?: number;
      errorCode?: string;
      willFailover?: boolean;
    };
    const span = attempts.get(attemptKey(end));
    if (!span) return;
    attempts.delete(attemptKey(end));
    if (end.durationMs !== undefined) span.setAttribute('asm.duration_ms', end.durationMs);
    if (failed) {
      if (end.errorCode !== undefined) span.setAttribute('asm.error_code', end.errorCode);
      span.setAttribute('asm.will_failover', end.willFailover === true);
      span.setStatus({ code: STATUS_ERROR, message: end.errorCode ?? 'failed' });
    } else {
      span.setStatus({ code: STATUS_OK });
    }
    span.end();
  };
  const onAttemptStop = onAttemptEnd(false);
  const onAttemptFailure = onAttemptEnd(true);
  const subscriptions: [string, (message: unknown) => void][] = [
    [ASM_CHANNELS.runStart, onStart],
    [ASM_CHANNELS.runEnd, onEnd],
    [ROUTER_ATTEMPT_CHANNELS.start, onAttemptStart],
    [ROUTER_ATTEMPT_CHANNELS.stop, onAttemptStop],
    [ROUTER_ATTEMPT_CHANNELS.failure, onAttemptFailure],
  ];
  for (const [name, listener] of subscriptions) diagnosticsChannel.subscribe(name, listener);
  return () => {
    for (const [name, listener] of subscriptions) diagnosticsChannel.unsubscribe(name, listener);
    for (const span of [...spans.values(), ...attempts.values()]) span.end();
    spans.clear();
    attempts.clear();
  };
}
