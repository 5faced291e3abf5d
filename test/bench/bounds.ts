import { BUCKET_OF_OPERATION } from "../standin/faults.js";
import type { Fleet } from "../standin/index.js";
import { type BucketName, DEFAULT_BUCKETS } from "../standin/index.js";

/**
 * The least a reconcile can spend on a fleet, derived from the stand-in's model rather than from the
 * engine, so the benchmark checks the engine against the API's limits and not against itself.
 */
export type CallsByOperation = Record<string, number>;

const PAGE = 100;
const BATCH = 100;
const SERVICE_BATCH = 10;
const PORT_LABEL = "PROMETHEUS_EXPORTER_PORT";
const DYNAMIC_LABEL = "PROMETHEUS_DYNAMIC_EXPORT";

const pages = (n: number) => Math.ceil(n / PAGE);

/** What `INCLUDE` turns on; both cost calls of their own. */
export interface IncludeSwitches {
  tags: boolean;
  services: boolean;
}

interface ClusterNeeds {
  listed: number;
  /**
   * Listed tasks a warm reconcile describes again: not yet running, or scrapeable with container health
   * checks and a health ECS does not yet call HEALTHY.
   */
  unsettled: number;
  /** Container instances of the scrapeable tasks (any network mode), and whether EC2 knows each. */
  hosts: Map<string, boolean>;
  /** ENIs of the scrapeable tasks without a container instance (Fargate): the only ones with public IPs. */
  fargateEnis: number;
  services: Set<string>;
}

function needsOf(
  cluster: Fleet["clusters"] extends Map<string, infer C> ? C : never,
  revisions: Set<string>,
): ClusterNeeds {
  const needs: ClusterNeeds = {
    listed: 0,
    unsettled: 0,
    hosts: new Map(),
    fargateEnis: 0,
    services: new Set(),
  };
  for (const task of cluster.tasksById.values()) {
    if (task.desiredStatus !== "RUNNING") continue;
    needs.listed++;
    if (task.lastStatus !== "RUNNING") {
      needs.unsettled++;
      continue;
    }
    const td = task.taskDefinition;
    revisions.add(td.arn);
    const declares = td.containerDefinitions.some((c) =>
      Object.keys(c.dockerLabels).some(
        (k) => k === PORT_LABEL || k.startsWith(`${PORT_LABEL}.`) || k === DYNAMIC_LABEL,
      ),
    );
    if (!declares) continue;
    const checked = td.containerDefinitions.some((c) => c.healthCheck !== undefined);
    if (checked && task.healthStatus !== "HEALTHY") needs.unsettled++;
    if (task.host) {
      needs.hosts.set(task.host.containerInstanceArn, !task.host.external);
    } else if (task.eni) needs.fargateEnis++;
    if (task.group.startsWith("service:")) needs.services.add(task.group.slice("service:".length));
  }
  return needs;
}

/**
 * Cold: one ListClusters page per 100 clusters (and, with tags, one DescribeClusters per 100 clusters for
 * their tags); per cluster, ListTasks pages of 100 (one even when empty) and DescribeTasks batches of 100
 * over the tasks whose desired status is RUNNING; one DescribeTaskDefinition per distinct revision that a
 * running task uses (region-wide); per cluster, DescribeContainerInstances batches of 100 over the
 * container instances of running tasks that declare an endpoint (awsvpc on EC2 included: their instance's
 * labels), each batch followed by one DescribeInstances for its EC2 instances; one DescribeNetworkInterfaces
 * per 100 ENIs of such Fargate tasks (their public IPs); with services, one DescribeServices per 10 of their
 * services. Warm (a scheduled reconcile between full describes): task definitions, container instances,
 * ENI addresses and every running task are known, leaving the listing, DescribeTasks batches of 100 over
 * the tasks still settling (not yet running, or health-checked and not yet HEALTHY), and what changes while
 * things run and is published (the services, the clusters' tags). EC2 instances are refreshed with the
 * full describes, as cold.
 */
export function reconcileLowerBound(
  fleet: Fleet,
  include: IncludeSwitches = { tags: false, services: false },
): { cold: CallsByOperation; warm: CallsByOperation } {
  const clusters = [...fleet.clusters.values()].filter((c) => c.status === "ACTIVE");
  const revisions = new Set<string>();
  const sum = {
    listTasks: 0,
    describeTasks: 0,
    containerInstances: 0,
    coldInstances: 0,
    enis: 0,
    services: 0,
    unsettled: 0,
  };
  for (const cluster of clusters) {
    const needs = needsOf(cluster, revisions);
    sum.listTasks += Math.max(1, pages(needs.listed));
    sum.describeTasks += pages(needs.listed);
    sum.unsettled += pages(needs.unsettled);
    const arns = [...needs.hosts.keys()];
    for (let i = 0; i < arns.length; i += BATCH) {
      sum.containerInstances++;
      if (arns.slice(i, i + BATCH).some((a) => needs.hosts.get(a))) sum.coldInstances++;
    }
    sum.enis += Math.ceil(needs.fargateEnis / BATCH);
    if (include.services) sum.services += Math.ceil(needs.services.size / SERVICE_BATCH);
  }
  const listing: CallsByOperation = {
    ListClusters: Math.max(1, pages(clusters.length)),
    ...(include.tags && clusters.length > 0 ? { DescribeClusters: pages(clusters.length) } : {}),
    ListTasks: sum.listTasks,
    DescribeTasks: sum.describeTasks,
    DescribeServices: sum.services,
  };
  const warm: CallsByOperation = { ...listing, DescribeTasks: sum.unsettled };
  const cold: CallsByOperation = {
    ...listing,
    DescribeTaskDefinition: revisions.size,
    DescribeContainerInstances: sum.containerInstances,
    DescribeInstances: sum.coldInstances,
    DescribeNetworkInterfaces: sum.enis,
  };
  for (const bound of [warm, cold])
    for (const [op, n] of Object.entries(bound)) if (n === 0) delete bound[op];
  return { cold, warm };
}

/**
 * The shortest time in which a full token bucket admits these calls: the burst goes at once, the rest at
 * the refill rate. Buckets drain independently, so the slowest one sets the floor.
 */
export function tokenBucketFloorMs(calls: CallsByOperation): number {
  const perBucket = new Map<BucketName, number>();
  for (const [op, n] of Object.entries(calls)) {
    const bucket = BUCKET_OF_OPERATION[op] ?? "ecsOther";
    perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + n);
  }
  let floor = 0;
  for (const [bucket, n] of perBucket) {
    const { capacity, refillPerSecond } = DEFAULT_BUCKETS[bucket];
    floor = Math.max(floor, (Math.max(0, n - capacity) / refillPerSecond) * 1000);
  }
  return floor;
}

export function totalOf(calls: CallsByOperation): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}
