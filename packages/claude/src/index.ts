export type {
  ClaudeAgentPermissionMode,
  ClaudeAgentProvider,
  ClaudeAgentRunOptions,
} from './agent-backend.js';
export {
  CLAUDE_AGENT_CAPABILITIES,
  CLAUDE_AGENT_RUN_ENV,
  claudeAgentPrompt,
  mapClaudeAgentPermissionMode,
} from './agent-backend.js';
export {
  claudeAgentApiError,
  claudeAgentProcessError,
  claudeAgentResultError,
  mapClaudeAgentAssistantError,
} from './agent-errors.js';
export type { ClaudeAgentApiFailure, ClaudeAgentResultUsage } from './agent-event-mapper.js';
export { ClaudeAgentEventMapper, resultUsage as claudeAgentResultUsage } from './agent-event-mapper.js';
export type {
  ClaudeAgentCanUseTool,
  ClaudeAgentPermissionResult,
  ClaudeAgentQuery,
  ClaudeAgentSdkLoader,
  ClaudeAgentSdkModule,
  ClaudeAgentSpawnedProcess,
  ClaudeAgentSpawnOptions,
  ClaudeAgentUserMessage,
} from './agent-sdk-loader.js';
export { CLAUDE_AGENT_SDK_PACKAGE, importClaudeAgentSdk } from './agent-sdk-loader.js';
export type { ClaudeAgentSettingSource, ClaudeAgentSettings } from './agent-settings.js';
export {
  DEFAULT_CLAUDE_AGENT_INTERRUPT_TIMEOUT_MS,
  DEFAULT_CLAUDE_AGENT_SHUTDOWN_GRACE_MS,
} from './agent-settings.js';
export { mapAnthropicErrorType, toClaudeError } from './claude-errors.js';
export type {
  ClaudeInputMessage,
  ClaudeToolResultInput,
  ParsedClaudeInput,
} from './claude-messages.js';
export { buildClaudeConversation, parseClaudeInput } from './claude-messages.js';
export type { ClaudeProvider } from './claude-provider.js';
export { createClaudeProvider } from './claude-provider.js';
export type { ClaudeMessagesProvider, ClaudeRunOptions } from './messages-backend.js';
export { CLAUDE_CAPABILITIES } from './messages-backend.js';
export type {
  ClaudeMessagesClient,
  ClaudeMessagesSettings,
  ClaudeProviderSettings,
  ClaudeThinking,
} from './settings.js';
export {
  DEFAULT_CLAUDE_IDLE_TIMEOUT_MS,
  DEFAULT_CLAUDE_MAX_RETRIES,
  DEFAULT_CLAUDE_MAX_TOKENS,
  DEFAULT_CLAUDE_MAX_TURNS,
  DEFAULT_CLAUDE_MODEL,
} from './settings.js';
