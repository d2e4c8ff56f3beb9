import diagnosticsChannel from 'node:diagnostics_channel';
import {
  ASM_CHANNELS,
  createInMemoryStore,
  createSessionManager,
  type EventsStoredMessage,
  instrumentOpenTelemetry,
  type RunEndMessage,
  type RunStartMessage,
  type SessionLifecycleMessage,
  type StoreCallMessage,
} from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockProvider } from '../src/fakes/index.js';

const subscriptions: [string, (message: unknown) => void][] = [];
function listen<T>(name: string): T[] {
  const messages: T[] = [];
  const listener = (message: unknown) => messages.push(message as T);
  diagnosticsChannel.subscribe(name, listener);
  subscriptions.push([name, listener]);
  return messages;
}
afterEach(() => {
  for (const [name, listener] of subscriptions.splice(0)) diagnosticsChannel.unsubscribe(name, listener);
});

describe('diagnostics channels', () => {
  it('publish session, run, event and store activity with the documented payloads', async () => {
    const lifecycle = listen<SessionLifecycleMessage>(ASM_CHANNELS.sessionLifecycle);
    const starts = listen<RunStartMessage>(ASM_CHANNELS.runStart);
    const ends = listen<RunEndMessage>(ASM_CHANNELS.runEnd);
    const stored = listen<EventsStoredMessage>(ASM_CHANNELS.eventsStored);
    const calls = listen<StoreCallMessage>(ASM_CHANNELS.storeCall);
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: createMockProvider({
        model: 'claude-haiku-4-5',
        tokenUsage: { inputTokens: 1000, outputTokens: 100 },
      }),
    });
    const result = await manager.runOnce('hi');
    expect(lifecycle.map((message) => `${message.from}->${message.to}`)).toEqual([
      'pending->active',
      'active->completed',
    ]);
    expect(starts).toEqual([{ runId: result.runId, sessionId: result.sessionId, provider: 'mock' }]);
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({
      runId: result.runId,
      status: 'completed',
      provider: 'mock',
      model: 'claude-haiku-4-5',
    });
    expect(ends[0]?.tokenUsage.inputTokens).toBe(1000);
    expect(ends[0]?.costUsd).toBeGreaterThan(0);
    const storedIds = stored.flatMap((message) => message.events.map((event) => event.id));
    expect(storedIds).toEqual((await store.getEvents(result.sessionId)).map((event) => event.id));
    expect(calls.some((message) => message.operation === 'appendEvents')).toBe(true);
    expect(calls.every((message) => message.durationMs >= 0)).toBe(true);
    await store.close();
  });

  it('reports the error code of a failed run and of a failed store call', async () => {
    const ends = listen<RunEndMessage>(ASM_CHANNELS.runEnd);
    const calls = listen<StoreCallMessage>(ASM_CHANNELS.storeCall);
    const store = createInMemoryStore();
    const manager = createSessionManager({
      store,
      provider: createMockProvider({ failWith: 'provider_unavailable' }),
    });
    await manager.runOnce('hi').catch(() => undefined);
    expect(ends[0]).toMatchObject({ status: 'failed', errorCode: 'provider_unavailable' });
    await store.close();
    await manager.startSession().catch(() => undefined);
    expect(calls.at(-1)).toMatchObject({ operation: 'saveSession', errorCode: 'storage_connection_failed' });
  });
});

describe('instrumentOpenTelemetry', () => {
  it('makes one span per run with token, cost and status attributes', async () => {
    const spans: {
      name: string;
      attributes: Record<string, string | number | boolean>;
      status?: { code: number };
      ended: boolean;
    }[] = [];
    const tracer = {
      startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean> }) {
        const span = {
          name,
          attributes: { ...(options?.attributes ?? {}) },
          status: undefined as { code: number } | undefined,
          ended: false,
        };
        spans.push(span);
        return {
          setAttribute: (key: string, value: string | number | boolean) => {
            span.attributes[key] = value;
          },
          setStatus: (status: { code: number }) => {
            span.status = status;
          },
          end: () => {
            span.ended = true;
          },
        };
      },
    };
    const stop = instrumentOpenTelemetry({ tracer });
    const store = createInMemoryStore();
    const ok = createSessionManager({
      store,
      provider: createMockProvider({
        model: 'claude-haiku-4-5',
        tokenUsage: { inputTokens: 10, outputTokens: 5, cacheReadTokens: 3 },
      }),
    });
    const result = await ok.runOnce('hi');
    const failing = createSessionManager({
      store,
      provider: createMockProvider({ failWith: 'provider_rate_limited' }),
    });
    await failing.runOnce('hi').catch(() => undefined);
    stop();
    expect(spans).toHaveLength(2);
    expect(spans[0]).toMatchObject({
      name: 'asm.run',
      ended: true,
      status: { code: 1 },
      attributes: {
        'asm.run_id': result.runId,
        'asm.model': 'claude-haiku-4-5',
        'asm.tokens.input': 10,
        'asm.tokens.cache_read': 3,
      },
    });
    expect(typeof spans[0]?.attributes['asm.cost_usd']).toBe('number');
    expect(spans[1]).toMatchObject({
      status: { code: 2 },
      attributes: { 'asm.error_code': 'provider_rate_limited' },
    });
    await store.close();
  });
});
