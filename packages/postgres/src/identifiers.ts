/**
 * Names the store puts into SQL text: the schema (validated and quoted), the schema-qualified table
 * names of the hot path, the LISTEN/NOTIFY channel and the prefix of prepared statement names.
 */
import { createHash } from 'node:crypto';
import { AsmError } from '@asm/core';
import { TABLE_NAMES } from './schema.js';

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * Checks a schema name: 1 to 63 bytes of UTF-8, no NUL character, not starting with `pg_` (reserved
 * by PostgreSQL). Any other character is allowed: the name is always quoted.
 */
export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || schema === '') {
    throw new AsmError('validation_error', 'schema must be a non-empty string', {
      details: { field: 'schema', value: schema },
    });
  }
  if (Buffer.byteLength(schema, 'utf8') > MAX_IDENTIFIER_BYTES || schema.includes('\u0000')) {
    throw new AsmError(
      'validation_error',
      'schema must be at most 63 bytes long and contain no NUL character',
      {
        details: { field: 'schema', value: schema },
      },
    );
  }
  if (schema.toLowerCase().startsWith('pg_')) {
    throw new AsmError('validation_error', 'schema names starting with pg_ are reserved by PostgreSQL', {
      details: { field: 'schema', value: schema },
    });
  }
  return schema;
}

/** A double-quoted SQL identifier (embedded quotes doubled), safe for any string without NUL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The schema-qualified, quoted names of the store's tables. */
export interface QualifiedNames {
  schema: string;
  sessions: string;
  runs: string;
  events: string;
  sessionSequences: string;
  artifacts: string;
  migrations: string;
}

/** Quoted `"schema"."table"` names for every table of the store. */
export function qualifiedNames(schema: string): QualifiedNames {
  const quoted = quoteIdentifier(schema);
  return {
    schema: quoted,
    sessions: `${quoted}.${quoteIdentifier(TABLE_NAMES.sessions)}`,
    runs: `${quoted}.${quoteIdentifier(TABLE_NAMES.runs)}`,
    events: `${quoted}.${quoteIdentifier(TABLE_NAMES.events)}`,
    sessionSequences: `${quoted}.${quoteIdentifier(TABLE_NAMES.sessionSequences)}`,
    artifacts: `${quoted}.${quoteIdentifier(TABLE_NAMES.artifacts)}`,
    migrations: `${quoted}.${quoteIdentifier(TABLE_NAMES.migrations)}`,
  };
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * The NOTIFY channel of a schema: `asm_events:<schema>`, or `asm_events:<hash>` when that would be
 * longer than an identifier may be.
 */
export function notifyChannel(schema: string): string {
  const plain = `asm_events:${schema}`;
  return Buffer.byteLength(plain, 'utf8') <= MAX_IDENTIFIER_BYTES ? plain : `asm_events:${shortHash(schema)}`;
}

/**
 * A prefix for prepared statement names, unique per schema: pg caches prepared statements per
 * connection by name, and two stores on one pool with different schemas must not share a name.
 */
export function statementPrefix(schema: string): string {
  return `asm_${shortHash(schema)}_`;
}
