/**
 * The reads the event path needs: an event carries the task, but not its task definition's docker labels,
 * its host, its service, its tags or its ENI's public address. With warm caches (and the state's own
 * records) a task of a known service on a known host costs no ECS call; a new task definition revision, a
 * new host, a new service, tags (100 new tasks per call) or a new Fargate ENI cost a describe.
 */
import type { EcsReadApi } from "../aws/ecs-read-api.js";
import { DESCRIBE_BATCH } from "../aws/ecs-read-api.js";
import {
  type ClusterRef,
  type DescribedFacts,
  describedFacts,
  serviceNameOf,
  type TaskView,
} from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import { relevantTasks, type TargetRules } from "../core/rules.js";
import { chunk } from "../shared/concurrency.js";
import type { EventReads } from "../state/apply-events.js";
import type { ClusterState } from "../state/cluster-state.js";
import type { DiscoveryCaches } from "./caches.js";
import {
  describeClusterInfo,
  describeServices,
  describeTaskDefinitions,
  publicIpsOf,
  resolveHosts,
} from "./describe.js";

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
  const hostArns = relevant.flatMap((t) =>
    t.containerInstanceArn && !state.hosts[t.containerInstanceArn] ? [t.containerInstanceArn] : [],
  );
  const newServices = rules.includeServices
    ? relevant.flatMap((t) => {
        const name = serviceNameOf(t.group);
        return name !== undefined && !state.services?.[name] ? [name] : [];
      })
    : [];
  const [hosts, services, described, clusterInfo] = await Promise.all([
    resolveHosts(api, caches, cluster.arn, hostArns, maxConcurrency),
    describeServices(api, cluster.arn, newServices, maxConcurrency),
    describeNewTasks(api, cluster, state, relevant, options),
    rules.includeTags && !state.cluster ? describeClusterInfo(api, cluster.arn) : undefined,
  ]);
  return { defs, hosts, services, described, unusable, ...(clusterInfo ? { clusterInfo } : {}) };
}

/**
 * What only a describe tells about the new tasks: their tags, health and platform (DescribeTasks, 100 tasks
 * per call, only when tags are published: events never carry tags) and their ENI's public address
 * (DescribeNetworkInterfaces, Fargate tasks only: awsvpc on EC2 never gets one). A task already recorded
 * keeps what was described before (see `upsert`).
 */
async function describeNewTasks(
  api: EcsReadApi,
  cluster: ClusterRef,
  state: ClusterState,
  relevant: readonly TaskView[],
  options: EventReadOptions,
): Promise<Map<string, DescribedFacts>> {
  const described = new Map<string, DescribedFacts>();
  if (options.rules.includeTags) {
    const newTasks = [...new Set(relevant.filter((t) => !state.tasks[t.taskArn]).map((t) => t.taskArn))];
    for (const batch of chunk(newTasks, DESCRIBE_BATCH)) {
      for (const raw of await api.describeTasks(cluster.arn, batch, true)) {
        const n = normalizeTask(raw);
        if ("task" in n) described.set(n.task.taskArn, describedFacts(n.task));
      }
    }
  }
  for (const t of relevant) {
    // Events carry no health: until a describe says otherwise, a new task's health is what ECS reports for a
    // task whose health checks have not passed yet (or that has none).
    if (state.tasks[t.taskArn] || t.healthStatus || described.get(t.taskArn)?.healthStatus) continue;
    described.set(t.taskArn, { ...described.get(t.taskArn), healthStatus: "UNKNOWN" });
  }
  const ips = await publicIpsOf(api, relevant, (arn) => state.tasks[arn], options.maxConcurrency);
  for (const [arn, publicIp] of ips) described.set(arn, { ...described.get(arn), publicIp });
  return described;
}
