import { DESCRIBE_BATCH, type EcsReadApi } from "../aws/ecs-read-api.js";
import {
  type ClusterInfo,
  type HostInfo,
  isScrapeable,
  type ServiceInfo,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import { relevantTasks, type TargetRules } from "../core/rules.js";
import { chunk, mapLimit } from "../shared/concurrency.js";
import type { ClusterState, OtherTask } from "../state/cluster-state.js";
import { planListing } from "../state/known-tasks.js";
import type { DiscoveryCaches } from "./caches.js";
import {
  describeClusterInfo,
  describeServices,
  describeTaskDefinitions,
  publicIpsOf,
  refreshHosts,
  resolveHosts,
} from "./describe.js";

export interface DiscoveryOptions {
  rules: TargetRules;
  maxConcurrency: number;
  /** The cluster's tags from the run's listing; described here when tags are wanted and it gave none. */
  clusterInfo?: ClusterInfo;
  /**
   * Describe every listed task and refresh every known EC2 instance, instead of only what the recorded
   * state does not already know.
   */
  full: boolean;
}

/** Everything target building needs for one cluster. */
export interface ClusterSnapshot {
  tasks: TaskView[];
  taskDefinitions: Map<string, TaskDefinitionSpec>;
  hosts: Map<string, HostInfo>;
  /** Task definitions ECS refused to describe (ARN → reason): their tasks are left out. */
  unusableDefinitions: Map<string, string>;
  /** Services of the relevant tasks, by name (only when services are published). */
  services?: Map<string, ServiceInfo>;
  /** The cluster's tags (when tags are published). */
  clusterInfo?: ClusterInfo;
  /** Why known EC2 instances could not be refreshed (their labels stay as last described). */
  staleHosts?: unknown;
  /** Listed running tasks with nothing to scrape. */
  otherTasks: Record<string, OtherTask>;
  /** Tasks listed, and how many of them were described. */
  listed: number;
  described: number;
}

/**
 * Lists one cluster's running tasks and describes what `known` (the recorded state) does not already hold:
 * new tasks and their task definitions, hosts, services and ENI public addresses. Any failed call (after
 * the SDK's retries) rejects, so the caller keeps the cluster's last published object.
 */
export async function discoverCluster(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  options: DiscoveryOptions,
  known?: ClusterState,
): Promise<ClusterSnapshot> {
  const { rules, maxConcurrency } = options;
  const listing = await listRunningTasks(api, cluster, options, known);
  const { tasks } = listing;
  const defArns = new Set(tasks.map((t) => t.taskDefinitionArn));
  for (const other of Object.values(listing.others)) defArns.add(other.taskDefinitionArn);
  const { defs: taskDefinitions, unusable } = await describeTaskDefinitions(
    api,
    caches,
    [...defArns],
    maxConcurrency,
  );
  const relevant = relevantTasks(tasks, taskDefinitions, rules);
  const [{ hosts, staleHosts }, services, clusterInfo] = await Promise.all([
    currentHosts(api, caches, cluster, relevant, maxConcurrency, options.full),
    rules.includeServices
      ? describeServices(
          api,
          cluster,
          relevant.flatMap((t) => serviceNameOf(t.group) ?? []),
          maxConcurrency,
        )
      : undefined,
    rules.includeTags ? (options.clusterInfo ?? describeClusterInfo(api, cluster)) : undefined,
    publicIpsOf(api, relevant, (arn) => known?.tasks[arn], maxConcurrency).then((ips) => {
      for (const task of relevant) {
        const ip = ips.get(task.taskArn);
        if (ip !== undefined) task.publicIp = ip;
      }
    }),
  ]);
  return {
    tasks,
    taskDefinitions,
    hosts,
    unusableDefinitions: unusable,
    ...(services ? { services } : {}),
    ...(clusterInfo ? { clusterInfo } : {}),
    ...(staleHosts !== undefined ? { staleHosts } : {}),
    otherTasks: otherTasksOf(listing.others, tasks, relevant, taskDefinitions),
    listed: listing.listed,
    described: listing.described,
  };
}

/** The listed tasks with nothing to scrape: the ones kept, and the described ones whose definition says so. */
function otherTasksOf(
  kept: Record<string, OtherTask>,
  tasks: readonly TaskView[],
  relevant: readonly TaskView[],
  defs: ReadonlyMap<string, TaskDefinitionSpec>,
): Record<string, OtherTask> {
  const others = { ...kept };
  const relevantArns = new Set(relevant.map((t) => t.taskArn));
  for (const t of tasks) {
    // A task whose definition could not be described is not known to have nothing: described again.
    if (relevantArns.has(t.taskArn) || !defs.has(t.taskDefinitionArn)) continue;
    others[t.taskArn] = { taskDefinitionArn: t.taskDefinitionArn, ...(t.group ? { group: t.group } : {}) };
  }
  return others;
}

interface Listing {
  /** Running tasks: the described ones and the recorded ones taken as they are. */
  tasks: TaskView[];
  others: Record<string, OtherTask>;
  listed: number;
  described: number;
}

/** Lists the cluster's tasks and describes those the recorded state does not already know (all, when full). */
async function listRunningTasks(
  api: EcsReadApi,
  cluster: string,
  options: DiscoveryOptions,
  known: ClusterState | undefined,
): Promise<Listing> {
  const arns = await api.listRunningTaskArns(cluster);
  const plan = planListing(arns, known, options.rules, options.full);
  const described = await describeRunningTasks(api, cluster, plan.describe, options);
  return {
    tasks: [...described, ...plan.known],
    others: plan.others,
    listed: arns.length,
    described: plan.describe.length,
  };
}

async function describeRunningTasks(
  api: EcsReadApi,
  cluster: string,
  arns: readonly string[],
  { rules, maxConcurrency }: DiscoveryOptions,
): Promise<TaskView[]> {
  // Normalized as each batch arrives, so the SDK's much larger task objects are garbage at once instead
  // of piling up until the whole cluster is described (which, paced, can take many seconds).
  const described = await mapLimit(chunk(arns, DESCRIBE_BATCH), maxConcurrency, async (batch) => {
    const views: TaskView[] = [];
    for (const raw of await api.describeTasks(cluster, batch, rules.includeTags)) {
      const result = normalizeTask(raw);
      if ("task" in result && isScrapeable(result.task)) views.push(result.task);
    }
    return views;
  });
  return described.flat();
}

/**
 * The hosts of the relevant tasks on container instances (awsvpc on EC2 included: their instance's labels),
 * new ones described, known ones refreshed when `refresh`.
 */
async function currentHosts(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  relevant: readonly TaskView[],
  maxConcurrency: number,
  refresh: boolean,
): Promise<{ hosts: Map<string, HostInfo>; staleHosts?: unknown }> {
  const arns = new Set(relevant.flatMap((t) => t.containerInstanceArn ?? []));
  const cached = [...arns].filter((arn) => caches.hosts.has(arn));
  const hosts = await resolveHosts(api, caches, cluster, arns, maxConcurrency);
  // What DescribeInstances tells (tags, public address) changes rarely: refreshed with the full describes.
  if (!refresh) return { hosts };
  const known = new Map(cached.flatMap((arn) => (hosts.has(arn) ? [[arn, hosts.get(arn) as HostInfo]] : [])));
  const staleHosts = await refreshHosts(api, caches, known, maxConcurrency);
  for (const [arn, host] of known) hosts.set(arn, host);
  return staleHosts === undefined ? { hosts } : { hosts, staleHosts };
}
