import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One step of a fake CLI's script. */
export interface FakeCliStep {
  /** A line for stdout: a string as it is, anything else as one JSON line. */
  stdout?: unknown;
  /** Text for stderr (a newline is added). */
  stderr?: string;
  /** Pause before this step. */
  delayMs?: number;
}

/** What the fake CLI does in one scenario. */
export interface FakeCliScenario {
  steps: FakeCliStep[];
  /** Exit code after the steps. Default 0. */
  exitCode?: number;
  /** After the steps, hang until killed (for stall and abort tests). */
  stall?: boolean;
  /** Wait for stdin to close before the first step (CLIs that read their prompt first). Default true. */
  readStdin?: boolean;
}

/** Options of `createFakeCli`. */
export interface FakeCliOptions {
  /** File name of the executable (`codex`, `amp`, `claude`). Default `fake-cli`. */
  name?: string;
  /** Scenarios by name. `default` is used when no other is selected. */
  scenarios: Record<string, FakeCliScenario>;
  /**
   * Environment variable names whose values the fake records with each invocation (secrets are
   * recorded as `<set>`). Default: none.
   */
  recordEnv?: string[];
}

/** One recorded run of the fake CLI. */
export interface FakeCliInvocation {
  args: string[];
  cwd: string;
  stdin: string;
  scenario: string;
  env: Record<string, string>;
}

/** A fake executable on disk that replays recorded JSONL. */
export interface FakeCli {
  /** Absolute path of the executable. */
  path: string;
  /** The folder it lives in (prepend it to `PATH` to shadow the real CLI). */
  dir: string;
  /** Every invocation so far, in order. */
  invocations(): FakeCliInvocation[];
  /** Replaces the scenarios (later invocations use the new ones). */
  setScenarios(scenarios: Record<string, FakeCliScenario>): void;
  /** Removes the folder. */
  cleanup(): void;
}

const SCRIPT = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const dir = __dirname;
const config = JSON.parse(fs.readFileSync(path.join(dir, 'scenarios.json'), 'utf8'));
const args = process.argv.slice(2);
function pick() {
  if (process.env.ASM_FAKE_SCENARIO && config.scenarios[process.env.ASM_FAKE_SCENARIO]) return process.env.ASM_FAKE_SCENARIO;
  for (const arg of args) {
    const match = /scenario:([\w.-]+)/.exec(arg);
    if (match && config.scenarios[match[1]]) return match[1];
  }
  return 'default';
}
const name = pick();
const scenario = config.scenarios[name] || { steps: [], exitCode: 0 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function main(stdin) {
  const env = {};
  for (const key of config.recordEnv || []) {
    if (process.env[key] === undefined) continue;
    env[key] = /KEY|TOKEN|SECRET/.test(key) ? '<set>' : process.env[key];
  }
  fs.appendFileSync(path.join(dir, 'invocations.jsonl'), JSON.stringify({ args, cwd: process.cwd(), stdin, scenario: name, env }) + '\n');
  for (const step of scenario.steps) {
    if (step.delayMs) await sleep(step.delayMs);
    if (step.stderr !== undefined) process.stderr.write(step.stderr + '\n');
    if (step.stdout !== undefined) {
      const line = typeof step.stdout === 'string' ? step.stdout : JSON.stringify(step.stdout);
      await new Promise((resolve) => process.stdout.write(line + '\n', resolve));
    }
  }
  if (scenario.stall) { setInterval(() => {}, 1000); return; }
  process.exitCode = scenario.exitCode || 0;
}
if (scenario.readStdin === false) {
  main('');
} else {
  let input = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => { input += chunk; });
  process.stdin.on('end', () => main(input));
}
`;

/**
 * Writes a fake CLI to a temporary folder: a Node.js script that records how it was called
 * (arguments, working directory, stdin, chosen environment variables) and replays a scenario's
 * JSONL lines, stderr, delays and exit code, or stalls until killed. The scenario is chosen by the
 * `ASM_FAKE_SCENARIO` environment variable, else by an argument containing `scenario:<name>`
 * (for example a model name), else `default`.
 */
export function createFakeCli(options: FakeCliOptions): FakeCli {
  const dir = mkdtempSync(join(tmpdir(), 'asm-fake-cli-'));
  const path = join(dir, options.name ?? 'fake-cli');
  const scenariosFile = join(dir, 'scenarios.json');
  const invocationsFile = join(dir, 'invocations.jsonl');
  const writeScenarios = (scenarios: Record<string, FakeCliScenario>) =>
    writeFileSync(scenariosFile, JSON.stringify({ scenarios, recordEnv: options.recordEnv ?? [] }));
  writeScenarios(options.scenarios);
  writeFileSync(path, `#!${process.execPath}\n${SCRIPT}`);
  chmodSync(path, 0o755);
  return {
    path,
    dir,
    invocations() {
      let text = '';
      try {
        text = readFileSync(invocationsFile, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as FakeCliInvocation);
    },
    setScenarios: writeScenarios,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
