import { createInMemoryStore, createSessionManager, type SessionManager, type SessionStore } from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_TEST_TIMEOUT_MS, type AgentKit, createAgentKit, requestText } from './agent-helpers.js';

let kit: AgentKit;
let store: SessionStore;
let manager: SessionManager;
beforeAll(async () => {
  kit = await createAgentKit();
  store = createInMemoryStore();
  // One working directory for the session: Claude Code keeps its sessions per folder.
  manager = createSessionManager({
    store,
    provider: kit.agent({ model: 'scenario:cache-usage', workingDirectory: kit.workspace() }),
  });
});
afterAll(async () => {
  await store.close();
  await kit.close();
});

describe('claude agent backend - sessions, usage and cost (real claude binary, fake API)', () => {
  it(
    'reports cache tokens and Claude Code’s own cost, resumes the agent session in a second run, and counts only that run',
    async () => {
      kit.server.reset();
      const session = await manager.startSession();
      const first = await manager.executeRun(
        (await manager.startRun(session.id, 'Remember the word kiwi')).id,
        {
          timeoutMs: AGENT_TEST_TIMEOUT_MS,
        },
      );
      expect(first.tokenUsage).toEqual({
        inputTokens: 10,
        outputTokens: 20,
        cacheReadTokens: 1000,
        cacheWriteTokens: 500,
        cacheWrite1hTokens: 200,
        totalTokens: 1530,
      });
      expect(first.costUsd).toBeGreaterThan(0);
      const completed = first.events.find((event) => event.type === 'run_completed');
      expect(completed?.data.costUsd).toBe(first.costUsd);
      expect(completed?.data.tokenUsage).toEqual(first.tokenUsage);
      expect(typeof first.providerSessionId).toBe('string');
      const stored = await manager.getSession(session.id);
      expect(stored?.metadata.providerSessions).toMatchObject({
        claude: { providerSessionId: first.providerSessionId },
      });

      const second = await manager.executeRun((await manager.startRun(session.id, 'Which word was it?')).id, {
        timeoutMs: AGENT_TEST_TIMEOUT_MS,
      });
      const started = second.events.find((event) => event.type === 'run_started');
      expect(started?.data.providerSessionId).toBe(first.providerSessionId);
      expect(second.providerSessionId).toBe(first.providerSessionId);
      // The resumed request carries the earlier turn, from Claude Code's own session file.
      expect(kit.server.requests).toHaveLength(2);
      const resumed = requestText(kit.server.requests[1]);
      expect(resumed).toContain('Remember the word kiwi');
      expect(resumed).toContain('Cached answer.');
      expect(resumed).toContain('Which word was it?');
      // Claude Code's modelUsage and total_cost_usd cover both runs of a resumed session; the run
      // reports its own share only.
      expect(second.tokenUsage).toEqual(first.tokenUsage);
      expect(second.costUsd).toBeCloseTo(first.costUsd!, 10);
    },
    AGENT_TEST_TIMEOUT_MS * 2,
  );

  it(
    "continuation 'replay' sends the transcript in the prompt and starts a new agent session",
    async () => {
      kit.server.reset();
      const session = await manager.startSession();
      const first = await manager.executeRun(
        (await manager.startRun(session.id, 'Remember the word fig')).id,
        {
          timeoutMs: AGENT_TEST_TIMEOUT_MS,
        },
      );
      const replayed = await manager.executeRun((await manager.startRun(session.id, 'Which fruit?')).id, {
        continuation: 'replay',
        timeoutMs: AGENT_TEST_TIMEOUT_MS,
      });
      expect(replayed.providerSessionId).not.toBe(first.providerSessionId);
      const prompt = requestText(kit.server.requests[1]);
      expect(prompt).toContain('user: Remember the word fig');
      expect(prompt).toContain('assistant: Cached answer.');
      expect(prompt).toContain('Which fruit?');
    },
    AGENT_TEST_TIMEOUT_MS * 2,
  );
});
