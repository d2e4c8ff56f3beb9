import { type AdapterEvent, type AsmError, abortError, type ErrorEventData } from '@asm/core';

/** Emits the terminal event of an aborted run (`run_timeout` for a timeout, else `run_cancelled`) and returns the rejection. */
export function abortTerminal(emit: (event: AdapterEvent) => void, signal: AbortSignal): AsmError {
  const error = abortError(signal);
  if (error.code === 'timeout') emit({ type: 'run_timeout', data: {} });
  else emit({ type: 'run_cancelled', data: { reason: error.message } });
  return error;
}

/** Emits `run_failed` for an error and returns it, for `throw failTerminal(...)`. */
export function failTerminal(emit: (event: AdapterEvent) => void, error: AsmError): AsmError {
  const data: ErrorEventData & Record<string, unknown> = {
    errorCode: error.code,
    errorMessage: error.message,
  };
  if (error.providerError) data.providerError = error.providerError;
  emit({ type: 'run_failed', data });
  return error;
}
