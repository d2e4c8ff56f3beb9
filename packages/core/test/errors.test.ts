import { describe, expect, it } from 'vitest';
import {
  AsmError,
  classifyError,
  defaultErrorMessage,
  ERROR_CODES,
  ERROR_CODES_BY_CATEGORY,
  type ErrorCategory,
  type ErrorCode,
  errorCategory,
  errorCodeForHttpStatus,
  isErrorCode,
  isRetryable,
  normalizeProviderError,
  RETRYABLE_ERROR_CODES,
  truncateText,
} from '../src/index.js';

/** The 45 codes of the reference taxonomy (spec CORE-error-codes), by category. */
const TAXONOMY: Record<ErrorCategory, readonly string[]> = {
  validation: ['validation_error', 'invalid_input', 'missing_required_field', 'invalid_format'],
  state: [
    'invalid_status',
    'invalid_transition',
    'invalid_event_type',
    'invalid_capability_type',
    'missing_required_capability',
    'stream_closed',
    'context_mismatch',
    'invalid_cursor',
    'session_mismatch',
    'run_mismatch',
  ],
  resource: [
    'not_found',
    'session_not_found',
    'run_not_found',
    'capability_not_found',
    'already_exists',
    'duplicate_capability',
  ],
  provider: [
    'provider_error',
    'provider_unavailable',
    'provider_rate_limited',
    'provider_timeout',
    'provider_authentication_failed',
    'provider_quota_exceeded',
  ],
  storage: [
    'storage_error',
    'storage_connection_failed',
    'dependency_not_available',
    'migration_required',
    'storage_write_failed',
    'storage_read_failed',
  ],
  runtime: ['timeout', 'cancelled', 'policy_violation', 'internal_error', 'unknown_error'],
  concurrency: [
    'max_sessions_exceeded',
    'max_runs_exceeded',
    'capability_not_supported',
    'invalid_operation',
  ],
  tool: ['tool_error', 'tool_not_found', 'tool_execution_failed', 'tool_permission_denied'],
};

/** Codes the reference library uses outside its taxonomy (spec CORE-error-extra-codes). */
const EXTRA_CODES = [
  'query_error',
  'maintenance_error',
  'persistence_error',
  'command_not_found',
  'command_failed',
  'command_timeout',
];

const RETRYABLE = [
  'provider_timeout',
  'provider_rate_limited',
  'provider_unavailable',
  'storage_connection_failed',
  'timeout',
];

const TAXONOMY_CODES = Object.values(TAXONOMY).flat();

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the function to throw');
}

describe('error codes', () => {
  it('the taxonomy has 45 codes in 8 categories', () => {
    expect(TAXONOMY_CODES).toHaveLength(45);
    expect(new Set(TAXONOMY_CODES).size).toBe(45);
    expect(Object.keys(ERROR_CODES_BY_CATEGORY).sort()).toEqual(Object.keys(TAXONOMY).sort());
  });

  it.each(Object.entries(TAXONOMY).flatMap(([category, codes]) => codes.map((code) => [code, category])))(
    '%s is a known code in category %s',
    (code, category) => {
      expect(isErrorCode(code)).toBe(true);
      expect(ERROR_CODES).toContain(code);
      expect(errorCategory(code as ErrorCode)).toBe(category);
      expect(new AsmError(code as ErrorCode).category).toBe(category);
    },
  );

  it.each(EXTRA_CODES)('extra code %s is known and categorized', (code) => {
    expect(isErrorCode(code)).toBe(true);
    expect(ERROR_CODES).toContain(code);
    const category = errorCategory(code as ErrorCode);
    expect(Object.keys(TAXONOMY)).toContain(category);
    expect(ERROR_CODES_BY_CATEGORY[category] as readonly string[]).toContain(code);
  });

  it('ERROR_CODES is exactly the taxonomy plus the extra codes, without duplicates', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect([...ERROR_CODES].sort()).toEqual([...TAXONOMY_CODES, ...EXTRA_CODES].sort());
  });

  it('ERROR_CODES_BY_CATEGORY lists every code under exactly one category', () => {
    const listed = Object.values(ERROR_CODES_BY_CATEGORY).flat();
    expect(listed).toHaveLength(ERROR_CODES.length);
    for (const [category, codes] of Object.entries(ERROR_CODES_BY_CATEGORY)) {
      for (const code of codes) expect(errorCategory(code)).toBe(category);
    }
  });

  it('rejects names that are not codes', () => {
    expect(isErrorCode('nope')).toBe(false);
    expect(isErrorCode('')).toBe(false);
    expect(isErrorCode('VALIDATION_ERROR')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(() => errorCategory('nope' as ErrorCode)).toThrow(TypeError);
  });
});

describe('retryable codes', () => {
  it('exactly five codes are retryable', () => {
    expect([...RETRYABLE_ERROR_CODES].sort()).toEqual([...RETRYABLE].sort());
  });

  it.each(ERROR_CODES.map((code) => [code, RETRYABLE.includes(code)]))(
    '%s retryable: %s',
    (code, expected) => {
      expect(isRetryable(code)).toBe(expected);
      expect(new AsmError(code as ErrorCode).retryable).toBe(expected);
      expect(isRetryable(new AsmError(code as ErrorCode))).toBe(expected);
    },
  );

  it('the retryable option overrides the flag the code implies', () => {
    expect(new AsmError('timeout', 'x', { retryable: false }).retryable).toBe(false);
    expect(new AsmError('validation_error', 'x', { retryable: true }).retryable).toBe(true);
  });

  it('isRetryable is false for plain errors and unknown strings', () => {
    expect(isRetryable(new Error('timeout'))).toBe(false);
    expect(isRetryable('nope')).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
  });
});

describe('default messages', () => {
  it('uses the reference messages', () => {
    expect(defaultErrorMessage('timeout')).toBe('Operation timed out');
    expect(defaultErrorMessage('policy_violation')).toBe('Policy violation occurred');
    expect(defaultErrorMessage('dependency_not_available')).toBe(
      'Required optional dependency is not available',
    );
    expect(defaultErrorMessage('unknown_error')).toBe('An error occurred');
  });

  it.each(ERROR_CODES)('%s has its own non-empty default message', (code) => {
    const message = defaultErrorMessage(code);
    expect(message.length).toBeGreaterThan(0);
    if (code !== 'unknown_error') expect(message).not.toBe('An error occurred');
    expect(new AsmError(code).message).toBe(message);
  });

  it('an explicit message wins over the default', () => {
    expect(new AsmError('timeout', 'took too long').message).toBe('took too long');
  });
});

describe('AsmError', () => {
  it('carries code, category, retryable, details, providerError, cause and a timestamp', () => {
    const cause = new Error('root');
    const providerError = { provider: 'claude', kind: 'rate_limit', message: 'slow down' };
    const error = new AsmError('provider_rate_limited', 'limited', {
      details: { retryAfterSeconds: 3 },
      providerError,
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AsmError');
    expect(error.code).toBe('provider_rate_limited');
    expect(error.category).toBe('provider');
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ retryAfterSeconds: 3 });
    expect(error.providerError).toEqual(providerError);
    expect(error.cause).toBe(cause);
    expect(Number.isNaN(Date.parse(error.timestamp))).toBe(false);
  });

  it('defaults details to an empty object and providerError to undefined', () => {
    const error = new AsmError('not_found');
    expect(error.details).toEqual({});
    expect(error.providerError).toBeUndefined();
    expect(error.cause).toBeUndefined();
  });

  it('toString is "[code] message"', () => {
    expect(new AsmError('session_not_found', 'Session ses_1 not found').toString()).toBe(
      '[session_not_found] Session ses_1 not found',
    );
    expect(String(new AsmError('timeout'))).toBe('[timeout] Operation timed out');
  });

  describe('isInstance', () => {
    it('recognizes its own instances', () => {
      expect(AsmError.isInstance(new AsmError('timeout'))).toBe(true);
    });

    it('recognizes an error made by another copy of the class (Symbol.for marker)', () => {
      class OtherCopyAsmError extends Error {
        readonly code = 'timeout';
        constructor(message: string) {
          super(message);
          Object.defineProperty(this, Symbol.for('@asm/core/AsmError'), { value: true });
        }
      }
      const foreign = new OtherCopyAsmError('from another copy');
      expect(foreign instanceof AsmError).toBe(false);
      expect(AsmError.isInstance(foreign)).toBe(true);
    });

    it('rejects plain errors, look-alikes and non-objects', () => {
      expect(AsmError.isInstance(new Error('x'))).toBe(false);
      expect(AsmError.isInstance({ name: 'AsmError', code: 'timeout', message: 'x' })).toBe(false);
      expect(AsmError.isInstance({ [Symbol.for('@asm/core/AsmError')]: 'yes' })).toBe(false);
      expect(AsmError.isInstance({ [Symbol('@asm/core/AsmError')]: true })).toBe(false);
      expect(AsmError.isInstance(null)).toBe(false);
      expect(AsmError.isInstance(undefined)).toBe(false);
      expect(AsmError.isInstance('[timeout] x')).toBe(false);
    });
  });

  describe('from', () => {
    it('passes an AsmError through unchanged', () => {
      const original = new AsmError('session_not_found', 'gone');
      expect(AsmError.from(original)).toBe(original);
      expect(AsmError.from(original, 'storage_error', 'other message')).toBe(original);
    });

    it('wraps a plain error with internal_error by default, keeping its message and cause', () => {
      const cause = new Error('boom');
      const error = AsmError.from(cause);
      expect(AsmError.isInstance(error)).toBe(true);
      expect(error.code).toBe('internal_error');
      expect(error.message).toBe('boom');
      expect(error.cause).toBe(cause);
      expect(error.details.originalMessage).toBeUndefined();
    });

    it('with a message, keeps the original one in details.originalMessage', () => {
      const cause = new TypeError('disk is full');
      const error = AsmError.from(cause, 'storage_write_failed', 'Could not write events');
      expect(error.code).toBe('storage_write_failed');
      expect(error.message).toBe('Could not write events');
      expect(error.details.originalMessage).toBe('disk is full');
      expect(error.details.originalName).toBe('TypeError');
      expect(error.cause).toBe(cause);
    });

    it('wraps non-error values', () => {
      const error = AsmError.from('plain string', 'provider_error');
      expect(error.code).toBe('provider_error');
      expect(error.message).toBe('plain string');
      expect(error.cause).toBe('plain string');
    });
  });

  describe('toJSON / fromJSON', () => {
    it('round-trips through JSON.stringify', () => {
      const error = new AsmError('provider_rate_limited', 'slow down', {
        details: { retryAfterSeconds: 30 },
        providerError: { provider: 'claude', kind: 'rate_limit', message: 'slow down', status: 429 },
      });
      const json = JSON.parse(JSON.stringify(error)) as Record<string, unknown>;
      expect(json).toEqual({
        name: 'AsmError',
        code: 'provider_rate_limited',
        message: 'slow down',
        category: 'provider',
        retryable: true,
        details: { retryAfterSeconds: 30 },
        providerError: { provider: 'claude', kind: 'rate_limit', message: 'slow down', status: 429 },
        timestamp: error.timestamp,
      });
      const back = AsmError.fromJSON(json);
      expect(AsmError.isInstance(back)).toBe(true);
      expect(back.toJSON()).toEqual(error.toJSON());
    });

    it('omits providerError from JSON when there is none', () => {
      expect('providerError' in new AsmError('timeout').toJSON()).toBe(false);
    });

    it('round-trips an overridden retryable flag', () => {
      // The in-memory store rejects calls on a closed store with a non-retryable
      // storage_connection_failed; a run row or wire hop must not make it retryable again.
      const error = new AsmError('storage_connection_failed', 'The store is closed', { retryable: false });
      const back = AsmError.fromJSON(JSON.parse(JSON.stringify(error)));
      expect(back.retryable).toBe(false);
    });

    it('an unknown code is validation_error', () => {
      const error = thrown(() => AsmError.fromJSON({ code: 'made_up', message: 'x' }));
      expect(AsmError.isInstance(error)).toBe(true);
      expect((error as AsmError).code).toBe('validation_error');
      expect((error as AsmError).message).toBe('Invalid error code');
    });

    it('rejects non-objects and a missing message', () => {
      for (const bad of [null, 'timeout', 42, { code: 'timeout' }, { code: 'timeout', message: 3 }]) {
        const error = thrown(() => AsmError.fromJSON(bad));
        expect((error as AsmError).code).toBe('validation_error');
      }
    });

    it('a missing timestamp becomes now', () => {
      const before = Date.now();
      const error = AsmError.fromJSON({ code: 'timeout', message: 'x' });
      expect(Date.parse(error.timestamp)).toBeGreaterThanOrEqual(before - 1);
    });
  });
});

describe('classifyError', () => {
  it.each([
    ['provider_timeout', 'retry'],
    ['storage_connection_failed', 'retry'],
    ['timeout', 'retry'],
    ['provider_rate_limited', 'wait_and_retry'],
    ['max_runs_exceeded', 'wait_and_retry'],
    ['provider_unavailable', 'failover'],
    ['cancelled', 'cancel'],
    ['policy_violation', 'cancel'],
    ['validation_error', 'fail'],
    ['session_not_found', 'fail'],
    ['provider_authentication_failed', 'fail'],
    ['provider_quota_exceeded', 'fail'],
    ['internal_error', 'fail'],
  ] as const)('%s -> %s', (code, action) => {
    expect(classifyError(new AsmError(code))).toBe(action);
  });

  it('anything that is not an AsmError fails', () => {
    expect(classifyError(new Error('timeout'))).toBe('fail');
    expect(classifyError('provider_timeout')).toBe('fail');
    expect(classifyError(undefined)).toBe('fail');
  });
});

describe('errorCodeForHttpStatus', () => {
  it.each([
    [401, 'provider_authentication_failed'],
    [403, 'provider_authentication_failed'],
    [402, 'provider_quota_exceeded'],
    [408, 'provider_timeout'],
    [409, 'provider_unavailable'],
    [429, 'provider_rate_limited'],
    [500, 'provider_unavailable'],
    [503, 'provider_unavailable'],
    [529, 'provider_unavailable'],
    [400, 'provider_error'],
    [404, 'provider_error'],
    [undefined, 'provider_error'],
  ] as const)('%s -> %s', (status, code) => {
    expect(errorCodeForHttpStatus(status)).toBe(code);
  });
});

describe('truncateText', () => {
  it('leaves short text alone', () => {
    expect(truncateText('hello\nworld', 100, 10)).toEqual({ text: 'hello\nworld', truncated: false });
    expect(truncateText('', 10, 10)).toEqual({ text: '', truncated: false });
  });

  it('cuts to the line limit first', () => {
    const text = ['one', 'two', 'three', 'four'].join('\n');
    expect(truncateText(text, 1_000, 2)).toEqual({ text: 'one\ntwo', truncated: true });
  });

  it('then cuts to the byte limit', () => {
    const text = Array.from({ length: 10 }, (_, i) => `line-${i}-${'x'.repeat(20)}`).join('\n');
    const { text: cut, truncated } = truncateText(text, 40, 5);
    expect(truncated).toBe(true);
    expect(Buffer.byteLength(cut, 'utf8')).toBe(40);
    expect(text.startsWith(cut)).toBe(true);
    expect(cut.split('\n').length).toBeLessThanOrEqual(5);
  });

  it('applies both limits: few long lines are cut by bytes, many short lines by lines', () => {
    const long = truncateText('a'.repeat(500), 100, 200);
    expect(long).toEqual({ text: 'a'.repeat(100), truncated: true });
    const many = truncateText('b\n'.repeat(500), 100_000, 3);
    expect(many).toEqual({ text: 'b\nb\nb', truncated: true });
  });

  it('defaults to 16 KiB and 200 lines', () => {
    const bytes = truncateText('a'.repeat(20_000));
    expect(bytes.truncated).toBe(true);
    expect(bytes.text).toHaveLength(16_384);
    expect(truncateText('a'.repeat(16_384)).truncated).toBe(false);

    const lines = Array.from({ length: 300 }, (_, i) => `l${i}`);
    const cut = truncateText(lines.join('\n'));
    expect(cut.truncated).toBe(true);
    expect(cut.text).toBe(lines.slice(0, 200).join('\n'));
    expect(truncateText(lines.slice(0, 200).join('\n')).truncated).toBe(false);
  });

  it('never splits a multi-byte character', () => {
    const text = 'aé€😀'.repeat(8); // 1 + 2 + 3 + 4 bytes per repetition
    const totalBytes = Buffer.byteLength(text, 'utf8');
    for (let maxBytes = 0; maxBytes <= totalBytes + 1; maxBytes++) {
      const { text: cut, truncated } = truncateText(text, maxBytes, 1_000);
      const cutBytes = Buffer.byteLength(cut, 'utf8');
      expect(cut).not.toContain('\uFFFD');
      expect(text.startsWith(cut)).toBe(true);
      expect(cutBytes).toBeLessThanOrEqual(maxBytes);
      // The cut is as long as it can be: at most one (4-byte) character is dropped past the limit.
      expect(cutBytes).toBeGreaterThan(Math.min(maxBytes, totalBytes) - 4);
      expect(truncated).toBe(maxBytes < totalBytes);
    }
  });

  it('cuts a run of 4-byte characters on a character boundary', () => {
    expect(truncateText('😀😀😀', 6, 10)).toEqual({ text: '😀', truncated: true });
    expect(truncateText('éééé', 5, 10)).toEqual({ text: 'éé', truncated: true });
  });
});

describe('normalizeProviderError', () => {
  it('keeps the given fields', () => {
    const info = normalizeProviderError('claude', {
      kind: 'http_error',
      message: 'Overloaded',
      status: 529,
      requestId: 'req_1',
      retryAfterSeconds: 12,
    });
    expect(info).toEqual({
      provider: 'claude',
      kind: 'http_error',
      message: 'Overloaded',
      status: 529,
      requestId: 'req_1',
      retryAfterSeconds: 12,
    });
  });

  it('defaults kind to unknown', () => {
    expect(normalizeProviderError('amp', { message: 'x' }).kind).toBe('unknown');
  });

  it('falls back to the first non-empty stderr line for the message', () => {
    const info = normalizeProviderError('codex', {
      stderr: '\n   \n  error: model not found  \nsecond line\n',
    });
    expect(info.message).toBe('error: model not found');
    expect(info.stderr).toBe('\n   \n  error: model not found  \nsecond line\n');
    expect(info.truncated).toBeUndefined();
  });

  it('falls back to "Provider execution failed" without message or useful stderr', () => {
    expect(normalizeProviderError('codex', {}).message).toBe('Provider execution failed');
    expect(normalizeProviderError('codex', { stderr: '\n \n' }).message).toBe('Provider execution failed');
    expect(normalizeProviderError('codex', { message: '' }).message).toBe('Provider execution failed');
  });

  it('an explicit message wins over stderr', () => {
    expect(normalizeProviderError('codex', { message: 'exit 1', stderr: 'oops' }).message).toBe('exit 1');
  });

  it('truncates stderr to the given limits and flags it', () => {
    const info = normalizeProviderError(
      'amp',
      { message: 'x', stderr: 'a\nb\nc\nd\n' + 'e'.repeat(50) },
      { maxLines: 3, maxBytes: 100 },
    );
    expect(info.stderr).toBe('a\nb\nc');
    expect(info.truncated).toBe(true);

    const bytes = normalizeProviderError('amp', { message: 'x', stderr: 'z'.repeat(100) }, { maxBytes: 10 });
    expect(bytes.stderr).toBe('z'.repeat(10));
    expect(bytes.truncated).toBe(true);
  });

  it('truncates stderr to 16 KiB by default', () => {
    const info = normalizeProviderError('amp', { stderr: 'q'.repeat(40_000) });
    expect(info.stderr).toHaveLength(16_384);
    expect(info.truncated).toBe(true);
  });

  it('stringifies a non-string stderr and flags it', () => {
    const info = normalizeProviderError('codex', { message: 'x', stderr: { code: 1, text: 'bad' } });
    expect(info.stderr).toBe('{"code":1,"text":"bad"}');
    expect(info.truncated).toBe(true);

    const numeric = normalizeProviderError('codex', { message: 'x', stderr: 42 });
    expect(numeric.stderr).toBe('42');
    expect(numeric.truncated).toBe(true);
  });

  it('parses a numeric-string exit code and keeps a numeric one', () => {
    expect(normalizeProviderError('codex', { exitCode: '127' }).exitCode).toBe(127);
    expect(normalizeProviderError('codex', { exitCode: 2 }).exitCode).toBe(2);
    expect(normalizeProviderError('codex', { exitCode: 0 }).exitCode).toBe(0);
    expect('exitCode' in normalizeProviderError('codex', { exitCode: 'abc' })).toBe(false);
    expect('exitCode' in normalizeProviderError('codex', {})).toBe(false);
  });
});
