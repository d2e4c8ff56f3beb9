import { runProcess } from '@asm/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeCli, type FakeCli } from '../src/fakes/index.js';

const clis: FakeCli[] = [];
afterEach(() => {
  for (const cli of clis.splice(0)) cli.cleanup();
});

function make(...args: Parameters<typeof createFakeCli>) {
  const cli = createFakeCli(...args);
  clis.push(cli);
  return cli;
}

describe('createFakeCli', () => {
  it('replays a scenario chosen by an argument and records the invocation', async () => {
    const cli = make({
      name: 'amp',
      recordEnv: ['AMP_API_KEY', 'AMP_MODE'],
      scenarios: {
        default: { steps: [{ stdout: 'default' }] },
        hello: {
          steps: [{ stdout: { type: 'system', n: 1 } }, { stderr: 'warn', delayMs: 5 }, { stdout: 'plain' }],
          exitCode: 2,
        },
      },
    });
    const lines: string[] = [];
    const result = await runProcess({
      command: cli.path,
      args: ['--model', 'scenario:hello'],
      stdin: 'the prompt',
      env: { ...process.env, AMP_API_KEY: 'secret', AMP_MODE: 'smart' },
      onStdoutLine: (line) => lines.push(line),
    });
    expect(result.exitCode).toBe(2);
    expect(lines).toEqual(['{"type":"system","n":1}', 'plain']);
    expect(result.stderr).toBe('warn\n');
    expect(cli.invocations()).toEqual([
      {
        args: ['--model', 'scenario:hello'],
        cwd: process.cwd(),
        stdin: 'the prompt',
        scenario: 'hello',
        env: { AMP_API_KEY: '<set>', AMP_MODE: 'smart' },
      },
    ]);
  });

  it('uses ASM_FAKE_SCENARIO, and stalls until killed', async () => {
    const cli = make({
      scenarios: { default: { steps: [] }, slow: { steps: [{ stdout: 'started' }], stall: true } },
    });
    const controller = new AbortController();
    const result = await runProcess({
      command: cli.path,
      env: { ...process.env, ASM_FAKE_SCENARIO: 'slow' },
      signal: controller.signal,
      killGraceMs: 100,
      collectStdout: true,
      // It stalls after its one line: only the abort below ends it.
      onStdoutLine: () => setTimeout(() => controller.abort(), 50),
    });
    expect(result.stdout).toBe('started\n');
    expect(result.aborted).toBe(true);
    expect(result.exitCode).toBeNull();
  });
});
