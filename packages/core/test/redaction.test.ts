import { describe, expect, it } from 'vitest';
import { SECRET_SAMPLES } from '../../testing/src/fakes/secret-samples.js';
import { createRedactor, DEFAULT_REDACTION_PATTERNS } from '../src/index.js';

describe('createRedactor', () => {
  it('ships the 22 default patterns, one sample each in these tests', () => {
    expect(DEFAULT_REDACTION_PATTERNS).toHaveLength(22);
    expect(SECRET_SAMPLES.map(([category]) => category)).toEqual(
      DEFAULT_REDACTION_PATTERNS.map((entry) => entry.category),
    );
  });

  it.each(SECRET_SAMPLES)('redacts %s', (category, text, secret) => {
    const redactor = createRedactor({ replacement: 'categorized' });
    const { value, count } = redactor.redactString(text);
    expect(value).not.toContain(secret);
    expect(value).toContain(`[REDACTED:${category}]`);
    expect(count).toBeGreaterThan(0);
  });

  it('leaves ordinary text alone and counts nothing', () => {
    const redactor = createRedactor();
    expect(redactor.redactString('The password policy needs 12 characters; see docs.')).toEqual({
      value: 'The password policy needs 12 characters; see docs.',
      count: 0,
    });
  });

  it('scans nested data to the depth limit and copies only what changed', () => {
    const redactor = createRedactor({ maxDepth: 3 });
    const untouched = { note: 'fine' };
    const data = {
      a: { b: 'password=x1' },
      list: ['token', 'AKIAABCDEFGHIJKLMNOP'],
      untouched,
      deep: { l2: { l3: { l4: 'password=x2' } } },
    };
    const { value, count } = redactor.redactValue(data);
    expect(value.a.b).toBe('[REDACTED]');
    expect(value.list).toEqual(['token', '[REDACTED]']);
    expect(value.untouched).toBe(untouched);
    expect(value.deep.l2.l3.l4).toBe('password=x2');
    expect(count).toBe(2);
    expect(data.a.b).toBe('password=x1');
  });

  it('adds custom patterns after the defaults, or replaces them', () => {
    const added = createRedactor({
      patterns: [{ category: 'ticket', pattern: /TICKET-\d+/ }],
      replacement: 'categorized',
    });
    expect(added.redactString('TICKET-42 and AKIAABCDEFGHIJKLMNOP').value).toBe(
      '[REDACTED:ticket] and [REDACTED:aws_access_key]',
    );
    const replaced = createRedactor({ replacePatterns: [{ category: 'ticket', pattern: /TICKET-\d+/ }] });
    expect(replaced.redactString('TICKET-42 and AKIAABCDEFGHIJKLMNOP').value).toBe(
      '[REDACTED] and AKIAABCDEFGHIJKLMNOP',
    );
  });

  it('skips types that carry no free text, and metadata unless asked', () => {
    const redactor = createRedactor();
    const secret = { note: 'password=x1' };
    expect(redactor.redactEventParts('token_usage_updated', secret, {}).count).toBe(0);
    const parts = redactor.redactEventParts('message_received', { content: 'password=x1' }, secret);
    expect(parts.data.content).toBe('[REDACTED]');
    expect(parts.metadata).toBe(secret);
    const withMetadata = createRedactor({ scanMetadata: true }).redactEventParts(
      'message_received',
      {},
      secret,
    );
    expect(withMetadata.metadata.note).toBe('[REDACTED]');
  });

  it('scans only the text fields of a type when deepScan is off', () => {
    const redactor = createRedactor({ deepScan: false });
    const parts = redactor.redactEventParts(
      'tool_call_completed',
      {
        toolName: 'password=name',
        toolOutput: { text: 'password=out' },
      },
      {},
    );
    expect(parts.data.toolName).toBe('password=name');
    expect((parts.data.toolOutput as { text: string }).text).toBe('[REDACTED]');
  });

  it('does nothing when disabled', () => {
    const redactor = createRedactor({ enabled: false });
    expect(redactor.redactString('password=x1').value).toBe('password=x1');
  });

  it('rejects a malformed pattern with validation_error', () => {
    expect(() =>
      createRedactor({ patterns: [{ category: 'x', pattern: 'nope' as unknown as RegExp }] }),
    ).toThrow(/pattern 22/);
  });
});
