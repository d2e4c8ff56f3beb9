import { afterEach, describe, expect, it } from 'vitest';
import { configure, resetConfig } from '../src/config.js';
import { AsmError, type ErrorCode } from '../src/errors.js';
import { createEvent, type EventData, type EventType, type StoredEvent } from '../src/event.js';
import {
  APPROVAL_PENDING_TOOL_OUTPUT,
  buildTranscript,
  renderTranscriptAsText,
  type Transcript,
  transcriptMessageChars,
  updateTranscript,
} from '../src/transcript.js';

const SESSION = 'ses_00000000000000000000000000000001';
const RUN = 'run_00000000000000000000000000000001';
const RUN2 = 'run_00000000000000000000000000000002';

function ev<T extends EventType>(
  sequence: number,
  type: T,
  data: EventData<T>,
  extra: { runId?: string; sessionId?: string; metadata?: Record<string, unknown>; timestamp?: string } = {},
): StoredEvent {
  const event = createEvent({
    type,
    sessionId: extra.sessionId ?? SESSION,
    runId: extra.runId ?? RUN,
    data,
    id: `evt_${String(sequence).padStart(32, '0')}`,
    timestamp: extra.timestamp ?? new Date(Date.UTC(2026, 0, 1, 0, 0, sequence)).toISOString(),
    metadata: extra.metadata ?? {},
  });
  return { ...event, sequence } as StoredEvent;
}

const sent = (seq: number, content: string, extra = {}) =>
  ev(seq, 'message_sent', { role: 'user', content }, extra);
const received = (seq: number, content: string, role = 'assistant', extra = {}) =>
  ev(seq, 'message_received', { role, content }, extra);
const delta = (seq: number, text: string, kind: 'text' | 'thinking' | 'plan' = 'text', extra = {}) =>
  ev(seq, 'message_streamed', { kind, delta: text }, extra);

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (AsmError.isInstance(error)) return error.code;
    throw error;
  }
  return undefined;
}

function contents(transcript: Transcript): (string | undefined)[] {
  return transcript.messages.map((message) => message.content);
}

afterEach(() => resetConfig());

describe('buildTranscript', () => {
  it('buildTranscript - turns sent and received messages into user and assistant messages', () => {
    const transcript = buildTranscript([sent(1, 'hello'), received(2, 'hi there')]);
    expect(transcript.sessionId).toBe(SESSION);
    expect(transcript.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'hello'],
      ['assistant', 'hi there'],
    ]);
    expect(transcript.metadata).toEqual({});
  });

  it('buildTranscript - sorts by sequence, then timestamp, then id', () => {
    const a = sent(3, 'third');
    const b = sent(1, 'first');
    const c = sent(2, 'second');
    expect(contents(buildTranscript([a, b, c]))).toEqual(['first', 'second', 'third']);

    const sameSeqLate = { ...sent(5, 'late', { timestamp: '2026-01-01T00:00:09.000Z' }), id: 'evt_a' };
    const sameSeqEarly = { ...sent(5, 'early', { timestamp: '2026-01-01T00:00:01.000Z' }), id: 'evt_b' };
    expect(contents(buildTranscript([sameSeqLate, sameSeqEarly]))).toEqual(['early', 'late']);

    const idB = { ...sent(7, 'by id b', { timestamp: '2026-01-01T00:00:01.000Z' }), id: 'evt_b' };
    const idA = { ...sent(7, 'by id a', { timestamp: '2026-01-01T00:00:01.000Z' }), id: 'evt_a' };
    expect(contents(buildTranscript([idB, idA]))).toEqual(['by id a', 'by id b']);
  });

  it('buildTranscript - does not modify the input array', () => {
    const events = [sent(2, 'b'), sent(1, 'a')];
    buildTranscript(events);
    expect(events.map((event) => event.sequence)).toEqual([2, 1]);
  });

  it('buildTranscript - merges consecutive text deltas into one assistant message', () => {
    const transcript = buildTranscript([sent(1, 'q'), delta(2, 'Hel'), delta(3, 'lo'), delta(4, '!')]);
    expect(transcript.messages).toHaveLength(2);
    expect(transcript.messages[1]).toMatchObject({ role: 'assistant', content: 'Hello!', partial: true });
    expect(transcript.messages[1]?.metadata.sequence).toBe(4);
  });

  it('buildTranscript - lets only text deltas (or deltas without kind) into the transcript', () => {
    const noKind = ev(4, 'message_streamed', { delta: ' world' } as unknown as EventData<'message_streamed'>);
    const transcript = buildTranscript([
      delta(1, 'thinking hard', 'thinking'),
      delta(2, 'Hello'),
      delta(3, 'step 1', 'plan'),
      noKind,
    ]);
    expect(contents(transcript)).toEqual(['Hello world']);
  });

  it('buildTranscript - finalizes streamed text with the assistant message_received content', () => {
    const transcript = buildTranscript([delta(1, 'Hel'), delta(2, 'lo'), received(3, 'Hello, final')]);
    expect(transcript.messages).toHaveLength(1);
    expect(transcript.messages[0]).toMatchObject({ role: 'assistant', content: 'Hello, final' });
    expect(transcript.messages[0]?.partial).toBeUndefined();
    expect(transcript.messages[0]?.metadata.eventId).toBe(`evt_${'3'.padStart(32, '0')}`);
  });

  it('buildTranscript - uses the streamed text when message_received is empty', () => {
    const transcript = buildTranscript([delta(1, 'Hel'), delta(2, 'lo'), received(3, '')]);
    expect(contents(transcript)).toEqual(['Hello']);
    expect(transcript.messages[0]?.partial).toBeUndefined();
  });

  it('buildTranscript - flushes streamed text before any other transcript event', () => {
    const transcript = buildTranscript([
      delta(1, 'Let me look'),
      ev(2, 'tool_call_started', { toolCallId: 'call_1', toolName: 'read', toolInput: { path: 'a.txt' } }),
      ev(3, 'tool_call_completed', { toolCallId: 'call_1', toolName: 'read', toolOutput: 'contents' }),
      delta(4, 'Done'),
      received(5, ''),
    ]);
    expect(transcript.messages.map((message) => [message.role, message.content, message.toolName])).toEqual([
      ['assistant', 'Let me look', undefined],
      ['assistant', undefined, 'read'],
      ['tool', undefined, 'read'],
      ['assistant', 'Done', undefined],
    ]);
  });

  it('buildTranscript - does not let non-transcript events break a stream', () => {
    const transcript = buildTranscript([
      delta(1, 'a'),
      ev(2, 'token_usage_updated', { inputTokens: 1 }),
      delta(3, 'b'),
      ev(4, 'run_completed', {}),
    ]);
    expect(contents(transcript)).toEqual(['ab']);
  });

  it('buildTranscript - starts a new message when another run streams', () => {
    const transcript = buildTranscript([
      delta(1, 'first run'),
      delta(2, 'second run', 'text', { runId: RUN2 }),
    ]);
    expect(contents(transcript)).toEqual(['first run', 'second run']);
    expect(transcript.messages[1]?.metadata.runId).toBe(RUN2);
  });

  it('buildTranscript - keeps the role of message_received and defaults message_sent to user', () => {
    const transcript = buildTranscript([
      ev(1, 'message_sent', { role: 'system', content: 'be brief' }),
      ev(2, 'message_sent', { role: 'bogus', content: 'q' }),
      delta(3, 'partial'),
      received(4, 'tool says', 'tool'),
    ]);
    expect(transcript.messages.map((message) => [message.role, message.content])).toEqual([
      ['system', 'be brief'],
      ['user', 'q'],
      ['assistant', 'partial'],
      ['tool', 'tool says'],
    ]);
  });

  it('buildTranscript - skips empty messages', () => {
    expect(buildTranscript([sent(1, ''), received(2, ''), delta(3, '')]).messages).toEqual([]);
  });

  it('buildTranscript - maps tool events with canonical keys', () => {
    const transcript = buildTranscript([
      ev(1, 'tool_call_started', { toolCallId: 'call_1', toolName: 'bash', toolInput: { cmd: 'ls' } }),
      ev(2, 'tool_call_completed', { toolCallId: 'call_1', toolName: 'bash', toolOutput: { stdout: 'a' } }),
      ev(3, 'tool_call_started', { toolCallId: 'call_2', toolName: 'bash', toolInput: 'not an object' }),
      ev(4, 'tool_call_failed', { toolCallId: 'call_2', toolName: 'bash', errorMessage: 'boom' }),
    ]);
    const [call, result, call2, failed] = transcript.messages;
    expect(call).toMatchObject({
      role: 'assistant',
      toolCallId: 'call_1',
      toolName: 'bash',
      toolInput: { cmd: 'ls' },
    });
    expect(call?.content).toBeUndefined();
    expect(result).toMatchObject({
      role: 'tool',
      toolCallId: 'call_1',
      toolName: 'bash',
      toolOutput: { stdout: 'a' },
    });
    expect(call2?.toolInput).toBeUndefined();
    expect(failed).toMatchObject({ role: 'tool', toolCallId: 'call_2', toolOutput: 'boom', isError: true });
  });

  it('buildTranscript - turns tool_approval_requested into a paused tool message and ignores grants', () => {
    const transcript = buildTranscript([
      ev(1, 'tool_call_started', { toolCallId: 'call_1', toolName: 'rm', toolInput: {} }),
      ev(2, 'tool_approval_requested', { toolCallId: 'call_1', toolName: 'rm' }),
      ev(3, 'tool_approval_granted', { toolCallId: 'call_1' }),
      ev(4, 'tool_approval_denied', { toolCallId: 'call_1' }),
    ]);
    expect(transcript.messages).toHaveLength(2);
    expect(transcript.messages[1]).toMatchObject({
      role: 'tool',
      toolCallId: 'call_1',
      toolName: 'rm',
      toolOutput: APPROVAL_PENDING_TOOL_OUTPUT,
    });
    expect(APPROVAL_PENDING_TOOL_OUTPUT).toBe('[Execution paused: awaiting human approval]');
  });

  it('buildTranscript - sets message metadata from the event', () => {
    const transcript = buildTranscript([
      sent(1, 'q', { metadata: { provider: 'claude', eventId: 'spoofed' } }),
    ]);
    expect(transcript.messages[0]?.metadata).toEqual({
      provider: 'claude',
      eventId: `evt_${'1'.padStart(32, '0')}`,
      runId: RUN,
      timestamp: '2026-01-01T00:00:01.000Z',
      sequence: 1,
    });
  });

  it('buildTranscript - records lastSequence and lastTimestamp over every event', () => {
    const transcript = buildTranscript([sent(1, 'q'), received(2, 'a'), ev(3, 'run_completed', {})]);
    expect(transcript.lastSequence).toBe(3);
    expect(transcript.lastTimestamp).toBe('2026-01-01T00:00:03.000Z');
  });

  it('buildTranscript - takes sessionId from options, else the first event, else fails', () => {
    expect(buildTranscript([], { sessionId: 'ses_x' })).toEqual({
      sessionId: 'ses_x',
      messages: [],
      metadata: {},
    });
    expect(buildTranscript([sent(1, 'q')]).sessionId).toBe(SESSION);
    expect(codeOf(() => buildTranscript([]))).toBe('validation_error');
  });

  it('buildTranscript - rejects events of another session', () => {
    expect(codeOf(() => buildTranscript([sent(1, 'q'), sent(2, 'r', { sessionId: 'ses_other' })]))).toBe(
      'session_mismatch',
    );
  });
});

describe('truncation', () => {
  const events = [
    sent(1, 'aaaa'),
    received(2, 'bbbb'),
    sent(3, 'cccc'),
    received(4, 'dddd'),
    sent(5, 'eeee'),
  ];

  it('truncation - maxMessages keeps the newest messages', () => {
    expect(contents(buildTranscript(events, { maxMessages: 2 }))).toEqual(['dddd', 'eeee']);
    expect(buildTranscript(events, { maxMessages: 0 }).messages).toEqual([]);
    expect(contents(buildTranscript(events, { maxMessages: 10 }))).toHaveLength(5);
  });

  it('truncation - maxChars keeps the newest messages that fit', () => {
    expect(contents(buildTranscript(events, { maxChars: 12 }))).toEqual(['cccc', 'dddd', 'eeee']);
    expect(contents(buildTranscript(events, { maxChars: 11 }))).toEqual(['dddd', 'eeee']);
    expect(buildTranscript(events, { maxChars: 3 }).messages).toEqual([]);
  });

  it('truncation - stops at the first message that would exceed the budget', () => {
    const mixed = [sent(1, 'a'), received(2, 'much too long for the budget'), sent(3, 'bb')];
    expect(contents(buildTranscript(mixed, { maxChars: 10 }))).toEqual(['bb']);
  });

  it('truncation - maxTokensApprox uses charsPerToken from options or config', () => {
    expect(contents(buildTranscript(events, { maxTokensApprox: 1 }))).toEqual(['eeee']); // 4 chars
    expect(contents(buildTranscript(events, { maxTokensApprox: 2 }))).toEqual(['dddd', 'eeee']); // 8 chars
    expect(contents(buildTranscript(events, { maxTokensApprox: 2, charsPerToken: 6 }))).toEqual([
      'cccc',
      'dddd',
      'eeee',
    ]);
    configure({ charsPerToken: 5 });
    expect(contents(buildTranscript(events, { maxTokensApprox: 2 }))).toEqual(['dddd', 'eeee']); // 10 chars
  });

  it('truncation - the lower of maxChars and maxTokensApprox wins', () => {
    expect(contents(buildTranscript(events, { maxChars: 100, maxTokensApprox: 1 }))).toEqual(['eeee']);
    expect(contents(buildTranscript(events, { maxChars: 4, maxTokensApprox: 100 }))).toEqual(['eeee']);
  });

  it('truncation - applies maxMessages before the character budget', () => {
    expect(contents(buildTranscript(events, { maxMessages: 1, maxChars: 100 }))).toEqual(['eeee']);
    expect(contents(buildTranscript(events, { maxMessages: 3, maxChars: 8 }))).toEqual(['dddd', 'eeee']);
  });

  it('truncation - counts tool name and JSON of tool input and output', () => {
    const transcript = buildTranscript([
      ev(1, 'tool_call_started', { toolCallId: 'c', toolName: 'bash', toolInput: { a: 1 } }),
      ev(2, 'tool_call_completed', { toolCallId: 'c', toolName: 'bash', toolOutput: 'ok' }),
    ]);
    const [call, result] = transcript.messages;
    expect(call && transcriptMessageChars(call)).toBe(4 + '{"a":1}'.length);
    expect(result && transcriptMessageChars(result)).toBe(4 + 2);
  });

  it('truncation - rejects invalid limits with validation_error', () => {
    expect(codeOf(() => buildTranscript(events, { maxMessages: -1 }))).toBe('validation_error');
    expect(codeOf(() => buildTranscript(events, { maxMessages: 1.5 }))).toBe('validation_error');
    expect(codeOf(() => buildTranscript(events, { maxChars: Number.NaN }))).toBe('validation_error');
    expect(codeOf(() => buildTranscript(events, { charsPerToken: 0 }))).toBe('validation_error');
  });
});

describe('updateTranscript', () => {
  it('updateTranscript - appends events after lastSequence only', () => {
    const first = buildTranscript([sent(1, 'q1'), received(2, 'a1')]);
    const next = updateTranscript(first, [
      sent(1, 'q1'),
      received(2, 'a1'),
      sent(3, 'q2'),
      received(4, 'a2'),
    ]);
    expect(contents(next)).toEqual(['q1', 'a1', 'q2', 'a2']);
    expect(next.lastSequence).toBe(4);
    expect(next.lastTimestamp).toBe('2026-01-01T00:00:04.000Z');
    expect(contents(first)).toEqual(['q1', 'a1']);
  });

  it('updateTranscript - without new events only re-truncates', () => {
    const first = buildTranscript([sent(1, 'q1'), received(2, 'a1')]);
    expect(updateTranscript(first, [])).toEqual(first);
    const cut = updateTranscript(first, [], { maxMessages: 1 });
    expect(contents(cut)).toEqual(['a1']);
    expect(cut.lastSequence).toBe(2);
  });

  it('updateTranscript - re-applies truncation over old and new messages', () => {
    const first = buildTranscript([sent(1, 'q1'), received(2, 'a1')]);
    expect(contents(updateTranscript(first, [sent(3, 'q2')], { maxMessages: 2 }))).toEqual(['a1', 'q2']);
  });

  it('updateTranscript - continues a partial streamed message of the same run', () => {
    const first = buildTranscript([sent(1, 'q'), delta(2, 'Hel')]);
    expect(first.messages[1]?.partial).toBe(true);
    const streamed = updateTranscript(first, [delta(3, 'lo')]);
    expect(contents(streamed)).toEqual(['q', 'Hello']);
    const finalized = updateTranscript(streamed, [received(4, '')]);
    expect(contents(finalized)).toEqual(['q', 'Hello']);
    expect(finalized.messages[1]?.partial).toBeUndefined();
    expect(finalized.messages[1]?.metadata.sequence).toBe(4);
  });

  it('updateTranscript - matches a one-shot build for the same events', () => {
    const events = [
      sent(1, 'q'),
      delta(2, 'a'),
      delta(3, 'b'),
      ev(4, 'tool_call_started', { toolCallId: 'c', toolName: 't', toolInput: {} }),
      ev(5, 'tool_call_completed', { toolCallId: 'c', toolName: 't', toolOutput: 1 }),
      delta(6, 'c'),
      delta(7, 'd'),
      received(8, 'cd!'),
    ];
    const whole = buildTranscript(events);
    for (let split = 0; split <= events.length; split++) {
      const start = buildTranscript(events.slice(0, split), { sessionId: SESSION });
      expect(updateTranscript(start, events.slice(split))).toEqual(whole);
    }
  });

  it('updateTranscript - rejects events of another session', () => {
    const first = buildTranscript([sent(1, 'q')]);
    expect(codeOf(() => updateTranscript(first, [sent(2, 'x', { sessionId: 'ses_other' })]))).toBe(
      'session_mismatch',
    );
  });
});

describe('renderTranscriptAsText', () => {
  it('renderTranscriptAsText - renders role lines, tool calls and tool results', () => {
    const transcript = buildTranscript([
      ev(1, 'message_sent', { role: 'system', content: 'be brief' }),
      sent(2, 'list files'),
      ev(3, 'tool_call_started', { toolCallId: 'call_1', toolName: 'bash', toolInput: { cmd: 'ls' } }),
      ev(4, 'tool_call_completed', {
        toolCallId: 'call_1',
        toolName: 'bash',
        toolOutput: { stdout: 'a.txt' },
      }),
      received(5, 'One file: a.txt'),
    ]);
    expect(renderTranscriptAsText(transcript)).toBe(
      [
        'system: be brief',
        'user: list files',
        'assistant_tool_call(call_1): bash {"cmd":"ls"}',
        'tool_result(call_1): bash {"stdout":"a.txt"}',
        'assistant: One file: a.txt',
      ].join('\n'),
    );
  });

  it('renderTranscriptAsText - renders missing tool input and output and approval pauses', () => {
    const transcript = buildTranscript([
      ev(1, 'tool_call_started', { toolCallId: 'c', toolName: 'rm' }),
      ev(2, 'tool_approval_requested', { toolCallId: 'c', toolName: 'rm' }),
      ev(3, 'tool_call_completed', { toolCallId: 'c', toolName: 'rm' }),
    ]);
    expect(renderTranscriptAsText(transcript).split('\n')).toEqual([
      'assistant_tool_call(c): rm {}',
      'tool_result(c): rm "[Execution paused: awaiting human approval]"',
      'tool_result(c): rm null',
    ]);
  });

  it('renderTranscriptAsText - renders an empty transcript as an empty string', () => {
    expect(renderTranscriptAsText({ sessionId: SESSION, messages: [], metadata: {} })).toBe('');
  });
});
