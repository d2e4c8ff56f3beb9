import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFakeAnthropicServer, type FakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempHome, jsonLines, runAsm, sessionIdsIn, type TempHome } from './helpers.js';

describe('asm run against the fake Anthropic server', () => {
  let home: TempHome;
  let server: FakeAnthropicServer;
  let claudeEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = await createTempHome();
    server = await createFakeAnthropicServer({ defaultScenario: 'echo' });
    claudeEnv = { ANTHROPIC_API_KEY: 'sk-ant-test-key', ANTHROPIC_BASE_URL: server.url };
  });
  afterAll(async () => {
    await server.close();
    await home.remove();
  });

  it('run - renders the answer live and prints tokens, cost and the session id', async () => {
    server.reset();
    const result = await runAsm(home, ['run', 'Hello from the test'], claudeEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('You said: Hello from the test');
    expect(result.stdout).toMatch(/✓ completed · claude \(claude-haiku-4-5\)/);
    expect(result.stdout).toMatch(/tokens {3}25 in \/ \d+ out/);
    expect(result.stdout).toMatch(/cost {5}\$0\.\d{6}/);
    const [sessionId] = sessionIdsIn(result.stdout);
    expect(result.stdout).toContain(`session  ${sessionId}`);
    expect(result.stderr).toContain(`session ${sessionId}`);
    expect(result.stderr).toContain('via claude');
    // The real SDK talked to the fake with the key from the environment.
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk-ant-test-key');
    expect(server.requests[0]!.body.model).toBe('claude-haiku-4-5');
  });

  it('run --model --json - prints one JSON result', async () => {
    server.reset();
    const result = await runAsm(
      home,
      ['run', '--model', 'claude-opus-4-1', '--json', 'In JSON please'],
      claudeEnv,
    );
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(output).toMatchObject({
      status: 'completed',
      provider: 'claude',
      model: 'claude-opus-4-1',
      output: 'You said: In JSON please',
      error: null,
    });
    expect(output.costUsd).toBeGreaterThan(0);
    expect(server.requests[0]!.body.model).toBe('claude-opus-4-1');
  });

  it('run --continue - a second process continues the session with the first turn replayed', async () => {
    server.reset();
    const first = await runAsm(home, ['run', '--tag', 'continued', 'Remember the word kiwi'], claudeEnv);
    expect(first.code).toBe(0);
    const [sessionId] = sessionIdsIn(first.stdout);
    const second = await runAsm(home, ['run', '--continue', sessionId!, 'Which word?'], claudeEnv);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('You said: Which word?');
    expect(sessionIdsIn(second.stdout)[0]).toBe(sessionId);
    const messages = server.requests[1]!.body.messages as { role: string; content: unknown }[];
    expect(JSON.stringify(messages)).toContain('Remember the word kiwi');
    expect(JSON.stringify(messages)).toContain('You said: Remember the word kiwi');
    expect(messages.at(-1)?.role).toBe('user');

    const show = await runAsm(home, ['show', sessionId!]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('status    completed');
    expect(show.stdout).toContain('runs (2)');
    expect(show.stdout).toMatch(/tokens {4}50 in \/ \d+ out/);
    expect(show.stdout).toMatch(/cost {6}\$0\.\d{6}/);

    const exported = await runAsm(home, ['export', sessionId!]);
    expect(exported.code).toBe(0);
    const dump = JSON.parse(exported.stdout) as {
      session: { id: string };
      runs: unknown[];
      events: { sequence: number }[];
    };
    expect(dump.session.id).toBe(sessionId);
    expect(dump.runs).toHaveLength(2);
    const last = dump.events.at(-1)!.sequence;
    expect(dump.events.map((event) => event.sequence)).toEqual(
      Array.from({ length: last }, (_, index) => index + 1),
    );

    const tail = await runAsm(home, ['events', sessionId!, '--json', '--after', String(last - 3)]);
    expect(jsonLines<{ sequence: number }>(tail.stdout).map((event) => event.sequence)).toEqual([
      last - 2,
      last - 1,
      last,
    ]);
    const lines = await runAsm(home, ['events', sessionId!, '--type', 'message_sent']);
    expect(lines.stdout.trim().split('\n')).toHaveLength(2);
    expect(lines.stdout).toContain('user: Which word?');

    const listed = await runAsm(home, ['sessions', '--tag', 'continued', '--json']);
    const page = JSON.parse(listed.stdout) as { sessions: { id: string; runCount: number }[] };
    expect(page.sessions.map((session) => [session.id, session.runCount])).toEqual([[sessionId, 2]]);
  });

  it('run --policy - a budget violation fails the run with exit code 1', async () => {
    const policyPath = join(home.dir, 'policy.json');
    await writeFile(
      policyPath,
      JSON.stringify({ name: 'tiny', limits: { maxTotalTokens: 10 }, onViolation: 'cancel' }),
    );
    const result = await runAsm(
      home,
      ['run', '--policy', policyPath, 'This costs more than ten tokens'],
      claudeEnv,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('policy tiny: maxTotalTokens 10; on violation cancel');
    expect(result.stdout).toMatch(/⚠ policy tiny: maxTotalTokens \d+ > 10 → cancel/);
    expect(result.stdout).toMatch(/✗ failed: policy_violation/);
  });

  it('run --policy - tool rules deny a shell command before it starts', async () => {
    const policyPath = join(home.dir, 'no-bash.json');
    const marker = join(home.dir, 'marker');
    await writeFile(policyPath, JSON.stringify({ name: 'no-bash', tools: { deny: ['bash'] } }));
    const result = await runAsm(home, [
      'run',
      '--provider',
      'shell',
      '--policy',
      policyPath,
      `touch ${marker}`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('tool_permission_denied');
    await expect(import('node:fs/promises').then((fs) => fs.access(marker))).rejects.toThrow();
  });

  it('run - a provider error fails the run with exit code 1, a refused key with 3', async () => {
    const failed = await runAsm(home, ['run', '--model', 'scenario:400', 'hi'], claudeEnv);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('✗ failed: provider_error');
    const refused = await runAsm(home, ['run', '--model', 'scenario:401', 'hi'], claudeEnv);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toContain('provider_authentication_failed');
    expect(refused.stderr).toContain('The provider refused the key');
  });

  it('run --provider shell - runs the prompt as a command in the current directory', async () => {
    await writeFile(join(home.dir, 'hello.txt'), 'hello shell\n');
    const result = await runAsm(home, ['run', '--provider', 'shell', 'cat hello.txt']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('hello shell');
    expect(result.stdout).toContain('cost     none (no tokens used)');
  });
});
