import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AsmError, runProcess } from '../src/index.js';

const node = process.execPath;
const scratch = mkdtempSync(join(tmpdir(), 'asm-child-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('runProcess', () => {
  it('reports the exit code and splits stdout into lines across chunk boundaries', async () => {
    const lines: string[] = [];
    const script = `
      process.stdout.write('{"a":1}\\n{"b"');
      setTimeout(() => { process.stdout.write(':2}\\r\\n{"c":3}'); process.exit(3); }, 20);`;
    const result = await runProcess({
      command: node,
      args: ['-e', script],
      onStdoutLine: (line) => lines.push(line),
    });
    expect(result.exitCode).toBe(3);
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('writes stdin and closes it', async () => {
    const result = await runProcess({
      command: node,
      args: [
        '-e',
        "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>process.stdout.write(s.toUpperCase()))",
      ],
      stdin: 'prompt on stdin',
      collectStdout: true,
    });
    expect(result.stdout).toBe('PROMPT ON STDIN');
  });

  it('keeps the beginning of stderr within the limits', async () => {
    const result = await runProcess({
      command: node,
      args: ['-e', "for (let i = 0; i < 500; i++) console.error('line ' + i)"],
      maxStderrLines: 10,
    });
    expect(result.stderr.split('\n')).toHaveLength(10);
    expect(result.stderr.startsWith('line 0')).toBe(true);
    expect(result.stderrTruncated).toBe(true);
  });

  it('kills the whole process group when aborted, grandchildren included', async () => {
    const controller = new AbortController();
    let grandchild = 0;
    const script = `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log(c.pid);
      setInterval(() => {}, 1000);`;
    const running = runProcess({
      command: node,
      args: ['-e', script],
      signal: controller.signal,
      killGraceMs: 200,
      onStdoutLine: (line) => {
        grandchild = Number(line);
        controller.abort();
      },
    });
    const result = await running;
    expect(result.aborted).toBe(true);
    expect(grandchild).toBeGreaterThan(0);
    const deadline = Date.now() + 3000;
    while (alive(grandchild) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('kills a child that stays silent longer than idleTimeoutMs', async () => {
    const result = await runProcess({
      command: node,
      args: ['-e', "console.log('hello'); setInterval(() => {}, 1000)"],
      idleTimeoutMs: 150,
      killGraceMs: 100,
    });
    expect(result.idleTimedOut).toBe(true);
    expect(result.exitCode).toBeNull();
  });

  it('kills a child that runs longer than timeoutMs even while it talks', async () => {
    const result = await runProcess({
      command: node,
      args: ['-e', "setInterval(() => console.log('tick'), 10)"],
      timeoutMs: 150,
      idleTimeoutMs: 5_000,
      killGraceMs: 100,
    });
    expect(result.timedOut).toBe(true);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const controller = new AbortController();
    const result = await runProcess({
      command: node,
      args: ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      signal: controller.signal,
      killGraceMs: 100,
      onStdoutLine: () => controller.abort(),
    });
    expect(result.aborted).toBe(true);
    expect(result.signal).toBe('SIGKILL');
  });

  it('rejects with command_not_found for a missing executable', async () => {
    const error = await runProcess({ command: 'asm-no-such-command-xyz' }).catch((caught: unknown) => caught);
    expect(AsmError.isInstance(error) && error.code).toBe('command_not_found');
  });

  it('rejects with validation_error for a missing working directory', async () => {
    const error = await runProcess({ command: node, cwd: join(scratch, 'missing') }).catch(
      (caught: unknown) => caught,
    );
    expect(AsmError.isInstance(error) && error.code).toBe('validation_error');
  });

  it('resolves at once as aborted when the signal is already aborted', async () => {
    const result = await runProcess({
      command: node,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      signal: AbortSignal.abort(),
    });
    expect(result.aborted).toBe(true);
  });
});

describe('runProcess signals', () => {
  it('sends the chosen interrupt signal first and reports the pid on spawn', async () => {
    const controller = new AbortController();
    let spawned = 0;
    const result = await runProcess({
      command: node,
      args: [
        '-e',
        "process.on('SIGINT', () => { console.log('interrupted'); process.exit(7); }); console.log('ready'); setInterval(() => {}, 1000)",
      ],
      signal: controller.signal,
      interruptSignal: 'SIGINT',
      killGraceMs: 2_000,
      collectStdout: true,
      onSpawn: (pid) => {
        spawned = pid;
      },
      onStdoutLine: (line) => {
        if (line === 'ready') controller.abort();
      },
    });
    expect(spawned).toBeGreaterThan(0);
    expect(result.stdout).toContain('interrupted');
    expect(result.exitCode).toBe(7);
  });
});
