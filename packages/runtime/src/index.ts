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
