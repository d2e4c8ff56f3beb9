import { type ClaudeMessagesProvider, createMessagesBackend } from './messages-backend.js';
import { type ClaudeProviderSettings, validateClaudeSettings } from './settings.js';

/** A Claude provider: today the Messages API backend (`backend: 'messages'`). */
export type ClaudeProvider = ClaudeMessagesProvider;

/**
 * Creates the Claude provider (`name` `claude`) on the Anthropic Messages API through
 * `@anthropic-ai/sdk`: streaming, the tool loop of `@asm/core`'s `runToolLoop`, transcript replay
 * as real `messages`, and errors mapped to `AsmError` provider codes.
 *
 * Settings are checked here (`validation_error` naming the field); the API key is read and the client
 * created when a run starts.
 *
 * ```ts
 * const provider = createClaudeProvider({ model: 'claude-sonnet-4-5', systemPrompt: 'Be brief.' });
 * const manager = createSessionManager({ store: createInMemoryStore(), provider });
 * const result = await manager.runOnce('Hello');
 * ```
 */
export function createClaudeProvider(settings: ClaudeProviderSettings = {}): ClaudeProvider {
  validateClaudeSettings(settings);
  const provider = createMessagesBackend(settings);
  return {
    ...provider,
    validateConfig: () => validateClaudeSettings(settings),
  } satisfies ClaudeProvider;
}
