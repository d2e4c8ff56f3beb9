import {
  type AdapterEvent,
  type AsmError,
  createInMemoryStore,
  createRun,
  createSession,
  createSessionManager,
  type ExecuteOptions,
  isTerminalRunEventType,
} from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_TEST_TIMEOUT_MS,
  type AgentKit,
  commandOf,
  createAgentKit,
  processesOfRun,
} from './agent-helpers.js';
import { waitFor } from './helpers.js';

let kit: AgentKit;
beforeAll(async () => {
  kit = await createAgentKit();
});
afterAll(() => kit.close());

/** Calls `execute` directly with an emit of our own. */
async function executeWith(model: string, emit: (event: AdapterEvent, runId: string) => void) {
  const session = { ...createSession({ agentId: 'test' }), status: 'active' as const };
  const run = {
    ...createRun({ sessionId: session.id, input: 'Tell me a story' }),
    status: 'running' as const,
  };
  const transcript = { sessionId: session.id, messages: [], metadata: {} };
  const options: ExecuteOptions = {
    signal: new AbortController().signal,
    emit: (event) => emit(event, run.id),
    continuation: { mode: 'none', loadTranscript: async () => transcript },
    authorizeToolCall: async () => ({ allow: true }),
  };
  const error = await kit
    .agent({ model })
    .execute(run, session, options)
    .then(
      () => undefined,
      (caught: unknown) => caught as AsmError,
    );
  return { error, runId: run.id };
}

describe('claude agent backend - cancellation and cleanup (real claude binary, fake API)', () => {
  it(
    'cancelRun mid-stream - interrupt() ends the turn, the run is cancelled, no claude process is left',
    async () => {
      kit.server.reset();
      const store = createInMemoryStore();
      const provider = kit.agent({ model: 'scenario:stall' });
      const manager = createSessionManager({ store, provider });
      const session = await manager.startSession();
      const run = await manager.startRun(session.id, 'Tell me a story');
      let live: number[] = [];
      const error = await manager
        .executeRun(run.id, {
          timeoutMs: AGENT_TEST_TIMEOUT_MS,
          onEvent: (event) => {
            if (event.type !== 'message_streamed' || live.length > 0) return;
            live = processesOfRun(run.id);
            void manager.cancelRun(run.id, { reason: 'user pressed stop' });
          },
        })
        .then(
          () => undefined,
          (caught: unknown) => caught as AsmError,
        );
      expect(error?.code).toBe('cancelled');
      expect(live.length).toBeGreaterThan(0); // the CLI was running when the cancel came
      // The run settles once the turn is interrupted; the process exits right after, on its own.
      await waitFor(() => processesOfRun(run.id).length === 0, 30_000);
      await provider.waitForProcesses();
      expect((await manager.getRun(run.id))?.status).toBe('cancelled');
      const events = await store.getEvents(session.id, { runId: run.id });
      expect(events.filter((event) => isTerminalRunEventType(event.type)).map((event) => event.type)).toEqual(
        ['run_cancelled'],
      );
      expect(events.at(-1)?.data).toMatchObject({ interrupted: true });
      expect(events.filter((event) => event.type === 'message_streamed').length).toBeGreaterThan(0);
      // The interrupted turn aborted its API request.
      await waitFor(() => kit.server.requests[0]?.clientClosed === true, 30_000);
      await store.close();
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'cancelRun while the agent runs a command - the command is stopped too, nothing is left',
    async () => {
      kit.server.reset();
      const store = createInMemoryStore();
      const provider = kit.agent({ model: 'scenario:tail' });
      const manager = createSessionManager({ store, provider });
      const session = await manager.startSession();
      const run = await manager.startRun(session.id, 'Wait a while');
      let sawCommand = false;
      const error = await manager
        .executeRun(run.id, {
          timeoutMs: AGENT_TEST_TIMEOUT_MS,
          onEvent: (event) => {
            if (event.type !== 'tool_call_started') return;
            void waitFor(() => processesOfRun(run.id).some((pid) => commandOf(pid) === 'tail'), 60_000).then(
              () => {
                sawCommand = true;
                return manager.cancelRun(run.id, { reason: 'too slow' });
              },
            );
          },
        })
        .then(
          () => undefined,
          (caught: unknown) => caught as AsmError,
        );
      expect(sawCommand).toBe(true); // `tail -f /dev/null` was running under the agent when the cancel came
      expect(error?.code).toBe('cancelled');
      await waitFor(() => processesOfRun(run.id).length === 0, 30_000);
      await store.close();
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a run timeout - the run ends timeout, no claude process is left',
    async () => {
      kit.server.reset();
      const store = createInMemoryStore();
      const manager = createSessionManager({ store, provider: kit.agent({ model: 'scenario:stall' }) });
      const session = await manager.startSession();
      const run = await manager.startRun(session.id, 'Tell me a story');
      const error = await manager.executeRun(run.id, { timeoutMs: 5_000 }).then(
        () => undefined,
        (caught: unknown) => caught as AsmError,
      );
      expect(error?.code).toBe('timeout');
      expect((await manager.getRun(run.id))?.status).toBe('timeout');
      await waitFor(() => processesOfRun(run.id).length === 0, 30_000);
      const events = await store.getEvents(session.id, { runId: run.id });
      expect(events.at(-1)?.type).toBe('run_timeout');
      await store.close();
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a run resuming the session of a cancelled run continues it (after that process exited)',
    async () => {
      kit.server.reset();
      const store = createInMemoryStore();
      const provider = kit.agent({ model: 'scenario:stall' });
      const manager = createSessionManager({ store, provider });
      const session = await manager.startSession();
      const first = await manager.startRun(session.id, 'Remember the word plum');
      await manager
        .executeRun(first.id, {
          timeoutMs: AGENT_TEST_TIMEOUT_MS,
          onEvent: (event) => {
            if (event.type === 'message_streamed') void manager.cancelRun(first.id);
          },
        })
        .catch(() => undefined);
      expect((await manager.getRun(first.id))?.status).toBe('cancelled');
      const second = await manager.executeRun((await manager.startRun(session.id, 'Which word?')).id, {
        timeoutMs: AGENT_TEST_TIMEOUT_MS,
        adapterOptions: { model: 'scenario:text' },
      });
      expect(second.status).toBe('completed');
      const [firstStarted] = await store.getEvents(session.id, { runId: first.id, types: ['run_started'] });
      expect(typeof firstStarted?.data.providerSessionId).toBe('string');
      expect(second.providerSessionId).toBe(firstStarted?.data.providerSessionId); // resumed, not replayed
      const resumed = JSON.stringify(kit.server.requests[1]?.body.messages);
      expect(resumed).toContain('Remember the word plum');
      expect(resumed).not.toContain('user: Remember the word plum');
      expect(resumed).toContain('Which word?');
      expect(processesOfRun(first.id)).toEqual([]);
      await store.close();
    },
    AGENT_TEST_TIMEOUT_MS * 2,
  );

  it(
    'a crash on the adapter side (emit throws) - internal_error, no claude process is left',
    async () => {
      kit.server.reset();
      const { error, runId } = await executeWith('scenario:stall', (event) => {
        if (event.type === 'message_streamed') throw new Error('renderer crashed');
      });
      expect(error?.code).toBe('internal_error');
      expect(error?.message).toBe('renderer crashed');
      expect(processesOfRun(runId)).toEqual([]);
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'the claude process killed mid-stream - provider_error (process_error), nothing left behind',
    async () => {
      kit.server.reset();
      const events: AdapterEvent[] = [];
      let killed = 0;
      const { error, runId } = await executeWith('scenario:stall', (event, id) => {
        events.push(event);
        if (event.type === 'message_streamed' && killed === 0) {
          for (const pid of processesOfRun(id)) {
            process.kill(pid, 'SIGKILL');
            killed++;
          }
        }
      });
      expect(killed).toBeGreaterThan(0);
      expect(error?.code).toBe('provider_error');
      expect(error?.providerError?.kind).toBe('process_error');
      expect(events.at(-1)?.type).toBe('run_failed');
      expect(processesOfRun(runId)).toEqual([]);
    },
    AGENT_TEST_TIMEOUT_MS,
  );
});
