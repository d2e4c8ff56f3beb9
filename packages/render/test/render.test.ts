import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  compactEntry,
  createCallbackSink,
  createCompactRenderer,
  createFileSink,
  createJsonlSink,
  createStudioRenderer,
  createTtySink,
  createVerboseRenderer,
  formatSize,
  type RenderableEvent,
  renderEvents,
  stripAnsi,
  summarizeToolCall,
  supportsColor,
} from '../src/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'asm-render-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let sequence = 0;
function event(type: RenderableEvent['type'], data: Record<string, unknown>): RenderableEvent {
  sequence++;
  return {
    type,
    data,
    sequence,
    sessionId: 'ses_demo',
    runId: 'run_demo',
    timestamp: `2026-11-25T10:00:${String(sequence).padStart(2, '0')}.000Z`,
  } as RenderableEvent;
}

/** A recorded run: prompt, thinking, text, two tools (one failing), usage, completion. */
const RECORDED: RenderableEvent[] = [
  event('message_sent', { role: 'user', content: 'List the files and count the TODOs' }),
  event('run_started', { model: 'claude-sonnet-4-5-20250929' }),
  event('message_streamed', { kind: 'thinking', delta: 'I should run ls first.' }),
  event('message_streamed', { kind: 'text', delta: 'Let me look.\nFirst ' }),
  event('message_streamed', { kind: 'text', delta: 'the files:' }),
  event('tool_call_started', { toolCallId: 'toolu_1', toolName: 'bash', toolInput: { command: 'ls -la' } }),
  event('tool_call_completed', {
    toolCallId: 'toolu_1',
    toolName: 'bash',
    toolOutput: { output: 'README.md\nsrc\ntest\npackage.json\n', exitCode: 0 },
  }),
  event('tool_call_started', {
    toolCallId: 'toolu_2',
    toolName: 'grep',
    toolInput: { pattern: 'TODO', path: 'src' },
  }),
  event('tool_call_failed', {
    toolCallId: 'toolu_2',
    toolName: 'grep',
    errorMessage: 'grep: src: Permission denied',
  }),
  event('token_usage_updated', {
    inputTokens: 1200,
    outputTokens: 85,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    totalTokens: 1285,
  }),
  event('message_received', {
    role: 'assistant',
    content: 'Let me look.\nFirst the files: 4 entries, TODO count unknown.',
  }),
  event('run_completed', {
    stopReason: 'end_turn',
    tokenUsage: { inputTokens: 1200, outputTokens: 85 },
    costUsd: 0.004875,
    durationMs: 2310,
  }),
];
const FAILED: RenderableEvent[] = [
  event('run_started', { model: 'gpt-5-codex' }),
  event('error_occurred', { errorCode: 'provider_rate_limited', errorMessage: 'Rate limited (429)' }),
  event('run_failed', {
    errorCode: 'provider_rate_limited',
    errorMessage: 'Rate limited (429), retry after 20 s',
  }),
];

async function renderToString(
  renderer: Parameters<typeof renderEvents>[1]['renderer'],
  events: RenderableEvent[],
) {
  const stream = new PassThrough();
  let output = '';
  stream.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await renderEvents(events, { renderer, sinks: [createTtySink({ stream })] });
  return output;
}

describe('renderers on a recorded event stream', () => {
  it('compact', async () => {
    expect(await renderToString(createCompactRenderer(), [...RECORDED, ...FAILED])).toMatchSnapshot();
  });

  it('compact with colours keeps the same text once ANSI is stripped', async () => {
    const plain = await renderToString(createCompactRenderer(), RECORDED);
    const coloured = await renderToString(createCompactRenderer({ color: true }), RECORDED);
    expect(coloured).not.toBe(plain);
    expect(stripAnsi(coloured)).toBe(plain);
  });

  it('verbose', async () => {
    expect(await renderToString(createVerboseRenderer(), [...RECORDED, ...FAILED])).toMatchSnapshot();
  });

  it('studio, summary', async () => {
    expect(await renderToString(createStudioRenderer(), [...RECORDED, ...FAILED])).toMatchSnapshot();
  });

  it('studio, preview and full tool output', async () => {
    const previewOut = await renderToString(createStudioRenderer({ toolOutput: 'preview' }), RECORDED);
    expect(previewOut).toContain('│ src\n');
    expect(previewOut).not.toContain('│ README.md');
    const full = await renderToString(createStudioRenderer({ toolOutput: 'full' }), RECORDED);
    expect(full).toContain('┊ README.md\n');
    expect(full).toContain('┊ package.json\n');
  });

  it('studio on a TTY rewrites the running tool line with its result', async () => {
    const output = await renderToString(createStudioRenderer({ tty: true }), RECORDED);
    expect(output).toContain('◐ bash: ls -la\r\x1b[K✓ bash: ls -la');
  });
});

describe('tool summaries and sizes', () => {
  it('summarizes common tools in one line', () => {
    expect(summarizeToolCall('bash', { command: 'npm test' })).toBe('bash: npm test');
    expect(summarizeToolCall('Read', { file_path: 'src/a.ts' })).toBe('Read: src/a.ts');
    expect(summarizeToolCall('Grep', { pattern: 'TODO', path: 'src' })).toBe('Grep: "TODO" in src');
    expect(summarizeToolCall('web_search', { query: 'vitest snapshots' })).toBe(
      'web_search: vitest snapshots',
    );
    expect(summarizeToolCall('mcp:github:create_issue', { title: 'x' })).toBe(
      'mcp:github:create_issue({"title":"x"})',
    );
  });

  it('formats output sizes', () => {
    expect(formatSize(12)).toBe('12 chars');
    expect(formatSize(3_400)).toBe('3.4k chars');
    expect(formatSize(120_400)).toBe('120k chars');
  });
});

describe('sinks', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('one stream to several sinks: TTY, file without ANSI, JSONL full and compact, callback', async () => {
    const tty = new PassThrough();
    let ttyText = '';
    tty.on('data', (chunk: Buffer) => {
      ttyText += chunk.toString();
    });
    const seen: string[] = [];
    const dir = join(scratch, 'multi', 'nested');
    await renderEvents(RECORDED, {
      renderer: createCompactRenderer({ color: true }),
      sinks: [
        createTtySink({ stream: tty }),
        createFileSink({ path: join(dir, 'run.log') }),
        createJsonlSink({ path: join(dir, 'full.jsonl') }),
        createJsonlSink({ path: join(dir, 'compact.jsonl'), mode: 'compact' }),
        createCallbackSink((item) => seen.push(item.type)),
      ],
    });
    const fileText = readFileSync(join(dir, 'run.log'), 'utf8');
    expect(ttyText).toContain('\x1b[');
    expect(fileText).not.toContain('\x1b[');
    expect(fileText).toBe(stripAnsi(ttyText));
    const full = readFileSync(join(dir, 'full.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(full).toHaveLength(RECORDED.length);
    expect(full[1]).toEqual({
      ts: '2026-11-25T10:00:02.000Z',
      type: 'run_started',
      sequence: 2,
      sessionId: 'ses_demo',
      runId: 'run_demo',
      data: { model: 'claude-sonnet-4-5-20250929' },
    });
    const compact = readFileSync(join(dir, 'compact.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(compact.map((entry) => entry.e.t)).toEqual([
      'message_sent',
      'rs',
      'ms',
      'ms',
      'ms',
      'ts',
      'tc',
      'ts',
      'tool_call_failed',
      'tu',
      'mr',
      'rc',
    ]);
    expect(compact[1].e).toEqual({ t: 'rs', m: 'sonnet-4-5' });
    expect(compact.at(-1).e).toEqual({ t: 'rc', sr: 'end' });
    expect(seen).toEqual(RECORDED.map((item) => item.type));
  });

  it('compact JSONL cuts long error messages at 120 characters', () => {
    const entry = compactEntry(
      { type: 'run_failed', data: { errorCode: 'x', errorMessage: 'e'.repeat(200) } } as RenderableEvent,
      0,
    );
    expect(entry).toEqual({ t: 0, e: { t: 'rf', x: `${'e'.repeat(120)}...` } });
  });

  it('detects colour support from the terminal and NO_COLOR / FORCE_COLOR', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, hasColors: () => true });
    delete process.env.FORCE_COLOR;
    delete process.env.NO_COLOR;
    expect(supportsColor(tty)).toBe(true);
    expect(supportsColor(new PassThrough())).toBe(false);
    process.env.NO_COLOR = '1';
    expect(supportsColor(tty)).toBe(false);
    process.env.FORCE_COLOR = '1';
    expect(supportsColor(new PassThrough())).toBe(true);
  });

  it('rejects a callback sink without a function and a file sink without a path', () => {
    expect(() => createCallbackSink('nope' as unknown as () => void)).toThrow(/needs a function/);
    expect(() => createFileSink({ path: '' })).toThrow(/needs a path/);
  });
});
