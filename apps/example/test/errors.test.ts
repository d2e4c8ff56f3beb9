import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempHome, runAsm, type TempHome } from './helpers.js';

describe('asm errors and exit codes', () => {
  let home: TempHome;
  beforeAll(async () => {
    home = await createTempHome();
  });
  afterAll(() => home.remove());

  it('no command prints the help with exit code 2; --help exits 0', async () => {
    const bare = await runAsm(home, []);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain('Usage: asm <command>');
    expect(bare.stdout).toContain('Exit codes: 0 ok');
    const help = await runAsm(home, ['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: asm run "<prompt>"');
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], 'Unknown command "frobnicate"'],
      [['run', '--bogus', 'hi'], "Unknown option '--bogus'"],
      [['run'], 'asm run needs a prompt'],
      [['run', '--provider', 'gemini', 'hi'], 'Unknown provider "gemini"'],
      [['events', 'ses_x', '--after', 'soon'], '--after must be an integer'],
      [['sessions', '--status', 'sleeping'], 'Unknown status "sleeping"'],
      [['sessions', '--store', 'mysql://localhost/db'], 'Unsupported store "mysql://"'],
      [['show'], 'asm show needs a session id'],
    ];
    for (const [args, message] of cases) {
      const result = await runAsm(home, args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain(message);
      expect(result.stderr).toMatch(/Run `asm .*--help` for usage\./);
    }
  });

  it('a missing key is exit code 3 and says how to enable each provider', async () => {
    const result = await runAsm(home, ['run', 'hello']);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('asm: No provider is configured.');
    expect(result.stderr).toContain(
      'claude: ANTHROPIC_API_KEY is not set. To enable: export ANTHROPIC_API_KEY=',
    );
    expect(result.stderr).toContain('amp: AMP_API_KEY is not set');
    expect(result.stderr).toContain('`asm demo` runs offline');
    const codex = await runAsm(home, ['run', '--provider', 'codex', 'hello']);
    expect(codex.code).toBe(3);
    expect(codex.stderr).toContain('Provider codex is not configured');
  });

  it('a bad policy file is exit code 3 naming the field', async () => {
    const path = join(home.dir, 'bad-policy.json');
    await writeFile(path, JSON.stringify({ limits: { maxTokens: 5 } }));
    const invalid = await runAsm(home, ['run', '--provider', 'shell', '--policy', path, 'echo hi']);
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toContain('(field limits.maxTokens)');
    await writeFile(path, '{ not json');
    const broken = await runAsm(home, ['run', '--provider', 'shell', '--policy', path, 'echo hi']);
    expect(broken.code).toBe(3);
    expect(broken.stderr).toContain('is not valid JSON');
  });

  it('an unknown session is exit code 4', async () => {
    for (const command of ['show', 'events', 'export']) {
      const result = await runAsm(home, [command, 'ses_00000000000000000000000000000000']);
      expect({ command, code: result.code }).toEqual({ command, code: 4 });
      expect(result.stderr).toContain('Session ses_00000000000000000000000000000000 not found in sqlite');
    }
    const continued = await runAsm(home, ['run', '--provider', 'shell', '--continue', 'ses_nope', 'echo hi']);
    expect(continued.code).toBe(4);
  });

  it('a failing command is exit code 1 and the run is stored as failed', async () => {
    const result = await runAsm(home, ['run', '--provider', 'shell', 'echo partial && exit 3']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('partial');
    expect(result.stdout).toContain('✗ failed: command_failed: Command exited with code 3');
  });
});
