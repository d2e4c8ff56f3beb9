import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isNoScriptError } from './errors.js';

/** A Lua script that declares its keys in `KEYS` (the lease and limiter scripts). */
export interface KeyedScript {
  readonly source: string;
  readonly sha: string;
}

/** A keyed script with its SHA1. */
export function keyedScript(source: string): KeyedScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs a keyed script with `EVALSHA`, falling back to `EVAL` (which also caches it) when the server
 * answers `NOSCRIPT` (after `SCRIPT FLUSH` or a restart): a script rejected that way did not run.
 */
export async function runKeyedScript(
  client: Redis,
  script: KeyedScript,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScriptError(error)) throw error;
    return await client.eval(script.source, keys.length, ...keys, ...args);
  }
}
