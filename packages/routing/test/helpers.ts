import {
  type AdapterEvent,
  AsmError,
  type ContinuationMode,
  createRun,
  createSession,
  type ExecuteResult,
  type ProviderAdapter,
  type Session,
  type Transcript,
} from '@asm/core';

/** What a direct `execute` call produced. */
export interface Outcome {
  events: AdapterEvent[];
  result?: ExecuteResult;
  error?: AsmError;
}

/** A session for direct calls (active, optionally with metadata). */
export function testSession(metadata: Record<string, unknown> = {}): Session {
  const session = createSession({ agentId: 'routing-test', metadata });
  session.status = 'active';
  return session;
}

/** A clock the test moves by hand. */
export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
  };
}

/** Calls `adapter.execute` directly, the way the manager would, recording the events. */
export async function executeDirect(
  adapter: ProviderAdapter,
  options: {
    session?: Session;
    input?: string;
    adapterOptions?: Record<string, unknown>;
    continuation?: { mode: ContinuationMode; providerSessionId?: string; transcript?: Transcript };
    signal?: AbortSignal;
    onEvent?: (event: AdapterEvent) => void;
  } = {},
): Promise<Outcome> {
  const session = options.session ?? testSession();
  const run = {
    ...createRun({ sessionId: session.id, input: options.input ?? 'Say hello' }),
    status: 'running' as const,
  };
  const events: AdapterEvent[] = [];
  const transcript: Transcript = options.continuation?.transcript ?? {
    sessionId: session.id,
    messages: [],
    metadata: {},
  };
  const outcome: Outcome = { events };
  try {
    outcome.result = await adapter.execute(run, session, {
      signal: options.signal ?? new AbortController().signal,
      emit(event) {
        events.push(event);
        options.onEvent?.(event);
      },
      continuation: { ...(options.continuation ?? { mode: 'none' }), loadTranscript: async () => transcript },
      authorizeToolCall: async () => ({ allow: true }),
      ...(options.adapterOptions === undefined ? {} : { adapterOptions: options.adapterOptions }),
    });
  } catch (error) {
    outcome.error = AsmError.isInstance(error) ? error : AsmError.from(error);
  }
  return outcome;
}

/** The `data` of an event as a record. */
export function dataOf(event: AdapterEvent | undefined): Record<string, unknown> {
  return (event?.data ?? {}) as Record<string, unknown>;
}

/** Event types in order. */
export function typesOf(events: readonly { type: string }[]): string[] {
  return events.map((event) => event.type);
}
