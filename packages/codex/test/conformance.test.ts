import { testProviderAdapter } from '@asm/testing';
import { createFakeResponsesServer, type FakeResponsesServer } from '@asm/testing/fakes';
import { afterAll, beforeAll } from 'vitest';
import { createCodexProvider } from '../src/index.js';
import { realCodexHome } from './helpers.js';

// Both backends against the fake Responses API: `cli` runs the real codex binary, `responses` the openai client.
let server: FakeResponsesServer;
let home: ReturnType<typeof realCodexHome>;
beforeAll(async () => {
  server = await createFakeResponsesServer();
  home = realCodexHome(server);
});
afterAll(async () => {
  await server.close();
  home.cleanup();
});

const scenarios = {
  success: { settings: { model: 'scenario:text' } },
  errors: [
    { name: 'HTTP 429', code: 'provider_rate_limited' as const, settings: { model: 'scenario:429' } },
    {
      name: 'HTTP 401',
      code: 'provider_authentication_failed' as const,
      settings: { model: 'scenario:401' },
    },
  ],
  cancel: { settings: { model: 'scenario:stall' } },
};

testProviderAdapter({
  name: 'codex (cli, real codex binary)',
  create: (scenario) =>
    createCodexProvider(
      home.settings({ workingDirectory: home.workspace, model: String(scenario.settings?.model) }),
    ),
  scenarios,
});

testProviderAdapter({
  name: 'codex (responses)',
  create: (scenario) =>
    createCodexProvider({
      backend: 'responses',
      apiKey: 'sk-test',
      baseURL: server.url,
      maxRetries: 0,
      model: String(scenario.settings?.model),
    }),
  scenarios: {
    ...scenarios,
    errors: [
      ...scenarios.errors,
      {
        name: 'response.failed',
        code: 'provider_unavailable' as const,
        settings: { model: 'scenario:failed' },
      },
    ],
  },
});
