import type { Capability } from '@asm/core';
import { createMockProvider } from '@asm/testing/fakes';
import type { PausableProvider } from '../src/index.js';

/** A prompt's text, whatever shape the run input has. */
export function promptOf(input: unknown): string {
  if (typeof input === 'string') return input;
  if (typeof input === 'object' && input !== null && 'prompt' in input) return String(input.prompt);
  return JSON.stringify(input);
}

/** Options of `scriptedProvider`. */
export interface ScriptedProviderOptions {
  /** Hears every run it starts (the tests use it to see which instance executed which run). */
  onExecute?: (runId: string, prompt: string) => void;
  /** Advertise `pause` / `resume` and implement them (calls reported to `onControl`). */
  pausable?: boolean;
  /** Advertise `pause` / `resume` without implementing them. */
  advertisesPauseOnly?: boolean;
  /** Advertise an `interrupt` capability (as the Claude Code backend does). */
  interrupt?: boolean;
  /** Hears `pause` / `resume` calls. */
  onControl?: (operation: 'pause' | 'resume', runId: string) => void;
  /** How long `pause` / `resume` take. Default 0. */
  controlDelayMs?: number;
}

/**
 * A mock provider whose behaviour the prompt picks: a prompt containing `stall` waits until the run
 * is aborted, anything else answers at once.
 */
export function scriptedProvider(
  options: ScriptedProviderOptions | ((runId: string, prompt: string) => void) = {},
): PausableProvider {
  const settings = typeof options === 'function' ? { onExecute: options } : options;
  const quick = createMockProvider({ deltas: 2, chunkDelayMs: 0 });
  const stalling = createMockProvider({ stall: true });
  const extra: Capability[] = [];
  if (settings.pausable || settings.advertisesPauseOnly) {
    extra.push({ name: 'pause', type: 'sampling' }, { name: 'resume', type: 'sampling' });
  }
  if (settings.interrupt) extra.push({ name: 'interrupt', type: 'sampling' });
  const provider: PausableProvider = {
    specificationVersion: 'v1',
    name: 'mock',
    capabilities: () => [...quick.capabilities(), ...extra],
    execute: (run, session, executeOptions) => {
      const prompt = promptOf(run.input);
      settings.onExecute?.(run.id, prompt);
      return (prompt.includes('stall') ? stalling : quick).execute(run, session, executeOptions);
    },
  };
  if (settings.pausable) {
    const control = (operation: 'pause' | 'resume') => async (runId: string) => {
      settings.onControl?.(operation, runId);
      if (settings.controlDelayMs)
        await new Promise((resolve) => setTimeout(resolve, settings.controlDelayMs));
    };
    provider.pause = control('pause');
    provider.resume = control('resume');
  }
  return provider;
}
