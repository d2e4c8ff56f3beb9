// Test doubles with no vitest import: usable from any test runner, scripts and examples.

export type { FakeCli, FakeCliInvocation, FakeCliOptions, FakeCliScenario, FakeCliStep } from './fake-cli.js';
export { createFakeCli } from './fake-cli.js';
export type { MockFailure, MockProvider, MockProviderCall, MockProviderSettings } from './mock-provider.js';
export { createMockProvider } from './mock-provider.js';
export { SECRET_SAMPLES } from './secret-samples.js';
