import { createFakeAnthropicServer, type FakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempHome, jsonLines, runAsm, startAsm, type TempHome } from './helpers.js';

describe('asm events --follow in a second process', () => {
  let home: TempHome;
  let server: FakeAnthropicServer;
  let claudeEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = await createTempHome();
    server = await createFakeAnthropicServer();
    claudeEnv = { ANTHROPIC_API_KEY: 'sk-ant-test-key', ANTHROPIC_BASE_URL: server.url };
  });
  afterAll(async () => {
    await server.close();
    await home.remove();
  });

  it('events --follow - shows a streaming run live; Ctrl-C cancels the run (130) and stops the follower (0)', async () => {
    // The fake sends the first delta, then holds the stream open: the run is streaming.
    const runner = startAsm(home, ['run', '--model', 'scenario:stall', 'Wait for it'], claudeEnv);
    const [, sessionId] = await runner.waitFor(/session (ses_[0-9a-f]{32})/, 'stderr');
    const follower = startAsm(home, ['events', sessionId!, '--follow']);
    await follower.waitFor(/message_streamed +text "Waiting/);
    // The follower saw the delta while the run was still going.
    expect(runner.child.exitCode).toBeNull();

    runner.kill('SIGINT');
    const run = await runner.exited;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('Ctrl-C: cancelling the run');
    expect(run.stdout).toContain('✗ cancelled');

    await follower.waitFor(/run_cancelled +Interrupted by SIGINT/);
    await follower.waitFor(/session_completed/);
    follower.kill('SIGINT');
    const followed = await follower.exited;
    expect(followed.code).toBe(0);

    const stored = jsonLines<{ sequence: number; type: string }>(
      (await runAsm(home, ['events', sessionId!, '--json'])).stdout,
    );
    // The follower printed every stored event once, in order.
    const printed = [...followed.stdout.matchAll(/^# *(\d+) /gm)].map((match) => Number(match[1]));
    expect(printed).toEqual(stored.map((event) => event.sequence));
    expect(stored.map((event) => event.type)).toContain('run_cancelled');
  });

  it('events --follow --json --after - resumes from a cursor and follows the next run', async () => {
    const first = await runAsm(home, ['run', '--provider', 'shell', 'echo one']);
    expect(first.code).toBe(0);
    const [sessionId] = first.stdout.match(/ses_[0-9a-f]{32}/) ?? [];
    const before = jsonLines<{ sequence: number }>(
      (await runAsm(home, ['events', sessionId!, '--json'])).stdout,
    );
    const cursor = before.at(-1)!.sequence;

    const follower = startAsm(home, ['events', sessionId!, '--follow', '--json', '--after', String(cursor)]);
    const second = await runAsm(home, ['run', '--provider', 'shell', '--continue', sessionId!, 'echo two']);
    expect(second.code).toBe(0);
    await follower.waitFor(/"type":"session_completed"/);
    follower.kill('SIGTERM');
    const followed = await follower.exited;
    expect(followed.code).toBe(0);
    const events = jsonLines<{ sequence: number; type: string; data: Record<string, unknown> }>(
      followed.stdout,
    );
    expect(events[0]!.sequence).toBe(cursor + 1);
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => cursor + 1 + index));
    expect(events.map((event) => event.type)).toEqual(
      expect.arrayContaining([
        'session_started',
        'message_sent',
        'run_started',
        'message_received',
        'run_completed',
      ]),
    );
    expect(events.find((event) => event.type === 'message_received')?.data.content).toBe('two\n');
  });
});
