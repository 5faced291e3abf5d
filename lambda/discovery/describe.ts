/**
 * Describes of what never changes for a given ARN (task definitions; container instances and their EC2
 * hosts), each made at most once per process through the caches. Used by the reconcile and the event path.
 */
import {
  type ContainerInstanceInfo,
  DESCRIBE_BATCH,
  type EcsReadApi,
  INSTANCE_BATCH,
  type InstanceInfo,
  SERVICE_BATCH,
} from "../aws/ecs-read-api.js";
import type { ClusterInfo, HostInfo, ServiceInfo, TaskDefinitionSpec, TaskView } from "../core/model.js";
import { normalizeTaskDefinition } from "../core/normalize.js";
import { isUnusableDefinition } from "../shared/aws-errors.js";
import { chunk, mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
import { sameStoredForm } from "../state/cluster-state.js";
import type { DiscoveryCaches } from "./caches.js";

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
      if (!isUnusableDefinition(error)) throw error;
      unusable.set(arn, describeError(error));
    }
  });
  return { defs, unusable };
}

async function describeTaskDefinitionCached(
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

/** The host of a container instance, from what DescribeInstances says of its EC2 instance (if anything). */
function hostOf(ci: ContainerInstanceInfo, instance: InstanceInfo | undefined): HostInfo {
  const host: HostInfo = { containerInstanceArn: ci.containerInstanceArn, external: ci.external };
  if (ci.ec2InstanceId) host.ec2InstanceId = ci.ec2InstanceId;
  if (!instance) return host;
  const { tags, ...addresses } = instance;
  return { ...host, ...addresses, tags };
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
    const described = new Map<string, InstanceInfo>();
    for (const ids of chunk(ec2Ids, INSTANCE_BATCH)) {
      for (const [id, info] of await api.describeInstances(ids)) described.set(id, info);
    }
    for (const ci of instances) {
      const host = hostOf(ci, ci.ec2InstanceId ? described.get(ci.ec2InstanceId) : undefined);
      hosts.set(ci.containerInstanceArn, host);
      // A vanished EC2 instance is not cached: worth asking again, unlike a resolved address.
      if (host.privateIp || ci.external) caches.hosts.set(ci.containerInstanceArn, host);
    }
  });
  return hosts;
}

/**
 * The reconcile's refresh of what can change on a running EC2 instance (tags, public IP): one
 * DescribeInstances per 100 instances. A host whose description did not change keeps its object, so the
 * targets derived from it stay valid; an instance EC2 no longer knows keeps its last description. A failed
 * refresh only leaves labels as they were last described: it is returned, not thrown, so the cluster is
 * still published (its addresses do not depend on it).
 */
export async function refreshHosts(
  api: EcsReadApi,
  caches: DiscoveryCaches,
  hosts: Map<string, HostInfo>,
  maxConcurrency: number,
): Promise<unknown> {
  let failure: unknown;
  const byInstance = new Map<string, HostInfo[]>();
  for (const host of hosts.values()) {
    if (!host.ec2InstanceId || host.external) continue;
    byInstance.set(host.ec2InstanceId, [...(byInstance.get(host.ec2InstanceId) ?? []), host]);
  }
  await mapLimit(chunk([...byInstance.keys()], INSTANCE_BATCH), maxConcurrency, async (ids) => {
    let described: Map<string, InstanceInfo>;
    try {
      described = await api.describeInstances(ids);
    } catch (error) {
      failure ??= error;
      return;
    }
    for (const [id, info] of described) {
      for (const old of byInstance.get(id) ?? []) {
        const { containerInstanceArn, external, ec2InstanceId } = old;
        const fresh = hostOf(
          { containerInstanceArn, external, ...(ec2InstanceId ? { ec2InstanceId } : {}) },
          info,
        );
        if (sameStoredForm(fresh, old)) continue;
        hosts.set(containerInstanceArn, fresh);
        if (fresh.privateIp) caches.hosts.set(containerInstanceArn, fresh);
      }
    }
  });
  return failure;
}

/** Services by name, 10 per DescribeServices call; services ECS no longer knows are absent. */
export async function describeServices(
  api: EcsReadApi,
  cluster: string,
  names: Iterable<string>,
  maxConcurrency: number,
): Promise<Map<string, ServiceInfo>> {
  const found = new Map<string, ServiceInfo>();
  await mapLimit(chunk([...new Set(names)], SERVICE_BATCH), maxConcurrency, async (batch) => {
    for (const [name, info] of await api.describeServices(cluster, batch)) found.set(name, info);
  });
  return found;
}

/** The cluster's tags (DescribeClusters asks for them); undefined when ECS no longer knows the cluster. */
export async function describeClusterInfo(
  api: EcsReadApi,
  clusterArn: string,
): Promise<ClusterInfo | undefined> {
  return (await api.describeClusters([clusterArn])).info.get(clusterArn);
}

/**
 * The public IPv4 address of each task's own ENI ("" for none), by task ARN, for the tasks that can have one:
 * an ENI and no container instance (Fargate; awsvpc on EC2 never gets one). An address `recorded` for the
 * same ENI is reused; the others are looked up, 100 ENIs per DescribeNetworkInterfaces.
 */
export async function publicIpsOf(
  api: EcsReadApi,
  tasks: readonly TaskView[],
  recorded: (taskArn: string) => TaskView | undefined,
  maxConcurrency: number,
): Promise<Map<string, string>> {
  const ips = new Map<string, string>();
  const wanted = new Map<string, string[]>();
  for (const task of tasks) {
    if (!task.eniId || task.containerInstanceArn) continue;
    const record = recorded(task.taskArn);
    if (record?.eniId === task.eniId && record.publicIp !== undefined) ips.set(task.taskArn, record.publicIp);
    else wanted.set(task.eniId, [...(wanted.get(task.eniId) ?? []), task.taskArn]);
  }
  await mapLimit(chunk([...wanted.keys()], INSTANCE_BATCH), maxConcurrency, async (batch) => {
    const found = await api.describeNetworkInterfaces(batch);
    for (const eni of batch) for (const arn of wanted.get(eni) ?? []) ips.set(arn, found.get(eni) ?? "");
  });
  return ips;
}
