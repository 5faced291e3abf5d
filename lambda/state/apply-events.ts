/**
 * The pure fold of task events into a cluster's state. What the events need from ECS (task definitions,
 * hosts, tags) is read beforehand (`discovery/event-reads.ts`) and passed in, so this is a function of
 * its inputs: the same state and events give the same result, whatever the order of the batch.
 */
import type {
  ClusterInfo,
  DescribedFacts,
  HostInfo,
  ServiceInfo,
  TaskDefinitionSpec,
  TaskView,
} from "../core/model.js";
import { relevantTasks, type TargetRules } from "../core/rules.js";
import { type ClusterState, compact, decide, remove, upsert } from "./cluster-state.js";

/** What ECS said about the events' tasks, beyond what the events carry. */
export interface EventReads {
  /** Task definitions of the tasks to add (described, or from the state). */
  defs: ReadonlyMap<string, TaskDefinitionSpec>;
  /** Hosts of new container instances, by container instance ARN. */
  hosts: ReadonlyMap<string, HostInfo>;
  /** Services of new tasks not yet in the state, by name (when services are published). */
  services: ReadonlyMap<string, ServiceInfo>;
  /** What only describes tell about new tasks (tags, health, platform, ENI public address), by task ARN. */
  described: ReadonlyMap<string, DescribedFacts>;
  /** The cluster's tags, when the state has none yet and tags are published. */
  clusterInfo?: ClusterInfo;
}

export interface EventCounts {
  applied: number;
  stale: number;
  ignored: number;
}

/** Events oldest first: a task's versions must be applied in order. */
export function orderEvents(events: readonly TaskView[]): TaskView[] {
  return [...events].sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
}

/** The events that would add or update a running task: the ones whose reads are worth making. */
export function pendingUpserts(state: ClusterState, ordered: readonly TaskView[]): TaskView[] {
  return ordered.filter((t) => decide(state, t) === "upsert");
}

/**
 * Applies `ordered` (see orderEvents) to `current`, which is left untouched. Stale and duplicate events
 * change nothing; tasks of irrelevant task definitions are not recorded, but their definitions are, so a
 * cold start does not describe them again.
 */
export function applyEvents(
  current: ClusterState,
  ordered: readonly TaskView[],
  reads: EventReads,
  rules: TargetRules,
  now: number,
): { state: ClusterState; counts: EventCounts } {
  // upsert, remove and compact replace records, never change one in place: copying the maps is enough
  // to leave `current` untouched, and far cheaper than a deep clone of thousands of tasks.
  const state: ClusterState = {
    ...current,
    tasks: { ...current.tasks },
    tombstones: { ...current.tombstones },
    taskDefinitions: { ...current.taskDefinitions },
    hosts: { ...current.hosts },
  };
  if (reads.services.size > 0) {
    state.services = { ...current.services };
    for (const [name, service] of reads.services) state.services[name] = service;
  }
  if (reads.clusterInfo) state.cluster = reads.clusterInfo;
  const relevant = relevantTasks(pendingUpserts(state, ordered), reads.defs, rules);
  const others = { ...(state.otherTaskDefinitions ?? {}) };
  for (const [arn, def] of reads.defs) {
    if (!state.taskDefinitions[arn] && !relevant.some((t) => t.taskDefinitionArn === arn)) others[arn] = def;
  }
  if (Object.keys(others).length > 0) state.otherTaskDefinitions = others;

  const relevantArns = new Set(relevant.map((t) => t.taskArn));
  const counts: EventCounts = { applied: 0, stale: 0, ignored: 0 };
  for (const task of ordered) {
    const decision = decide(state, task);
    if (decision === "stale") {
      counts.stale++;
    } else if (decision === "upsert" && relevantArns.has(task.taskArn)) {
      const def = reads.defs.get(task.taskDefinitionArn);
      if (def) state.taskDefinitions[def.taskDefinitionArn] = def;
      const host = task.containerInstanceArn ? reads.hosts.get(task.containerInstanceArn) : undefined;
      if (host) state.hosts[host.containerInstanceArn] = host;
      const facts = reads.described.get(task.taskArn);
      upsert(state, facts ? { ...task, ...facts } : task, now);
      counts.applied++;
    } else if (decision === "remove") {
      remove(state, task, now);
      counts.applied++;
    } else {
      counts.ignored++;
    }
  }
  return { state: compact(state, now), counts };
}
