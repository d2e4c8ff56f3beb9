import { testProviderAdapter } from '@asm/testing';
import { createMockProvider } from '@asm/testing/fakes';
import { createRouter } from '../src/index.js';

// A router over two mock providers; the scenario's settings configure the first one.
testProviderAdapter({
  name: 'router over mock providers',
  create: (scenario) =>
    createRouter({
      providers: [
        createMockProvider({ name: 'primary', ...(scenario.settings ?? {}) }),
        createMockProvider({ name: 'backup' }),
      ],
    }),
  scenarios: {
    success: {},
    errors: [
      {
        name: 'a non-retryable error stops at once',
        code: 'provider_authentication_failed',
        settings: { failWith: 'provider_authentication_failed' },
      },
      {
        name: 'every provider down',
        code: 'provider_unavailable',
        create: () =>
          createRouter({
            providers: ['a', 'b'].map((name) =>
              createMockProvider({ name, failWith: { code: 'provider_rate_limited', afterDeltas: 0 } }),
            ),
          }),
      },
    ],
    cancel: { settings: { stall: true }, after: 'run_started' },
  },
});
