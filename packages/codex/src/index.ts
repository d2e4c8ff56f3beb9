export type { CodexPermissionMapping } from './cli-backend.js';
export { mapCodexPermissionMode } from './cli-backend.js';
export type { CodexErrorClassification } from './codex-errors.js';
export { classifyCodexError, classifyResponsesErrorCode } from './codex-errors.js';
export { CodexEventMapper } from './codex-event-mapper.js';
export type { CodexProvider } from './codex-provider.js';
export { createCodexProvider } from './codex-provider.js';
export { mapIncompleteReason, openAIFailure } from './responses-backend.js';
export type {
  CodexSdkClient,
  CodexSdkLoader,
  CodexSdkModule,
  CodexSdkOptions,
  CodexSdkThread,
  CodexSdkThreadOptions,
} from './sdk-loader.js';
export { CODEX_SDK_PACKAGE } from './sdk-loader.js';
export type {
  CodexApprovalPolicy,
  CodexCliSettings,
  CodexCommonSettings,
  CodexConfigValue,
  CodexProviderSettings,
  CodexReasoningEffort,
  CodexResponsesSettings,
  CodexSandboxMode,
} from './settings.js';
export { DEFAULT_RESPONSES_MODEL, validateCodexSettings } from './settings.js';
export type { CodexCumulativeUsage, CodexThreadUsageStore } from './usage.js';
export { createMemoryThreadUsageStore, parseCodexUsage, toTokenUsage, usageDelta } from './usage.js';
