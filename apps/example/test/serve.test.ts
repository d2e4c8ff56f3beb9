import { createFakeAnthropicServer } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempHome, runAsm, sessionIdsIn, startAsm, type TempHome } from './helpers.js';

describe('asm serve', () => {
  let home: TempHome;
  beforeAll(async () => {
    home = await createTempHome();
  });
  afterAll(() => home.remove());

  it('serve - answers HTTP over the user store and prints the /ui URL; Ctrl-C stops it (0)', async () => {
    const run = await runAsm(home, ['run', '--provider', 'shell', 'echo served']);
    expect(run.code).toBe(0);
    const [sessionId] = sessionIdsIn(run.stdout);

    const server = startAsm(home, ['serve', '--port', '0']);
    const [, url] = await server.waitFor(/asm server on (http:\/\/127\.0\.0\.1:\d+)/);
    await server.waitFor(/dashboard {2}http:\/\/127\.0\.0\.1:\d+\/ui/);
    expect(server.stdout).toContain(`dashboard  ${url}/ui`);
    await server.waitFor(/no provider is configured/, 'stderr');

    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const sessions = (await (await fetch(`${url}/api/sessions`)).json()) as { sessions: { id: string }[] };
    expect(sessions.sessions.map((session) => session.id)).toContain(sessionId);
    const runs = (await (await fetch(`${url}/api/sessions/${sessionId}/runs`)).json()) as {
      runs: { status: string; output: { content: string } }[];
    };
    expect(runs.runs.map((entry) => [entry.status, entry.output.content])).toEqual([
      ['completed', 'served\n'],
    ]);

    server.kill('SIGINT');
    const stopped = await server.exited;
    expect(stopped.code).toBe(0);
  });

  it('serve - runs submitted through the API go through the router to the configured provider', async () => {
    const fake = await createFakeAnthropicServer({ defaultScenario: 'echo' });
    try {
      const server = startAsm(home, ['serve', '--port', '0'], {
        ANTHROPIC_API_KEY: 'sk-ant-test-key',
        ANTHROPIC_BASE_URL: fake.url,
      });
      const [, url] = await server.waitFor(/asm server on (http:\/\/127\.0\.0\.1:\d+)/);
      await server.waitFor(/providers {2}claude/);
      const created = (await (
        await fetch(`${url}/api/sessions`, { method: 'POST', body: JSON.stringify({ agentId: 'api' }) })
      ).json()) as { id: string };
      const submitted = await fetch(`${url}/api/sessions/${created.id}/runs`, {
        method: 'POST',
        body: JSON.stringify({ input: 'Hello over HTTP' }),
      });
      expect(submitted.status).toBe(202);
      const { runId } = (await submitted.json()) as { runId: string };
      // The SSE stream ends up with the run's terminal event; read it instead of polling.
      const stream = await fetch(`${url}/api/sessions/${created.id}/events/stream`);
      const reader = stream.body!.getReader();
      let text = '';
      while (!text.includes('event: run_completed')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await reader.cancel();
      const run = (await (await fetch(`${url}/api/runs/${runId}`)).json()) as {
        status: string;
        provider: string;
        output: { content: string };
      };
      expect(run).toMatchObject({
        status: 'completed',
        provider: 'claude',
        output: { content: 'You said: Hello over HTTP' },
      });
      server.kill('SIGINT');
      expect((await server.exited).code).toBe(0);
    } finally {
      await fake.close();
    }
  });

  it('serve - a non-loopback host without a token is a usage error (2)', async () => {
    const result = await runAsm(home, ['serve', '--host', '0.0.0.0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('needs --token');
  });

  it('serve --token - requests without the bearer token get 401', async () => {
    const server = startAsm(home, ['serve', '--port', '0', '--token', 'correct-horse-battery']);
    const [, url] = await server.waitFor(/asm server on (http:\/\/127\.0\.0\.1:\d+)/);
    await server.waitFor(/Ctrl-C to stop/);
    expect((await fetch(`${url}/api/sessions`)).status).toBe(401);
    const allowed = await fetch(`${url}/api/sessions`, {
      headers: { authorization: 'Bearer correct-horse-battery' },
    });
    expect(allowed.status).toBe(200);
    server.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
