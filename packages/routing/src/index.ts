export type { CapabilityRequirement } from './capability-match.js';
export {
  checkCapabilityRequirements,
  isCapabilityRequirement,
  matchesAllCapabilities,
  matchesCapability,
  unionCapabilities,
} from './capability-match.js';
export type {
  RouterAttemptFailureMessage,
  RouterAttemptMessage,
  RouterAttemptStartMessage,
  RouterAttemptStopMessage,
  RouterStateErrorMessage,
} from './channels.js';
export { ROUTER_CHANNELS } from './channels.js';
export type {
  CircuitBreaker,
  CircuitBreakerOptions,
  CircuitBreakerSettings,
  ProbeDecision,
} from './circuit-breaker.js';
export {
  acquireProbe,
  breakerState,
  checkState,
  createCircuitBreaker,
  isAllowed,
  recordFailure,
  recordSuccess,
  releaseProbe,
  resolveCircuitBreakerSettings,
  toBreakerSnapshot,
} from './circuit-breaker.js';
export {
  acquireCall,
  breakerOf,
  healthAfterAbandonedProbe,
  healthAfterFailure,
  healthAfterSuccess,
  initialHealth,
  isCoolingDown,
  unavailableReason,
} from './health.js';
export type {
  Router,
  RouterOptions,
  RouterProviderStatus,
  RouterStatus,
  RoutingAttemptRecord,
  RoutingDecision,
  RoutingEventData,
  RoutingRunOptions,
  RoutingSkip,
} from './router.js';
export { createRouter } from './router.js';
export type { OrderInput, RoutingStrategy } from './strategy.js';
export {
  DEFAULT_FAILURE_PENALTY,
  DEFAULT_WEIGHT,
  orderCandidates,
  ROUTING_STRATEGIES,
  weightedScore,
} from './strategy.js';
