/** What never changes about a run, remembered from its dispatch so reports need no lookup. */
export interface RunFact {
  app: string;
  /** The job's maxConcurrentInstances when dispatched (0: no limit). */
  concurrencyLimit: number;
}

const MAX_FACTS = 200_000;

/** A bounded map from instance id to its facts; a miss only costs a query. */
export class RunFacts {
  private readonly facts = new Map<string, RunFact>();

  remember(instanceId: string, fact: RunFact): void {
    if (this.facts.size >= MAX_FACTS) this.facts.clear();
    this.facts.set(instanceId, fact);
  }

  get(instanceId: string): RunFact | undefined {
    return this.facts.get(instanceId);
  }

  forget(instanceId: string): void {
    this.facts.delete(instanceId);
  }
}
