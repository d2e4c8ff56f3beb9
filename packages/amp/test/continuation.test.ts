import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInMemoryStore, createSessionManager } from '@asm/core';
import type { FakeCli } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAmpProvider } from '../src/index.js';
import { createFakeAmp, executeDirectly, FIXTURE_THREAD_ID, fixtureSteps } from './helpers.js';

let fake: FakeCli;
let cwd: string;

beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'asm-amp-cont-'));
  fake = createFakeAmp({
    default: { steps: fixtureSteps('plain-answer') },
    tools: { steps: fixtureSteps('tool-round-trip') },
  });
});

afterAll(() => {
  fake.cleanup();
  rmSync(cwd, { recursive: true, force: true });
});

function amp(scenario = 'default') {
  return createAmpProvider({
    cwd,
    executablePath: fake.path,
    apiKey: 'amp-test-key',
    env: { ASM_FAKE_SCENARIO: scenario },
  });
}

describe('createAmpProvider - threads', () => {
  it('continues the Amp thread natively on the next run of a session (threads continue <id>)', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: amp() });
    const session = await manager.startSession({ agentId: 'amp-threads' });
    const before = fake.invocations().length;

    const first = await manager.executeRun((await manager.startRun(session.id, 'Capital of France?')).id);
    expect(first.providerSessionId).toBe(FIXTURE_THREAD_ID);
    const recorded = (await manager.getSession(session.id))?.metadata.providerSessions as Record<
      string,
      { providerSessionId: string }
    >;
    expect(recorded.amp?.providerSessionId).toBe(FIXTURE_THREAD_ID);

    const second = await manager.executeRun((await manager.startRun(session.id, 'And of Italy?')).id);
    expect(second.status).toBe('completed');

    const [call1, call2] = fake.invocations().slice(before);
    expect(call1?.args).toEqual(['--execute', '--stream-json']);
    expect(call2?.args).toEqual(['threads', 'continue', FIXTURE_THREAD_ID, '--execute', '--stream-json']);
    // Amp keeps the thread's history itself: only the new prompt is sent.
    expect(call2?.stdin).toBe('And of Italy?\n');
    await store.close();
  });

  it('replays the transcript as text when asked to (continuation replay)', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: amp('tools') });
    const session = await manager.startSession({ agentId: 'amp-replay' });
    await manager.executeRun((await manager.startRun(session.id, 'List the files')).id);
    const before = fake.invocations().length;

    await manager.executeRun((await manager.startRun(session.id, 'Which one is the README?')).id, {
      continuation: 'replay',
    });
    const call = fake.invocations()[before]!;
    expect(call.args).toEqual(['--execute', '--stream-json']);
    expect(call.stdin).toBe(
      [
        'user: List the files',
        'assistant: Let me list the files.',
        'assistant_tool_call(toolu_01A9): Bash {"cmd":"ls","cwd":"/work/project"}',
        'tool_result(toolu_01A9): Bash "README.md\\npackage.json\\nsrc"',
        'assistant: There are 3 entries: README.md, package.json and src.',
        '',
        'Which one is the README?',
        '',
      ].join('\n'),
    );
    await store.close();
  });

  it('starts a fresh thread with continuation false', async () => {
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: amp() });
    const session = await manager.startSession();
    await manager.executeRun((await manager.startRun(session.id, 'one')).id);
    const before = fake.invocations().length;
    await manager.executeRun((await manager.startRun(session.id, 'two')).id, { continuation: false });
    const call = fake.invocations()[before]!;
    expect(call.args).toEqual(['--execute', '--stream-json']);
    expect(call.stdin).toBe('two\n');
    await store.close();
  });

  it('replays when handed native continuation without a thread id', async () => {
    const before = fake.invocations().length;
    const outcome = await executeDirectly(amp(), {
      input: 'Next?',
      continuation: {
        mode: 'native',
        loadTranscript: async () => ({
          sessionId: 'ses_x',
          messages: [
            { role: 'user', content: 'Hi', metadata: {} },
            { role: 'assistant', content: 'Hello', metadata: {} },
          ],
          metadata: {},
        }),
      },
    });
    expect(outcome.error).toBeUndefined();
    const call = fake.invocations()[before]!;
    expect(call.args).toEqual(['--execute', '--stream-json']);
    expect(call.stdin).toBe('user: Hi\nassistant: Hello\n\nNext?\n');
  });
});
