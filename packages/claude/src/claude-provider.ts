import { type ClaudeAgentProvider, createAgentBackend } from './agent-backend.js';
import type { ClaudeAgentSettings } from './agent-settings.js';
import { type ClaudeMessagesProvider, createMessagesBackend } from './messages-backend.js';
import {
  type ClaudeMessagesSettings,
  type ClaudeProviderSettings,
  validateClaudeSettings,
} from './settings.js';

/** A Claude provider: the Messages API backend (`backend: 'messages'`) or the Claude Code agent (`'agent'`). */
export type ClaudeProvider = ClaudeMessagesProvider | ClaudeAgentProvider;

/**
 * Creates the Claude provider (`name` `claude`), with one of two backends:
 *
 * - `backend: 'messages'` (the default): the Anthropic Messages API through `@anthropic-ai/sdk`:
 *   streaming, the tool loop of `@asm/core`'s `runToolLoop` over the app's tools, transcript replay
 *   as real `messages`, and errors mapped to `AsmError` provider codes.
 * - `backend: 'agent'`: Claude Code, the coding agent that reads and edits files and runs commands
 *   itself in `workingDirectory`, through `@anthropic-ai/claude-agent-sdk` (an optional peer
 *   dependency, loaded on the first run; without it a run fails with `dependency_not_available`).
 *   Its sessions are native continuation (`resume`), its tool permission prompts go through
 *   `authorizeToolCall` (policy and approvals), and a cancel interrupts the turn.
 *
 * Settings are checked here (`validation_error` naming the field); credentials are read, clients
 * created and processes started only when a run executes.
 *
 * ```ts
 * const provider = createClaudeProvider({ model: 'claude-sonnet-4-5', systemPrompt: 'Be brief.' });
 * const agent = createClaudeProvider({ backend: 'agent', workingDirectory: '/srv/repo' });
 * const manager = createSessionManager({ store: createInMemoryStore(), provider: agent });
 * const result = await manager.runOnce('Fix the failing test');
 * ```
 */
export function createClaudeProvider(settings?: ClaudeMessagesSettings): ClaudeMessagesProvider;
export function createClaudeProvider(settings: ClaudeAgentSettings): ClaudeAgentProvider;
export function createClaudeProvider(settings: ClaudeProviderSettings): ClaudeProvider;
export function createClaudeProvider(settings: ClaudeProviderSettings = {}): ClaudeProvider {
  validateClaudeSettings(settings);
  if (settings.backend === 'agent') {
    const frozen: ClaudeAgentSettings = {
      ...settings,
      ...(settings.env ? { env: { ...settings.env } } : {}),
      ...(settings.allowedTools ? { allowedTools: [...settings.allowedTools] } : {}),
      ...(settings.disallowedTools ? { disallowedTools: [...settings.disallowedTools] } : {}),
    };
    const provider = createAgentBackend(frozen);
    return {
      ...provider,
      validateConfig: () => validateClaudeSettings(frozen),
    } satisfies ClaudeAgentProvider;
  }
  const provider = createMessagesBackend(settings);
  return {
    ...provider,
    validateConfig: () => validateClaudeSettings(settings),
  } satisfies ClaudeMessagesProvider;
}
