/**
 * The ECS reads the event path needs: an event carries the task, but not its task definition's docker
 * labels, its host's address, or its tags. With warm caches (and the state's own records) this makes no
 * call at all; only a new task definition revision, a new host, or tags cost a describe.
 */
import type { EcsReadApi } from "../aws/ecs-read-api.js";
import { DESCRIBE_BATCH } from "../aws/ecs-read-api.js";
import { type ClusterRef, networkModeOf, type TaskView, usesHostAddress } from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import { relevantTasks, type TargetRules } from "../core/rules.js";
import { chunk } from "../shared/concurrency.js";
import type { EventReads } from "../state/apply-events.js";
import type { ClusterState } from "../state/cluster-state.js";
import type { DiscoveryCaches } from "./caches.js";
import { describeTaskDefinitions, resolveHosts } from "./describe.js";

export interface EventReadOptions {
  rules: TargetRules;
  maxConcurrency: number;
}

/**
 * What applying `upserts` (the events that add or update a running task) to `state` needs from ECS.
 * Task definitions ECS refuses to describe come back in `unusable` (ARN → reason): their tasks are
 * skipped. Any other failed call rejects, and the cluster keeps its objects.
 */
export async function readForEvents(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: ClusterRef,
  state: ClusterState,
  upserts: readonly TaskView[],
  options: EventReadOptions,
): Promise<EventReads & { unusable: Map<string, string> }> {
  const { rules, maxConcurrency } = options;
  const defArns = [...new Set(upserts.map((t) => t.taskDefinitionArn))];
  const { defs, unusable } = await describeTaskDefinitions(
    api,
    caches,
    defArns,
    maxConcurrency,
    state.taskDefinitions,
  );
  const relevant = relevantTasks(upserts, defs, rules);
  const hostArns = relevant.flatMap((t) => {
    const def = defs.get(t.taskDefinitionArn);
    const known = t.containerInstanceArn === undefined || state.hosts[t.containerInstanceArn] !== undefined;
    return def && usesHostAddress(networkModeOf(t, def)) && !known ? [t.containerInstanceArn as string] : [];
  });
  const hosts = await resolveHosts(api, caches, cluster.arn, hostArns, maxConcurrency);
  const tags = new Map<string, Record<string, string> | undefined>();
  if (rules.includeTags) {
    // Events never carry tags: new tasks are described once, with them.
    const newTasks = [...new Set(relevant.filter((t) => !state.tasks[t.taskArn]).map((t) => t.taskArn))];
    for (const batch of chunk(newTasks, DESCRIBE_BATCH)) {
      for (const raw of await api.describeTasks(cluster.arn, batch, true)) {
        const n = normalizeTask(raw);
        if ("task" in n) tags.set(n.task.taskArn, n.task.tags);
      }
    }
  }
  return { defs, hosts, tags, unusable };
}
