import type { EcsReadApi } from "../aws/ecs-read-api.js";
import { DESCRIBE_BATCH, INSTANCE_BATCH } from "../aws/ecs-read-api.js";
import { type HostInfo, isScrapeable, type TaskDefinitionSpec, type TaskView } from "../core/model.js";
import { normalizeTask, normalizeTaskDefinition } from "../core/normalize.js";
import { declaresEndpoints } from "../core/scrape-labels.js";
import type { TargetRules } from "../core/targets.js";
import type { DiscoveryCaches } from "./caches.js";
import { chunk, mapLimit } from "./limit.js";

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

/**
 * ECS answers ClientException (or InvalidParameterException) for a task definition it will not describe,
 * e.g. one being deleted. Retrying cannot help, and failing the whole cluster for it would freeze every
 * other task's targets; throttles, 5xx and access denied are different, and still fail the cluster.
 */
function isUnusableDefinitionError(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === "ClientException" || name === "InvalidParameterException";
}

/**
 * Describes task definitions (each at most once per process), leaving out the ones ECS refuses to
 * describe: those are returned with the reason, so their tasks can be skipped with a warning.
 */
export async function describeTaskDefinitions(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  arns: readonly string[],
  maxConcurrency: number,
  known: Readonly<Record<string, TaskDefinitionSpec>> = {},
): Promise<{ defs: Map<string, TaskDefinitionSpec>; unusable: Map<string, string> }> {
  const defs = new Map<string, TaskDefinitionSpec>();
  const unusable = new Map<string, string>();
  await mapLimit(arns, maxConcurrency, async (arn) => {
    try {
      defs.set(arn, known[arn] ?? (await describeTaskDefinitionCached(api, caches, arn)));
    } catch (error) {
      if (!isUnusableDefinitionError(error)) throw error;
      const e = error as { name?: string; message?: string };
      unusable.set(arn, `${e.name}: ${e.message ?? ""}`.trim());
    }
  });
  return { defs, unusable };
}

export async function describeTaskDefinitionCached(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  arn: string,
): Promise<TaskDefinitionSpec> {
  let pending = caches.taskDefinitions.get(arn);
  if (!pending) {
    pending = api.describeTaskDefinition(arn).then((raw) => {
      const spec = normalizeTaskDefinition(raw);
      if (!spec) throw new Error(`DescribeTaskDefinition returned no usable task definition for ${arn}`);
      return spec;
    });
    // Failures are not cached: the next run asks again.
    pending.catch(() => caches.taskDefinitions.delete(arn));
    caches.taskDefinitions.set(arn, pending);
  }
  return pending;
}

function mayNeedHost(def: TaskDefinitionSpec, task: TaskView, rules: TargetRules): boolean {
  const mode = def.networkMode ?? (task.launchType === "FARGATE" ? "awsvpc" : "bridge");
  if (mode !== "bridge" && mode !== "host") return false;
  if (!task.containerInstanceArn) return false;
  return (
    rules.selectors.length > 0 || def.containers.some((c) => declaresEndpoints(c.dockerLabels, rules.labels))
  );
}

/**
 * Resolves container instances to hosts, describing only those not cached: ECS in batches of 100,
 * then EC2 for their instances. Returns every requested container instance ECS still knows.
 */
export async function resolveHosts(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  cluster: string,
  containerInstanceArns: Iterable<string>,
  maxConcurrency: number,
): Promise<Map<string, HostInfo>> {
  const hosts = new Map<string, HostInfo>();
  const wanted: string[] = [];
  for (const arn of new Set(containerInstanceArns)) {
    const cached = caches.hosts.get(arn);
    if (cached) hosts.set(arn, cached);
    else wanted.push(arn);
  }
  await mapLimit(chunk(wanted, DESCRIBE_BATCH), maxConcurrency, async (batch) => {
    const instances = await api.describeContainerInstances(cluster, batch);
    const ec2Ids = instances.flatMap((ci) => (ci.ec2InstanceId ? [ci.ec2InstanceId] : []));
    const addresses = new Map<string, string | undefined>();
    for (const ids of chunk(ec2Ids, INSTANCE_BATCH)) {
      for (const [id, ip] of await api.describeInstances(ids)) addresses.set(id, ip);
    }
    for (const ci of instances) {
      const host: HostInfo = { containerInstanceArn: ci.containerInstanceArn, external: ci.external };
      if (ci.ec2InstanceId) host.ec2InstanceId = ci.ec2InstanceId;
      const ip = ci.ec2InstanceId ? addresses.get(ci.ec2InstanceId) : undefined;
      if (ip) host.privateIp = ip;
      hosts.set(ci.containerInstanceArn, host);
      // A vanished EC2 instance is not cached: worth asking again, unlike a resolved address.
      if (ip || ci.external) caches.hosts.set(ci.containerInstanceArn, host);
    }
  });
  return hosts;
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
