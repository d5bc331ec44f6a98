import { common } from '@drover/protocol';

// A run's result is stored whole up to MAX_RESULT_CHARS. A successful result
// over it fails the run, saying so (cutting it would hand back a wrong value
// as a success); the text of a failure is cut with a marker instead (the
// start of an error says what went wrong).

export interface FinalResult {
  status: string;
  result: string;
  /** Set when the result was changed: worth a warning in the worker's log. */
  warning?: string;
}

export function fitFinalResult(status: string, result: string): FinalResult {
  const max = common.MAX_RESULT_CHARS;
  if (result.length <= max) return { status, result };
  if (status === 'SUCCEEDED') {
    const reason = `run result too large: ${result.length} characters, over the ${max}-character limit; store large results elsewhere and return a reference`;
    return { status: 'FAILED', result: reason, warning: reason };
  }
  const marker = ` …[cut: ${result.length} characters, over the ${max}-character limit]`;
  return {
    status,
    result: result.slice(0, max - marker.length) + marker,
    warning: `run result cut from ${result.length} to ${max} characters`,
  };
}
