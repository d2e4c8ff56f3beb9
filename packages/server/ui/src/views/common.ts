import { ApiError } from '../api';
import { h } from '../dom';

/** A status badge (`status-completed`, …). */
export function statusBadge(status: string): HTMLElement {
  return h('span', { className: `badge status-${status}`, 'data-status': status }, status);
}

/** An error box for a failed load. */
export function errorBox(error: unknown): HTMLElement {
  const message =
    error instanceof ApiError
      ? `${error.code}: ${error.message}`
      : String((error as Error)?.message ?? error);
  return h('div', { className: 'error-box', role: 'alert' }, message);
}

/** Runs `task` now and then every `ms` until `signal` aborts (never two at once). */
export function every(ms: number, signal: AbortSignal, task: () => Promise<void>): void {
  let timer: number | undefined;
  const tick = async () => {
    try {
      await task();
    } catch {
      // shown by the task itself; try again next time
    }
    if (!signal.aborted) timer = window.setTimeout(tick, ms);
  };
  signal.addEventListener('abort', () => window.clearTimeout(timer), { once: true });
  void tick();
}

/** Calls `fn` at most once per `ms` (trailing), per key. */
export function debouncer(ms: number): (key: string, fn: () => void) => void {
  const timers = new Map<string, number>();
  return (key, fn) => {
    if (timers.has(key)) return;
    timers.set(
      key,
      window.setTimeout(() => {
        timers.delete(key);
        fn();
      }, ms),
    );
  };
}
