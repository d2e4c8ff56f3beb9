import { AsmError } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { toStorageError } from '../src/errors.js';
import { notifyChannel, qualifiedNames, quoteIdentifier, statementPrefix } from '../src/identifiers.js';
import { toInstant } from '../src/timestamps.js';

describe('toInstant', () => {
  it('floors to the microsecond and keeps the nanoseconds below it', () => {
    expect(toInstant('2024-01-01T00:00:00.123Z', 't')).toEqual({ utc: '2024-01-01T00:00:00.123Z', nanos: 0 });
    expect(toInstant('2024-01-01T00:00:00Z', 't')).toEqual({ utc: '2024-01-01T00:00:00.000000Z', nanos: 0 });
    expect(toInstant('2024-01-01T00:00:00.123456789Z', 't')).toEqual({
      utc: '2024-01-01T00:00:00.123456Z',
      nanos: 789,
    });
    expect(toInstant('2024-01-01T02:30:00.0000015+02:30', 't')).toEqual({
      utc: '2024-01-01T00:00:00.000001Z',
      nanos: 500,
    });
    expect(toInstant('2023-12-31T23:59:59.999999999-01:00', 't')).toEqual({
      utc: '2024-01-01T00:59:59.999999Z',
      nanos: 999,
    });
  });

  it('rejects what is not an ISO timestamp with a zone, or lies outside years 1-9999', () => {
    for (const value of [
      'yesterday',
      '2024-01-01T00:00:00',
      '2024-13-01T00:00:00Z',
      '0000-01-01T00:00:00Z',
    ]) {
      expect(() => toInstant(value, 't')).toThrow(AsmError);
    }
  });
});

describe('identifiers', () => {
  it('quotes any name safely and keeps channel and statement names within 63 bytes', () => {
    expect(quoteIdentifier('a"b')).toBe('"a""b"');
    expect(qualifiedNames('we"ird').events).toBe('"we""ird"."asm_events"');
    const long = 'ü'.repeat(31);
    expect(Buffer.byteLength(notifyChannel(long))).toBeLessThanOrEqual(63);
    expect(notifyChannel('asm')).toBe('asm_events:asm');
    expect(statementPrefix('a')).not.toBe(statementPrefix('b'));
  });
});

describe('toStorageError', () => {
  const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

  it('maps lost connections, shutdowns and timeouts to retryable storage_connection_failed', () => {
    const cases: unknown[] = [
      pgError('57P01'),
      pgError('57P03'),
      pgError('08006'),
      pgError('57014'),
      pgError('53300'),
      pgError('ECONNREFUSED'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ];
    for (const error of cases) {
      const mapped = toStorageError(error, 'appendEvents', 'storage_write_failed');
      expect(mapped.code).toBe('storage_connection_failed');
      expect(mapped.retryable).toBe(true);
      expect(mapped.cause).toBe(error);
    }
  });

  it('maps refused values to validation_error, missing tables to storage_error, the rest to the fallback', () => {
    expect(toStorageError(pgError('22P05'), 'appendEvents').code).toBe('validation_error');
    expect(toStorageError(pgError('42P01'), 'getEvents', 'storage_read_failed').code).toBe('storage_error');
    expect(toStorageError(pgError('XX000'), 'getEvents', 'storage_read_failed').code).toBe(
      'storage_read_failed',
    );
    const asm = new AsmError('session_not_found');
    expect(toStorageError(asm, 'appendEvents')).toBe(asm);
  });

  it("unwraps drizzle's DrizzleQueryError and keeps its parameters out of the message", () => {
    const cause = pgError('57P01', 'terminating connection due to administrator command');
    const wrapped = Object.assign(new Error('Failed query: select 1\nparams: secret'), { cause });
    const mapped = toStorageError(wrapped, 'getSession', 'storage_read_failed');
    expect(mapped.code).toBe('storage_connection_failed');
    expect(mapped.message).not.toContain('secret');
    expect(mapped.details).toMatchObject({ sqlState: '57P01', reason: 'admin_shutdown' });
  });
});
