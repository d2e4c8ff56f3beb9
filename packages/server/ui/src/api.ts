import type { Run, Session, StoredEvent } from '@asm/core';
import type { SessionSummary, UsageReport } from '../../src/usage';

export type { Run, Session, SessionSummary, StoredEvent, UsageReport };

/** A session as the list returns it with `include=summary`. */
export type SessionWithSummary = Session & { summary: SessionSummary };

const TOKEN_KEY = 'asm.dashboard.token';

/**
 * Moves `?token=` from the address into `sessionStorage` (this tab only) and removes it from the
 * address bar and history, so it is neither bookmarked nor shown over a shoulder.
 */
export function captureTokenFromUrl(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  if (token !== '') sessionStorage.setItem(TOKEN_KEY, token);
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.toString());
}

/** The token the API calls send, if any. */
export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Remembers a token for this tab (an empty one forgets it). */
export function setToken(token: string): void {
  if (token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** Headers every API call carries. */
export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** The URL of an API path (`api/sessions`), relative to the dashboard (`{basePath}/ui/`). */
export function apiUrl(path: string): string {
  return new URL(`../${path}`, document.baseURI).toString();
}

/** An error answer of the server: `{ error: { code, message, details? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Fired on `window` when the server answers 401, so the page can ask for a token. */
export const UNAUTHORIZED_EVENT = 'asm:unauthorized';

/** Calls the API; JSON in, JSON out; errors become `ApiError`. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method: init.method ?? 'GET',
      headers,
      cache: 'no-store',
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  } catch (error) {
    throw new ApiError(0, 'network_error', `The server cannot be reached (${String(error)})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
      ?.error;
    if (response.status === 401) window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    throw new ApiError(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `HTTP ${response.status}`,
      error?.details,
    );
  }
  return body as T;
}

/** `encodeURIComponent` for path segments. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}
