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
import type { ClusterState } from "../state/cluster-state.js";
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
}

/**
 * Lists and describes one cluster's running tasks, their task definitions, hosts, services and ENI public
 * addresses; `known` (the recorded state) spares the public addresses already looked up. Any failed call
 * (after the SDK's retries) rejects, so the caller keeps the cluster's last published object.
 */
export async function discoverCluster(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  options: DiscoveryOptions,
  known?: ClusterState,
): Promise<ClusterSnapshot> {
  const { rules, maxConcurrency } = options;
  const tasks = await describeRunningTasks(api, cluster, rules, maxConcurrency);
  const defArns = [...new Set(tasks.map((t) => t.taskDefinitionArn))];
  const { defs: taskDefinitions, unusable } = await describeTaskDefinitions(
    api,
    caches,
    defArns,
    maxConcurrency,
  );
  const relevant = relevantTasks(tasks, taskDefinitions, rules);
  const [{ hosts, staleHosts }, services, clusterInfo] = await Promise.all([
    currentHosts(api, caches, cluster, relevant, maxConcurrency),
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
  };
}

async function describeRunningTasks(
  api: EcsReadApi,
  cluster: string,
  rules: TargetRules,
  maxConcurrency: number,
): Promise<TaskView[]> {
  const arns = await api.listRunningTaskArns(cluster);
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
 * new ones described, known ones refreshed.
 */
async function currentHosts(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  relevant: readonly TaskView[],
  maxConcurrency: number,
): Promise<{ hosts: Map<string, HostInfo>; staleHosts?: unknown }> {
  const arns = new Set(relevant.flatMap((t) => t.containerInstanceArn ?? []));
  const cached = [...arns].filter((arn) => caches.hosts.has(arn));
  const hosts = await resolveHosts(api, caches, cluster, arns, maxConcurrency);
  const known = new Map(cached.flatMap((arn) => (hosts.has(arn) ? [[arn, hosts.get(arn) as HostInfo]] : [])));
  const staleHosts = await refreshHosts(api, caches, known, maxConcurrency);
  for (const [arn, host] of known) hosts.set(arn, host);
  return staleHosts === undefined ? { hosts } : { hosts, staleHosts };
}
