import { createInMemoryStore, createSessionManager, instrumentOpenTelemetry } from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';
import { expect, it } from 'vitest';
import { createRouter } from '../src/index.js';

it('instrumentOpenTelemetry makes a span per run and one per provider attempt behind a router', async () => {
  const spans: {
    name: string;
    attributes: Record<string, string | number | boolean>;
    status?: number;
    ended: boolean;
  }[] = [];
  const tracer = {
    startSpan(name: string, options?: { attributes?: Record<string, string | number | boolean> }) {
      const span = {
        name,
        attributes: { ...(options?.attributes ?? {}) },
        status: undefined as number | undefined,
        ended: false,
      };
      spans.push(span);
      return {
        setAttribute: (key: string, value: string | number | boolean) => {
          span.attributes[key] = value;
        },
        setStatus: (status: { code: number }) => {
          span.status = status.code;
        },
        end: () => {
          span.ended = true;
        },
      };
    },
  };
  const stop = instrumentOpenTelemetry({ tracer });
  try {
    const a = createMockProvider({ name: 'a', failWith: { code: 'provider_unavailable', afterDeltas: 0 } });
    const b = createMockProvider({
      name: 'b',
      model: 'claude-haiku-4-5',
      tokenUsage: { inputTokens: 10, outputTokens: 2 },
    });
    const router = createRouter({ providers: [a, b], sticky: false, cooldownMs: 0, circuitBreaker: false });
    const store = createInMemoryStore();
    const result = await createSessionManager({ store, provider: router }).runOnce('hi');
    await store.close();
    const run = spans.find((span) => span.name === 'asm.run');
    expect(run).toMatchObject({
      ended: true,
      status: 1,
      attributes: { 'asm.run_id': result.runId, 'asm.provider': 'b' },
    });
    const attempts = spans.filter((span) => span.name === 'asm.provider_attempt');
    expect(
      attempts.map((span) => [span.attributes['asm.provider'], span.attributes['asm.attempt'], span.status]),
    ).toEqual([
      ['a', 1, 2],
      ['b', 2, 1],
    ]);
    expect(attempts[0]?.attributes).toMatchObject({
      'asm.error_code': 'provider_unavailable',
      'asm.will_failover': true,
    });
    expect(attempts.every((span) => span.ended)).toBe(true);
  } finally {
    stop();
  }
});
