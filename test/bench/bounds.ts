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
const PORT_LABEL = "PROMETHEUS_EXPORTER_PORT";
const DYNAMIC_LABEL = "PROMETHEUS_DYNAMIC_EXPORT";

const pages = (n: number) => Math.ceil(n / PAGE);

/**
 * Cold: one ListClusters page per 100 clusters; per cluster, ListTasks pages of 100 (one even when
 * empty) and DescribeTasks batches of 100 over the tasks whose desired status is RUNNING; one
 * DescribeTaskDefinition per distinct revision that a running task uses (region-wide); per cluster,
 * DescribeContainerInstances batches of 100 over the hosts of running bridge/host tasks that declare an
 * endpoint, each batch followed by one DescribeInstances for its EC2 instances. Warm: the describes of
 * immutable things (task definitions, hosts) are cached, leaving the listing and DescribeTasks.
 */
export function reconcileLowerBound(fleet: Fleet): { cold: CallsByOperation; warm: CallsByOperation } {
  const clusters = [...fleet.clusters.values()].filter((c) => c.status === "ACTIVE");
  const revisions = new Set<string>();
  let listTasks = 0;
  let describeTasks = 0;
  let describeContainerInstances = 0;
  let describeInstances = 0;
  for (const cluster of clusters) {
    let listed = 0;
    const hosts = new Map<string, boolean>();
    for (const task of cluster.tasksById.values()) {
      if (task.desiredStatus !== "RUNNING") continue;
      listed++;
      if (task.lastStatus !== "RUNNING") continue;
      const td = task.taskDefinition;
      revisions.add(td.arn);
      const declares = td.containerDefinitions.some((c) =>
        Object.keys(c.dockerLabels).some(
          (k) => k === PORT_LABEL || k.startsWith(`${PORT_LABEL}.`) || k === DYNAMIC_LABEL,
        ),
      );
      if (declares && task.host && (td.networkMode === "bridge" || td.networkMode === "host"))
        hosts.set(task.host.containerInstanceArn, !task.host.external);
    }
    listTasks += Math.max(1, pages(listed));
    describeTasks += pages(listed);
    const arns = [...hosts.keys()];
    for (let i = 0; i < arns.length; i += BATCH) {
      describeContainerInstances++;
      if (arns.slice(i, i + BATCH).some((a) => hosts.get(a))) describeInstances++;
    }
  }
  const warm: CallsByOperation = {
    ListClusters: Math.max(1, pages(clusters.length)),
    ListTasks: listTasks,
    DescribeTasks: describeTasks,
  };
  const cold: CallsByOperation = {
    ...warm,
    DescribeTaskDefinition: revisions.size,
    DescribeContainerInstances: describeContainerInstances,
    DescribeInstances: describeInstances,
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
