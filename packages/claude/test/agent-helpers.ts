import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFakeAnthropicServer,
  type FakeAnthropicRequest,
  type FakeAnthropicResponder,
  type FakeAnthropicResponse,
  type FakeAnthropicServer,
} from '@asm/testing/fakes';
import {
  CLAUDE_AGENT_RUN_ENV,
  type ClaudeAgentProvider,
  type ClaudeAgentSettings,
  createClaudeProvider,
} from '../src/index.js';

/** Per-test timeout of the agent tests: the real `claude` binary starts in 0.4 s idle, several s on a loaded CI box. */
export const AGENT_TEST_TIMEOUT_MS = 90_000;

/** The content blocks of the last user message of a request. */
export function lastUserBlocks(request: FakeAnthropicRequest | undefined): Record<string, unknown>[] {
  const messages = request?.body.messages ?? [];
  const last = messages[messages.length - 1];
  if (last?.role !== 'user') return [];
  if (typeof last.content === 'string') return [{ type: 'text', text: last.content }];
  return Array.isArray(last.content) ? (last.content as Record<string, unknown>[]) : [];
}

/** The `tool_result` blocks of the last user message of a request. */
export function toolResultsIn(request: FakeAnthropicRequest | undefined): Record<string, unknown>[] {
  return lastUserBlocks(request).filter((block) => block.type === 'tool_result');
}

/** The text of a `tool_result` block. */
export function resultTextOf(block: Record<string, unknown> | undefined): string {
  const content = block?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => String((part as { text?: unknown }).text ?? '')).join('');
  }
  return '';
}

/** Every text the requests of a run sent, joined (prompts, replayed turns, tool results). */
export function requestText(request: FakeAnthropicRequest | undefined): string {
  return JSON.stringify(request?.body.messages ?? []);
}

/**
 * A scenario that asks Claude Code to run one tool, then answers with what the tool returned:
 * `<label> answered: <result>` or `<label> failed: <result>`.
 */
export function toolScenario(
  label: string,
  toolName: string,
  input: Record<string, unknown>,
): FakeAnthropicResponder {
  return (request): FakeAnthropicResponse => {
    const result = toolResultsIn(request)[0];
    if (result !== undefined) {
      const verb = result.is_error === true ? 'failed' : 'answered';
      return { content: [{ type: 'text', text: `${label} ${verb}: ${resultTextOf(result)}` }] };
    }
    return {
      content: [
        { type: 'text', text: `Using ${toolName}.` },
        { type: 'tool_use', name: toolName, input },
      ],
    };
  };
}

/** Scenarios the agent tests add to the fake Anthropic server. */
export const AGENT_SCENARIOS: Record<string, FakeAnthropicResponse | FakeAnthropicResponder> = {
  unicode: {
    content: [
      {
        type: 'thinking',
        thinking: 'Greeting in three scripts.',
        chunks: ['Greeting ', 'in three scripts.'],
      },
      {
        type: 'text',
        text: 'Grüße aus 東京 🌸 — ça va?',
        chunks: ['Grüße ', 'aus ', '東京 ', '🌸', ' — ça va?'],
      },
    ],
    usage: { inputTokens: 30, outputTokens: 12 },
  },
  bash: toolScenario('Bash', 'Bash', { command: 'echo acceptance-ok', description: 'Print a marker' }),
  write: toolScenario('Write', 'Write', { file_path: 'notes.txt', content: 'written by the agent\n' }),
  tail: toolScenario('Bash', 'Bash', { command: 'tail -f /dev/null', description: 'Follow a file' }),
  'read-forever': (): FakeAnthropicResponse => ({
    content: [
      { type: 'text', text: 'Reading again.' },
      { type: 'tool_use', name: 'Read', input: { file_path: 'README.md' } },
    ],
  }),
};

/** A fake Anthropic server with the agent scenarios, a temp config folder and a temp working folder. */
export interface AgentKit {
  server: FakeAnthropicServer;
  /** Claude Code's state folder (`CLAUDE_CONFIG_DIR`), shared by the runs of a test file (resume needs it). */
  configDir: string;
  /** A fresh working folder. */
  workspace(): string;
  /**
   * The agent backend against the fake, with the hermetic environment of spec 4b: config in a temp
   * folder, no retries, no non-essential traffic; and no non-streaming fallback, so that a broken
   * stream is the run's failure (Claude Code otherwise retries it once without streaming).
   */
  agent(settings?: Partial<ClaudeAgentSettings>): ClaudeAgentProvider;
  close(): Promise<void>;
}

/** Starts an `AgentKit`. */
export async function createAgentKit(): Promise<AgentKit> {
  const server = await createFakeAnthropicServer({ scenarios: AGENT_SCENARIOS });
  const root = mkdtempSync(join(tmpdir(), 'asm-claude-agent-'));
  const configDir = join(root, 'config');
  mkdirSync(configDir);
  let workspaces = 0;
  const workspace = () => {
    const folder = join(root, `work-${++workspaces}`);
    mkdirSync(folder);
    return folder;
  };
  return {
    server,
    configDir,
    workspace,
    agent: (settings = {}) =>
      createClaudeProvider({
        backend: 'agent',
        workingDirectory: settings.workingDirectory ?? workspace(),
        apiKey: 'test',
        baseURL: server.url,
        configDir,
        model: 'scenario:text',
        ...settings,
        env: {
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          CLAUDE_CODE_MAX_RETRIES: '0',
          CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK: '1',
          ...(settings.env ?? {}),
        },
      }),
    async close() {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The command name of a process (`/proc/<pid>/comm`), or undefined when it is gone. */
export function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Live processes started for a run: every process whose environment holds the run's marker
 * (`ASM_CLAUDE_RUN_ID`), which the CLI and anything it starts inherit. Linux `/proc` only.
 */
export function processesOfRun(runId: string): number[] {
  const needle = `${CLAUDE_AGENT_RUN_ENV}=${runId}`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z') continue; // a zombie is gone, only not reaped yet
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(needle))
        found.push(Number(entry));
    } catch {
      // Ended meanwhile, or not readable.
    }
  }
  return found;
}
