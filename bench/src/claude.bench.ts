/**
 * `@asm/claude` against the raw `@anthropic-ai/sdk` in the same process, both reading the same
 * 5,000-delta stream from the fake Anthropic server on 127.0.0.1 (`scenario:deltas-5000`):
 * - baseline: `client.messages.create({ stream: true })`, iterating the raw events and collecting
 *   the text;
 * - candidate: `manager.runOnce(...)` with `createClaudeProvider` (one `message_streamed` event per
 *   delta, persisted in order) into the in-memory store (target <= 1.2x) and into `@asm/sqlite` on a
 *   WAL file, a fresh one per round, opened and migrated before the timing (target <= 1.5x), with
 *   event appends on the writer thread (the default) and inline;
 * - and, to separate the adapter's own cost from the manager's and the store's, the adapter's
 *   `execute` alone with a bare `emit` (target <= 1.1x).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { createClaudeProvider } from '@asm/claude';
import {
  createInMemoryStore,
  createRun,
  createSession,
  createSessionManager,
  type ExecuteOptions,
  type SessionStore,
} from '@asm/core';
import { createSqliteStore } from '@asm/sqlite';
import { createFakeAnthropicServer } from '@asm/testing/fakes';
import { type BenchRecord, compareTimes } from './harness.js';

const DELTAS = 5_000;
const MODEL = `scenario:deltas-${DELTAS}`;
const PROMPT = 'stream please';

/** The Claude benchmarks; each record's baseline is the raw SDK reading the same stream. */
export async function benchClaude(): Promise<BenchRecord[]> {
  const server = await createFakeAnthropicServer();
  const folder = mkdtempSync(join(tmpdir(), 'asm-bench-claude-'));
  const client = new Anthropic({ apiKey: 'bench', baseURL: server.url, maxRetries: 0 });
  const provider = createClaudeProvider({ client, model: MODEL });

  const rawSdk = async (): Promise<void> => {
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 8192,
      messages: [{ role: 'user', content: PROMPT }],
      stream: true,
    });
    let text = '';
    let sawStop = false;
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      else if (event.type === 'message_stop') sawStop = true;
    }
    if (!sawStop || text.length !== DELTAS * 4) throw new Error('baseline read an incomplete stream');
  };

  const throughManager = async (store: SessionStore, close: boolean): Promise<void> => {
    const manager = createSessionManager({ store, provider });
    const result = await manager.runOnce(PROMPT);
    if (result.events.length < DELTAS || result.output.content.length !== DELTAS * 4) {
      throw new Error('runOnce stored too few events');
    }
    if (close) await store.close();
  };
  // A fresh SQLite file per round, opened and migrated before the timing starts (3 warm-up + 10 rounds),
  // with event appends on the writer thread (the default) and, for comparison, inline.
  const sqliteStores = Array.from({ length: 13 }, (_, index) =>
    createSqliteStore({ path: join(folder, `claude-${index}.db`) }),
  );
  const inlineStores = Array.from({ length: 13 }, (_, index) =>
    createSqliteStore({ path: join(folder, `claude-inline-${index}.db`), writer: 'inline' }),
  );
  let nextSqlite = 0;
  let nextInline = 0;

  // The floor of any SQLite store on this machine: the raw SDK reads the stream, collecting each delta
  // as a row, and better-sqlite3 alone inserts the rows into the same schema in batches of 500 (one
  // transaction each, as the manager's writer does), with no session manager, checks or JSON work.
  const floorStores = Array.from({ length: 13 }, (_, index) =>
    createSqliteStore({ path: join(folder, `floor-${index}.db`), writer: 'inline' }),
  );
  let nextFloor = 0;
  const rawSdkPlusDriver = async (): Promise<void> => {
    const store = floorStores[nextFloor++ % floorStores.length]!;
    const session = createSession({ agentId: 'bench' });
    await store.saveSession(session);
    const insert = store.database.prepare(
      'INSERT INTO asm_events (id, session_id, sequence, type, timestamp, run_id, data, metadata, schema_version, provider) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertBatch = store.database.transaction((rows: unknown[][]) => {
      for (const row of rows) insert.run(row);
    });
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 8192,
      messages: [{ role: 'user', content: PROMPT }],
      stream: true,
    });
    let rows: unknown[][] = [];
    let sequence = 0;
    for await (const event of stream) {
      if (event.type !== 'content_block_delta' || event.delta.type !== 'text_delta') continue;
      sequence++;
      rows.push([
        `evt_${sequence.toString(16).padStart(32, '0')}`,
        session.id,
        sequence,
        'message_streamed',
        new Date().toISOString(),
        null,
        JSON.stringify({ kind: 'text', delta: event.delta.text }),
        '{}',
        1,
        'claude',
      ]);
      if (rows.length === 500) {
        insertBatch.immediate(rows);
        rows = [];
      }
    }
    if (rows.length > 0) insertBatch.immediate(rows);
    if (sequence !== DELTAS) throw new Error('the floor read an incomplete stream');
  };

  const adapterAlone = async (): Promise<void> => {
    const session = { ...createSession({ agentId: 'bench' }), status: 'active' as const };
    const run = { ...createRun({ sessionId: session.id, input: PROMPT }), status: 'running' as const };
    let deltas = 0;
    const options: ExecuteOptions = {
      signal: new AbortController().signal,
      emit(event) {
        if (event.type === 'message_streamed') deltas++;
      },
      continuation: {
        mode: 'none',
        loadTranscript: async () => ({ sessionId: session.id, messages: [], metadata: {} }),
      },
      authorizeToolCall: async () => ({ allow: true }),
    };
    await provider.execute(run, session, options);
    if (deltas !== DELTAS) throw new Error('the adapter emitted too few deltas');
  };

  try {
    const records: BenchRecord[] = [];
    records.push(
      await compareTimes({
        name: 'claude execute alone (bare emit) vs raw SDK, 5k deltas',
        baseline: rawSdk,
        candidate: adapterAlone,
        target: 1.1,
      }),
    );
    records.push(
      await compareTimes({
        name: 'claude runOnce in-memory vs raw SDK, 5k deltas',
        baseline: rawSdk,
        candidate: () => throughManager(createInMemoryStore(), true),
        // Each round takes about 40 ms; 40 rounds keep the median from swinging by 0.2x run to run.
        rounds: 40,
        target: 1.2,
      }),
    );
    records.push(
      await compareTimes({
        name: 'claude runOnce sqlite (WAL file) vs raw SDK, 5k deltas',
        baseline: rawSdk,
        candidate: () => throughManager(sqliteStores[nextSqlite++ % sqliteStores.length]!, false),
        rounds: 10,
        target: 1.5,
      }),
    );
    records.push(
      await compareTimes({
        name: 'floor: raw SDK + raw better-sqlite3 inserts (no ASM) vs raw SDK, 5k deltas',
        baseline: rawSdk,
        candidate: rawSdkPlusDriver,
        rounds: 10,
        target: 1.5,
      }),
    );
    records.push(
      await compareTimes({
        name: 'claude runOnce sqlite, inline writer, vs raw SDK, 5k deltas',
        baseline: rawSdk,
        candidate: () => throughManager(inlineStores[nextInline++ % inlineStores.length]!, false),
        rounds: 10,
        target: 1.5,
      }),
    );
    return records;
  } finally {
    for (const store of [...sqliteStores, ...inlineStores, ...floorStores]) await store.close();
    await server.close();
    rmSync(folder, { recursive: true, force: true });
  }
}
