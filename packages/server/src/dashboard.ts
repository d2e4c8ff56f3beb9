import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AsmError } from '@asm/core';

/** Settings of the web dashboard served at `{basePath}/ui/`. */
export interface DashboardOptions {
  /**
   * Folder of the built dashboard (its `index.html` and `assets/`). Default: the `dist/ui` folder
   * shipped inside `@asm/server`, so a user needs no build step.
   */
  directory?: string;
}

/** The cookie that lets the browser load the dashboard's own files after `?token=` (never the API). */
export const DASHBOARD_TOKEN_COOKIE = 'asm_dashboard_token';

/** One file of the dashboard, held in memory (the whole build is a few dozen kB). */
interface StaticFile {
  body: Uint8Array;
  contentType: string;
  etag: string;
  /** Hashed file names under `assets/` never change: cache them for a year. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page may load only its own files and talk only to its own server: no CDN, no inline script,
 * no framing (clickjacking on approve buttons).
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** The `dist/ui` folder of this package (`../dist/ui/` resolves alike from `src/` and from `dist/`). */
export function defaultDashboardDirectory(): string {
  return fileURLToPath(new URL('../dist/ui/', import.meta.url));
}

function walk(directory: string, root: string, files: Map<string, StaticFile>): void {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) {
      walk(path, root, files);
      continue;
    }
    const key = relative(root, path).split(sep).join('/');
    const body = readFileSync(path);
    files.set(key, {
      body,
      contentType: CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
      immutable: key.startsWith('assets/'),
    });
  }
}

/**
 * Serves the built dashboard from memory: correct content types, `ETag` / `If-None-Match`, a year of
 * caching for hashed assets and revalidation for `index.html`, and a strict Content-Security-Policy.
 * The files are read once, on the first request.
 */
export class DashboardFiles {
  private files: Map<string, StaticFile> | undefined;

  /** @param directory the folder holding `index.html`. */
  constructor(private readonly directory: string) {}

  private load(): Map<string, StaticFile> {
    if (this.files) return this.files;
    if (!existsSync(join(this.directory, 'index.html'))) {
      throw new AsmError(
        'dependency_not_available',
        `The dashboard is not built (no index.html in ${this.directory}); run \`pnpm --filter @asm/server build\``,
        { details: { dependency: 'dashboard', operation: 'serve' } },
      );
    }
    const files = new Map<string, StaticFile>();
    walk(this.directory, this.directory, files);
    this.files = files;
    return files;
  }

  /**
   * The response for a path inside the dashboard (`''` or `index.html` for the page), or undefined
   * when no such file exists.
   */
  respond(path: string, request: Request, extraHeaders: Record<string, string> = {}): Response | undefined {
    const key = path === '' ? 'index.html' : path;
    const file = this.load().get(key);
    if (!file) return undefined;
    const headers = new Headers({
      ...SECURITY_HEADERS,
      'content-type': file.contentType,
      etag: file.etag,
      // `private`: the dashboard sits behind `authorize`, so shared caches must not keep it.
      'cache-control': file.immutable ? 'private, max-age=31536000, immutable' : 'private, no-cache',
      ...extraHeaders,
    });
    const match = request.headers.get('if-none-match');
    if (match?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag)) {
      headers.delete('content-type');
      return new Response(null, { status: 304, headers });
    }
    headers.set('content-length', String(file.body.byteLength));
    return new Response(request.method === 'HEAD' ? null : file.body, { status: 200, headers });
  }
}

/** The value of one cookie of a request, or undefined. */
export function cookieOf(request: Request, name: string): string | undefined {
  const header = request.headers.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    if (part.slice(0, index).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(index + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The request as `authorize` should see it for a dashboard file: when it carries no
 * `Authorization` header, the token of `?token=` or of the dashboard cookie becomes
 * `Authorization: Bearer <token>`. Returns the token used from the query, if any.
 */
export function dashboardAuthRequest(request: Request): { request: Request; queryToken?: string } {
  if (request.headers.has('authorization')) return { request };
  const url = new URL(request.url);
  const queryToken = url.searchParams.get('token') ?? undefined;
  const token = queryToken ?? cookieOf(request, DASHBOARD_TOKEN_COOKIE);
  if (!token) return { request };
  const headers = new Headers(request.headers);
  headers.set('authorization', `Bearer ${token}`);
  return {
    request: new Request(request.url, { method: request.method, headers }),
    ...(queryToken === undefined ? {} : { queryToken }),
  };
}

/** `Set-Cookie` for the dashboard token, scoped to the dashboard's path, unreadable by scripts. */
export function dashboardCookie(token: string, path: string, secure: boolean): string {
  return (
    `${DASHBOARD_TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=${path}; HttpOnly; SameSite=Strict` +
    (secure ? '; Secure' : '')
  );
}
