import type { HostInfo, TaskDefinitionSpec } from "../core/model.js";
import type { ClusterState } from "../state/cluster-state.js";
import { type ClusterMemo, createMemo, MEMO_TASK_LIMIT } from "../state/memo.js";

/**
 * Facts that never change for a given key: a task definition ARN is immutable, and a container
 * instance keeps its EC2 instance (and that instance its private IP) for life. Module-scope in the
 * Lambda, so warm invocations skip the describes entirely; `memo` is the warm memory of parsed states.
 */
export interface DiscoveryCaches {
  /** Promises, so concurrent clusters asking for the same ARN share one call. */
  taskDefinitions: Map<string, Promise<TaskDefinitionSpec>>;
  hosts: Map<string, HostInfo>;
  memo: ClusterMemo;
}

export function createCaches(memoTaskLimit = MEMO_TASK_LIMIT): DiscoveryCaches {
  return { taskDefinitions: new Map(), hosts: new Map(), memo: createMemo(memoTaskLimit) };
}

/**
 * Hands a stored state's task definitions and hosts to the caches, so a cold start describes nothing twice.
 * A definition recorded before `healthChecks` was kept is described once more: the reconcile needs to know
 * whether its tasks' health can change.
 */
export function seedCaches(caches: DiscoveryCaches, state: ClusterState | undefined): void {
  if (!state) return;
  for (const defs of [state.taskDefinitions, state.otherTaskDefinitions ?? {}]) {
    for (const [arn, def] of Object.entries(defs)) {
      if (def.healthChecks === undefined) continue;
      if (!caches.taskDefinitions.has(arn)) caches.taskDefinitions.set(arn, Promise.resolve(def));
    }
  }
  for (const [arn, host] of Object.entries(state.hosts))
    if (!caches.hosts.has(arn)) caches.hosts.set(arn, host);
}
