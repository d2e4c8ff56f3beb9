export type { AsmHandler, AsmHandlerOptions, AuthorizeRequest } from './handler.js';
export { bearerToken, createAsmHandler, httpStatusFor } from './handler.js';
export type { AsmServer, AsmServerOptions } from './node-server.js';
export { createAsmServer } from './node-server.js';
