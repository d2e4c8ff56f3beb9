/**
 * The dashboard in a real headless browser: Debian's chromium (`/usr/bin/chromium`) driven by
 * playwright-core (which never downloads a browser here; `launch` gives it a fresh temporary profile).
 * A real server on 127.0.0.1 with realistic sessions and a mock provider that streams slowly and asks
 * for tool approvals. The test fails, never skips, when chromium is missing (`.ci/run` installs it).
 */
import { existsSync } from 'node:fs';
import { createInMemoryStore, type StoredEvent } from '@asm/core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AsmServer, bearerToken, createAsmServer } from '../src/index.js';
import {
  createRealisticRuntime,
  type SeedIds,
  type SeedProviders,
  seedRealisticData,
  waitForEvent,
} from './support/seed.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'browser-test-token';
const WAIT = { timeout: 60_000 };

let browser: Browser;
let server: AsmServer;
let providers: SeedProviders;
let ids: SeedIds;
const store = createInMemoryStore();
const { runtime, providers: seededProviders } = createRealisticRuntime(store);
const pageErrors: string[] = [];
const foreignRequests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  }
  providers = seededProviders;
  ids = await seedRealisticData(runtime, providers);
  server = await createAsmServer({ runtime, port: 0, authorize: bearerToken(TOKEN) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await runtime.close({ cancelInFlight: true });
});

async function openPage(path = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    // Network failures (the restart below) are logged by the browser itself, not by the page's code.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      pageErrors.push(message.text());
    }
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(server.url) && !request.url().startsWith('data:')) {
      foreignRequests.push(request.url());
    }
  });
  await page.goto(`${server.dashboardUrl}?token=${TOKEN}${path}`);
  return page;
}

function tool(page: Page) {
  return page.locator('li.tool[data-tool-call-id="toolu_live_deploy"]');
}

function runSection(page: Page, runId: string) {
  return page.locator(`section.run[data-run-id="${runId}"]`);
}

describe('dashboard in chromium', () => {
  it('takes the token from the address once and lists realistic sessions', async () => {
    const page = await openPage();
    await page.waitForSelector(`tr[data-session-id="${ids.support}"]`, WAIT);
    expect(page.url()).not.toContain('token');
    expect(await page.evaluate('sessionStorage.getItem("asm.dashboard.token")')).toBe(TOKEN);
    expect(await page.locator('table.sessions tbody tr').count()).toBe(5);
    const policyRow = page.locator(`tr[data-session-id="${ids.policy}"]`);
    await expect.poll(() => policyRow.textContent(), WAIT).toContain('2 failed');
    expect(await policyRow.textContent()).toContain('ops-agent');
    expect(await page.locator(`tr[data-session-id="${ids.support}"] .badge`).textContent()).toBe('completed');
    expect(await page.locator(`tr[data-session-id="${ids.timeout}"]`).textContent()).toContain('amp');
    await page.close();
  }, 120_000);

  it('shows failovers, policy violations, approvals and cancelled runs in the timelines', async () => {
    const page = await openPage(`#/sessions/${ids.failover}`);
    const recovered = page.locator('.event.recovered');
    await recovered.first().waitFor(WAIT);
    expect(await recovered.first().textContent()).toContain('codex');
    expect(await page.locator('.event.error').first().textContent()).toContain('provider_unavailable');
    expect(await page.locator('section.run').getAttribute('data-status')).toBe('completed');

    await page.goto(`${server.dashboardUrl}#/sessions/${ids.policy}`);
    await expect.poll(() => page.locator('.event.policy').count(), WAIT).toBe(2);
    expect(await page.locator('.event.policy').first().textContent()).toContain('rm_rf');
    expect(await page.locator('section.run.has-error').count()).toBe(2);
    expect(await page.locator('[data-tool-call-id="toolu_rm_1"]').getAttribute('data-status')).toBe(
      'not_run',
    );

    await page.goto(`${server.dashboardUrl}#/sessions/${ids.approvals}`);
    await expect.poll(() => page.locator('section.run').count(), WAIT).toBe(3);
    await expect
      .poll(() => page.locator('[data-tool-call-id="toolu_deploy_1"]').getAttribute('data-status'), WAIT)
      .toBe('completed');
    expect(await page.locator('[data-tool-call-id="toolu_deploy_2"]').getAttribute('data-status')).toBe(
      'denied',
    );
    expect(await page.locator('section.run[data-status="cancelled"]').count()).toBe(1);

    await page.goto(`${server.dashboardUrl}#/usage`);
    const amp = page.locator('table.by-provider tr[data-provider="amp"]');
    await amp.waitFor(WAIT);
    expect(await amp.textContent()).toContain('—');
    expect(await page.locator('.usage-table tr[data-model="claude-sonnet-4-5"]').count()).toBe(1);
    await page.close();
  }, 120_000);

  it('streams a run live, approves its tool call, and cancels it from the page', async () => {
    const page = await openPage();
    await page.locator('input[aria-label="New session agent"]').fill('browser-test');
    await page.getByRole('button', { name: 'New session' }).click();
    await page.waitForURL(/#\/sessions\/ses_/, WAIT);
    const sessionId = decodeURIComponent(page.url().split('#/sessions/')[1]!);
    await page.waitForSelector('#connection[data-state="live"]', WAIT);

    // The run streams two deltas, asks to deploy (and waits for a person), then streams 40 deltas
    // slowly and waits until it is cancelled.
    providers.claude.configure({
      events: [
        { type: 'message_streamed', data: { kind: 'text', delta: 'Checking the ' } },
        { type: 'message_streamed', data: { kind: 'text', delta: 'release notes. ' } },
      ],
      toolCalls: [{ id: 'toolu_live_deploy', name: 'deploy', input: { service: 'api', version: '3.1.0' } }],
      deltas: 40,
      chunk: 'tick ',
      chunkDelayMs: 25,
      stall: true,
    });
    await page.locator('textarea[name="prompt"]').fill('Deploy api 3.1.0 and report');
    await page.getByRole('button', { name: 'Run', exact: true }).click();

    const approve = page.locator('button[data-action="approve"][data-tool-call-id="toolu_live_deploy"]');
    await approve.waitFor(WAIT);
    const run = page.locator('section.run').last();
    const runId = (await run.getAttribute('data-run-id'))!;
    const text = runSection(page, runId).locator('.stream-text[data-kind="text"]');
    // While the run waits for the approval, its first text is on the page, the two deltas merged.
    expect(await run.getAttribute('data-status')).toBe('running');
    expect(await text.count()).toBe(1);
    expect(await text.first().textContent()).toBe('Checking the release notes. ');
    expect(await tool(page).getAttribute('data-status')).toBe('awaiting_approval');
    expect(await tool(page).textContent()).toContain('"version": "3.1.0"');

    await approve.click();
    await expect.poll(() => tool(page).getAttribute('data-status'), WAIT).toBe('completed');
    expect(await tool(page).textContent()).toContain('by dashboard');

    // After the tool, the answer streams into a second block, live: all 40 deltas merged while the
    // run is still running (it only ends when cancelled).
    const ticks = async () => ((await text.nth(1).textContent()) ?? '').split('tick').length - 1;
    await expect.poll(ticks, WAIT).toBe(40);
    expect(await runSection(page, runId).getAttribute('data-status')).toBe('running');
    expect(await text.count()).toBe(2);
    expect(await runSection(page, runId).locator('button[data-action="cancel"]').isVisible()).toBe(true);

    const granted = (await store.getEvents(sessionId, { runId, types: ['tool_approval_granted'] }))[0];
    expect(granted?.data).toMatchObject({ toolCallId: 'toolu_live_deploy', approvedBy: 'dashboard' });

    await runSection(page, runId).locator('button[data-action="cancel"]').click();
    await expect.poll(() => runSection(page, runId).getAttribute('data-status'), WAIT).toBe('cancelled');
    expect(await runSection(page, runId).locator('button[data-action="cancel"]').isHidden()).toBe(true);
    expect((await store.getRun(runId))?.status).toBe('cancelled');
    expect(providers.claude.cancelledRuns).toContain(runId);

    // Deny with a reason: the tool never runs, the run goes on and completes.
    providers.claude.configure({
      events: undefined,
      toolCalls: [{ id: 'toolu_live_drop', name: 'deploy', input: { service: 'db', version: '10' } }],
      deltas: undefined,
      chunkDelayMs: undefined,
      stall: false,
      response: 'Fine, no deploy.',
    });
    await page.locator('textarea[name="prompt"]').fill('Deploy db 10');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const deny = page.locator('button[data-action="deny"][data-tool-call-id="toolu_live_drop"]');
    await deny.waitFor(WAIT);
    await page.locator('[data-tool-call-id="toolu_live_drop"] input.deny-reason').fill('not today');
    await deny.click();
    const denied = page.locator('li.tool[data-tool-call-id="toolu_live_drop"]');
    await expect.poll(() => denied.getAttribute('data-status'), WAIT).toBe('denied');
    expect(await denied.textContent()).toContain('not today');
    await expect
      .poll(() => page.locator('section.run').last().getAttribute('data-status'), WAIT)
      .toBe('completed');
    const deniedEvent = (
      await store.getEvents(sessionId, { types: ['tool_approval_denied'] })
    )[0] as StoredEvent;
    expect(deniedEvent.data).toMatchObject({ toolCallId: 'toolu_live_drop', reason: 'not today' });

    // The server goes away and comes back on the same port: the page resumes the stream after the
    // last event it showed (Last-Event-ID), and shows the next run live.
    const port = new URL(server.url).port;
    await server.close();
    await page.waitForSelector('#connection:not([data-state="live"])', WAIT);
    server = await createAsmServer({ runtime, port: Number(port), authorize: bearerToken(TOKEN) });
    await page.waitForSelector('#connection[data-state="live"]', WAIT);
    const eventsBefore = await page.locator('section.run li.event, section.run li.tool').count();
    providers.claude.configure({ toolCalls: undefined, response: 'Back after the restart.' });
    const serverRuntime = server.handler.runtime;
    const sessionServer = await serverRuntime.start({ sessionId });
    const afterRestart = await sessionServer.submitRun('Are you there?');
    await waitForEvent(
      store,
      sessionId,
      (event) => event.runId === afterRestart && event.type === 'run_completed',
    );
    await expect
      .poll(() => runSection(page, afterRestart).getAttribute('data-status'), WAIT)
      .toBe('completed');
    expect(await runSection(page, afterRestart).textContent()).toContain('Back after the restart.');
    // Nothing shown twice: the earlier runs kept their rows.
    const stored = await store.getEvents(sessionId);
    expect(stored.filter((event) => event.type === 'run_completed')).toHaveLength(2);
    expect(await page.locator('section.run').count()).toBe(3);
    expect(eventsBefore).toBeGreaterThan(0);
    expect(await page.locator('li[data-type="run_cancelled"]').count()).toBe(1);
    await page.close();

    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
  }, 240_000);
});
