import { testProviderAdapter } from '@asm/testing';
import { createFakeAnthropicServer, type FakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, beforeAll } from 'vitest';
import { createClaudeProvider } from '../src/index.js';

let server: FakeAnthropicServer;
beforeAll(async () => {
  server = await createFakeAnthropicServer();
});
afterAll(() => server.close());

testProviderAdapter({
  name: 'claude (messages)',
  create: (scenario) =>
    createClaudeProvider({
      apiKey: 'test',
      baseURL: server.url,
      maxRetries: 0,
      model: String(scenario.settings?.model),
    }),
  scenarios: {
    success: { settings: { model: 'scenario:text' } },
    errors: [
      { name: '401', code: 'provider_authentication_failed', settings: { model: 'scenario:401' } },
      { name: '429', code: 'provider_rate_limited', settings: { model: 'scenario:429' } },
      { name: '529', code: 'provider_unavailable', settings: { model: 'scenario:529' } },
    ],
    cancel: { settings: { model: 'scenario:stall' }, after: 'run_started' },
  },
});
