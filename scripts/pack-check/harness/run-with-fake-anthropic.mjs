// Test harness of scripts/pack-check.mjs, in its own directory with @asm/core and @asm/testing
// installed from their tarballs, so the consumer project next to it holds only the three packages it uses.
// Starts the fake Anthropic Messages API from @asm/testing/fakes on 127.0.0.1, runs the given
// script with ASM_FAKE_ANTHROPIC_URL set, and exits with the script's exit code.
import { spawn } from 'node:child_process';
import { createFakeAnthropicServer } from '@asm/testing/fakes';

const script = process.argv[2];
if (!script) {
  console.error('usage: node run-with-fake-anthropic.mjs <script.js>');
  process.exit(2);
}
const server = await createFakeAnthropicServer();
const child = spawn(process.execPath, [script], {
  stdio: 'inherit',
  env: { ...process.env, ASM_FAKE_ANTHROPIC_URL: server.url },
});
const code = await new Promise((resolve) => {
  child.on('error', (error) => {
    console.error(error);
    resolve(1);
  });
  child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});
const requests = server.requests.length;
await server.close();
console.log(`harness: the fake Anthropic server answered ${requests} requests`);
if (code === 0 && requests === 0) {
  console.error('harness: the script never reached the fake server');
  process.exit(1);
}
process.exit(code);
