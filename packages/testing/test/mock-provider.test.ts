import { createMockProvider } from '../src/fakes/index.js';
import { testProviderAdapter } from '../src/index.js';

testProviderAdapter({
  name: 'mock provider',
  create: (scenario) => createMockProvider(scenario.settings ?? {}),
  scenarios: {
    success: { settings: { response: 'Hello from the conformance suite', chunkDelayMs: 0 } },
    errors: [
      { name: 'rate limit', code: 'provider_rate_limited', settings: { failWith: 'provider_rate_limited' } },
      {
        name: 'failure mid-stream',
        code: 'provider_unavailable',
        settings: { deltas: 20, failWith: { code: 'provider_unavailable', afterDeltas: 5 } },
      },
      {
        name: 'authentication',
        code: 'provider_authentication_failed',
        settings: { failWith: 'provider_authentication_failed' },
      },
    ],
    cancel: { settings: { stall: true }, after: 'run_started' },
  },
});
