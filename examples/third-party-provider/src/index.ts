export type {
  ChatCompletionsProvider,
  ChatCompletionsProviderSettings,
} from './chat-completions-provider.js';
export {
  createChatCompletionsProvider,
  mapFinishReason,
  mapUsage,
  validateChatCompletionsSettings,
} from './chat-completions-provider.js';
export type { ChatCompletionsErrorBody, ProviderFailure } from './errors.js';
export {
  errorCodeForChatCompletions,
  httpFailure,
  parseRetryAfter,
  providerFailure,
  readErrorBody,
} from './errors.js';
export type { ChatMessage, ChatToolCall } from './messages.js';
export { messagesFromInput, messagesFromTranscript, toolContent } from './messages.js';
export type { ServerSentEvent } from './sse.js';
export { readServerSentEvents } from './sse.js';
