import type { HostInfo, TaskDefinitionSpec } from "../core/model.js";
import type { TaskTargets } from "../core/targets.js";
import type { ClusterState, TaskRecord } from "../state/cluster-state.js";

/**
 * Facts that never change for a given key: a task definition ARN is immutable, and a container
 * instance keeps its EC2 instance (and that instance its private IP) for life. Module-scope in the
 * Lambda, so warm invocations skip the describes entirely.
 */
export interface DiscoveryCaches {
  /** Promises, so concurrent clusters asking for the same ARN share one call. */
  taskDefinitions: Map<string, Promise<TaskDefinitionSpec>>;
  hosts: Map<string, HostInfo>;
  memo: ClusterMemo;
}

/** What a task record turned into, valid while its task definition, host and configuration are these. */
export interface DerivedTask {
  def: TaskDefinitionSpec | undefined;
  host: HostInfo | undefined;
  config: object;
  targets: TaskTargets;
}

/**
 * What a warm Lambda remembers of the clusters it published, so an event costs in proportion to what
 * changed, not to the cluster's size. Records are never changed in place (a change is a new record), so
 * an entry keyed by a record is valid for as long as that record is in use; WeakMaps forget the rest.
 */
export interface ClusterMemo {
  /** The state last read or written per cluster ARN, by the ETag it has in the output. */
  states: StateMemo;
  derived: WeakMap<TaskRecord, DerivedTask>;
  recordJson: WeakMap<TaskRecord, string>;
}

/**
 * Remembered states, least recently used first out once they hold more than `taskLimit` tasks in all.
 * Each remembered task keeps its record, groups and serialised forms alive (a few KB): the limit keeps
 * a warm function that sees many large clusters well inside its memory. The newest state always stays.
 * Only event-driven runs add clusters (`remember` with `add`); a reconcile refreshes the clusters already
 * remembered but adds none, or one reconcile of a large region would hold every cluster in memory.
 */
export class StateMemo {
  private readonly entries = new Map<string, { etag: string; state: ClusterState; tasks: number }>();
  private total = 0;

  constructor(private readonly taskLimit: number) {}

  get(clusterArn: string): { etag: string; state: ClusterState } | undefined {
    const entry = this.entries.get(clusterArn);
    if (!entry) return undefined;
    this.entries.delete(clusterArn);
    this.entries.set(clusterArn, entry);
    return entry;
  }

  /** Adds or refreshes the entry when `add`; otherwise refreshes it only if there is one. */
  remember(clusterArn: string, etag: string, state: ClusterState, add: boolean): void {
    if (add || this.entries.has(clusterArn)) this.set(clusterArn, etag, state);
  }

  set(clusterArn: string, etag: string, state: ClusterState): void {
    this.delete(clusterArn);
    const tasks = Object.keys(state.tasks).length;
    this.entries.set(clusterArn, { etag, state, tasks });
    this.total += tasks;
    for (const [arn] of this.entries) {
      if (this.total <= this.taskLimit || this.entries.size <= 1) break;
      this.delete(arn);
    }
  }

  private delete(clusterArn: string): void {
    const entry = this.entries.get(clusterArn);
    if (!entry) return;
    this.total -= entry.tasks;
    this.entries.delete(clusterArn);
  }

  has(clusterArn: string): boolean {
    return this.entries.has(clusterArn);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Tasks whose state a warm function keeps parsed (about 5 KB each with their targets). */
export const MEMO_TASK_LIMIT = 20_000;

export function createCaches(memoTaskLimit = MEMO_TASK_LIMIT): DiscoveryCaches {
  return {
    taskDefinitions: new Map(),
    hosts: new Map(),
    memo: { states: new StateMemo(memoTaskLimit), derived: new WeakMap(), recordJson: new WeakMap() },
  };
}
