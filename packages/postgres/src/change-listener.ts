/**
 * The store's one LISTEN connection: it hears the NOTIFY every append sends (payload
 * `<latest sequence>:<session id>`) from any process, and reconnects when the connection drops.
 */
import pg from 'pg';
import { closedError, toStorageError } from './errors.js';
import { quoteIdentifier } from './identifiers.js';

/** Payload suffix meaning "some session": used when the session id is too long for a payload. */
export const ANY_SESSION = '*';

/** Session ids longer than this (in bytes) are notified as `ANY_SESSION` (payloads hold 8,000 bytes). */
const MAX_PAYLOAD_SESSION_BYTES = 7_000;

/** The payload suffix an append notifies for `sessionId` (appended to the latest sequence). */
export function payloadSuffix(sessionId: string): string {
  return sessionId.length * 3 <= MAX_PAYLOAD_SESSION_BYTES ||
    Buffer.byteLength(sessionId, 'utf8') <= MAX_PAYLOAD_SESSION_BYTES
    ? `:${sessionId}`
    : `:${ANY_SESSION}`;
}

/** Callbacks of a `ChangeListener`. */
export interface ChangeListenerHandlers {
  /** An append committed: `sessionId` (or `ANY_SESSION`) now has events up to `sequence`. */
  onChange(sessionId: string, sequence: number): void;
  /** The connection was lost and is back: notifications may have been missed meanwhile. */
  onReconnect(): void;
  /** True while someone waits for changes (the listener only reconnects for them; senders connect it). */
  wanted(): boolean;
}

const RECONNECT_DELAYS_MS = [50, 100, 250, 500, 1_000];

/** A dedicated `pg.Client` that LISTENs on one channel (and sends the store's NOTIFYs). */
export class ChangeListener {
  private client: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lostOnce = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly handlers: ChangeListenerHandlers,
  ) {}

  /** Resolves once LISTEN is active (connecting first when needed). */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    if (this.listening === undefined) {
      const attempt = this.connect();
      this.listening = attempt;
      attempt.catch(() => {
        if (this.listening === attempt) this.listening = undefined;
      });
    }
    return this.listening;
  }

  /** True while the LISTEN connection is up. */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /**
   * Runs a statement on the dedicated connection (connecting it first when needed): the store sends
   * its NOTIFYs here, so they never wait for, or hold, a connection of the pool.
   */
  async send(text: string, values: unknown[]): Promise<void> {
    await this.start();
    const client = this.client;
    if (client === undefined) throw closedError();
    await client.query(text, values);
  }

  /** Ends the connection; no reconnect after this. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.listening = undefined;
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel !== this.channel || message.payload === undefined) return;
      // This store's own appends wake its waiters directly.
      if (message.processId === (client as unknown as { processID: number | null }).processID) return;
      const colon = message.payload.indexOf(':');
      const sequence = Number(message.payload.slice(0, colon));
      if (colon < 1 || !Number.isInteger(sequence)) return;
      this.handlers.onChange(message.payload.slice(colon + 1), sequence);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(this.channel)}`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw toStorageError(error, 'listen', 'storage_connection_failed');
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      throw closedError();
    }
    this.client = client;
    this.failures = 0;
    if (this.lostOnce) this.handlers.onReconnect();
  }

  /** The connection dropped: forget it, and reconnect if someone is waiting. */
  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.listening = undefined;
    this.lostOnce = true;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined || !this.handlers.wanted()) return;
    const delay = RECONNECT_DELAYS_MS[Math.min(this.failures, RECONNECT_DELAYS_MS.length - 1)]!;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || !this.handlers.wanted()) return;
      this.start().catch(() => {
        this.failures++;
        this.scheduleReconnect();
      });
    }, delay);
    this.retryTimer.unref();
  }
}
