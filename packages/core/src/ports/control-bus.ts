import { AsmError } from '../errors.js';
import type { EventSubscription } from './event-bus.js';

/**
 * A message between runtime instances about one session: "a run was submitted", "cancel this run",
 * "I released the lease". The runtime defines the types it sends; the bus only carries them.
 */
export interface ControlMessage {
  /** What the message says, e.g. `run_submitted`, `operation_requested`, `lease_released`. */
  type: string;
  sessionId: string;
  runId?: string;
  /** The instance that sent it. */
  from: string;
  /** Anything else, JSON-serializable. */
  data?: Record<string, unknown>;
}

/**
 * Live messages between runtime instances, per session (the store stays the durable truth).
 *
 * Contract (proved by `testControlBus` from `@asm/testing`):
 * - a message reaches every subscriber of its session, the publisher's own subscriptions included,
 *   in the order one publisher sent them;
 * - delivery is best effort and at most once: a subscriber that was disconnected may miss messages,
 *   so whoever relies on one also polls the store as a safety net;
 * - `subscribe` resolves once the subscription is active: anything published after that moment is
 *   delivered;
 * - a listener that throws does not stop delivery to the others.
 */
export interface ControlBus {
  /** The port version this bus implements. */
  readonly specificationVersion: 'v1';
  /** Sends a message to the subscribers of `message.sessionId`. */
  publish(message: ControlMessage): Promise<void>;
  /** Delivers the session's messages to `listener`. */
  subscribe(sessionId: string, listener: (message: ControlMessage) => void): Promise<EventSubscription>;
  /** Ends every subscription and releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Checks a control message (`type`, `sessionId`, `from` non-empty strings; `runId` a string when
 * present; `data` a plain object when present). Throws `validation_error`. For implementations.
 */
export function validateControlMessage(message: unknown): asserts message is ControlMessage {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw new AsmError('validation_error', 'A control message must be an object', {
      details: { field: 'message' },
    });
  }
  const candidate = message as Partial<ControlMessage>;
  for (const field of ['type', 'sessionId', 'from'] as const) {
    if (typeof candidate[field] !== 'string' || candidate[field] === '') {
      throw new AsmError('validation_error', `A control message needs a non-empty ${field}`, {
        details: { field },
      });
    }
  }
  if (candidate.runId !== undefined && typeof candidate.runId !== 'string') {
    throw new AsmError('validation_error', 'runId must be a string', { details: { field: 'runId' } });
  }
  if (
    candidate.data !== undefined &&
    (typeof candidate.data !== 'object' || candidate.data === null || Array.isArray(candidate.data))
  ) {
    throw new AsmError('validation_error', 'data must be a plain object', { details: { field: 'data' } });
  }
}
