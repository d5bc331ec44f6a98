// What `drover up` started, stopped in reverse order on Ctrl-C or a failed
// start: every part is stopped even if another fails, and every failure is
// reported by name, so `drover up` never says "stopped" over one that did not.

/** Some parts of `drover up` did not stop cleanly; `failed` names them. */
export class StopError extends Error {
  override name = 'StopError';
  constructor(readonly failed: string[]) {
    super(`could not stop cleanly: ${failed.join('; ')}`);
  }
}

export class StopList {
  private readonly parts: { name: string; stop: () => Promise<void> }[] = [];

  /** Registers a started part; the last added is stopped first. */
  add(name: string, stop: () => Promise<void>): void {
    this.parts.push({ name, stop });
  }

  /** Stops every part (once), then throws StopError naming those that failed. */
  async stopAll(): Promise<void> {
    const failed: string[] = [];
    for (const { name, stop } of this.parts.splice(0).reverse()) {
      try {
        await stop();
      } catch (err) {
        failed.push(`${name} (${(err as Error).message})`);
      }
    }
    if (failed.length) throw new StopError(failed);
  }
}
