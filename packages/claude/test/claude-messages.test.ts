import type { Transcript, TranscriptMessage } from '@asm/core';
import { describe, expect, it } from 'vitest';
import {
  buildClaudeConversation,
  MISSING_TOOL_RESULT_TEXT,
  OMITTED_HISTORY_TEXT,
  parseClaudeInput,
  toolResultContent,
} from '../src/claude-messages.js';

const message = (fields: Omit<TranscriptMessage, 'metadata'>, runId = 'run_old'): TranscriptMessage => ({
  ...fields,
  metadata: { runId },
});
const transcript = (...messages: TranscriptMessage[]): Transcript => ({
  sessionId: 'ses_x',
  messages,
  metadata: {},
});
const build = (history: TranscriptMessage[], input: Parameters<typeof parseClaudeInput>[0] = 'Next') =>
  buildClaudeConversation({
    transcript: transcript(...history),
    input: parseClaudeInput(input),
    excludeRunId: 'run_now',
  });

describe('parseClaudeInput', () => {
  it('reads a string, a prompt, messages with text or content blocks, and toolResults', () => {
    expect(parseClaudeInput('hi')).toEqual({ messages: [{ role: 'user', content: 'hi' }], toolResults: [] });
    expect(parseClaudeInput({ prompt: 'p' }).messages).toEqual([{ role: 'user', content: 'p' }]);
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } };
    expect(
      parseClaudeInput({
        messages: [
          { role: 'User', content: [image, { type: 'text', text: 'What is this?' }] },
          { role: 'assistant', content: '' },
        ],
        toolResults: [{ toolCallId: 't1', output: { ok: true }, isError: false }],
      }),
    ).toEqual({
      messages: [{ role: 'user', content: [image, { type: 'text', text: 'What is this?' }] }],
      toolResults: [{ toolCallId: 't1', output: { ok: true } }],
    });
  });

  it('rejects a tool result without a toolCallId with invalid_input', () => {
    expect(() => parseClaudeInput({ toolResults: [{ output: 1 }] })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
  });
});

describe('buildClaudeConversation', () => {
  it('vision - sends content blocks of the input as they are', () => {
    const image = { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } };
    const conversation = buildClaudeConversation({
      input: parseClaudeInput({
        messages: [{ role: 'user', content: [image, { type: 'text', text: 'Cat?' }] }],
      }),
    });
    expect(conversation.messages).toEqual([
      { role: 'user', content: [image, { type: 'text', text: 'Cat?' }] },
    ]);
  });

  it('merges consecutive messages of one role and drops blank text', () => {
    const conversation = build([
      message({ role: 'user', content: 'one' }),
      message({ role: 'user', content: '   ' }),
      message({ role: 'user', content: 'two' }),
      message({ role: 'assistant', content: 'three', partial: true }),
    ]);
    expect(conversation.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
      { role: 'assistant', content: 'three' },
      { role: 'user', content: 'Next' },
    ]);
  });

  it('answers a tool call nothing answered with an error result, so the pairing stays valid', () => {
    const conversation = build([
      message({ role: 'user', content: 'go' }),
      message({ role: 'assistant', toolCallId: 't1', toolName: 'slow', toolInput: {} }),
    ]);
    expect(conversation.messages.slice(1)).toEqual([
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'slow', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: MISSING_TOOL_RESULT_TEXT, is_error: true },
          { type: 'text', text: 'Next' },
        ],
      },
    ]);
  });

  it('keeps the last result of a call (an approval placeholder, then the real output)', () => {
    const conversation = build([
      message({ role: 'user', content: 'go' }),
      message({ role: 'assistant', toolCallId: 't1', toolName: 'rm', toolInput: { path: '/tmp/x' } }),
      message({
        role: 'tool',
        toolCallId: 't1',
        toolName: 'rm',
        toolOutput: '[Execution paused: awaiting human approval]',
      }),
      message({ role: 'tool', toolCallId: 't1', toolName: 'rm', toolOutput: 'removed' }),
    ]);
    expect(conversation.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 't1', content: 'removed' },
        { type: 'text', text: 'Next' },
      ],
    });
  });

  it('turns a result with no matching call right before it into a text line', () => {
    const conversation = build([
      message({ role: 'user', content: 'go' }),
      message({ role: 'assistant', content: 'ok' }),
      message({ role: 'tool', toolCallId: 't9', toolName: 'lost', toolOutput: { a: 1 } }),
    ]);
    expect(conversation.messages.slice(1)).toEqual([
      { role: 'assistant', content: 'ok' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'tool_result(t9): lost {"a":1}' },
          { type: 'text', text: 'Next' },
        ],
      },
    ]);
  });

  it('puts results first in the answering user message, in call order', () => {
    const conversation = build(
      [
        message({ role: 'user', content: 'go' }),
        message({ role: 'assistant', toolCallId: 'a', toolName: 'x', toolInput: {} }),
        message({ role: 'assistant', toolCallId: 'b', toolName: 'y', toolInput: {} }),
        message({ role: 'user', content: 'by the way' }),
        message({ role: 'tool', toolCallId: 'b', toolName: 'y', toolOutput: 'B' }),
        message({ role: 'tool', toolCallId: 'a', toolName: 'x', toolOutput: 'A' }),
      ],
      '',
    );
    expect(conversation.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'a', content: 'A' },
        { type: 'tool_result', tool_use_id: 'b', content: 'B' },
        { type: 'text', text: 'by the way' },
      ],
    });
  });

  it('starts with a user message when the replayed history starts with the assistant', () => {
    const conversation = build([message({ role: 'assistant', content: 'Earlier answer' })]);
    expect(conversation.messages).toEqual([
      { role: 'user', content: OMITTED_HISTORY_TEXT },
      { role: 'assistant', content: 'Earlier answer' },
      { role: 'user', content: 'Next' },
    ]);
  });

  it('collects system messages apart and skips messages of the current run', () => {
    const conversation = build([
      message({ role: 'system', content: 'Be kind.' }),
      message({ role: 'user', content: 'old' }),
      message({ role: 'user', content: 'Next' }, 'run_now'),
    ]);
    expect(conversation.systemTexts).toEqual(['Be kind.']);
    expect(conversation.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'old' },
          { type: 'text', text: 'Next' },
        ],
      },
    ]);
  });
});

describe('toolResultContent', () => {
  it('keeps strings and content blocks, serializes anything else, and omits undefined', () => {
    expect(toolResultContent('text')).toBe('text');
    expect(toolResultContent({ a: 1 })).toBe('{"a":1}');
    expect(toolResultContent(42)).toBe('42');
    expect(toolResultContent(undefined)).toBeUndefined();
    const blocks = [{ type: 'text', text: 'see image' }];
    expect(toolResultContent(blocks)).toBe(blocks);
    expect(toolResultContent([{ kind: 'not a block' }])).toBe('[{"kind":"not a block"}]');
  });
});
