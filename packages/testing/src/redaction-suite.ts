import { type AdapterEvent, createSessionManager, type SessionStore } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { createMockProvider } from './fakes/mock-provider.js';
import { SECRET_SAMPLES } from './fakes/secret-samples.js';

/** Options of `testRedaction`. */
export interface TestRedactionOptions {
  /** Name of the store under test. */
  name: string;
  create: () => SessionStore | Promise<SessionStore>;
  cleanup?: (store: SessionStore) => void | Promise<void>;
  timeoutMs?: number;
}

async function everythingStored(store: SessionStore, sessionId: string): Promise<string> {
  const session = await store.getSession(sessionId);
  const runs = await store.listRuns(sessionId);
  const events = await store.getEvents(sessionId);
  return JSON.stringify({ session, runs, events });
}

/**
 * Proves that secrets never reach a store: runs sessions through a `SessionManager` (redaction on by
 * default) whose input, streamed text, tool input and output, messages and errors carry a sample of
 * every default pattern, then reads back everything the store holds and looks for each secret.
 */
export function testRedaction(options: TestRedactionOptions): void {
  const timeout = options.timeoutMs ?? 20_000;
  const allText = SECRET_SAMPLES.map(([, text]) => text).join('\n');
  const secrets = SECRET_SAMPLES.map(([category, , secret]) => [category, secret] as const);

  describe(`redaction through ${options.name}`, () => {
    it(
      'stores no secret from input, streamed text, tool calls, messages or errors',
      async () => {
        const store = await options.create();
        try {
          const scripted: AdapterEvent[] = [
            ...SECRET_SAMPLES.map(
              ([, text]) =>
                ({ type: 'message_streamed', data: { kind: 'text', delta: text } }) as AdapterEvent,
            ),
            {
              type: 'tool_call_started',
              data: { toolCallId: 't1', toolName: 'bash', toolInput: { command: allText } },
            },
            {
              type: 'tool_call_completed',
              data: {
                toolCallId: 't1',
                toolName: 'bash',
                toolOutput: { stdout: allText, nested: [{ text: allText }] },
              },
            },
            { type: 'error_occurred', data: { errorCode: 'tool_error', errorMessage: allText } },
            { type: 'message_received', data: { role: 'assistant', content: allText } },
          ];
          const provider = createMockProvider({ events: scripted, response: 'done' });
          const manager = createSessionManager({ store, provider });
          const first = await manager.runOnce({ messages: [{ role: 'user', content: allText }] });

          provider.configure({ events: [], failWith: { code: 'provider_error', message: allText } });
          const session = await manager.startSession({ metadata: { note: 'second' } });
          await manager.runOnce(`again ${allText}`, { sessionId: session.id }).catch(() => undefined);

          for (const sessionId of [first.sessionId, session.id]) {
            const stored = await everythingStored(store, sessionId);
            expect(stored).toContain('[REDACTED]');
            for (const [category, secret] of secrets) {
              expect(stored.includes(JSON.stringify(secret).slice(1, -1)), `${category} leaked`).toBe(false);
            }
          }
        } finally {
          await (options.cleanup ? options.cleanup(store) : store.close());
        }
      },
      timeout,
    );
  });
}
