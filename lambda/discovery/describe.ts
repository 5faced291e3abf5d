/**
 * Describes of what never changes for a given ARN (task definitions; container instances and their EC2
 * hosts), each made at most once per process through the caches. Used by the reconcile and the event path.
 */
import { DESCRIBE_BATCH, type EcsReadApi, INSTANCE_BATCH } from "../aws/ecs-read-api.js";
import type { HostInfo, TaskDefinitionSpec } from "../core/model.js";
import { normalizeTaskDefinition } from "../core/normalize.js";
import { isUnusableDefinition } from "../shared/aws-errors.js";
import { chunk, mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
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
