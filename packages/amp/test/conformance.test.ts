import { tmpdir } from 'node:os';
import { testProviderAdapter } from '@asm/testing';
import { afterAll } from 'vitest';
import { type AmpProviderSettings, createAmpProvider } from '../src/index.js';
import { createFakeAmp, fixtureSteps } from './helpers.js';

const fake = createFakeAmp({
  success: { steps: fixtureSteps('tool-round-trip') },
  'rate-limited': { steps: [{ stderr: 'Error: 429 Too Many Requests' }], exitCode: 1 },
  'error-result': { steps: fixtureSteps('error-result'), exitCode: 1 },
  stall: { steps: fixtureSteps('plain-answer').slice(0, 2), stall: true },
});
afterAll(() => fake.cleanup());

const amp = (scenario: string, overrides: Partial<AmpProviderSettings> = {}) =>
  createAmpProvider({
    cwd: tmpdir(),
    executablePath: fake.path,
    apiKey: 'amp-test-key',
    env: { ASM_FAKE_SCENARIO: scenario },
    ...overrides,
  });

testProviderAdapter({
  name: 'amp (fake CLI)',
  create: (scenario) => amp(String(scenario.settings?.scenario), scenario.settings?.overrides ?? {}),
  scenarios: {
    success: { settings: { scenario: 'success' } },
    errors: [
      { name: 'rate limited exit', code: 'provider_rate_limited', settings: { scenario: 'rate-limited' } },
      { name: 'error result', code: 'provider_error', settings: { scenario: 'error-result' } },
      {
        name: 'missing CLI',
        code: 'provider_unavailable',
        settings: { scenario: 'success', overrides: { executablePath: '/nonexistent/amp' } },
      },
      {
        name: 'missing API key',
        code: 'provider_authentication_failed',
        settings: { scenario: 'success', overrides: { apiKey: undefined, env: { AMP_API_KEY: undefined } } },
      },
    ],
    cancel: { settings: { scenario: 'stall' }, after: 'message_streamed' },
  },
});
