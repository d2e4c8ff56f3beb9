import diagnosticsChannel from 'node:diagnostics_channel';
import type { ErrorCode } from './errors.js';
import type { StoredEvent } from './event.js';
import type { RunStatus } from './run.js';
import type { SessionStatus } from './session.js';
import type { TokenUsage } from './token-usage.js';

/**
 * Names of the `node:diagnostics_channel` channels core publishes on. Subscribe with
 * `diagnostics_channel.subscribe(ASM_CHANNELS.runEnd, (message) => …)`. Publishing is skipped when
 * nobody subscribes, so an app that does not listen pays nothing.
 */
export const ASM_CHANNELS = {
  /** `SessionLifecycleMessage`: a session changed status. */
  sessionLifecycle: 'asm:session:lifecycle',
  /** `RunStartMessage`: a run began executing. */
  runStart: 'asm:run:start',
  /** `RunEndMessage`: a run reached its final status. */
  runEnd: 'asm:run:end',
  /** `EventsStoredMessage`: a batch of events was stored (adapter and lifecycle events alike). */
  eventsStored: 'asm:event:stored',
  /** `StoreCallMessage`: one SessionStore call by the manager, with its duration and outcome. */
  storeCall: 'asm:store:call',
} as const;

/** Payload of `asm:session:lifecycle`. */
export interface SessionLifecycleMessage {
  sessionId: string;
  from: SessionStatus;
  to: SessionStatus;
}

/** Payload of `asm:run:start`. */
export interface RunStartMessage {
  runId: string;
  sessionId: string;
  provider: string;
}

/** Payload of `asm:run:end`. */
export interface RunEndMessage {
  runId: string;
  sessionId: string;
  provider: string;
  model?: string;
  status: RunStatus;
  durationMs: number;
  tokenUsage: TokenUsage;
  costUsd?: number;
  errorCode?: ErrorCode;
}

/** Payload of `asm:event:stored`. */
export interface EventsStoredMessage {
  sessionId: string;
  events: readonly StoredEvent[];
}

/** Payload of `asm:store:call`. */
export interface StoreCallMessage {
  operation: string;
  durationMs: number;
  errorCode?: ErrorCode;
}

/** @internal The channel objects, created once. */
export const channels = {
  sessionLifecycle: diagnosticsChannel.channel(ASM_CHANNELS.sessionLifecycle),
  runStart: diagnosticsChannel.channel(ASM_CHANNELS.runStart),
  runEnd: diagnosticsChannel.channel(ASM_CHANNELS.runEnd),
  eventsStored: diagnosticsChannel.channel(ASM_CHANNELS.eventsStored),
  storeCall: diagnosticsChannel.channel(ASM_CHANNELS.storeCall),
};
