import { AsyncLocalStorage } from 'node:async_hooks';
import { AsmError } from './errors.js';

/**
 * Every configuration key with its default (the reference library's config table, camelCased).
 * Later packages read their keys from here too, so one place documents them all.
 */
export const DEFAULT_CONFIG = deepFreeze({
  telemetryEnabled: true,
  auditLoggingEnabled: true,

  /** Secrets are redacted before events are persisted or published (the 22 default patterns). */
  redactionEnabled: true,
  redactionReplacement: '[REDACTED]' as string,
  redactionDeepScan: true,
  redactionScanMetadata: false,

  streamIdleTimeoutMs: 120_000,
  taskShutdownTimeoutMs: 5_000,
  awaitRunTimeoutMs: 60_000,
  drainTimeoutBufferMs: 1_000,
  commandTimeoutMs: 30_000,
  /** Default time a run may take; `Infinity` is capped at `maxExecuteTimeoutMs`. */
  executeTimeoutMs: 60_000,
  /** After a run is aborted, how long the adapter gets to settle before the manager finalizes anyway. */
  executeGraceTimeoutMs: 5_000,
  /** The cap on an "unlimited" execute timeout: 7 days. */
  maxExecuteTimeoutMs: 604_800_000,
  circuitBreakerCooldownMs: 30_000,
  stickySessionTtlMs: 300_000,
  eventStreamPollIntervalMs: 250,
  /** How long a tool call waits for a person's approval before it is denied. */
  toolApprovalTimeoutMs: 600_000,
  storeCallTimeoutMs: 5_000,

  eventBufferSize: 1_000,
  maxOutputBytes: 1_048_576,
  maxPatchBytes: 1_048_576,
  errorTextMaxBytes: 16_384,
  errorTextMaxLines: 200,
  /** Largest event `data` (serialized JSON bytes) the manager persists; bigger ones are replaced. */
  maxEventDataBytes: 8 * 1_048_576,
  /** Most events the manager writes in one `appendEvents` call. */
  eventWriteBatchSize: 500,
  /**
   * Group commit: how long the first event after an idle moment waits for more before the write
   * starts. Deltas then cost one store round trip per batch, at most this much later. 0: same tick.
   */
  eventWriteLingerMs: 2,
  /**
   * How many batches of a run may be in flight at once on a store that applies appends in call order
   * (`SessionStore.orderedConcurrentAppends`); other stores always get one at a time.
   */
  eventWritePipelineDepth: 4,

  maxParallelSessions: 100,
  maxParallelRuns: 50,
  maxQueuedRuns: 100,
  circuitBreakerFailureThreshold: 5,
  circuitBreakerHalfOpenMaxProbes: 1,

  sqliteMaxBindParams: 32_766,
  sqliteBusyRetryAttempts: 25,
  sqliteBusyRetrySleepMs: 10,

  maxQueryLimit: 1_000,
  defaultSessionQueryLimit: 50,
  defaultRunQueryLimit: 50,
  defaultEventQueryLimit: 100,

  retentionMaxCompletedAgeDays: 90,
  retentionHardDeleteAfterDays: 30,
  retentionBatchSize: 100,
  retentionExemptStatuses: ['active', 'paused'] as readonly string[],
  retentionExemptTags: ['pinned'] as readonly string[],
  retentionPruneEventTypesFirst: ['message_streamed', 'token_usage_updated'] as readonly string[],

  charsPerToken: 4,
  defaultShell: '/bin/sh',
  defaultSuccessExitCodes: [0] as readonly number[],
  excludedWorkspaceRoots: ['.git', 'deps', '_build', 'node_modules'] as readonly string[],
  defaultRouterName: 'router',
});

function deepFreeze<T extends Record<string, unknown>>(value: T): T {
  for (const item of Object.values(value)) if (Array.isArray(item)) Object.freeze(item);
  return Object.freeze(value);
}

/** The configuration: every key of `DEFAULT_CONFIG`. */
export type AsmConfig = typeof DEFAULT_CONFIG;
/** A key of the configuration. */
export type ConfigKey = keyof AsmConfig;

let globalOverrides: Partial<AsmConfig> = {};
const scoped = new AsyncLocalStorage<Partial<AsmConfig>>();

function checkKeys(values: Partial<AsmConfig>): void {
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(DEFAULT_CONFIG, key)) {
      throw new AsmError('validation_error', `Unknown configuration key: ${key}`, { details: { key } });
    }
  }
}

/**
 * Sets configuration for the whole process (merged over the defaults, and over earlier calls).
 * Unknown keys are `validation_error`.
 */
export function configure(values: Partial<AsmConfig>): void {
  checkKeys(values);
  globalOverrides = mergeDefined(globalOverrides, values);
}

/** `base` with every key of `values` whose value is not `undefined` (undefined falls through). */
function mergeDefined(base: Partial<AsmConfig>, values: Partial<AsmConfig>): Partial<AsmConfig> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) merged[key] = value;
  }
  return merged as Partial<AsmConfig>;
}

/** Drops every override set with `configure` (tests use it). */
export function resetConfig(): void {
  globalOverrides = {};
}

/**
 * Runs `fn` with configuration overrides visible to everything it calls, including across awaits
 * (AsyncLocalStorage). Scopes nest; the innermost wins.
 */
export function withConfig<T>(values: Partial<AsmConfig>, fn: () => T): T {
  checkKeys(values);
  const parent = scoped.getStore();
  return scoped.run(mergeDefined(parent ?? {}, values), fn);
}

/** One configuration value: the innermost `withConfig` scope, then `configure`, then the default. */
export function getConfig<K extends ConfigKey>(key: K): AsmConfig[K] {
  const local = scoped.getStore();
  if (local && local[key] !== undefined) return local[key] as AsmConfig[K];
  const global = globalOverrides[key];
  if (global !== undefined) return global as AsmConfig[K];
  return DEFAULT_CONFIG[key];
}

/** The whole effective configuration, resolved as `getConfig` resolves each key. */
export function resolveConfig(overrides: Partial<AsmConfig> = {}): AsmConfig {
  checkKeys(overrides);
  const local = scoped.getStore() ?? {};
  return mergeDefined(
    mergeDefined(mergeDefined({ ...DEFAULT_CONFIG }, globalOverrides), local),
    overrides,
  ) as AsmConfig;
}
