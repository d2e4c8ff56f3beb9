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
