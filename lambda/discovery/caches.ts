import type { HostInfo, TaskDefinitionSpec } from "../core/model.js";

/**
 * Facts that never change for a given key: a task definition ARN is immutable, and a container
 * instance keeps its EC2 instance (and that instance its private IP) for life. Module-scope in the
 * Lambda, so warm invocations skip the describes entirely.
 */
export interface DiscoveryCaches {
  /** Promises, so concurrent clusters asking for the same ARN share one call. */
  taskDefinitions: Map<string, Promise<TaskDefinitionSpec>>;
  hosts: Map<string, HostInfo>;
}

export function createCaches(): DiscoveryCaches {
  return { taskDefinitions: new Map(), hosts: new Map() };
}
