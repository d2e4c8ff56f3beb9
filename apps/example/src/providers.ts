import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { ProviderAdapter } from '@asm/core';
import type { Router } from '@asm/routing';
import { CliError, EXIT, usageError } from './exit-codes.js';

/** The model providers `asm run` routes to by default, in the router's priority order. */
export const PROVIDER_NAMES = ['claude', 'codex', 'amp'] as const;
/** One of `PROVIDER_NAMES`, or `shell` (only when named with `--provider shell`). */
export type ProviderName = (typeof PROVIDER_NAMES)[number] | 'shell';

/** Settings `asm run` hands a provider it creates. */
export interface ProviderBuildOptions {
  /** Model id for this provider (`--model`). */
  model?: string;
  /** Working directory of coding agents (Codex, Amp). */
  cwd: string;
  /** True when other providers follow in the router: SDK retries are then left to failover. */
  behindRouter: boolean;
}

/** Whether a provider is configured in this environment, and how to enable it when it is not. */
export interface ProviderStatus {
  name: ProviderName;
  configured: boolean;
  /** What was found (`ANTHROPIC_API_KEY`), or why it is skipped (`ANTHROPIC_API_KEY is not set`). */
  detail: string;
  /** The command or setting that enables it. */
  enable: string;
  /** Creates the adapter; only for configured providers. */
  create?: (options: ProviderBuildOptions) => Promise<ProviderAdapter>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `name` on `PATH` that is an executable file. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const directory of (env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** True when `@openai/codex-sdk` (which bundles the Codex binary) is installed where `@asm/codex` loads it. */
function codexSdkInstalled(): boolean {
  try {
    const require = createRequire(import.meta.url);
    let directory = dirname(require.resolve('@asm/codex/package.json'));
    for (;;) {
      if (existsSync(join(directory, 'node_modules', '@openai', 'codex-sdk', 'package.json'))) return true;
      const parent = dirname(directory);
      if (parent === directory) return false;
      directory = parent;
    }
  } catch {
    return false;
  }
}

/**
 * Looks at the environment (never at the network) to see which providers `asm run` can use:
 *
 * - Claude: `ANTHROPIC_API_KEY` (`ANTHROPIC_BASE_URL` is honoured, for proxies and test servers);
 * - Codex: a key (`CODEX_API_KEY`, `OPENAI_API_KEY`, or a `codex login` in `$CODEX_HOME/auth.json`)
 *   and a binary (`codex` on `PATH`, or `@openai/codex-sdk` installed);
 * - Amp: `AMP_API_KEY` and the `amp` executable on `PATH` (or `ASM_AMP_PATH`).
 */
export function detectProviders(env: NodeJS.ProcessEnv = process.env): ProviderStatus[] {
  return [detectClaude(env), detectCodex(env), detectAmp(env)];
}

function detectClaude(env: NodeJS.ProcessEnv): ProviderStatus {
  const apiKey = nonEmpty(env.ANTHROPIC_API_KEY);
  const baseURL = nonEmpty(env.ANTHROPIC_BASE_URL);
  const enable = 'export ANTHROPIC_API_KEY=sk-ant-…  (https://console.anthropic.com/settings/keys)';
  if (!apiKey) {
    return { name: 'claude', configured: false, detail: 'ANTHROPIC_API_KEY is not set', enable };
  }
  return {
    name: 'claude',
    configured: true,
    detail: `ANTHROPIC_API_KEY${baseURL ? `, ANTHROPIC_BASE_URL=${baseURL}` : ''}`,
    enable,
    create: async (options) => {
      const { createClaudeProvider } = await import('@asm/claude');
      return createClaudeProvider({
        apiKey,
        ...(baseURL ? { baseURL } : {}),
        ...(options.model ? { model: options.model } : {}),
        // Behind a router, a failing provider should fail over at once rather than retry.
        maxRetries: options.behindRouter ? 0 : 2,
      });
    },
  };
}

function detectCodex(env: NodeJS.ProcessEnv): ProviderStatus {
  const codexHome = nonEmpty(env.CODEX_HOME) ?? join(nonEmpty(env.HOME) ?? homedir(), '.codex');
  const apiKey = nonEmpty(env.CODEX_API_KEY) ?? nonEmpty(env.OPENAI_API_KEY);
  const loggedIn = existsSync(join(codexHome, 'auth.json'));
  const codexPath = nonEmpty(env.ASM_CODEX_PATH) ?? findOnPath('codex', env);
  const enable =
    'export OPENAI_API_KEY=sk-…  (or `codex login`), with `codex` on PATH or @openai/codex-sdk installed';
  if (!apiKey && !loggedIn) {
    return {
      name: 'codex',
      configured: false,
      detail: 'no key: CODEX_API_KEY and OPENAI_API_KEY are not set and there is no `codex login`',
      enable,
    };
  }
  if (!codexPath && !codexSdkInstalled()) {
    return {
      name: 'codex',
      configured: false,
      detail: 'no Codex binary: `codex` is not on PATH and @openai/codex-sdk is not installed',
      enable,
    };
  }
  const keySource = nonEmpty(env.CODEX_API_KEY)
    ? 'CODEX_API_KEY'
    : nonEmpty(env.OPENAI_API_KEY)
      ? 'OPENAI_API_KEY'
      : `codex login (${join(codexHome, 'auth.json')})`;
  return {
    name: 'codex',
    configured: true,
    detail: `${keySource}, binary ${codexPath ?? 'bundled with @openai/codex-sdk'}`,
    enable,
    create: async (options) => {
      const { createCodexProvider } = await import('@asm/codex');
      return createCodexProvider({
        workingDirectory: options.cwd,
        ...(apiKey ? { apiKey } : {}),
        ...(codexPath ? { codexPath } : {}),
        ...(options.model ? { model: options.model } : {}),
      });
    },
  };
}

function detectAmp(env: NodeJS.ProcessEnv): ProviderStatus {
  const apiKey = nonEmpty(env.AMP_API_KEY);
  const executablePath = nonEmpty(env.ASM_AMP_PATH) ?? findOnPath('amp', env);
  const enable = 'npm i -g @ampcode/cli && export AMP_API_KEY=…  (https://ampcode.com/settings)';
  if (!apiKey) return { name: 'amp', configured: false, detail: 'AMP_API_KEY is not set', enable };
  if (!executablePath) {
    return {
      name: 'amp',
      configured: false,
      detail: 'AMP_API_KEY is set, but the `amp` executable is not on PATH',
      enable,
    };
  }
  return {
    name: 'amp',
    configured: true,
    detail: `AMP_API_KEY, ${executablePath}`,
    enable,
    create: async (options) => {
      const { createAmpProvider } = await import('@asm/amp');
      return createAmpProvider({ cwd: options.cwd, executablePath, apiKey });
    },
  };
}

/**
 * `@asm/shell`: the prompt is run as a shell command in the current directory. Never part of the
 * default chain (a prompt is not a command); only `--provider shell` selects it.
 */
export function shellStatus(): ProviderStatus {
  return {
    name: 'shell',
    configured: true,
    detail: 'runs the prompt as a shell command (/bin/sh -c) in the current directory',
    enable: 'always available with --provider shell',
    create: async (options) => {
      const { createShellProvider } = await import('@asm/shell');
      return createShellProvider({ cwd: options.cwd });
    },
  };
}

/** True for a known provider name. */
export function isProviderName(value: string): value is ProviderName {
  return value === 'shell' || (PROVIDER_NAMES as readonly string[]).includes(value);
}

/** The configured providers a run may use: all of them, or the one `--provider` names. */
export function selectProviders(statuses: ProviderStatus[], requested: string | undefined): ProviderStatus[] {
  if (requested !== undefined) {
    if (!isProviderName(requested)) {
      throw usageError(
        `Unknown provider "${requested}": expected one of ${[...PROVIDER_NAMES, 'shell'].join(', ')}`,
        'run',
      );
    }
    if (requested === 'shell') return [shellStatus()];
    const status = statuses.find((candidate) => candidate.name === requested)!;
    if (!status.configured) {
      throw new CliError(
        EXIT.config,
        `Provider ${requested} is not configured: ${status.detail}.`,
        `To enable it: ${status.enable}`,
      );
    }
    return [status];
  }
  const configured = statuses.filter((status) => status.configured);
  if (configured.length === 0) {
    throw new CliError(
      EXIT.config,
      'No provider is configured.',
      [
        ...statuses.map((status) => `  ${status.name}: ${status.detail}. To enable: ${status.enable}`),
        '`asm demo` runs offline and needs none of them.',
      ].join('\n'),
    );
  }
  return configured;
}

/**
 * Builds the router over the selected providers, in priority order (claude, codex, amp). `--model`
 * applies to the first of them (the one `--provider` names, when given).
 */
export async function createProviderRouter(
  selected: ProviderStatus[],
  options: { model?: string; cwd: string },
): Promise<Router> {
  const { createRouter } = await import('@asm/routing');
  const adapters: ProviderAdapter[] = [];
  for (const [index, status] of selected.entries()) {
    if (!status.create) continue;
    adapters.push(
      await status.create({
        cwd: options.cwd,
        behindRouter: selected.length > 1,
        ...(index === 0 && options.model ? { model: options.model } : {}),
      }),
    );
  }
  return createRouter({ providers: adapters, strategy: 'priority' });
}
