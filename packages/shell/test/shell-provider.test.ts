import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AdapterEvent,
  AsmError,
  createInMemoryStore,
  createSessionManager,
  isTerminalRunEventType,
} from '@asm/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createShellProvider, type ShellProviderSettings } from '../src/index.js';
import { executeDirectly, isAlive, tempDir, types, waitFor } from './helpers.js';

let dir: ReturnType<typeof tempDir>;
beforeEach(() => {
  dir = tempDir();
});
afterEach(() => dir.remove());

const shell = (settings: Partial<ShellProviderSettings> = {}) =>
  createShellProvider({ cwd: dir.path, ...settings });

function codeOf(error: unknown): string | undefined {
  return AsmError.isInstance(error) ? error.code : undefined;
}

function dataOf<T extends AdapterEvent['type']>(events: AdapterEvent[], type: T): Record<string, unknown> {
  return (events.find((event) => event.type === type)?.data ?? {}) as Record<string, unknown>;
}

describe('createShellProvider - settings', () => {
  it('rejects a missing cwd with validation_error naming the field', () => {
    const error = (() => {
      try {
        createShellProvider({} as ShellProviderSettings);
      } catch (caught) {
        return caught;
      }
    })();
    expect(codeOf(error)).toBe('validation_error');
    expect((error as AsmError).details.field).toBe('cwd');
  });

  it('rejects invalid settings naming the field', () => {
    for (const [settings, field] of [
      [{ timeoutMs: -1 }, 'timeoutMs'],
      [{ maxOutputBytes: 1.5 }, 'maxOutputBytes'],
      [{ allowedCommands: [''] }, 'allowedCommands'],
      [{ successExitCodes: [] }, 'successExitCodes'],
      [{ env: { A: 1 } }, 'env.A'],
    ] as const) {
      let caught: unknown;
      try {
        createShellProvider({ cwd: dir.path, ...(settings as object) });
      } catch (error) {
        caught = error;
      }
      expect(codeOf(caught)).toBe('validation_error');
      expect((caught as AsmError).details.field).toBe(field);
    }
  });

  it('validateConfig and execute reject a cwd that does not exist, before any event', async () => {
    const provider = shell({ cwd: join(dir.path, 'missing') });
    expect(() => provider.validateConfig()).toThrowError(/does not exist/);
    const outcome = await executeDirectly(provider, 'echo hi');
    expect(codeOf(outcome.error)).toBe('validation_error');
    expect((outcome.error as AsmError).details.field).toBe('cwd');
    expect(outcome.events).toEqual([]);
  });

  it('declares command_execution and streaming capabilities', () => {
    expect(shell().capabilities()).toEqual([
      { name: 'command_execution', type: 'code_execution' },
      { name: 'streaming', type: 'sampling' },
    ]);
    expect(shell().name).toBe('shell');
  });
});

describe('execute - input forms', () => {
  it('runs a string with /bin/sh -c in cwd and emits the full event sequence', async () => {
    const outcome = await executeDirectly(shell(), 'echo hello && pwd');
    expect(outcome.error).toBeUndefined();
    const content = `hello\n${dir.path}\n`;
    expect(outcome.result?.output.content).toBe(content);
    expect(outcome.result?.output.exitCode).toBe(0);
    expect(outcome.result?.output.stopReason).toBe('exit_code_0');
    expect(outcome.result?.tokenUsage.totalTokens).toBe(0);

    const sequence = types(outcome.events).filter((type) => type !== 'message_streamed');
    expect(sequence).toEqual([
      'run_started',
      'tool_call_started',
      'tool_call_completed',
      'message_received',
      'run_completed',
    ]);
    const streamed = outcome.events.filter((event) => event.type === 'message_streamed');
    expect(streamed.map((event) => (event.data as { delta: string }).delta).join('')).toBe(content);
    expect(streamed.every((event) => (event.data as { kind: string }).kind === 'text')).toBe(true);

    expect(dataOf(outcome.events, 'run_started')).toEqual({ cwd: dir.path, command: 'echo hello && pwd' });
    const started = dataOf(outcome.events, 'tool_call_started');
    expect(started.toolCallId).toMatch(/^tc_[0-9a-f]{16}$/);
    expect(started.toolName).toBe('bash');
    expect(started.toolInput).toEqual({ command: 'echo hello && pwd', args: [], cwd: dir.path });
    const completed = dataOf(outcome.events, 'tool_call_completed');
    expect(completed.toolCallId).toBe(started.toolCallId);
    expect(completed.toolOutput).toMatchObject({ output: content, exitCode: 0 });
    expect(typeof (completed.toolOutput as { durationMs: unknown }).durationMs).toBe('number');
    expect(dataOf(outcome.events, 'message_received')).toEqual({ role: 'assistant', content });
    expect(dataOf(outcome.events, 'run_completed')).toMatchObject({ stopReason: 'exit_code_0', exitCode: 0 });
  });

  it('runs structured input directly, without a shell, in a cwd relative to the provider cwd', async () => {
    mkdirSync(join(dir.path, 'sub'));
    const quoted = await executeDirectly(shell(), { command: 'printf', args: ['%s|%s', 'a b', '$HOME;x'] });
    expect(quoted.result?.output.content).toBe('a b|$HOME;x');
    expect(dataOf(quoted.events, 'tool_call_started').toolInput).toEqual({
      command: 'printf',
      args: ['%s|%s', 'a b', '$HOME;x'],
      cwd: dir.path,
    });

    const inSub = await executeDirectly(shell(), { command: 'pwd', cwd: 'sub' });
    expect(inSub.result?.output.content).toBe(`${join(dir.path, 'sub')}\n`);

    const missing = await executeDirectly(shell(), { command: 'pwd', cwd: 'nope' });
    expect(codeOf(missing.error)).toBe('validation_error');
    expect((missing.error as AsmError).details.field).toBe('input.cwd');
    expect(missing.events).toEqual([]);
  });

  it('joins the user messages of { messages } with newlines, and runs { prompt }', async () => {
    const messages = await executeDirectly(shell(), {
      messages: [
        { role: 'system', content: 'echo ignored' },
        { role: 'user', content: 'echo one' },
        { role: 'user', content: 'echo two' },
      ],
    });
    expect(messages.result?.output.content).toBe('one\ntwo\n');
    const prompt = await executeDirectly(shell(), { prompt: 'echo from-prompt' });
    expect(prompt.result?.output.content).toBe('from-prompt\n');
  });

  it('rejects any other input with validation_error and emits nothing', async () => {
    for (const input of [{ foo: 1 }, { command: '' }, { command: 'ls', args: [1] }, '   ']) {
      const outcome = await executeDirectly(shell(), input);
      expect(codeOf(outcome.error)).toBe('validation_error');
      expect(outcome.events).toEqual([]);
    }
  });

  it('passes the environment: settings env, then input env; undefined removes a variable', async () => {
    process.env.ASM_SHELL_INHERITED = 'inherited';
    try {
      const provider = shell({ env: { ASM_A: 'from-settings', ASM_B: 'settings-b' } });
      const outcome = await executeDirectly(provider, {
        command: 'sh',
        args: ['-c', 'echo "$ASM_A|$ASM_B|$(printenv ASM_SHELL_INHERITED || echo unset)"'],
        env: { ASM_B: 'from-input', ASM_SHELL_INHERITED: undefined },
      });
      expect(outcome.result?.output.content).toBe('from-settings|from-input|unset\n');
      const inherited = await executeDirectly(provider, 'echo "$ASM_SHELL_INHERITED"');
      expect(inherited.result?.output.content).toBe('inherited\n');
    } finally {
      delete process.env.ASM_SHELL_INHERITED;
    }
  });

  it('caps the output and the streamed deltas at maxOutputBytes', async () => {
    const outcome = await executeDirectly(
      shell({ maxOutputBytes: 100 }),
      "head -c 50000 /dev/zero | tr '\\0' a",
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.output.content).toBe('a'.repeat(100));
    expect(outcome.result?.output.truncated).toBe(true);
    const streamed = outcome.events
      .filter((event) => event.type === 'message_streamed')
      .map((event) => (event.data as { delta: string }).delta)
      .join('');
    expect(streamed).toBe('a'.repeat(100));
  });

  it('streams nothing when structured input says streaming: false', async () => {
    const outcome = await executeDirectly(shell(), { command: 'echo', args: ['quiet'], streaming: false });
    expect(outcome.result?.output.content).toBe('quiet\n');
    expect(types(outcome.events)).not.toContain('message_streamed');
  });

  it('keeps stderr apart from stdout', async () => {
    const outcome = await executeDirectly(shell(), 'echo out; echo err >&2');
    expect(outcome.result?.output.content).toBe('out\n');
    expect(outcome.result?.output.stderr).toBe('err\n');
  });
});

describe('execute - allowed and denied commands', () => {
  it('a denied command never starts: policy_violation, no events, no approval asked', async () => {
    const provider = shell({ deniedCommands: ['touch'] });
    for (const input of [
      'touch marker',
      '/usr/bin/touch marker',
      'echo hi && touch marker',
      'X=1 touch marker',
      'echo "$(touch marker)"',
      { command: 'touch', args: ['marker'] },
    ]) {
      const outcome = await executeDirectly(provider, input);
      expect(codeOf(outcome.error)).toBe('policy_violation');
      expect((outcome.error as AsmError).message).toBe("Command 'touch' is denied");
      expect(outcome.events).toEqual([]);
      expect(outcome.authorizeCalls).toBe(0);
    }
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);
  });

  it('the deny list wins over the allow list', async () => {
    const outcome = await executeDirectly(
      shell({ allowedCommands: ['touch'], deniedCommands: ['/bin/touch'] }),
      'touch marker',
    );
    expect(codeOf(outcome.error)).toBe('policy_violation');
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);
  });

  it('a command outside the allow list never starts', async () => {
    const provider = shell({ allowedCommands: ['echo'] });
    const outcome = await executeDirectly(provider, 'echo a | touch marker');
    expect(codeOf(outcome.error)).toBe('policy_violation');
    expect((outcome.error as AsmError).message).toBe("Command 'touch' is not in the allowed list");
    expect(outcome.events).toEqual([]);
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);

    const quoted = await executeDirectly(provider, 'echo "a; touch marker"');
    expect(quoted.result?.output.content).toBe('a; touch marker\n');
  });
});

describe('execute - failures', () => {
  it('a non-zero exit fails the run through a SessionManager', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: shell() });
    const error = await manager.runOnce('echo partial; echo broken >&2; exit 3').then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(codeOf(error)).toBe('command_failed');
    const failure = error as AsmError;
    expect(failure.message).toBe('Command exited with code 3');
    expect(failure.providerError).toMatchObject({ provider: 'shell', exitCode: 3, stderr: 'broken\n' });
    const runId = failure.details.runId as string;
    const run = await manager.getRun(runId);
    expect(run?.status).toBe('failed');
    expect(run?.error?.code).toBe('command_failed');
    const events = await store.getEvents(run!.sessionId, { runId });
    expect(events.filter((event) => isTerminalRunEventType(event.type)).map((event) => event.type)).toEqual([
      'run_failed',
    ]);
    expect(events.at(-1)?.type).toBe('run_failed');
    expect(events.at(-1)?.data.errorCode).toBe('command_failed');
    const failed = events.find((event) => event.type === 'tool_call_failed');
    expect(failed?.data.toolOutput).toMatchObject({ output: 'partial\n', exitCode: 3 });
    const occurred = events.find((event) => event.type === 'error_occurred');
    expect(occurred?.data).toMatchObject({
      errorCode: 'command_failed',
      errorMessage: 'Command exited with code 3',
    });
    await store.close();
  });

  it('an exit code listed in successExitCodes completes the run', async () => {
    const outcome = await executeDirectly(shell({ successExitCodes: [0, 3] }), 'echo ok; exit 3');
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.output).toMatchObject({ content: 'ok\n', exitCode: 3, stopReason: 'exit_code_3' });
  });

  it('a command that runs too long fails with command_timeout', async () => {
    const outcome = await executeDirectly(shell({ timeoutMs: 200 }), 'echo started; sleep 30');
    expect(codeOf(outcome.error)).toBe('command_timeout');
    expect((outcome.error as AsmError).details).toMatchObject({
      timedOut: true,
      exitCode: 124,
      timeoutMs: 200,
    });
    expect((outcome.error as AsmError).message).toBe('Command timed out after 200ms');
    expect(types(outcome.events).slice(-3)).toEqual(['tool_call_failed', 'error_occurred', 'run_failed']);
    expect(dataOf(outcome.events, 'tool_call_failed').toolOutput).toMatchObject({
      output: 'started\n',
      timedOut: true,
    });
  });

  it('a per-command timeoutMs overrides the setting', async () => {
    const outcome = await executeDirectly(shell({ timeoutMs: 60_000 }), {
      command: 'sleep',
      args: ['30'],
      timeoutMs: 150,
    });
    expect(codeOf(outcome.error)).toBe('command_timeout');
  });

  it('an executable that does not exist fails with command_not_found', async () => {
    const outcome = await executeDirectly(shell(), { command: 'asm-no-such-command-xyz' });
    expect(codeOf(outcome.error)).toBe('command_not_found');
    expect(types(outcome.events)).toEqual([
      'run_started',
      'tool_call_started',
      'tool_call_failed',
      'error_occurred',
      'run_failed',
    ]);
  });
});

describe('execute - cancellation and approval', () => {
  it('an abort kills the whole process group, grandchildren included', async () => {
    const pidFile = join(dir.path, 'child.pid');
    let childPid = 0;
    const outcome = await executeDirectly(shell(), `sleep 30 & echo $! > child.pid; wait`, {
      onEvent: (event, abort) => {
        if (event.type !== 'tool_call_started') return;
        void waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '').then(() => {
          childPid = Number(readFileSync(pidFile, 'utf8').trim());
          abort();
        });
      },
    });
    expect(codeOf(outcome.error)).toBe('cancelled');
    expect(childPid).toBeGreaterThan(0);
    expect(await waitFor(() => !isAlive(childPid))).toBe(true);
    expect(outcome.events.at(-1)?.type).toBe('run_cancelled');
  });

  it('an approval denial fails with tool_permission_denied and nothing runs', async () => {
    const outcome = await executeDirectly(shell(), 'touch marker', {
      authorizeToolCall: async (call) => {
        expect(call.name).toBe('bash');
        expect(call.input).toEqual({ command: 'touch marker', args: [], cwd: dir.path });
        return { allow: false, reason: 'not today' };
      },
    });
    expect(codeOf(outcome.error)).toBe('tool_permission_denied');
    expect(outcome.authorizeCalls).toBe(1);
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);
    expect(types(outcome.events)).toEqual([
      'run_started',
      'tool_call_started',
      'tool_call_failed',
      'error_occurred',
      'run_failed',
    ]);
  });

  it('tool rules that deny bash stop the command through the manager', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: shell() });
    const error = await manager.runOnce('touch marker', { toolRules: { deny: ['bash'] } }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(codeOf(error)).toBe('tool_permission_denied');
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);
    const run = await manager.getRun((error as AsmError).details.runId as string);
    expect(run?.status).toBe('failed');
    await store.close();
  });

  it('an approval that replaces the input runs the replacement, checked against the lists', async () => {
    const replaced = await executeDirectly(shell(), 'echo original', {
      authorizeToolCall: async () => ({ allow: true, input: { command: 'echo replaced' } }),
    });
    expect(replaced.result?.output.content).toBe('replaced\n');

    const denied = await executeDirectly(shell({ deniedCommands: ['touch'] }), 'echo original', {
      authorizeToolCall: async () => ({ allow: true, input: { command: 'touch marker' } }),
    });
    expect(codeOf(denied.error)).toBe('policy_violation');
    expect(denied.events.at(-1)?.type).toBe('run_failed');
    expect(existsSync(join(dir.path, 'marker'))).toBe(false);
  });
});
