import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsmError, createInMemoryStore, createSessionManager } from '@asm/core';
import type { FakeCli } from '@asm/testing/fakes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAmpProvider } from '../src/index.js';
import {
  createFakeAmp,
  createTreeWrapper,
  executeDirectly,
  fixtureSteps,
  isRunning,
  readTreePids,
  type TreePids,
  waitFor,
} from './helpers.js';

// Every test here runs the fake through a wrapper that leaves a grandchild (`sleep 300`) in the
// process group, and proves that neither the CLI nor the grandchild outlives the run.

const [SYSTEM, TEXT_LINE] = fixtureSteps('plain-answer');

let fake: FakeCli;
let root: string;
let cwd: string;
const leftovers: number[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'asm-amp-tree-'));
  cwd = mkdtempSync(join(root, 'work-'));
  fake = createFakeAmp({
    stall: { steps: [SYSTEM!, TEXT_LINE!], stall: true },
    silent: { steps: [SYSTEM!], stall: true },
    'bad-line': { steps: [SYSTEM!, { stdout: 'oops', delayMs: 150 }], stall: true },
    lingers: { steps: [...fixtureSteps('plain-answer')], stall: true },
  });
});

afterAll(() => {
  for (const pid of leftovers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  fake.cleanup();
  rmSync(root, { recursive: true, force: true });
});

/** A provider whose executable is a fresh wrapper with its own pid folder. */
function treeProvider(scenario: string, settings: { idleTimeoutMs?: number; exitGraceMs?: number } = {}) {
  const dir = mkdtempSync(join(root, 'pids-'));
  const amp = createAmpProvider({
    cwd,
    executablePath: createTreeWrapper(fake.path, dir),
    apiKey: 'amp-test-key',
    ...settings,
    env: { ASM_FAKE_SCENARIO: scenario },
  });
  return { amp, pids: () => readTreePids(dir) };
}

async function expectTreeGone(pids: TreePids): Promise<void> {
  leftovers.push(pids.cli, pids.grandchild);
  expect(pids.cli).toBeGreaterThan(0);
  expect(pids.grandchild).toBeGreaterThan(0);
  expect(await waitFor(() => !isRunning(pids.cli), 5_000), `CLI ${pids.cli} still running`).toBe(true);
  expect(
    await waitFor(() => !isRunning(pids.grandchild), 5_000),
    `grandchild ${pids.grandchild} still running`,
  ).toBe(true);
}

describe('createAmpProvider - no process is left running', () => {
  it('abort mid-stream: rejects with the abort reason, ends with run_cancelled, and kills the tree', async () => {
    const { amp, pids } = treeProvider('stall');
    const controller = new AbortController();
    let tree: Promise<TreePids> | undefined;
    let aliveBeforeAbort = false;
    const outcome = await executeDirectly(amp, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'message_streamed' && !tree) {
          tree = pids();
          void tree.then((found) => {
            aliveBeforeAbort = isRunning(found.cli) && isRunning(found.grandchild);
            controller.abort(new AsmError('cancelled', 'User pressed stop'));
          });
        }
      },
    });
    const error = outcome.error as AsmError;
    expect(AsmError.isInstance(error)).toBe(true);
    expect(error.code).toBe('cancelled');
    expect(error.message).toBe('User pressed stop');
    expect(outcome.events.map((event) => event.type)).toEqual([
      'run_started',
      'message_streamed',
      'token_usage_updated',
      'run_cancelled',
    ]);
    expect(tree).toBeDefined();
    expect(aliveBeforeAbort).toBe(true);
    await expectTreeGone(await tree!);
  });

  it('abort with a plain reason: rejects with AsmError cancelled', async () => {
    const { amp, pids } = treeProvider('stall');
    const controller = new AbortController();
    let tree: Promise<TreePids> | undefined;
    const outcome = await executeDirectly(amp, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'run_started' && !tree) {
          tree = pids();
          void tree.then(() => controller.abort());
        }
      },
    });
    expect((outcome.error as AsmError).code).toBe('cancelled');
    await expectTreeGone(await tree!);
  });

  it('a timeout abort reason ends with run_timeout', async () => {
    const { amp, pids } = treeProvider('stall');
    const controller = new AbortController();
    let tree: Promise<TreePids> | undefined;
    const outcome = await executeDirectly(amp, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'message_streamed' && !tree) {
          tree = pids();
          void tree.then(() => controller.abort(new AsmError('timeout', 'Run timed out after 10 ms')));
        }
      },
    });
    expect((outcome.error as AsmError).code).toBe('timeout');
    expect(outcome.events.at(-1)?.type).toBe('run_timeout');
    await expectTreeGone(await tree!);
  });

  it('idle timeout: a silent CLI is killed with its grandchild and the run fails with provider_timeout', async () => {
    const { amp, pids } = treeProvider('silent', { idleTimeoutMs: 400 });
    let aliveBeforeTimeout = false;
    const tree = pids().then((found) => {
      aliveBeforeTimeout = isRunning(found.cli) && isRunning(found.grandchild);
      return found;
    });
    const outcome = await executeDirectly(amp);
    expect(aliveBeforeTimeout).toBe(true);
    const error = outcome.error as AsmError;
    expect(error.code).toBe('provider_timeout');
    expect(error.retryable).toBe(true);
    expect(error.details.idleTimeoutMs).toBe(400);
    expect(error.providerError?.kind).toBe('timeout');
    expect(outcome.events.map((event) => event.type)).toEqual(['run_started', 'run_failed']);
    await expectTreeGone(await tree);
  });

  it('a consumer that stops early (its emit throws) kills the tree and gets its error back', async () => {
    const { amp, pids } = treeProvider('stall');
    let tree: Promise<TreePids> | undefined;
    const stopping = new AsmError('cancelled', 'The consumer stopped reading');
    const outcome = await executeDirectly(amp, {
      onEvent: (event) => {
        if (event.type === 'run_started') tree = pids();
        if (event.type === 'message_streamed') throw stopping;
      },
    });
    expect(outcome.error).toBeInstanceOf(Error);
    expect((outcome.error as AsmError).code).toBe('cancelled');
    await expectTreeGone(await tree!);
  });

  it('a bad line kills the tree at once', async () => {
    const { amp, pids } = treeProvider('bad-line');
    const tree = pids();
    const outcome = await executeDirectly(amp);
    expect((outcome.error as AsmError).providerError?.kind).toBe('parse_error');
    await expectTreeGone(await tree);
  });

  it('a CLI that lingers after its result is killed with its grandchild, and the run completes', async () => {
    const { amp, pids } = treeProvider('lingers', { exitGraceMs: 100 });
    const tree = pids();
    const outcome = await executeDirectly(amp);
    expect(outcome.error).toBeUndefined();
    await expectTreeGone(await tree);
  });

  it('cancelRun through a SessionManager kills the tree and ends the run cancelled', async () => {
    const { amp, pids } = treeProvider('stall');
    const store = createInMemoryStore();
    const manager = createSessionManager({ store, provider: amp });
    const session = await manager.startSession();
    const run = await manager.startRun(session.id, 'Refactor everything');
    let tree: Promise<TreePids> | undefined;
    const error = await manager
      .executeRun(run.id, {
        onEvent: (event) => {
          if (event.type === 'message_streamed' && !tree) {
            tree = pids();
            void tree.then(() => manager.cancelRun(run.id, { reason: 'user' }));
          }
        },
      })
      .then(
        () => undefined,
        (caught: unknown) => caught as AsmError,
      );
    expect(error?.code).toBe('cancelled');
    expect((await manager.getRun(run.id))?.status).toBe('cancelled');
    const events = await store.getEvents(session.id, { runId: run.id });
    expect(events.at(-1)?.type).toBe('run_cancelled');
    await expectTreeGone(await tree!);
    await store.close();
  });
});
