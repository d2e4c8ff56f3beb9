export type { AmpErrorClass, AmpFailureFacts } from './amp-errors.js';
export { ampProviderError, classifyAmpError } from './amp-errors.js';
export { AmpEventMapper, ampUsageToTokenUsage } from './amp-event-mapper.js';
export type { AmpArgsOptions } from './amp-invocation.js';
export { AMP_BASE_ARGS, buildAmpArgs, buildAmpPrompt, mapAmpPermissionMode } from './amp-invocation.js';
export type {
  AmpAssistantBlock,
  AmpAssistantMessage,
  AmpLine,
  AmpMcpServer,
  AmpResultErrorMessage,
  AmpResultSuccessMessage,
  AmpStreamMessage,
  AmpSystemMessage,
  AmpTextBlock,
  AmpThinkingBlock,
  AmpToolResultBlock,
  AmpToolUseBlock,
  AmpUnknownBlock,
  AmpUsage,
  AmpUserBlock,
  AmpUserMessage,
} from './amp-messages.js';
export { parseAmpLine, parseAmpMessage, toolResultText } from './amp-messages.js';
export type { AmpProvider, AmpProviderSettings, AmpRunOptions, AmpVisibility } from './amp-provider.js';
export {
  AMP_VISIBILITIES,
  createAmpProvider,
  DEFAULT_AMP_EXIT_GRACE_MS,
  DEFAULT_AMP_IDLE_TIMEOUT_MS,
} from './amp-provider.js';
export type { AmpWarning, AmpWarningCode } from './amp-warnings.js';
export { warningMessages } from './amp-warnings.js';
