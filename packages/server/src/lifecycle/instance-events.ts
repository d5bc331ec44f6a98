import type { Instance } from '../store/instance-row.js';

/**
 * In-process notifications of instance changes: a finished run frees a
 * concurrency slot (dispatch the next queued one), a retry must be armed.
 * Lifecycle events on NATS for monitors build on this later.
 */
export class InstanceEvents {
  private readonly listeners = new Set<(instance: Instance) => void>();

  onChange(listener: (instance: Instance) => void): void {
    this.listeners.add(listener);
  }

  changed(instance: Instance): void {
    for (const listener of this.listeners) listener(instance);
  }
}
