import { AsmError } from './errors.js';
import { type ControlBus, type ControlMessage, validateControlMessage } from './ports/control-bus.js';
import type { EventSubscription } from './ports/event-bus.js';

type Listener = (message: ControlMessage) => void;

/**
 * A `ControlBus` inside one process (several runtimes in one app, or tests). Delivery is
 * asynchronous (a microtask after `publish`), in publish order; each listener gets its own copy.
 */
export function createInMemoryControlBus(): ControlBus {
  const listeners = new Map<string, Set<Listener>>();
  let closed = false;
  const ensureOpen = () => {
    if (closed) {
      throw new AsmError('storage_connection_failed', 'The control bus is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  };

  return {
    specificationVersion: 'v1',
    async publish(message) {
      ensureOpen();
      validateControlMessage(message);
      const serialized = JSON.stringify(message);
      const set = listeners.get(message.sessionId);
      if (set === undefined) return;
      const targets = [...set];
      queueMicrotask(() => {
        for (const listener of targets) {
          try {
            listener(JSON.parse(serialized) as ControlMessage);
          } catch {
            // One broken listener must not starve the others.
          }
        }
      });
    },
    async subscribe(sessionId, listener): Promise<EventSubscription> {
      ensureOpen();
      if (typeof sessionId !== 'string' || sessionId === '') {
        throw new AsmError('validation_error', 'sessionId must be a non-empty string', {
          details: { field: 'sessionId' },
        });
      }
      if (typeof listener !== 'function') {
        throw new AsmError('validation_error', 'listener must be a function', {
          details: { field: 'listener' },
        });
      }
      // A wrapper per subscription, so one function subscribed twice is two subscriptions.
      const entry: Listener = (message) => listener(message);
      let set = listeners.get(sessionId);
      if (set === undefined) {
        set = new Set();
        listeners.set(sessionId, set);
      }
      set.add(entry);
      let active = true;
      return {
        async unsubscribe() {
          if (!active) return;
          active = false;
          const current = listeners.get(sessionId);
          current?.delete(entry);
          if (current?.size === 0) listeners.delete(sessionId);
        },
      };
    },
    async close() {
      closed = true;
      listeners.clear();
    },
  };
}
