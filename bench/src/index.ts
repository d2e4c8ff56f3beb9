/**
 * `pnpm bench`: every benchmark, printed as ratios to a baseline measured in the same process, and
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

const records: BenchRecord[] = [];
records.push(...(await benchRunOnce()));
records.push(...(await benchRuntime()));
records.push(...(await benchSqlite()));
records.push(...(await benchRedis()));
records.push(...(await benchPostgres()));
records.push(...(await benchClaude()));
records.push(...(await benchServer()));
records.push(...(await benchClaudeAgent()));
printRecords(records);
writeRecords(records);
