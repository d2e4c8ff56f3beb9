import { AsmError } from '@asm/core';
import { describe, expect, it } from 'vitest';
import { commandBasename, commandNames, parseShellInput } from '../src/index.js';

describe('commandNames', () => {
  it('names the first word of every command of a line, by basename', () => {
    expect(commandNames('ls -la')).toEqual(['ls']);
    expect(commandNames('/usr/bin/git status')).toEqual(['git']);
    expect(commandNames('a && b || c; d | e & f\ng')).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(commandNames('cat<in.txt>out.txt')).toEqual(['cat']);
    expect(commandNames('ls 2>&1')).toEqual(['ls']);
    expect(commandNames('FOO=1 BAR=2 make test')).toEqual(['make']);
  });

  it('looks inside subshells and command substitutions, quoted or not', () => {
    expect(commandNames('(cd x; make)')).toEqual(['cd', 'make']);
    expect(commandNames('echo $(whoami) done')).toEqual(['whoami', 'echo']);
    expect(commandNames('echo "a $(rm x) b"')).toEqual(['rm', 'echo']);
    expect(commandNames('echo "a `rm x` b"')).toEqual(['rm', 'echo']);
    expect(commandNames('echo `id`')).toEqual(['id', 'echo']);
  });

  it('honours quotes and escapes', () => {
    expect(commandNames('echo "a; rm x" \'b | rm y\'')).toEqual(['echo']);
    expect(commandNames('echo a\\;rm')).toEqual(['echo']);
    expect(commandNames("echo '$(rm x)'")).toEqual(['echo']);
  });

  it('skips reserved words', () => {
    expect(commandNames('if test -f x; then cat x; else echo no; fi')).toEqual(['test', 'cat', 'echo']);
    expect(commandNames('for f in a b; do echo $f; done')).toEqual(['echo']);
    expect(commandNames('! grep -q x y')).toEqual(['grep']);
  });

  it('commandBasename strips directories', () => {
    expect(commandBasename('/bin/rm')).toBe('rm');
    expect(commandBasename('rm')).toBe('rm');
  });
});

describe('parseShellInput', () => {
  it('normalizes the accepted forms', () => {
    expect(parseShellInput('ls')).toEqual({ mode: 'shell', command: 'ls', args: [] });
    expect(parseShellInput({ command: 'ls', args: ['-l'], timeoutMs: 5, streaming: false })).toEqual({
      mode: 'exec',
      command: 'ls',
      args: ['-l'],
      timeoutMs: 5,
      streaming: false,
    });
    expect(parseShellInput({ prompt: 'pwd' })).toEqual({ mode: 'shell', command: 'pwd', args: [] });
  });

  it('names the field of an invalid input', () => {
    const fieldOf = (input: unknown) => {
      try {
        parseShellInput(input as never);
      } catch (error) {
        return AsmError.isInstance(error) ? error.details.field : undefined;
      }
      return undefined;
    };
    expect(fieldOf({})).toBe('input.command');
    expect(fieldOf({ command: 1 })).toBe('input.command');
    expect(fieldOf({ command: 'ls', env: { A: 1 } })).toBe('input.env.A');
    expect(fieldOf({ command: 'ls', timeoutMs: 0 })).toBe('input.timeoutMs');
    expect(fieldOf(42)).toBe('input');
    expect(fieldOf({ messages: [{ role: 'assistant', content: 'ls' }] })).toBe('input.messages');
  });
});
