import diagnosticsChannel from 'node:diagnostics_channel';
import type { ErrorCode } from '@asm/core';

/**
 * Names of the `node:diagnostics_channel` channels the router publishes on. Subscribe with
 * `diagnostics_channel.subscribe(ROUTER_CHANNELS.attemptFailure, (message) => …)`. A message is
 * only built when somebody subscribes, so an app that does not listen pays nothing.
 */
export const ROUTER_CHANNELS = {
  /** `RouterAttemptStartMessage`: an attempt is about to call a provider. */
  attemptStart: 'asm:router:attempt:start',
  /** `RouterAttemptStopMessage`: an attempt's provider finished the run. */
  attemptStop: 'asm:router:attempt:stop',
  /** `RouterAttemptFailureMessage`: an attempt's provider failed (`willFailover` says what is next). */
  attemptFailure: 'asm:router:attempt:failure',
  /** `RouterStateErrorMessage`: the router state store failed; routing went on without it. */
  stateError: 'asm:router:state:error',
} as const;

/** Fields every attempt message has. */
export interface RouterAttemptMessage {
  /** The router's name. */
  router: string;
  runId: string;
  sessionId: string;
  /** The provider id of this attempt. */
  provider: string;
  /** 1-based attempt number. */
  attempt: number;
  /** Every candidate of the run, in the order the router tries them. */
  candidates: readonly string[];
  strategy: string;
}

/** Payload of `asm:router:attempt:start`. */
export interface RouterAttemptStartMessage extends RouterAttemptMessage {
  /** True when the attempt is a half-open circuit breaker probe. */
  probe: boolean;
  /** The continuation mode handed to the provider. */
  continuation: string;
}

/** Payload of `asm:router:attempt:stop`. */
export interface RouterAttemptStopMessage extends RouterAttemptMessage {
  durationMs: number;
}

/** Payload of `asm:router:attempt:failure`. */
export interface RouterAttemptFailureMessage extends RouterAttemptMessage {
  durationMs: number;
  errorCode: ErrorCode;
  retryable: boolean;
  /** True when the router moves on to another provider. */
  willFailover: boolean;
}

/** Payload of `asm:router:state:error`. */
export interface RouterStateErrorMessage {
  router: string;
  operation: string;
  error: unknown;
}

/** The channel objects (created once; `hasSubscribers` is a cheap property read). */
export const routerChannels = {
  attemptStart: diagnosticsChannel.channel(ROUTER_CHANNELS.attemptStart),
  attemptStop: diagnosticsChannel.channel(ROUTER_CHANNELS.attemptStop),
  attemptFailure: diagnosticsChannel.channel(ROUTER_CHANNELS.attemptFailure),
  stateError: diagnosticsChannel.channel(ROUTER_CHANNELS.stateError),
};
