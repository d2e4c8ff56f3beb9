import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { AsmError, type SessionQuery, type SessionStore, supportsSessionQuery } from '@asm/core';
import { CliError, EXIT, usageError } from './exit-codes.js';

/** Which store a `--store` value (or `ASM_STORE`) names. */
export type StoreSpec =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; connectionString: string; schema?: string }
  | { kind: 'redis'; url: string; keyPrefix?: string };

/** An open store, checked reachable, with a description that never shows a password. */
export interface OpenStore {
  readonly store: SessionStore & Partial<SessionQuery>;
  readonly spec: StoreSpec;
  /** `sqlite /home/me/.local/share/asm/asm.db`, `postgres postgres://me:***@db/app (schema asm)`. */
  readonly description: string;
  close(): Promise<void>;
}

/** `$XDG_DATA_HOME/asm` or `~/.local/share/asm`: where the default SQLite file lives. */
export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base =
    xdg && xdg.trim() !== ''
      ? xdg
      : join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.local', 'share');
  return join(base, 'asm');
}

/** The default store: `<data directory>/asm.db`. */
export function defaultSqlitePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDirectory(env), 'asm.db');
}

/**
 * Parses `--store` / `ASM_STORE`: a file path (SQLite), `sqlite:<path>`, `postgres://…` or
 * `postgresql://…` (optional `?schema=name`), `redis://…` or `rediss://…` (optional `?prefix=app:`).
 * Anything else with a `scheme://` is a usage error.
 */
export function parseStoreSpec(value: string | undefined, env: NodeJS.ProcessEnv = process.env): StoreSpec {
  const raw = value?.trim() || env.ASM_STORE?.trim() || '';
  if (raw === '') return { kind: 'sqlite', path: defaultSqlitePath(env) };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const url = parseUrl(raw);
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw usageError(`Invalid PostgreSQL schema name in --store: ${schema}`);
    }
    return { kind: 'postgres', connectionString: url.toString(), ...(schema ? { schema } : {}) };
  }
  if (scheme === 'redis' || scheme === 'rediss') {
    const url = parseUrl(raw);
    const keyPrefix = url.searchParams.get('prefix') ?? undefined;
    url.searchParams.delete('prefix');
    return { kind: 'redis', url: url.toString(), ...(keyPrefix ? { keyPrefix } : {}) };
  }
  if (scheme !== undefined) {
    throw usageError(`Unsupported store "${scheme}://": use a file path (SQLite), postgres://… or redis://…`);
  }
  const path = raw.startsWith('sqlite:') ? raw.slice('sqlite:'.length) : raw;
  if (path === '') throw usageError('--store sqlite: needs a file path');
  return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
}

function parseUrl(raw: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw usageError(`--store is not a valid URL: ${redactUrl(raw)}`);
  }
}

/** The URL with its password replaced by `***`. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}

/** How the store is described to the user (never with a password). */
export function describeStore(spec: StoreSpec): string {
  switch (spec.kind) {
    case 'sqlite':
      return `sqlite ${spec.path}`;
    case 'postgres':
      return `postgres ${redactUrl(spec.connectionString)} (schema ${spec.schema ?? 'asm'})`;
    case 'redis':
      return `redis ${redactUrl(spec.url)}${spec.keyPrefix ? ` (key prefix ${spec.keyPrefix})` : ''}`;
    default: {
      const unhandled: never = spec;
      throw new Error(`Unhandled store spec: ${JSON.stringify(unhandled)}`);
    }
  }
}

/**
 * Opens the store and checks that it answers (PostgreSQL connects and migrates, Redis answers a
 * read), so an unreachable database is reported at once with exit code 3, not in the middle of a run.
 * The store packages are imported only when used.
 */
export async function openStore(spec: StoreSpec): Promise<OpenStore> {
  const description = describeStore(spec);
  let store: SessionStore & Partial<SessionQuery>;
  try {
    switch (spec.kind) {
      case 'sqlite': {
        const { createSqliteStore } = await import('@asm/sqlite');
        store = createSqliteStore({ path: spec.path });
        break;
      }
      case 'postgres': {
        const { createPostgresStore } = await import('@asm/postgres');
        const postgres = createPostgresStore({
          connectionString: spec.connectionString,
          poolSize: 4,
          ...(spec.schema ? { schema: spec.schema } : {}),
        });
        store = postgres;
        try {
          await postgres.ready();
        } catch (error) {
          await postgres.close().catch(() => undefined);
          throw error;
        }
        break;
      }
      case 'redis': {
        const { createRedisStore } = await import('@asm/redis');
        store = createRedisStore({ url: spec.url, ...(spec.keyPrefix ? { keyPrefix: spec.keyPrefix } : {}) });
        try {
          await store.listSessions({ limit: 1 });
        } catch (error) {
          await store.close().catch(() => undefined);
          throw error;
        }
        break;
      }
      default: {
        const unhandled: never = spec;
        throw new Error(`Unhandled store spec: ${JSON.stringify(unhandled)}`);
      }
    }
  } catch (error) {
    throw storeError(error, description);
  }
  return {
    store,
    spec,
    description,
    close: () => store.close(),
  };
}

function storeError(error: unknown, description: string): CliError {
  if (error instanceof CliError) return error;
  const asm = AsmError.isInstance(error) ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const code = asm ? ` (${asm.code})` : '';
  const hint =
    asm?.code === 'storage_connection_failed'
      ? 'Is the database running and reachable? Check the URL given with --store or ASM_STORE.'
      : asm?.code === 'migration_required'
        ? 'The store was written by a newer version of asm; upgrade, or use another --store.'
        : 'Use --store <path|postgres://…|redis://…> (or ASM_STORE) to pick another store.';
  return new CliError(EXIT.config, `Cannot open the store ${description}: ${message}${code}`, hint);
}

/** Narrows a store to one that answers `SessionQuery` (every store shipped here does). */
export function queryableStore(store: SessionStore): (SessionStore & SessionQuery) | undefined {
  return supportsSessionQuery(store) ? store : undefined;
}
