import { AsmError } from '@asm/core';

/** Checks of option fields; each failure is `validation_error` with `details: { field, value }`. */
export interface FieldChecks {
  /** Throws the error of `field` with `message` (the prefix in front). */
  invalid(field: string, message: string, value: unknown): never;
  /** Absent, or a non-empty string. */
  nonEmptyString(field: string, value: unknown): void;
  /** Absent, or an integer of at least 1. */
  positiveInteger(field: string, value: unknown): void;
}

/**
 * The field checks of one kind of options; `prefix` starts every message (`'Claude provider: '` for
 * settings, `''` for a run's `adapterOptions`, whose field names say where they come from).
 */
export function fieldChecks(prefix: string): FieldChecks {
  const invalid = (field: string, message: string, value: unknown): never => {
    throw new AsmError('validation_error', `${prefix}${message}`, { details: { field, value } });
  };
  return {
    invalid,
    nonEmptyString(field, value) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) {
        invalid(field, `${field} must be a non-empty string`, value);
      }
    },
    positiveInteger(field, value) {
      if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
        invalid(field, `${field} must be a positive integer`, value);
      }
    },
  };
}

/** The checks of a run's `adapterOptions` (both backends). */
export const runOptionChecks: FieldChecks = fieldChecks('');
