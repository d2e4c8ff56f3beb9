import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testProviderAdapter } from '@asm/testing';
import { afterAll } from 'vitest';
import { createShellProvider } from '../src/index.js';

const cwd = mkdtempSync(join(tmpdir(), 'asm-shell-conformance-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

testProviderAdapter({
  name: 'shell',
  create: () => createShellProvider({ cwd, deniedCommands: ['rm'] }),
  scenarios: {
    // Shell commands count no tokens: usage is reported, all zeros.
    success: { input: 'echo hello', expectUsage: false },
    errors: [
      { name: 'non-zero exit', code: 'command_failed', input: 'exit 3' },
      { name: 'denied command', code: 'policy_violation', input: 'rm -rf ./nothing' },
    ],
    cancel: { input: 'sleep 30', after: 'tool_call_started' },
  },
});
