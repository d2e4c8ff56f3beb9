/**
 * `pnpm bench [name...]`: every benchmark (or only the named ones), printed as ratios to a baseline measured in the same process, and
 * written to `bench/results/latest.json`.
 */
import { benchClaude } from './claude.bench.js';
import { benchClaudeAgent } from './claude-agent.bench.js';
import { type BenchRecord, printRecords, writeRecords } from './harness.js';
import { benchPostgres } from './postgres.bench.js';
import { benchRedis } from './redis.bench.js';
import { benchRunOnce } from './run-once.bench.js';
import { benchRuntime } from './runtime.bench.js';
import { benchServer } from './server.bench.js';
import { benchSqlite } from './sqlite.bench.js';

/** Every benchmark by name; `pnpm bench runtime sqlite` runs only those named. */
const benches: Record<string, () => Promise<BenchRecord[]>> = {
  'run-once': benchRunOnce,
  runtime: benchRuntime,
  sqlite: benchSqlite,
  redis: benchRedis,
  postgres: benchPostgres,
  claude: benchClaude,
  server: benchServer,
  'claude-agent': benchClaudeAgent,
};
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const unknown = only.filter((name) => !(name in benches));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}

const records: BenchRecord[] = [];
for (const [name, bench] of Object.entries(benches)) {
  if (only.length === 0 || only.includes(name)) records.push(...(await bench()));
}
printRecords(records);
writeRecords(records);
