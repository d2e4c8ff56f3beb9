import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AdapterEvent,
  createInMemoryStore,
  createSessionManager,
  newRunId,
  type RunExtension,
  type StoredEvent,
} from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_TEST_TIMEOUT_MS,
  type AgentKit,
  createAgentKit,
  processesOfRun,
  requestText,
  resultTextOf,
  toolResultsIn,
} from './agent-helpers.js';
import { executeDirectly, typesOf } from './helpers.js';

let kit: AgentKit;
beforeAll(async () => {
  kit = await createAgentKit();
});
afterAll(() => kit.close());

const dataOf = (events: AdapterEvent[], type: AdapterEvent['type']) =>
  events.filter((event) => event.type === type).map((event) => event.data as Record<string, unknown>);

describe('claude agent backend - streaming and tools (real claude binary, fake API)', () => {
  it(
    'streams unicode text and thinking deltas, then one message_received, usage and run_completed',
    async () => {
      kit.server.reset();
      const provider = kit.agent({ model: 'scenario:unicode', systemPrompt: 'Answer in three scripts.' });
      const runId = newRunId();
      const outcome = await executeDirectly(provider, { input: 'Greet me', runId });
      expect(outcome.error).toBeUndefined();
      const types = typesOf(outcome.events);
      expect(types[0]).toBe('run_started');
      expect(types.at(-1)).toBe('run_completed');
      expect(types.filter((type) => type === 'run_completed')).toHaveLength(1);

      const started = dataOf(outcome.events, 'run_started')[0]!;
      expect(started.model).toBe('scenario:unicode');
      expect(typeof started.providerSessionId).toBe('string');
      expect(started.cwd).toBe(provider.workingDirectory);

      const streamed = dataOf(outcome.events, 'message_streamed');
      const text = streamed.filter((data) => data.kind === 'text').map((data) => data.delta);
      const thinking = streamed.filter((data) => data.kind === 'thinking').map((data) => data.delta);
      expect(text).toEqual(['Grüße ', 'aus ', '東京 ', '🌸', ' — ça va?']);
      expect(thinking.join('')).toBe('Greeting in three scripts.');
      expect(dataOf(outcome.events, 'message_received')).toEqual([
        { role: 'assistant', content: 'Grüße aus 東京 🌸 — ça va?' },
      ]);

      const result = outcome.result!;
      expect(result.output).toEqual({ content: 'Grüße aus 東京 🌸 — ça va?', stopReason: 'end_turn' });
      expect(result.providerSessionId).toBe(started.providerSessionId);
      expect(result.tokenUsage).toMatchObject({ inputTokens: 30, outputTokens: 12 });
      expect(result.metadata?.requestIds).toEqual(['req_fake_1']);

      // What Claude Code sent: the prompt, and our system prompt appended to its own.
      expect(kit.server.requests).toHaveLength(1);
      const request = kit.server.requests[0]!;
      expect(request.path).toBe('/v1/messages');
      expect(request.body.model).toBe('scenario:unicode');
      expect(requestText(request)).toContain('Greet me');
      expect(JSON.stringify(request.body.system)).toContain('Answer in three scripts.');
      expect(processesOfRun(runId)).toEqual([]);
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'runs a Bash tool call for real: tool_call_started, then tool_call_completed with its output',
    async () => {
      kit.server.reset();
      const outcome = await executeDirectly(kit.agent({ model: 'scenario:bash' }), {
        input: 'Print the marker',
      });
      expect(outcome.error).toBeUndefined();
      const [call] = dataOf(outcome.events, 'tool_call_started');
      expect(call).toMatchObject({ toolName: 'Bash', toolInput: { command: 'echo acceptance-ok' } });
      const [completed] = dataOf(outcome.events, 'tool_call_completed');
      expect(completed).toMatchObject({
        toolCallId: call!.toolCallId,
        toolName: 'Bash',
        toolOutput: 'acceptance-ok',
      });
      expect(outcome.result?.output.content).toBe('Bash answered: acceptance-ok');
      // The tool loop ran inside the binary: the second request carried the real output.
      expect(kit.server.requests).toHaveLength(2);
      expect(resultTextOf(toolResultsIn(kit.server.requests[1])[0])).toBe('acceptance-ok');
      const types = typesOf(outcome.events);
      expect(types.indexOf('tool_call_started')).toBeLessThan(types.indexOf('tool_call_completed'));
      expect(outcome.result?.turnCount).toBe(2);
    },
    AGENT_TEST_TIMEOUT_MS,
  );
});

/** A run extension that holds every Write for a person (the manager then waits for a decision). */
const askForWrites: RunExtension = {
  name: 'ask-for-writes',
  authorizeToolCall: (call) =>
    call.name === 'Write' ? { ask: true, reason: 'Writes need a reviewer' } : undefined,
};

async function writeRun(decide: 'approve' | 'deny') {
  kit.server.reset();
  const workingDirectory = kit.workspace();
  const target = join(workingDirectory, 'notes.txt');
  const store = createInMemoryStore();
  const provider = kit.agent({ model: 'scenario:write', workingDirectory });
  const manager = createSessionManager({ store, provider, extensions: [askForWrites] });
  const session = await manager.startSession();
  const run = await manager.startRun(session.id, 'Write the notes');
  let fileWhileWaiting: boolean | undefined;
  const result = await manager.executeRun(run.id, {
    onEvent: (event: StoredEvent) => {
      if (event.type !== 'tool_approval_requested') return;
      fileWhileWaiting = existsSync(target);
      const toolCallId = event.data.toolCallId;
      void (decide === 'approve'
        ? manager.approveToolCall(run.id, toolCallId, { approvedBy: 'reviewer' })
        : manager.denyToolCall(run.id, toolCallId, {
            reason: 'Not in this repository',
            deniedBy: 'reviewer',
          }));
    },
  });
  const events = await store.getEvents(session.id, { runId: run.id });
  await store.close();
  return { result, events, target, fileWhileWaiting };
}

describe('claude agent backend - blocking approvals through canUseTool', () => {
  it(
    'a Write the approval hook denies: held until denied, not written, tool_call_failed with the reason, the model told',
    async () => {
      const { result, events, target, fileWhileWaiting } = await writeRun('deny');
      const types = events.map((event) => event.type);
      expect(types).toContain('tool_approval_requested');
      expect(fileWhileWaiting).toBe(false);
      expect(existsSync(target)).toBe(false);
      const requested = events.find((event) => event.type === 'tool_approval_requested')!;
      expect(requested.data).toMatchObject({ toolName: 'Write', reason: 'Writes need a reviewer' });
      expect((requested.data.toolInput as { file_path: string }).file_path).toBe(target);
      const denied = events.find((event) => event.type === 'tool_approval_denied')!;
      expect(denied.data).toMatchObject({
        toolCallId: requested.data.toolCallId,
        reason: 'Not in this repository',
      });
      const failed = events.find((event) => event.type === 'tool_call_failed')!;
      expect(failed.data).toMatchObject({
        toolCallId: requested.data.toolCallId,
        toolName: 'Write',
        errorMessage: 'Not in this repository',
        denied: true,
      });
      expect(types.indexOf('tool_approval_requested')).toBeLessThan(types.indexOf('tool_approval_denied'));
      expect(types.indexOf('tool_approval_denied')).toBeLessThan(types.indexOf('tool_call_failed'));
      // The model saw the denial as an error result.
      const [toolResult] = toolResultsIn(kit.server.requests[1]);
      expect(toolResult?.is_error).toBe(true);
      expect(resultTextOf(toolResult)).toBe('Not in this repository');
      expect(result.output.content).toBe('Write failed: Not in this repository');
      expect(result.status).toBe('completed');
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a Write the approval hook allows: held until approved, then written, tool_call_completed',
    async () => {
      const { result, events, target, fileWhileWaiting } = await writeRun('approve');
      expect(fileWhileWaiting).toBe(false);
      expect(readFileSync(target, 'utf8')).toBe('written by the agent\n');
      const types = events.map((event) => event.type);
      expect(types.indexOf('tool_approval_requested')).toBeLessThan(types.indexOf('tool_approval_granted'));
      expect(types.indexOf('tool_approval_granted')).toBeLessThan(types.indexOf('tool_call_completed'));
      expect(types).not.toContain('tool_call_failed');
      expect(result.output.content).toMatch(/^Write answered: /);
      expect(toolResultsIn(kit.server.requests[1])[0]?.is_error).not.toBe(true);
    },
    AGENT_TEST_TIMEOUT_MS,
  );

  it(
    'a deny answered by authorizeToolCall itself (no manager) leaves the file unwritten and reaches the model',
    async () => {
      kit.server.reset();
      const workingDirectory = kit.workspace();
      const outcome = await executeDirectly(kit.agent({ model: 'scenario:write', workingDirectory }), {
        decide: (call) => ({ allow: false, reason: `No ${call.name} today` }),
      });
      expect(outcome.error).toBeUndefined();
      expect(outcome.authorized.map((call) => call.name)).toEqual(['Write']);
      expect(existsSync(join(workingDirectory, 'notes.txt'))).toBe(false);
      expect(outcome.result?.output.content).toBe('Write failed: No Write today');
    },
    AGENT_TEST_TIMEOUT_MS,
  );
});
