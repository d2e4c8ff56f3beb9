import { AsmError } from './errors.js';
import type { StoredEvent } from './event.js';
import type { EventBus, EventBusFilter, EventSubscription } from './ports/event-bus.js';

interface Subscriber {
  listener: (event: StoredEvent) => void;
  filter: EventBusFilter | undefined;
  types: ReadonlySet<string> | undefined;
}

/** An `EventBus` inside one process: what several managers and readers in one app share. */
export interface InMemoryEventBus extends EventBus {
  /** Subscriptions active right now (for diagnostics and leak tests). */
  readonly subscriberCount: number;
}

/**
 * Creates an in-process `EventBus`. Delivery is synchronous, in publish order; a listener that
 * throws does not stop delivery to the others.
 */
export function createInMemoryEventBus(): InMemoryEventBus {
  const subscribers = new Map<string, Set<Subscriber>>();
  let count = 0;
  let closed = false;

  const ensureOpen = () => {
    if (closed) {
      throw new AsmError('storage_connection_failed', 'The event bus is closed', {
        retryable: false,
        details: { closed: true },
      });
    }
  };

  return {
    specificationVersion: 'v1',
    get subscriberCount() {
      return count;
    },
    async publish(events) {
      ensureOpen();
      for (const event of events) {
        const set = subscribers.get(event.sessionId);
        if (!set) continue;
        for (const subscriber of [...set]) {
          if (subscriber.filter?.runId !== undefined && event.runId !== subscriber.filter.runId) continue;
          if (subscriber.types && !subscriber.types.has(event.type)) continue;
          try {
            subscriber.listener(event);
          } catch {
            // One broken listener must not starve the others.
          }
        }
      }
    },
    async subscribe(sessionId, listener, filter): Promise<EventSubscription> {
      ensureOpen();
      const subscriber: Subscriber = {
        listener,
        filter,
        types: filter?.types ? new Set(filter.types) : undefined,
      };
      let set = subscribers.get(sessionId);
      if (!set) {
        set = new Set();
        subscribers.set(sessionId, set);
      }
      set.add(subscriber);
      count++;
      let active = true;
      return {
        async unsubscribe() {
          if (!active) return;
          active = false;
          const current = subscribers.get(sessionId);
          if (current?.delete(subscriber)) {
            count--;
            if (current.size === 0) subscribers.delete(sessionId);
          }
        },
      };
    },
    async close() {
      closed = true;
      subscribers.clear();
      count = 0;
    },
  } satisfies InMemoryEventBus;
}
