import { AsmError, type LeaseGrant, type SessionLease, validateLeaseRequest } from '@asm/core';
import pg from 'pg';
import { toStorageError } from './errors.js';
import { quoteIdentifier, validateSchemaName } from './identifiers.js';
import { DEFAULT_SCHEMA } from './schema.js';

/** The lease table and its fencing sequence (created by the lease itself, not by the store's migrations). */
export const LEASE_TABLE = 'asm_session_leases';
/** The sequence fencing tokens come from. */
export const LEASE_TOKEN_SEQUENCE = 'asm_session_lease_tokens';

/** First key of the advisory lock taken while creating the lease table (`'asm\x01'`). */
const SETUP_LOCK_CLASS = 0x61_73_6d_01;

/** Options shared by both ways of creating a PostgreSQL lease. */
export interface PostgresSessionLeaseCommonOptions {
  /** The schema holding the lease table (default `asm`, the store's); created when missing. */
  schema?: string;
}

/** Options of `createPostgresSessionLease`: the app's pool, or a connection string. */
export type PostgresSessionLeaseOptions = PostgresSessionLeaseCommonOptions &
  (
    | {
        /** The app's `pg` pool (left open by `close()`). */
        pool: pg.Pool;
        connectionString?: never;
      }
    | {
        /** `postgres://…`: the lease makes a small pool of its own and ends it on `close()`. */
        connectionString: string;
        /** Connections in that pool. Default 2. */
        poolSize?: number;
        pool?: never;
      }
  );

/** A `SessionLease` on PostgreSQL. */
export interface PostgresSessionLease extends SessionLease {
  /** The schema holding the lease table. */
  readonly schema: string;
  /** Creates the table and sequence now (every call does it on first use). */
  ready(): Promise<void>;
  /** Deletes rows of leases that expired (a free lease leaves none otherwise); returns how many. */
  purgeExpired(): Promise<number>;
}

/**
 * A `SessionLease` on PostgreSQL: a lease table with an expiry, measured by the database's clock.
 *
 * ```ts
 * const lease = createPostgresSessionLease({ pool, schema: 'asm' });
 * const grant = await lease.acquire(sessionId, instanceId, 15_000); // undefined: someone else has it
 * ```
 *
 * One row per session (`asm_session_leases`: session id, holder, token, `expires_at`). Acquire is one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE` the row is the caller's or expired, so concurrent acquires
 * serialize on the row and exactly one wins; renew and release are `UPDATE` / `DELETE` guarded by the
 * holder and the expiry. Fencing tokens come from a sequence (`asm_session_lease_tokens`).
 *
 * Why a table rather than `pg_try_advisory_lock`: see "Session leases" in the README (same TTL
 * semantics as Redis, fencing tokens and holder lookup for free, works through PgBouncer's
 * transaction pooling, no connection pinned per instance, and no silent loss of every lease when one
 * connection drops).
 */
export function createPostgresSessionLease(options: PostgresSessionLeaseOptions): PostgresSessionLease {
  if (typeof options !== 'object' || options === null) {
    throw new AsmError(
      'validation_error',
      'createPostgresSessionLease needs { pool } or { connectionString }',
    );
  }
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  let pool: pg.Pool;
  let ownsPool: boolean;
  if (options.pool !== undefined) {
    if (typeof options.pool?.query !== 'function') {
      throw new AsmError('validation_error', 'pool must be a pg.Pool', { details: { field: 'pool' } });
    }
    pool = options.pool;
    ownsPool = false;
  } else if (typeof options.connectionString === 'string' && options.connectionString !== '') {
    const poolSize = options.poolSize ?? 2;
    if (!Number.isInteger(poolSize) || poolSize < 1) {
      throw new AsmError('validation_error', 'poolSize must be a positive integer', {
        details: { field: 'poolSize' },
      });
    }
    pool = new pg.Pool({ connectionString: options.connectionString, max: poolSize });
    pool.on('error', () => undefined);
    ownsPool = true;
  } else {
    throw new AsmError(
      'validation_error',
      'createPostgresSessionLease needs { pool } or { connectionString }',
      {
        details: { field: 'pool' },
      },
    );
  }

  const table = `${quoteIdentifier(schema)}.${quoteIdentifier(LEASE_TABLE)}`;
  const sequence = `${quoteIdentifier(schema)}.${quoteIdentifier(LEASE_TOKEN_SEQUENCE)}`;
  const sequenceLiteral = `'${sequence.replaceAll("'", "''")}'`;
  const ttl = (parameter: string) => `clock_timestamp() + ${parameter}::bigint * interval '1 millisecond'`;
  const statements = {
    acquire: `INSERT INTO ${table} AS l (session_id, holder_id, token, expires_at)
      VALUES ($1, $2, nextval(${sequenceLiteral}), ${ttl('$3')})
      ON CONFLICT (session_id) DO UPDATE SET
        token = CASE WHEN l.holder_id = excluded.holder_id AND l.expires_at > clock_timestamp()
                     THEN l.token ELSE excluded.token END,
        holder_id = excluded.holder_id,
        expires_at = excluded.expires_at
      WHERE l.holder_id = excluded.holder_id OR l.expires_at <= clock_timestamp()
      RETURNING token`,
    renew: `UPDATE ${table} SET expires_at = ${ttl('$3')}
      WHERE session_id = $1 AND holder_id = $2 AND expires_at > clock_timestamp()
      RETURNING token`,
    release: `DELETE FROM ${table} WHERE session_id = $1 AND holder_id = $2
      RETURNING expires_at > clock_timestamp() AS held`,
    holder: `SELECT holder_id, token,
        GREATEST(0, EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8 AS remaining_ms
      FROM ${table} WHERE session_id = $1 AND expires_at > clock_timestamp()`,
    purge: `DELETE FROM ${table} WHERE expires_at <= clock_timestamp()`,
  };

  let closed = false;
  let opened = false;
  let opening: Promise<void> | undefined;

  const setup = async (): Promise<void> => {
    const client = await pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SETUP_LOCK_CLASS, schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
        session_id text PRIMARY KEY,
        holder_id text NOT NULL,
        token bigint NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
      await client.query(`CREATE SEQUENCE IF NOT EXISTS ${sequence}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  };
  const ready = (): Promise<void> => {
    if (closed) return Promise.reject(closedLeaseError());
    if (opened) return Promise.resolve();
    if (opening === undefined) {
      const attempt = setup().then(
        () => {
          opened = true;
        },
        (error: unknown) => {
          throw toStorageError(error, 'setupLease', 'storage_error');
        },
      );
      opening = attempt;
      attempt.catch(() => {
        if (opening === attempt) opening = undefined;
      });
    }
    return opening;
  };
  const query = async <R extends pg.QueryResultRow>(
    operation: string,
    fallback: 'storage_read_failed' | 'storage_write_failed',
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> => {
    if (closed) throw closedLeaseError();
    if (!opened) await ready();
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      throw toStorageError(error, operation, fallback);
    }
  };

  return {
    specificationVersion: 'v1',
    schema,
    ready,
    async acquire(sessionId, holderId, ttlMs) {
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const sentAt = Date.now();
      const result = await query<{ token: string }>(
        'acquireLease',
        'storage_write_failed',
        statements.acquire,
        [sessionId, holderId, ttlMs],
      );
      const row = result.rows[0];
      return row === undefined
        ? undefined
        : ({ sessionId, holderId, token: Number(row.token), expiresAt: sentAt + ttlMs } satisfies LeaseGrant);
    },
    async renew(sessionId, holderId, ttlMs) {
      validateLeaseRequest(sessionId, holderId, ttlMs);
      const sentAt = Date.now();
      const result = await query<{ token: string }>('renewLease', 'storage_write_failed', statements.renew, [
        sessionId,
        holderId,
        ttlMs,
      ]);
      const row = result.rows[0];
      return row === undefined
        ? undefined
        : { sessionId, holderId, token: Number(row.token), expiresAt: sentAt + ttlMs };
    },
    async release(sessionId, holderId) {
      validateLeaseRequest(sessionId, holderId);
      const result = await query<{ held: boolean }>(
        'releaseLease',
        'storage_write_failed',
        statements.release,
        [sessionId, holderId],
      );
      return result.rows[0]?.held === true;
    },
    async holder(sessionId) {
      if (typeof sessionId !== 'string' || sessionId === '') {
        throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
          details: { field: 'sessionId' },
        });
      }
      const sentAt = Date.now();
      const result = await query<{ holder_id: string; token: string; remaining_ms: number }>(
        'leaseHolder',
        'storage_read_failed',
        statements.holder,
        [sessionId],
      );
      const row = result.rows[0];
      return row === undefined
        ? undefined
        : {
            sessionId,
            holderId: row.holder_id,
            token: Number(row.token),
            expiresAt: sentAt + Math.floor(Number(row.remaining_ms)),
          };
    },
    async purgeExpired() {
      const result = await query('purgeExpiredLeases', 'storage_write_failed', statements.purge, []);
      return result.rowCount ?? 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsPool) await pool.end().catch(() => undefined);
    },
  } satisfies PostgresSessionLease;
}

function closedLeaseError(): AsmError {
  return new AsmError('storage_connection_failed', 'The PostgreSQL session lease is closed', {
    retryable: false,
    details: { closed: true },
  });
}
