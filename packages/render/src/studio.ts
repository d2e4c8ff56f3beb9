import { preview, type RenderableEvent, type Renderer } from './renderers.js';

/** Options of `createStudioRenderer`. */
export interface StudioRendererOptions {
  color?: boolean;
  /** How much tool output to show: a summary line (default), the last 3 lines, or all of it. */
  toolOutput?: 'summary' | 'preview' | 'full';
  /** Spaces before text blocks and tool details. Default 2. */
  indent?: number;
  /**
   * A terminal that understands cursor control: the running tool line is rewritten in place by its
   * result. Default false (status and result on separate lines).
   */
  tty?: boolean;
}

const SYMBOL = { info: '●', running: '◐', success: '✓', failure: '✗' } as const;

/** `12 chars`, `3.4k chars`, `120k chars`. */
export function formatSize(chars: number): string {
  if (chars < 1000) return `${chars} chars`;
  if (chars < 10_000) return `${(chars / 1000).toFixed(1)}k chars`;
  return `${Math.round(chars / 1000)}k chars`;
}

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of ['output', 'stdout', 'content', 'text']) {
      if (typeof record[key] === 'string') return record[key] as string;
    }
  }
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/**
 * One human line for a tool call: `bash: ls -la`, `read: src/index.ts`, `grep: "TODO" in src`,
 * `web_search: typescript decorators`, or `name(input…)` for the rest.
 */
export function summarizeToolCall(toolName: string, input: unknown): string {
  const record = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
  const pick = (...keys: string[]) => {
    for (const key of keys) if (typeof record[key] === 'string') return record[key] as string;
    return undefined;
  };
  const name = toolName.toLowerCase();
  if (name === 'bash' || name === 'shell' || name === 'command_execution') {
    return `${toolName}: ${preview(pick('command', 'cmd') ?? text(input), 80)}`;
  }
  if (['read', 'write', 'edit', 'multiedit', 'apply_patch', 'notebookedit'].includes(name)) {
    return `${toolName}: ${pick('file_path', 'path', 'filePath') ?? preview(text(input), 60)}`;
  }
  if (name === 'glob' || name === 'grep') {
    const where = pick('path', 'cwd');
    return `${toolName}: "${pick('pattern', 'query') ?? ''}"${where ? ` in ${where}` : ''}`;
  }
  if (name === 'webfetch' || name === 'web_fetch') return `${toolName}: ${pick('url') ?? ''}`;
  if (name === 'websearch' || name === 'web_search') return `${toolName}: ${pick('query') ?? ''}`;
  if (name === 'task') return `${toolName}: ${preview(pick('description', 'prompt') ?? '', 60)}`;
  const inputText = text(input);
  return inputText && inputText !== '{}' ? `${toolName}(${preview(inputText, 60)})` : toolName;
}

/**
 * A readable transcript for people: `● model session started`, indented text blocks, a status line
 * per tool (`◐` while it runs, then `✓` / `✗` with a summary and the output size), the last 3 output
 * lines (`│`) or all of them (`┊`), and a closing line with tokens and cost.
 */
export function createStudioRenderer(options: StudioRendererOptions = {}): Renderer {
  const color = options.color === true;
  const paint = (code: string, value: string) => (color ? `\x1b[${code}m${value}\x1b[0m` : value);
  const pad = ' '.repeat(options.indent ?? 2);
  const mode = options.toolOutput ?? 'summary';
  const tty = options.tty === true;
  const pendingTools = new Map<string, string>();
  let inText = false;
  let atLineStart = true;
  let tools = 0;
  let failures = 0;
  let lastUsage: { input: number; output: number } | undefined;
  let cost: number | undefined;

  const endText = () => {
    if (!inText) return '';
    inText = false;
    const tail = atLineStart ? '' : '\n';
    atLineStart = true;
    return tail;
  };
  const outputLines = (output: string) => {
    if (mode === 'summary' || output === '') return '';
    const lines = output.replace(/\n$/, '').split('\n');
    const shown = mode === 'preview' ? lines.slice(-3) : lines;
    const mark = mode === 'preview' ? '│' : '┊';
    return shown.map((lineText) => `${pad}${pad}${paint('2', mark)} ${lineText}\n`).join('');
  };

  return {
    render(event: RenderableEvent) {
      const data = event.data as Record<string, unknown>;
      switch (event.type) {
        case 'run_started':
          return `${endText()}${paint('34', SYMBOL.info)} ${typeof data.model === 'string' ? `${data.model} ` : ''}session started\n`;
        case 'message_sent':
          return `${endText()}${paint('36', '›')} ${preview(String(data.content ?? ''), 100)}\n`;
        case 'message_streamed': {
          if (data.kind !== undefined && data.kind !== 'text') return '';
          const delta = String(data.delta ?? '');
          let out = '';
          for (const char of delta) {
            if (atLineStart && char !== '\n') out += pad;
            out += char;
            atLineStart = char === '\n';
          }
          inText = true;
          return out;
        }
        case 'tool_call_started': {
          tools++;
          const summary = summarizeToolCall(String(data.toolName ?? 'tool'), data.toolInput);
          pendingTools.set(String(data.toolCallId ?? tools), summary);
          return `${endText()}${paint('33', SYMBOL.running)} ${summary}${tty ? '' : '\n'}`;
        }
        case 'tool_call_completed':
        case 'tool_call_failed': {
          const id = String(data.toolCallId ?? '');
          const summary =
            pendingTools.get(id) ?? summarizeToolCall(String(data.toolName ?? 'tool'), data.toolInput);
          const hadStatus = pendingTools.delete(id);
          const failed = event.type === 'tool_call_failed';
          if (failed) failures++;
          const output = text(failed ? (data.errorMessage ?? data.toolOutput) : data.toolOutput);
          const symbol = failed ? paint('31', SYMBOL.failure) : paint('32', SYMBOL.success);
          const rewrite = tty && hadStatus ? '\r\x1b[K' : '';
          return `${endText()}${rewrite}${symbol} ${summary} ${paint('2', `(${formatSize(output.length)})`)}\n${outputLines(output)}`;
        }
        case 'token_usage_updated':
          lastUsage = { input: Number(data.inputTokens ?? 0), output: Number(data.outputTokens ?? 0) };
          return '';
        case 'run_completed': {
          if (typeof data.costUsd === 'number') cost = data.costUsd;
          const usage = (data.tokenUsage as Record<string, number> | undefined) ?? undefined;
          if (usage) lastUsage = { input: usage.inputTokens ?? 0, output: usage.outputTokens ?? 0 };
          return `${endText()}${paint('32', SYMBOL.success)} done${typeof data.stopReason === 'string' ? ` (${data.stopReason})` : ''}\n`;
        }
        case 'run_failed':
        case 'error_occurred':
          failures += event.type === 'run_failed' ? 1 : 0;
          return `${endText()}${paint('31', SYMBOL.failure)} ${String(data.errorMessage ?? data.errorCode ?? event.type)}\n`;
        case 'run_cancelled':
          return `${endText()}${paint('31', SYMBOL.failure)} cancelled${data.reason ? `: ${String(data.reason)}` : ''}\n`;
        case 'run_timeout':
          return `${endText()}${paint('31', SYMBOL.failure)} timed out\n`;
        default:
          return '';
      }
    },
    finish() {
      const parts = [`${tools} tool${tools === 1 ? '' : 's'}`];
      if (failures > 0) parts.push(`${failures} failed`);
      if (lastUsage) parts.push(`${lastUsage.input} in / ${lastUsage.output} out tokens`);
      if (cost !== undefined) parts.push(`$${cost.toFixed(4)}`);
      return `${endText()}${paint('2', parts.join(' · '))}\n`;
    },
  };
}
