import type { AddressInfo } from 'node:net';
import { AsmError } from '@asm/core';
import { serve } from '@hono/node-server';
import { type AsmHandler, type AsmHandlerOptions, createAsmHandler } from './handler.js';

/** Options of `createAsmServer`. */
export interface AsmServerOptions extends AsmHandlerOptions {
  /** Port to listen on; 0 picks a free one. Default 7420. */
  port?: number;
  /**
   * Interface to bind. Default `127.0.0.1`. Binding anything but loopback requires `authorize`:
   * an open agent server on a network is how secrets and money leak.
   */
  host?: string;
  /** Called with a line saying where the server listens (default: nothing is printed). */
  log?: (line: string) => void;
}

/** A listening server. */
export interface AsmServer {
  /** `http://host:port` */
  readonly url: string;
  /** The dashboard's address (`{url}{basePath}/ui/`), or undefined with `dashboard: false`. */
  readonly dashboardUrl: string | undefined;
  readonly handler: AsmHandler;
  /** Stops listening (open SSE streams are closed) and stops the session servers it started. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Serves `createAsmHandler` on Node's http module through `@hono/node-server`, dashboard included
 * (`server.dashboardUrl`; `dashboard: false` turns it off). `asm serve` is built on this.
 */
export async function createAsmServer(options: AsmServerOptions = {}): Promise<AsmServer> {
  const host = options.host ?? '127.0.0.1';
  if (!options.authorize && !LOOPBACK.has(host)) {
    throw new AsmError(
      'validation_error',
      `Refusing to listen on ${host} without an authorize hook; without one the server binds to 127.0.0.1 only`,
      { details: { field: 'host' } },
    );
  }
  const handler = createAsmHandler(options);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const instance = serve({ fetch: handler.fetch, port: options.port ?? 7420, hostname: host }, () =>
      resolve(instance),
    );
    instance.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  options.log?.(
    options.authorize
      ? `asm server listening on ${url}`
      : `asm server listening on ${url} (no authorize hook: loopback only)`,
  );
  const dashboardUrl =
    options.dashboard === false ? undefined : `${url}${(options.basePath ?? '/').replace(/\/$/, '')}/ui/`;
  if (dashboardUrl) {
    options.log?.(
      `dashboard: ${dashboardUrl}${options.authorize ? ' (open it once with ?token=<token>)' : ''}`,
    );
  }
  return {
    url,
    dashboardUrl,
    handler,
    async close() {
      await handler.close();
      await new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
    },
  };
}
