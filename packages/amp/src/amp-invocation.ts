import {
  AsmError,
  inputMessages,
  type PermissionMode,
  type RunInput,
  renderTranscriptAsText,
  type Transcript,
} from '@asm/core';

/** The flags every run passes: execute one prompt from stdin and print stream-json. */
export const AMP_BASE_ARGS = ['--execute', '--stream-json'] as const;

/** What shapes the Amp command line of one run. */
export interface AmpArgsOptions {
  /** Continue this thread (`threads continue <id>`). */
  threadId?: string;
  /** `--dangerously-allow-all`. */
  dangerouslyAllowAll?: boolean;
  /** `--stream-json-thinking`: thinking blocks in the stream. */
  thinking?: boolean;
  visibility?: string;
  settingsFile?: string;
  /** Passed as `--mcp-config <json>` (an object is serialized). */
  mcpConfig?: string | Record<string, unknown>;
  mode?: string;
  labels?: readonly string[];
  extraArgs?: readonly string[];
}

/**
 * Builds the CLI arguments, in the order `@sourcegraph/amp-sdk` uses:
 * `[threads continue <id>] --execute --stream-json [--stream-json-thinking]
 * [--dangerously-allow-all] [--visibility v] [--settings-file f] [--mcp-config json] [--mode m]
 * [--label l]... [extraArgs...]`. The API key never goes on the command line (it is `AMP_API_KEY`).
 */
export function buildAmpArgs(options: AmpArgsOptions): string[] {
  const args: string[] = [];
  if (options.threadId !== undefined) args.push('threads', 'continue', options.threadId);
  args.push(...AMP_BASE_ARGS);
  if (options.thinking) args.push('--stream-json-thinking');
  if (options.dangerouslyAllowAll) args.push('--dangerously-allow-all');
  if (options.visibility !== undefined) args.push('--visibility', options.visibility);
  if (options.settingsFile !== undefined) args.push('--settings-file', options.settingsFile);
  if (options.mcpConfig !== undefined) {
    args.push(
      '--mcp-config',
      typeof options.mcpConfig === 'string' ? options.mcpConfig : JSON.stringify(options.mcpConfig),
    );
  }
  if (options.mode !== undefined) args.push('--mode', options.mode);
  for (const label of options.labels ?? []) args.push('--label', label);
  args.push(...(options.extraArgs ?? []));
  return args;
}

/**
 * Maps a normalized permission mode onto Amp (spec PROV-permission-map): `full_auto` and
 * `dangerously_skip_permissions` allow every tool (`--dangerously-allow-all`); `default` keeps Amp's
 * own rules; `accept_edits` and `plan` have no Amp equivalent (`supported: false`).
 */
export function mapAmpPermissionMode(mode: PermissionMode | undefined): {
  dangerouslyAllowAll: boolean;
  supported: boolean;
} {
  switch (mode) {
    case undefined:
    case 'default':
      return { dangerouslyAllowAll: false, supported: true };
    case 'full_auto':
    case 'dangerously_skip_permissions':
      return { dangerouslyAllowAll: true, supported: true };
    case 'accept_edits':
    case 'plan':
      return { dangerouslyAllowAll: false, supported: false };
    default: {
      const unhandled: never = mode;
      throw new AsmError('validation_error', `Invalid permission mode: ${String(unhandled)}`, {
        details: { field: 'permissionMode' },
      });
    }
  }
}

/**
 * The prompt written to Amp's stdin. A single user message is sent as it is; several messages, or
 * other roles, become `role: content` lines. With a transcript to replay (spec
 * PROV-transcript-inject), the earlier turns come first as `role: content` lines
 * (`renderTranscriptAsText`), then a blank line, then the current messages.
 * A run without a prompt is `validation_error` (field `input`).
 */
export function buildAmpPrompt(input: RunInput, transcript?: Transcript): string {
  const messages = inputMessages(input);
  if (messages.length === 0) {
    throw new AsmError(
      'validation_error',
      'Amp needs a prompt: pass a string, { prompt } or { messages } as the run input',
      { details: { field: 'input' } },
    );
  }
  const current =
    messages.length === 1 && messages[0]?.role === 'user'
      ? messages[0].content
      : messages.map((message) => `${message.role}: ${message.content}`).join('\n');
  if (!transcript || transcript.messages.length === 0) return current;
  return `${renderTranscriptAsText(transcript)}\n\n${current}`;
}
