import { testProviderAdapter } from '@asm/testing';
import { afterAll, beforeAll } from 'vitest';
import { AGENT_TEST_TIMEOUT_MS, type AgentKit, createAgentKit } from './agent-helpers.js';

let kit: AgentKit;
beforeAll(async () => {
  kit = await createAgentKit();
});
afterAll(() => kit.close());

// The real claude binary against the fake Anthropic API, one process per run.
testProviderAdapter({
  name: 'claude (agent)',
  create: (scenario) => kit.agent({ model: String(scenario.settings?.model) }),
  scenarios: {
    success: { settings: { model: 'scenario:text' } },
    errors: [
      { name: '401', code: 'provider_authentication_failed', settings: { model: 'scenario:401' } },
      { name: '429', code: 'provider_rate_limited', settings: { model: 'scenario:429' } },
      { name: '529', code: 'provider_unavailable', settings: { model: 'scenario:529' } },
    ],
    cancel: { settings: { model: 'scenario:stall' }, after: 'message_streamed' },
  },
  timeoutMs: AGENT_TEST_TIMEOUT_MS,
});
