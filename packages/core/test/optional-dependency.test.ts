import { describe, expect, it } from 'vitest';
import { AsmError, createOptionalDependency } from '../src/index.js';

function notFound(): Error {
  return Object.assign(new Error("Cannot find package 'some-sdk'"), { code: 'ERR_MODULE_NOT_FOUND' });
}

async function failureOf(attempt: Promise<unknown>): Promise<AsmError> {
  const error = await attempt.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(AsmError.isInstance(error)).toBe(true);
  return error as AsmError;
}

describe('createOptionalDependency', () => {
  it('a missing package: dependency_not_available with the install command and the alternative', async () => {
    const load = createOptionalDependency({
      dependency: 'some-sdk',
      neededBy: 'The thing',
      alternative: "use backend: 'other'",
      load: async () => {
        throw notFound();
      },
      requiredExports: ['run'],
    });
    const error = await failureOf(load('start'));
    expect(error.code).toBe('dependency_not_available');
    expect(error.details).toEqual({ dependency: 'some-sdk', operation: 'start' });
    expect(error.message).toBe(
      "The thing needs the optional peer dependency some-sdk: install it with `npm install some-sdk`, or use backend: 'other'",
    );
  });

  it('loads once, and a failed load is tried again on the next call', async () => {
    let calls = 0;
    const module = { run: () => 'ran' };
    const load = createOptionalDependency({
      dependency: 'some-sdk',
      neededBy: 'The thing',
      load: async () => {
        calls++;
        if (calls === 1) throw new Error('disk hiccup');
        return module;
      },
      requiredExports: ['run'],
    });
    const first = await failureOf(load('a'));
    expect(first.message).toBe(
      'Could not load some-sdk: disk hiccup. Reinstall it with `npm install some-sdk`',
    );
    expect(await load('b')).toBe(module);
    expect(await load('c')).toBe(module);
    expect(calls).toBe(2);
  });

  it('a module without a required export is refused, naming what is missing', async () => {
    const load = createOptionalDependency({
      dependency: 'some-sdk',
      neededBy: 'The thing',
      install: 'npm install some-sdk@2',
      load: async () => ({ run: () => undefined, stop: 'not a function' }),
      requiredExports: ['run', 'stop', 'pause'],
    });
    const error = await failureOf(load('start'));
    expect(error.code).toBe('dependency_not_available');
    expect(error.details).toEqual({ dependency: 'some-sdk', operation: 'start', missing: ['stop', 'pause'] });
    expect(error.message).toContain('`npm install some-sdk@2`');
  });
});
