import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsmError } from '@asm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeOption } from '../src/args.js';
import { CliError, EXIT, exitCodeFor } from '../src/exit-codes.js';
import { formatCost, summarizeEvent } from '../src/format.js';
import { detectProviders, selectProviders } from '../src/providers.js';
import { defaultSqlitePath, describeStore, parseStoreSpec } from '../src/store.js';

describe('parseStoreSpec', () => {
  const env = { HOME: '/home/ada' };

  it('parseStoreSpec - defaults to asm.db under XDG_DATA_HOME, else ~/.local/share', () => {
    expect(parseStoreSpec(undefined, env)).toEqual({
      kind: 'sqlite',
      path: '/home/ada/.local/share/asm/asm.db',
    });
    expect(defaultSqlitePath({ HOME: '/home/ada', XDG_DATA_HOME: '/data' })).toBe('/data/asm/asm.db');
  });

  it('parseStoreSpec - --store wins over ASM_STORE', () => {
    expect(parseStoreSpec(undefined, { ...env, ASM_STORE: '/srv/a.db' })).toEqual({
      kind: 'sqlite',
      path: '/srv/a.db',
    });
    expect(parseStoreSpec('/srv/b.db', { ...env, ASM_STORE: '/srv/a.db' })).toEqual({
      kind: 'sqlite',
      path: '/srv/b.db',
    });
    expect(parseStoreSpec('sqlite:/srv/c.db', env)).toEqual({ kind: 'sqlite', path: '/srv/c.db' });
  });

  it('parseStoreSpec - takes the schema and the key prefix out of the URL', () => {
    expect(parseStoreSpec('postgres://u:pw@db:5432/app?schema=tenant_1&sslmode=disable', env)).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u:pw@db:5432/app?sslmode=disable',
      schema: 'tenant_1',
    });
    expect(parseStoreSpec('redis://cache:6379/2?prefix=app:', env)).toEqual({
      kind: 'redis',
      url: 'redis://cache:6379/2',
      keyPrefix: 'app:',
    });
  });

  it('parseStoreSpec - an unknown scheme or a bad schema name is a usage error', () => {
    expect(() => parseStoreSpec('mongodb://x', env)).toThrow(CliError);
    expect(() => parseStoreSpec('postgres://db/app?schema=drop;table', env)).toThrow(
      /Invalid PostgreSQL schema/,
    );
  });

  it('describeStore - never shows a password', () => {
    expect(describeStore(parseStoreSpec('postgres://u:hunter2@db/app', env))).toBe(
      'postgres postgres://u:***@db/app (schema asm)',
    );
    expect(describeStore(parseStoreSpec('redis://:hunter2@cache:6379', env))).toBe(
      'redis redis://:***@cache:6379',
    );
  });
});

describe('detectProviders', () => {
  let bin: string;
  let home: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'asm-detect-'));
    bin = join(home, 'bin');
    await mkdir(bin);
    for (const name of ['amp', 'codex']) {
      await writeFile(join(bin, name), '#!/bin/sh\nexit 0\n');
      await chmod(join(bin, name), 0o755);
    }
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it('detectProviders - nothing is configured without keys', () => {
    const statuses = detectProviders({ HOME: home, PATH: bin });
    expect(statuses.map((status) => [status.name, status.configured])).toEqual([
      ['claude', false],
      ['codex', false],
      ['amp', false],
    ]);
    expect(() => selectProviders(statuses, undefined)).toThrow(
      expect.objectContaining({ exitCode: EXIT.config, message: 'No provider is configured.' }),
    );
  });

  it('detectProviders - keys and binaries configure each provider, in priority order', () => {
    const statuses = detectProviders({
      HOME: home,
      PATH: bin,
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:1',
      OPENAI_API_KEY: 'k',
      AMP_API_KEY: 'k',
    });
    expect(statuses.map((status) => [status.name, status.configured])).toEqual([
      ['claude', true],
      ['codex', true],
      ['amp', true],
    ]);
    expect(statuses[0]!.detail).toBe('ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL=http://127.0.0.1:1');
    expect(statuses[1]!.detail).toBe(`OPENAI_API_KEY, binary ${join(bin, 'codex')}`);
    expect(statuses[2]!.detail).toBe(`AMP_API_KEY, ${join(bin, 'amp')}`);
    expect(selectProviders(statuses, 'amp').map((status) => status.name)).toEqual(['amp']);
    expect(selectProviders(statuses, 'shell').map((status) => status.name)).toEqual(['shell']);
  });

  it('detectProviders - a key without the executable is skipped, saying why', () => {
    const [, , amp] = detectProviders({ HOME: home, PATH: '/nonexistent', AMP_API_KEY: 'k' });
    expect(amp).toMatchObject({
      configured: false,
      detail: 'AMP_API_KEY is set, but the `amp` executable is not on PATH',
    });
  });

  it('detectProviders - a `codex login` counts as a Codex key', async () => {
    await mkdir(join(home, '.codex'), { recursive: true });
    await writeFile(join(home, '.codex', 'auth.json'), '{}');
    const [, codex] = detectProviders({ HOME: home, PATH: bin });
    expect(codex).toMatchObject({ configured: true });
    expect(codex!.detail).toContain('codex login');
  });
});

describe('formatting and exit codes', () => {
  it('formatCost - distinguishes no tokens from no price', () => {
    expect(formatCost(0.0001234)).toBe('$0.000123');
    expect(formatCost(undefined, { inputTokens: 0, outputTokens: 0 })).toBe('none (no tokens used)');
    expect(formatCost(undefined, { inputTokens: 5, outputTokens: 1 })).toBe(
      'unknown (no price for this model)',
    );
  });

  it('summarizeEvent - describes failovers and policy violations', () => {
    expect(
      summarizeEvent({
        type: 'error_recovered',
        data: { attempt: 2, provider: 'shell', failoverFrom: 'claude' } as never,
      }),
    ).toBe('failover from claude to shell (attempt 2)');
    expect(
      summarizeEvent({
        type: 'policy_violation',
        data: {
          policy: 'org',
          kind: 'budget_exceeded',
          action: 'cancel',
          details: { limitKey: 'maxTotalTokens', limit: 10, actual: 25 },
        } as never,
      }),
    ).toBe('org: maxTotalTokens 25 > 10 → cancel');
  });

  it('timeOption - accepts ISO times and ages', () => {
    const now = Date.parse('2026-01-10T00:00:00.000Z');
    expect(timeOption({ since: '2d' }, 'since', 'sessions', now)).toBe('2026-01-08T00:00:00.000Z');
    expect(timeOption({ since: '2026-01-01' }, 'since', 'sessions', now)).toBe('2026-01-01T00:00:00.000Z');
    expect(() => timeOption({ since: 'yesterday' }, 'since', 'sessions', now)).toThrow(/ISO-8601/);
  });

  it('exitCodeFor - maps error codes to the documented exit codes', () => {
    expect(exitCodeFor(new AsmError('session_not_found', 'x'))).toBe(4);
    expect(exitCodeFor(new AsmError('storage_connection_failed', 'x'))).toBe(3);
    expect(exitCodeFor(new AsmError('provider_authentication_failed', 'x'))).toBe(3);
    expect(exitCodeFor(new AsmError('policy_violation', 'x'))).toBe(1);
    expect(exitCodeFor(new CliError(EXIT.usage, 'x'))).toBe(2);
    expect(exitCodeFor(new Error('x'))).toBe(1);
  });
});
