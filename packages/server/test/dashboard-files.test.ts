import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInMemoryStore } from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AsmServer,
  type AsmServerOptions,
  bearerToken,
  createAsmHandler,
  createAsmServer,
  DASHBOARD_TOKEN_COOKIE,
  defaultDashboardDirectory,
} from '../src/index.js';

const servers: AsmServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(options: Partial<AsmServerOptions> = {}): Promise<AsmServer> {
  const server = await createAsmServer({
    store: createInMemoryStore(),
    provider: createMockProvider(),
    port: 0,
    ...options,
  });
  servers.push(server);
  return server;
}

const assets = readdirSync(join(defaultDashboardDirectory(), 'assets'));
const script = assets.find((name) => name.endsWith('.js'))!;
const stylesheet = assets.find((name) => name.endsWith('.css'))!;

describe('dashboard files', () => {
  it('serves the page with its content type, security headers and revalidation', async () => {
    const server = await start();
    expect(server.dashboardUrl).toBe(`${server.url}/ui/`);
    const response = await fetch(`${server.url}/ui/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('private, no-cache');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await response.text();
    expect(html).toContain(`./assets/${script}`);
    const etag = response.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${server.url}/ui/index.html`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const head = await fetch(`${server.url}/ui/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(html)));
  });

  it('serves hashed assets with their types and a year of immutable caching', async () => {
    const server = await start();
    const js = await fetch(`${server.url}/ui/assets/${script}`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
    expect(await js.text()).toBe(readFileSync(join(defaultDashboardDirectory(), 'assets', script), 'utf8'));
    const css = await fetch(`${server.url}/ui/assets/${stylesheet}`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('loads nothing from elsewhere: no absolute URL in the shipped files', () => {
    const directory = defaultDashboardDirectory();
    for (const file of ['index.html', ...assets.map((name) => join('assets', name))]) {
      expect(readFileSync(join(directory, file), 'utf8')).not.toMatch(/https?:\/\//);
    }
  });

  it('redirects /ui to /ui/ keeping the query, and answers 404 and 405 where it should', async () => {
    const server = await start();
    const redirect = await fetch(`${server.url}/ui?token=abc`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/ui/?token=abc');
    const missing = await fetch(`${server.url}/ui/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await fetch(`${server.url}/ui/../package.json`)).status).toBe(404);
    expect((await fetch(`${server.url}/ui/%2e%2e%2fpackage.json`)).status).toBe(404);
    const post = await fetch(`${server.url}/ui/`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
  });

  it('is mounted under basePath and can be turned off', async () => {
    const mounted = await start({ basePath: '/agents' });
    expect(mounted.dashboardUrl).toBe(`${mounted.url}/agents/ui/`);
    expect((await fetch(`${mounted.url}/agents/ui/`)).status).toBe(200);
    expect((await fetch(`${mounted.url}/agents/ui/assets/${script}`)).status).toBe(200);
    expect((await fetch(`${mounted.url}/ui/`)).status).toBe(404);
    const off = await start({ dashboard: false });
    expect(off.dashboardUrl).toBeUndefined();
    expect((await fetch(`${off.url}/ui/`)).status).toBe(404);
    expect((await fetch(`${off.url}/api/health`)).status).toBe(200);
  });

  it('says how to build it when the files are missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'asm-ui-'));
    try {
      const handler = createAsmHandler({
        store: createInMemoryStore(),
        provider: createMockProvider(),
        dashboard: { directory: empty },
      });
      const response = await handler.fetch(new Request('http://local/ui/'));
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'dependency_not_available' } });
      await handler.close();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('dashboard behind authorize', () => {
  const token = 'dashboard-secret-1';

  it('takes ?token= once, then a path-scoped HttpOnly cookie, for its own files only', async () => {
    const server = await start({ authorize: bearerToken(token) });
    const page = await fetch(`${server.url}/ui/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(401);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('?token=');
    expect((await fetch(`${server.url}/ui/?token=wrong-token-9`)).status).toBe(401);

    const opened = await fetch(`${server.url}/ui/?token=${token}`);
    expect(opened.status).toBe(200);
    const cookie = opened.headers.get('set-cookie')!;
    expect(cookie).toContain(`${DASHBOARD_TOKEN_COOKIE}=${token}`);
    expect(cookie).toContain('Path=/ui/');
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const sent = cookie.split(';')[0]!;

    expect((await fetch(`${server.url}/ui/assets/${script}`)).status).toBe(401);
    expect((await fetch(`${server.url}/ui/assets/${script}`, { headers: { cookie: sent } })).status).toBe(
      200,
    );
    expect(
      (await fetch(`${server.url}/ui/`, { headers: { cookie: `${DASHBOARD_TOKEN_COOKIE}=nope-nope-nope` } }))
        .status,
    ).toBe(401);
    // The cookie never opens the API (no cross-site request can ride on it): the page sends the header.
    expect((await fetch(`${server.url}/api/sessions`, { headers: { cookie: sent } })).status).toBe(401);
    expect((await fetch(`${server.url}/api/sessions?token=${token}`)).status).toBe(401);
    expect(
      (await fetch(`${server.url}/api/sessions`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(200);
    expect(
      (await fetch(`${server.url}/ui/assets/${script}`, { headers: { authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(200);
  });
});
