import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark record, the format of `bench/results/latest.json` (see DESIGN.md). */
export interface BenchRecord {
  name: string;
  metric: 'throughput' | 'time';
  unit: string;
  baseline: number;
  candidate: number;
  /** candidate / baseline. */
  ratio: number;
  /** The ratio to stay under (time) or above (throughput). */
  target: number;
}

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Times `fn` once, in milliseconds. */
export async function timeOnce(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/**
 * Runs baseline and candidate alternately (after warm-up rounds) in the same process and compares
 * their medians, so machine noise hits both alike.
 */
export async function compareTimes(options: {
  name: string;
  baseline: () => Promise<unknown>;
  candidate: () => Promise<unknown>;
  rounds?: number;
  warmup?: number;
  target: number;
}): Promise<BenchRecord> {
  const rounds = options.rounds ?? 15;
  for (let index = 0; index < (options.warmup ?? 3); index++) {
    await options.baseline();
    await options.candidate();
  }
  const baselineTimes: number[] = [];
  const candidateTimes: number[] = [];
  for (let index = 0; index < rounds; index++) {
    baselineTimes.push(await timeOnce(options.baseline));
    candidateTimes.push(await timeOnce(options.candidate));
  }
  const baseline = median(baselineTimes);
  const candidate = median(candidateTimes);
  return {
    name: options.name,
    metric: 'time',
    unit: 'ms',
    baseline: round(baseline),
    candidate: round(candidate),
    ratio: round(candidate / baseline),
    target: options.target,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

const resultsFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'latest.json');

/** Merges records into `bench/results/latest.json` (records with the same name are replaced). */
export function writeRecords(records: BenchRecord[]): void {
  let existing: BenchRecord[] = [];
  try {
    existing = JSON.parse(readFileSync(resultsFile, 'utf8')) as BenchRecord[];
  } catch {
    existing = [];
  }
  const names = new Set(records.map((record) => record.name));
  const merged = [...existing.filter((record) => !names.has(record.name)), ...records];
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(merged, null, 2)}\n`);
}

/** Prints records as a table with a pass/fail mark against each target. */
export function printRecords(records: BenchRecord[]): void {
  for (const record of records) {
    const ok = record.metric === 'time' ? record.ratio <= record.target : record.ratio >= record.target;
    console.log(
      `${ok ? 'ok  ' : 'MISS'} ${record.name.padEnd(58)} baseline ${record.baseline.toFixed(2).padStart(9)} ${record.unit}` +
        `  candidate ${record.candidate.toFixed(2).padStart(9)} ${record.unit}  ratio ${record.ratio.toFixed(2)}x (target ${record.metric === 'time' ? '<=' : '>='} ${record.target}x)`,
    );
  }
}
