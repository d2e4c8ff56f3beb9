export type {
  ControlOperation,
  ControlState,
  OperationRecord,
  OperationResult,
  OperationStatus,
  PausableProvider,
} from './control-operations.js';
export { CONTROL_OPERATIONS } from './control-operations.js';
export type { MultiInstanceOptions } from './coordination.js';
export { CONTROL as CONTROL_MESSAGE_TYPES, defaultInstanceId } from './coordination.js';
export type { InterruptedRunFailure } from './recovery.js';
export { LEASE_HOLDER_LOST_MESSAGE, PROCESS_STOPPED_MESSAGE } from './recovery.js';
export type { RecoveryReport, SessionRuntimeOptions, StartServerOptions } from './session-runtime.js';
export { createSessionRuntime, SessionRuntime } from './session-runtime.js';
export type {
  SessionServerOptions,
  SessionServerStatus,
  SubmitRunOptions,
  SubscribeOptions,
} from './session-server.js';
export { createSessionServer, SessionServer } from './session-server.js';
export type { StreamRunOptions } from './stream-run.js';
export { streamRun } from './stream-run.js';
