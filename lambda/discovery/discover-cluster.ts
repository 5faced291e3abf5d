import { DESCRIBE_BATCH, type EcsReadApi } from "../aws/ecs-read-api.js";
import {
  type HostInfo,
  isScrapeable,
  networkModeOf,
  type TaskDefinitionSpec,
  type TaskView,
  usesHostAddress,
} from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import type { TargetRules } from "../core/rules.js";
import { declaresEndpoints } from "../core/scrape-labels.js";
import { chunk, mapLimit } from "../shared/concurrency.js";
import type { DiscoveryCaches } from "./caches.js";
import { describeTaskDefinitions, resolveHosts } from "./describe.js";

export interface DiscoveryOptions {
  rules: TargetRules;
  maxConcurrency: number;
}

/** Everything target building needs for one cluster. */
export interface ClusterSnapshot {
  tasks: TaskView[];
  taskDefinitions: Map<string, TaskDefinitionSpec>;
  hosts: Map<string, HostInfo>;
  /** Task definitions ECS refused to describe (ARN → reason): their tasks are left out. */
  unusableDefinitions: Map<string, string>;
}

function mayNeedHost(def: TaskDefinitionSpec, task: TaskView, rules: TargetRules): boolean {
  if (!usesHostAddress(networkModeOf(task, def)) || !task.containerInstanceArn) return false;
  return (
    rules.selectors.length > 0 || def.containers.some((c) => declaresEndpoints(c.dockerLabels, rules.labels))
  );
}

/**
 * Lists and describes one cluster's running tasks, their task definitions and hosts. Any failed call
 * (after the SDK's retries) rejects, so the caller keeps the cluster's last published object.
 */
export async function discoverCluster(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  options: DiscoveryOptions,
): Promise<ClusterSnapshot> {
  const arns = await api.listRunningTaskArns(cluster);
  // Normalized as each batch arrives, so the SDK's much larger task objects are garbage at once instead
  // of piling up until the whole cluster is described (which, paced, can take many seconds).
  const described = await mapLimit(chunk(arns, DESCRIBE_BATCH), options.maxConcurrency, async (batch) => {
    const views: TaskView[] = [];
    for (const raw of await api.describeTasks(cluster, batch, options.rules.includeTags)) {
      const result = normalizeTask(raw);
      if ("task" in result && isScrapeable(result.task)) views.push(result.task);
    }
    return views;
  });
  const tasks = described.flat();
  const defArns = [...new Set(tasks.map((t) => t.taskDefinitionArn))];
  const { defs: taskDefinitions, unusable } = await describeTaskDefinitions(
    api,
    caches,
    defArns,
    options.maxConcurrency,
  );

  const needHosts = tasks.filter((t) => {
    const def = taskDefinitions.get(t.taskDefinitionArn);
    return def !== undefined && mayNeedHost(def, t, options.rules);
  });
  const hosts = await resolveHosts(
    api,
    caches,
    cluster,
    needHosts.map((t) => t.containerInstanceArn as string),
    options.maxConcurrency,
  );
  return { tasks, taskDefinitions, hosts, unusableDefinitions: unusable };
}
