// Test doubles with no vitest import: usable from any test runner, scripts and examples.

export type {
  FakeAnthropicBlock,
  FakeAnthropicHttpError,
  FakeAnthropicInterrupt,
  FakeAnthropicMessage,
  FakeAnthropicRequest,
  FakeAnthropicRequestBody,
  FakeAnthropicResponder,
  FakeAnthropicResponse,
  FakeAnthropicServer,
  FakeAnthropicServerOptions,
  FakeAnthropicStall,
  FakeAnthropicUsage,
} from './anthropic-server.js';
export { createFakeAnthropicServer, FAKE_ANTHROPIC_SCENARIOS } from './anthropic-server.js';
export type { FakeCli, FakeCliInvocation, FakeCliOptions, FakeCliScenario, FakeCliStep } from './fake-cli.js';
export { createFakeCli } from './fake-cli.js';
export type { MockFailure, MockProvider, MockProviderCall, MockProviderSettings } from './mock-provider.js';
export { createMockProvider } from './mock-provider.js';
export type {
  FakeResponsesHttpError,
  FakeResponsesInterrupt,
  FakeResponsesOutputItem,
  FakeResponsesRequest,
  FakeResponsesRequestBody,
  FakeResponsesResponder,
  FakeResponsesResponse,
  FakeResponsesServer,
  FakeResponsesServerOptions,
  FakeResponsesStall,
  FakeResponsesStream,
  FakeResponsesUsage,
} from './responses-server.js';
export {
  createFakeResponsesServer,
  FAKE_RESPONSES_DEFAULT_COMMAND,
  FAKE_RESPONSES_SCENARIOS,
  fakeResponsesLastUserText,
} from './responses-server.js';
export type {
  FakeS3Fault,
  FakeS3FaultRule,
  FakeS3Object,
  FakeS3Operation,
  FakeS3Request,
  FakeS3Server,
  FakeS3ServerOptions,
} from './s3-server.js';
export { createFakeS3Server, FAKE_S3_CREDENTIALS, FAKE_S3_FAULTS } from './s3-server.js';
export { SECRET_SAMPLES } from './secret-samples.js';
