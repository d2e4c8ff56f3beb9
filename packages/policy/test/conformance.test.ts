import { testProviderAdapter } from '@asm/testing';
import { createMockProvider } from '@asm/testing/fakes';
import { policyRunOptions } from '../src/index.js';

// A policy that is never violated must not change the provider contract seen through a manager:
// run_started first, one terminal event last, errors and cancellation as they are.
const executeOptions = policyRunOptions({
  name: 'conformance',
  limits: { maxTotalTokens: 1_000_000, maxDurationMs: 60_000, maxToolCalls: 100, maxCostUsd: 100 },
  tools: { allow: ['*'], deny: ['rm_rf'] },
});

testProviderAdapter({
  name: 'mock provider under a policy',
  create: (scenario) => createMockProvider(scenario.settings ?? {}),
  scenarios: {
    success: { executeOptions },
    errors: [
      {
        name: 'rate limit',
        code: 'provider_rate_limited',
        settings: { failWith: 'provider_rate_limited' },
        executeOptions,
      },
    ],
    cancel: { settings: { stall: true }, executeOptions },
  },
});
