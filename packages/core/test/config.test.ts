import { afterEach, describe, expect, it } from 'vitest';
import {
  type AsmConfig,
  AsmError,
  configure,
  DEFAULT_CONFIG,
  type ErrorCode,
  getConfig,
  resetConfig,
  resolveConfig,
  withConfig,
} from '../src/index.js';

afterEach(() => {
  resetConfig();
});

function codeOf(fn: () => unknown): ErrorCode | 'no error' | 'not an AsmError' {
  try {
    fn();
  } catch (error) {
    return AsmError.isInstance(error) ? error.code : 'not an AsmError';
  }
  return 'no error';
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('defaults (spec 13.2 and 15)', () => {
  it.each([
    ['telemetryEnabled', true],
    ['auditLoggingEnabled', true],
    ['redactionEnabled', true],
    ['redactionReplacement', '[REDACTED]'],
    ['redactionDeepScan', true],
    ['redactionScanMetadata', false],
    ['streamIdleTimeoutMs', 120_000],
    ['taskShutdownTimeoutMs', 5_000],
    ['awaitRunTimeoutMs', 60_000],
    ['drainTimeoutBufferMs', 1_000],
    ['commandTimeoutMs', 30_000],
    ['executeTimeoutMs', 60_000],
    ['executeGraceTimeoutMs', 5_000],
    ['maxExecuteTimeoutMs', 604_800_000],
    ['circuitBreakerCooldownMs', 30_000],
    ['stickySessionTtlMs', 300_000],
    ['eventStreamPollIntervalMs', 250],
    ['storeCallTimeoutMs', 5_000],
    ['eventBufferSize', 1_000],
    ['maxOutputBytes', 1_048_576],
    ['maxPatchBytes', 1_048_576],
    ['errorTextMaxBytes', 16_384],
    ['errorTextMaxLines', 200],
    ['maxParallelSessions', 100],
    ['maxParallelRuns', 50],
    ['maxQueuedRuns', 100],
    ['circuitBreakerFailureThreshold', 5],
    ['circuitBreakerHalfOpenMaxProbes', 1],
    ['sqliteMaxBindParams', 32_766],
    ['sqliteBusyRetryAttempts', 25],
    ['sqliteBusyRetrySleepMs', 10],
    ['maxQueryLimit', 1_000],
    ['defaultSessionQueryLimit', 50],
    ['defaultRunQueryLimit', 50],
    ['defaultEventQueryLimit', 100],
    ['retentionMaxCompletedAgeDays', 90],
    ['retentionHardDeleteAfterDays', 30],
    ['retentionBatchSize', 100],
    ['retentionExemptStatuses', ['active', 'paused']],
    ['retentionExemptTags', ['pinned']],
    ['retentionPruneEventTypesFirst', ['message_streamed', 'token_usage_updated']],
    ['charsPerToken', 4],
    ['defaultShell', '/bin/sh'],
    ['defaultSuccessExitCodes', [0]],
    ['excludedWorkspaceRoots', ['.git', 'deps', '_build', 'node_modules']],
    ['defaultRouterName', 'router'],
  ] as const)('%s defaults to %j', (key, value) => {
    expect(DEFAULT_CONFIG[key]).toEqual(value);
    expect(getConfig(key)).toEqual(value);
    expect(resolveConfig()[key]).toEqual(value);
  });

  it('without overrides, resolveConfig is exactly the defaults', () => {
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
  });
});

describe('configure / resetConfig', () => {
  it('configure overrides a key for the whole process, merging over earlier calls', () => {
    configure({ executeTimeoutMs: 1_000 });
    configure({ maxQueryLimit: 10 });
    expect(getConfig('executeTimeoutMs')).toBe(1_000);
    expect(getConfig('maxQueryLimit')).toBe(10);
    expect(getConfig('charsPerToken')).toBe(4);
    configure({ executeTimeoutMs: 2_000 });
    expect(getConfig('executeTimeoutMs')).toBe(2_000);
    expect(getConfig('maxQueryLimit')).toBe(10);
  });

  it('configure accepts falsy values', () => {
    configure({ telemetryEnabled: false, eventWriteLingerMs: 0, defaultRouterName: '' });
    expect(getConfig('telemetryEnabled')).toBe(false);
    expect(getConfig('eventWriteLingerMs')).toBe(0);
    expect(getConfig('defaultRouterName')).toBe('');
  });

  it('resetConfig drops every configure override', () => {
    configure({ executeTimeoutMs: 1_000, redactionEnabled: false });
    resetConfig();
    expect(getConfig('executeTimeoutMs')).toBe(60_000);
    expect(getConfig('redactionEnabled')).toBe(true);
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
  });

  it('configure does not change DEFAULT_CONFIG', () => {
    configure({ executeTimeoutMs: 1_000 });
    expect(DEFAULT_CONFIG.executeTimeoutMs).toBe(60_000);
  });
});

describe('unknown keys', () => {
  it('configure rejects an unknown key with validation_error and applies nothing', () => {
    const call = () => configure({ executeTimeoutMs: 5, executeTimeoutMS: 7 } as Partial<AsmConfig>);
    expect(codeOf(call)).toBe('validation_error');
    expect(getConfig('executeTimeoutMs')).toBe(60_000);
  });

  it('withConfig rejects an unknown key without running the function', () => {
    let ran = false;
    const call = () =>
      withConfig({ nope: 1 } as Partial<AsmConfig>, () => {
        ran = true;
      });
    expect(codeOf(call)).toBe('validation_error');
    expect(ran).toBe(false);
  });

  it('resolveConfig rejects an unknown override key', () => {
    expect(codeOf(() => resolveConfig({ chargesPerToken: 3 } as Partial<AsmConfig>))).toBe(
      'validation_error',
    );
  });

  it('names inherited from Object.prototype are unknown keys too', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(
        codeOf(() => configure({ [key]: 1 } as Partial<AsmConfig>)),
        key,
      ).toBe('validation_error');
      expect(
        codeOf(() => resolveConfig({ [key]: 1 } as Partial<AsmConfig>)),
        key,
      ).toBe('validation_error');
    }
  });
});

describe('withConfig', () => {
  it('overrides inside the scope only, and returns the function result', () => {
    const result = withConfig({ executeTimeoutMs: 10 }, () => getConfig('executeTimeoutMs'));
    expect(result).toBe(10);
    expect(getConfig('executeTimeoutMs')).toBe(60_000);
  });

  it('scopes nest: the innermost wins, outer keys stay visible, and the outer value returns', () => {
    withConfig({ executeTimeoutMs: 1, maxQueryLimit: 1 }, () => {
      withConfig({ executeTimeoutMs: 2 }, () => {
        expect(getConfig('executeTimeoutMs')).toBe(2);
        expect(getConfig('maxQueryLimit')).toBe(1);
        withConfig({ maxQueryLimit: 3 }, () => {
          expect(getConfig('executeTimeoutMs')).toBe(2);
          expect(getConfig('maxQueryLimit')).toBe(3);
        });
        expect(getConfig('maxQueryLimit')).toBe(1);
      });
      expect(getConfig('executeTimeoutMs')).toBe(1);
    });
    expect(getConfig('executeTimeoutMs')).toBe(60_000);
    expect(getConfig('maxQueryLimit')).toBe(1_000);
  });

  it('a scope wins over configure; configure set later still shows where the scope is silent', () => {
    configure({ executeTimeoutMs: 100, maxQueryLimit: 100 });
    withConfig({ executeTimeoutMs: 5 }, () => {
      expect(getConfig('executeTimeoutMs')).toBe(5);
      expect(getConfig('maxQueryLimit')).toBe(100);
      configure({ maxQueryLimit: 200, executeTimeoutMs: 300 });
      expect(getConfig('maxQueryLimit')).toBe(200);
      expect(getConfig('executeTimeoutMs')).toBe(5);
    });
    expect(getConfig('executeTimeoutMs')).toBe(300);
  });

  it('survives awaits inside the scope', async () => {
    const value = await withConfig({ charsPerToken: 7 }, async () => {
      await delay(1);
      await Promise.resolve();
      return getConfig('charsPerToken');
    });
    expect(value).toBe(7);
    expect(getConfig('charsPerToken')).toBe(4);
  });

  it('concurrent async scopes stay isolated across interleaved timers', async () => {
    const seen: string[] = [];
    const task = (name: string, value: number, waits: number[]) =>
      withConfig({ executeTimeoutMs: value }, async () => {
        for (const wait of waits) {
          await delay(wait);
          seen.push(`${name}:${getConfig('executeTimeoutMs')}:${resolveConfig().executeTimeoutMs}`);
        }
        return getConfig('executeTimeoutMs');
      });
    const [a, b] = await Promise.all([task('a', 111, [1, 20, 1, 20]), task('b', 222, [10, 1, 20, 1])]);
    expect(a).toBe(111);
    expect(b).toBe(222);
    expect(seen).toHaveLength(8);
    // The tasks really interleaved: b's first step ran before a finished.
    expect(seen.indexOf('b:222:222')).toBeLessThan(seen.lastIndexOf('a:111:111'));
    for (const entry of seen) expect(['a:111:111', 'b:222:222']).toContain(entry);
    expect(getConfig('executeTimeoutMs')).toBe(60_000);
  });

  it('nested scopes in concurrent tasks do not leak into each other', async () => {
    const results = await Promise.all(
      [1, 2, 3].map((n) =>
        withConfig({ maxQueryLimit: n }, async () => {
          await delay(3 - n);
          return withConfig({ charsPerToken: n * 10 }, async () => {
            await delay(n);
            return [getConfig('maxQueryLimit'), getConfig('charsPerToken')];
          });
        }),
      ),
    );
    expect(results).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
  });
});

describe('resolveConfig precedence', () => {
  it('call overrides > scope > configure > default', () => {
    configure({ executeTimeoutMs: 1, maxQueryLimit: 1, charsPerToken: 1 });
    const resolved = withConfig({ maxQueryLimit: 2, charsPerToken: 2 }, () =>
      resolveConfig({ charsPerToken: 3 }),
    );
    expect(resolved.charsPerToken).toBe(3);
    expect(resolved.maxQueryLimit).toBe(2);
    expect(resolved.executeTimeoutMs).toBe(1);
    expect(resolved.eventStreamPollIntervalMs).toBe(250);
  });

  it('agrees with getConfig for every key inside a scope', () => {
    configure({ errorTextMaxLines: 20 });
    withConfig({ errorTextMaxBytes: 99 }, () => {
      const resolved = resolveConfig();
      for (const key of Object.keys(DEFAULT_CONFIG) as (keyof AsmConfig)[]) {
        expect(resolved[key], key).toEqual(getConfig(key));
      }
    });
  });

  it('an undefined value falls through to the next level, as in getConfig', () => {
    // With exactOptionalPropertyTypes off, `{ executeTimeoutMs: options.timeout }` is a valid
    // Partial<AsmConfig> even when the option is absent.
    configure({ maxQueryLimit: 7 });
    withConfig({ executeTimeoutMs: undefined, maxQueryLimit: undefined }, () => {
      expect(getConfig('executeTimeoutMs')).toBe(60_000);
      expect(getConfig('maxQueryLimit')).toBe(7);
      expect(resolveConfig().executeTimeoutMs).toBe(60_000);
      expect(resolveConfig().maxQueryLimit).toBe(7);
      expect(resolveConfig({ charsPerToken: undefined }).charsPerToken).toBe(4);
    });
  });
});
