import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AsmResult, createTempHome, jsonLines, runAsm, sessionIdsIn, type TempHome } from './helpers.js';

describe('asm demo', () => {
  let home: TempHome;
  let demo: AsmResult;
  let sessionId: string;

  beforeAll(async () => {
    home = await createTempHome();
    demo = await runAsm(home, ['demo']);
    sessionId = sessionIdsIn(demo.stdout)[0]!;
  });
  afterAll(() => home.remove());

  it('demo - exits 0 offline with no provider key', () => {
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(sessionId).toMatch(/^ses_[0-9a-f]{32}$/);
  });

  it('demo - says which providers were skipped and how to enable them', () => {
    expect(demo.stdout).toContain('claude skipped: ANTHROPIC_API_KEY is not set');
    expect(demo.stdout).toContain('export ANTHROPIC_API_KEY=');
    expect(demo.stdout).toMatch(/codex {2}skipped: no key/);
    expect(demo.stdout).toContain('export OPENAI_API_KEY=');
    expect(demo.stdout).toContain('amp    skipped: AMP_API_KEY is not set');
    expect(demo.stdout).toContain('npm i -g @ampcode/cli');
  });

  it('demo - fails over from the unreachable provider to shell, which runs a real command', () => {
    expect(demo.stdout).toMatch(/claude failed: provider_unavailable/);
    expect(demo.stdout).toContain('failover from claude to shell (attempt 2)');
    // Real output of `ls -1 && head -n 1 notes.txt` in the scratch folder.
    expect(demo.stdout).toContain('notes.txt');
    expect(demo.stdout).toContain('ship the CLI');
    expect(demo.stdout).toContain('no model is called');
  });

  it('demo - shows a policy violation, a cancelled run and continuation', () => {
    expect(demo.stdout).toMatch(/policy demo-budget: maxDurationMs \d+ > 1000 → cancel/);
    expect(demo.stdout).toContain('The run failed with policy_violation');
    expect(demo.stdout).toContain('The run ended cancelled (run_cancelled)');
    expect(demo.stdout).toMatch(/Run 4 went to shell .*\d+ transcript messages/);
  });

  it('demo - reads the persisted log back: four runs, gapless sequences', async () => {
    expect(demo.stdout).toContain('5. The persisted log, read back through a new store connection');
    const show = await runAsm(home, ['show', sessionId, '--json']);
    expect(show.code).toBe(0);
    const report = JSON.parse(show.stdout) as {
      session: { status: string; agentId: string; tags: string[] };
      runs: { status: string; provider: string; error?: { code: string } }[];
    };
    expect(report.session).toMatchObject({ status: 'completed', agentId: 'asm-demo', tags: ['demo'] });
    expect(report.runs.map((run) => [run.status, run.provider, run.error?.code])).toEqual([
      ['completed', 'shell', undefined],
      ['failed', 'shell', 'policy_violation'],
      ['cancelled', 'shell', 'cancelled'],
      ['completed', 'shell', undefined],
    ]);
    const events = await runAsm(home, ['events', sessionId, '--json']);
    expect(events.code).toBe(0);
    const stored = jsonLines<{ sequence: number; type: string; provider: string }>(events.stdout);
    expect(stored.map((event) => event.sequence)).toEqual(stored.map((_, index) => index + 1));
    const types = stored.map((event) => event.type);
    expect(types[0]).toBe('session_created');
    expect(types.at(-1)).toBe('session_completed');
    expect(types.filter((type) => type === 'run_started')).toHaveLength(4);
    expect(types).toContain('error_occurred');
    expect(types).toContain('error_recovered');
    expect(types).toContain('policy_violation');
    expect(types).toContain('run_cancelled');
    // The demo printed the same log it stored.
    expect(demo.stdout).toContain(`#${String(stored.length).padStart(4)}`);
  });

  it('demo - the session is listed by `asm sessions --tag demo`', async () => {
    const sessions = await runAsm(home, ['sessions', '--tag', 'demo']);
    expect(sessions.code).toBe(0);
    expect(sessions.stdout).toContain(sessionId);
    expect(sessions.stdout).toContain('asm-demo');
    expect(sessions.stdout).toMatch(/1 of 1 session in sqlite .*asm\.db/);
  });
});
