import { describe, expect, it } from 'vitest';
import {
  buildAmpArgs,
  buildAmpPrompt,
  classifyAmpError,
  mapAmpPermissionMode,
  parseAmpLine,
  parseAmpMessage,
  toolResultText,
} from '../src/index.js';
import { fixtureLines } from './helpers.js';

describe('parseAmpLine', () => {
  it('accepts every line of the recorded fixtures as a known message', () => {
    for (const name of ['plain-answer', 'tool-round-trip', 'failing-tool', 'error-result']) {
      for (const line of fixtureLines(name)) expect(parseAmpLine(line).kind, line).toBe('message');
    }
  });

  it('tolerates what the real CLI omits: no id or model, no usage, no result usage', () => {
    const assistant = parseAmpMessage({
      type: 'assistant',
      message: { role: 'assistant', content: [{ type: 'text', text: 'hi' }] },
    });
    expect(assistant).toEqual({
      kind: 'message',
      message: {
        type: 'assistant',
        parent_tool_use_id: null,
        message: { content: [{ type: 'text', text: 'hi' }] },
      },
    });
    const result = parseAmpMessage({ type: 'result', subtype: 'success', is_error: false, result: 'ok' });
    expect(result).toEqual({
      kind: 'message',
      message: { type: 'result', subtype: 'success', is_error: false, result: 'ok' },
    });
  });

  it('defaults a system message without tools or servers, and drops values of the wrong type', () => {
    expect(parseAmpMessage({ type: 'system', session_id: 'T-1', tools: ['Bash', 3], cwd: 7 })).toEqual({
      kind: 'message',
      message: { type: 'system', subtype: 'init', session_id: 'T-1', tools: ['Bash'], mcp_servers: [] },
    });
  });

  it('reads an error result from error, else result, else its subtype', () => {
    const fromResult = parseAmpMessage({
      type: 'result',
      subtype: 'error_max_turns',
      is_error: true,
      result: 'too long',
    });
    expect(
      fromResult.kind === 'message' &&
        fromResult.message.type === 'result' &&
        fromResult.message.is_error &&
        fromResult.message.error,
    ).toBe('too long');
    const bare = parseAmpMessage({ type: 'result', subtype: 'error_during_execution' });
    expect(bare).toMatchObject({ message: { is_error: true, error: 'Amp reported error_during_execution' } });
  });

  it('keeps unknown blocks as unknown and unknown types as unrecognized', () => {
    const parsed = parseAmpMessage({
      type: 'assistant',
      message: { content: [{ type: 'image', source: {} }, 'text?'] },
    });
    expect(parsed).toMatchObject({
      kind: 'message',
      message: {
        message: {
          content: [
            { type: 'unknown', originalType: 'image' },
            { type: 'unknown', originalType: 'string', raw: 'text?' },
          ],
        },
      },
    });
    expect(parseAmpMessage({ type: 'heartbeat' })).toMatchObject({ kind: 'unrecognized', type: 'heartbeat' });
    expect(parseAmpMessage({ type: 'user', message: {} })).toMatchObject({
      kind: 'unrecognized',
      type: 'user',
    });
  });

  it('calls anything that is not a JSON object with a string type invalid', () => {
    expect(parseAmpLine('not json')).toEqual({ kind: 'invalid', reason: 'the line is not valid JSON' });
    expect(parseAmpLine('[1,2]').kind).toBe('invalid');
    expect(parseAmpLine('"text"').kind).toBe('invalid');
    expect(parseAmpLine('{"type":5}').kind).toBe('invalid');
  });

  it('turns tool result content into text when it is text', () => {
    expect(toolResultText('plain')).toBe('plain');
    expect(
      toolResultText([
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ]),
    ).toBe('ab');
    expect(toolResultText({ exitCode: 1 })).toBeUndefined();
  });
});

describe('classifyAmpError', () => {
  it.each([
    ['Rate limit exceeded', 'provider_rate_limited', 'rate_limit'],
    ['HTTP 429 Too Many Requests', 'provider_rate_limited', 'rate_limit'],
    ['Insufficient credits: top up at ampcode.com', 'provider_quota_exceeded', 'quota'],
    ['Error: Invalid or missing API key', 'provider_authentication_failed', 'authentication'],
    ['401 Unauthorized', 'provider_authentication_failed', 'authentication'],
    ['request timed out after 60s', 'provider_timeout', 'timeout'],
    ["Couldn't connect to the Amp server", 'provider_unavailable', 'unavailable'],
    ['model overloaded, try again', 'provider_unavailable', 'unavailable'],
    ['502 Bad Gateway', 'provider_unavailable', 'unavailable'],
    ['the patch did not apply', 'provider_error', 'unknown'],
  ])('%s → %s', (text, code, kind) => {
    expect(classifyAmpError(text)).toEqual({ code, kind });
  });

  it('uses the fallback kind for unknown text', () => {
    expect(classifyAmpError('segfault', 'transport_exit')).toEqual({
      code: 'provider_error',
      kind: 'transport_exit',
    });
  });
});

describe('buildAmpArgs, mapAmpPermissionMode and buildAmpPrompt', () => {
  it('puts threads continue first and the rest in the SDK order', () => {
    expect(
      buildAmpArgs({ threadId: 'T-1', dangerouslyAllowAll: true, mcpConfig: '/etc/mcp.json', labels: ['a'] }),
    ).toEqual([
      'threads',
      'continue',
      'T-1',
      '--execute',
      '--stream-json',
      '--dangerously-allow-all',
      '--mcp-config',
      '/etc/mcp.json',
      '--label',
      'a',
    ]);
  });

  it('maps permission modes', () => {
    expect(mapAmpPermissionMode(undefined)).toEqual({ dangerouslyAllowAll: false, supported: true });
    expect(mapAmpPermissionMode('default')).toEqual({ dangerouslyAllowAll: false, supported: true });
    expect(mapAmpPermissionMode('full_auto')).toEqual({ dangerouslyAllowAll: true, supported: true });
    expect(mapAmpPermissionMode('dangerously_skip_permissions')).toEqual({
      dangerouslyAllowAll: true,
      supported: true,
    });
    expect(mapAmpPermissionMode('accept_edits')).toEqual({ dangerouslyAllowAll: false, supported: false });
    expect(mapAmpPermissionMode('plan')).toEqual({ dangerouslyAllowAll: false, supported: false });
  });

  it('builds the prompt from a string, { prompt } or { messages }', () => {
    expect(buildAmpPrompt('hi')).toBe('hi');
    expect(buildAmpPrompt({ prompt: 'hello' })).toBe('hello');
    expect(
      buildAmpPrompt({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ],
      }),
    ).toBe('user: a\nuser: b');
    expect(() => buildAmpPrompt('')).toThrowError(expect.objectContaining({ code: 'validation_error' }));
  });
});
