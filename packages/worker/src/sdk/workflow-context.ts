import { contextBytes, type JsonValue } from '@drover/protocol';
import { toJsonResult } from './json-result.js';
import { NonRetryableError } from './processor.js';

/** What a processor sees of the workflow run its run belongs to (`ctx.workflow`). */
export interface WorkflowHandle {
  runId: string;
  nodeId: string;
  /** The workflow run's context when this run was dispatched (a frozen copy). */
  context: Readonly<Record<string, JsonValue>>;
  /**
   * Adds `key` to the workflow context; it merges into the run's context when
   * this run SUCCEEDS (its final report carries it). Throws when the value is
   * not JSON, when the update would pass the context size limit, or in a map
   * task (only a standalone processor and the TaskTracker's own steps set).
   */
  set(key: string, value: unknown): void;
}

/** The RunJob's `workflow` part, as a TaskTracker keeps it. */
export interface RunWorkflow {
  runId: string;
  nodeId: string;
  context: Record<string, JsonValue>;
  contextLimitBytes: number;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A run's context update: what its processor steps set, checked against the limit. */
export class ContextUpdate {
  private readonly values: Record<string, JsonValue> = {};
  readonly frozen: Readonly<Record<string, JsonValue>>;

  constructor(private readonly workflow: RunWorkflow) {
    this.frozen = deepFreeze(structuredClone(workflow.context));
  }

  set(key: string, value: unknown): void {
    if (typeof key !== 'string' || key.length === 0)
      throw new NonRetryableError('ctx.workflow.set: the key must be a non-empty string');
    const json = toJsonResult(value);
    const next = { ...this.values, [key]: json };
    const bytes = contextBytes(next);
    if (bytes > this.workflow.contextLimitBytes) {
      throw new NonRetryableError(
        `ctx.workflow.set("${key}"): the context update would be ${bytes} bytes of JSON, over the limit of ${this.workflow.contextLimitBytes}`,
      );
    }
    this.values[key] = json;
  }

  /** Drops what a failed attempt set (a task retry starts clean). */
  clear(): void {
    for (const k of Object.keys(this.values)) delete this.values[k];
  }

  /** The update for the final report; undefined when nothing was set. */
  value(): Record<string, JsonValue> | undefined {
    return Object.keys(this.values).length ? { ...this.values } : undefined;
  }

  handle(): WorkflowHandle {
    return {
      runId: this.workflow.runId,
      nodeId: this.workflow.nodeId,
      context: this.frozen,
      set: (key, value) => this.set(key, value),
    };
  }
}

/** `ctx.workflow` of a task that may not set (a map or broadcast task): reading works. */
export function readOnlyHandle(workflow: RunWorkflow, where: string): WorkflowHandle {
  return {
    runId: workflow.runId,
    nodeId: workflow.nodeId,
    context: deepFreeze(structuredClone(workflow.context)),
    set: () => {
      throw new NonRetryableError(
        `ctx.workflow.set is not available in ${where}: set the context from a standalone processor, or a map-reduce's reduce (or a broadcast's preProcess/postProcess)`,
      );
    },
  };
}
