import { common, type JsonValue } from '@drover/protocol';

// A run's result is stored whole up to MAX_RESULT_CHARS (a string's length,
// or its JSON text's). A successful result over it fails the run, saying so
// (cutting it would hand back a wrong value as a success); the text of a
// failure is cut with a marker instead (the start of an error says what went
// wrong).

export interface FinalResult {
  status: string;
  result: JsonValue;
  /** Set when the result was changed: worth a warning in the worker's log. */
  warning?: string;
}

/** A JSON result as text for a reason or a log line: a string raw, anything else as JSON. */
export function resultText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function fitFinalResult(status: string, result: JsonValue): FinalResult {
  const max = common.MAX_RESULT_CHARS;
  const chars = common.resultChars(result);
  if (chars <= max) return { status, result };
  if (status === 'SUCCEEDED') {
    const reason = `run result too large: ${chars} characters, over the ${max}-character limit; store large results elsewhere and return a reference`;
    return { status: 'FAILED', result: reason, warning: reason };
  }
  const text = resultText(result);
  const marker = ` …[cut: ${chars} characters, over the ${max}-character limit]`;
  return {
    status,
    result: text.slice(0, max - marker.length) + marker,
    warning: `run result cut from ${chars} to ${max} characters`,
  };
}
