import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  paginateListClusters,
  paginateListTasks,
} from "@aws-sdk/client-ecs";
import type { ClusterInfo, ServiceInfo } from "../core/model.js";
import { tags } from "../core/normalize.js";
import type { Ec2Reads, InstanceInfo } from "./ec2-reads.js";

export type { InstanceInfo };

/** The EC2 reads, created (and the EC2 SDK loaded) on the first call. */
export type Ec2Loader = () => Promise<Ec2Reads>;

export interface ContainerInstanceInfo {
  containerInstanceArn: string;
  ec2InstanceId?: string;
  external: boolean;
}

export interface ClusterListing {
  /** ARNs of ACTIVE clusters. */
  active: string[];
  /** Requested names or ARNs that ECS does not know, or that are no longer ACTIVE. */
  missing: string[];
  /** Tags of the ACTIVE clusters, by ARN. */
  info: Map<string, ClusterInfo>;
}

/**
 * The ECS and EC2 read calls discovery makes, behind an interface so tests and benchmarks can pass
 * their own. Batch sizes are the callers' job; each method makes exactly the calls its name says
 * (paginated listings make one call per page).
 */
export interface EcsReadApi {
  listClusterArns(): Promise<string[]>;
  describeClusters(refs: string[]): Promise<ClusterListing>;
  listRunningTaskArns(cluster: string): Promise<string[]>;
  /** Raw task objects; tasks ECS no longer knows are simply absent. */
  describeTasks(cluster: string, taskArns: string[], includeTags: boolean): Promise<unknown[]>;
  describeTaskDefinition(taskDefinitionArn: string): Promise<unknown>;
  describeContainerInstances(cluster: string, arns: string[]): Promise<ContainerInstanceInfo[]>;
  /** By instance id; instances that no longer exist are absent. */
  describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>>;
  /** Services by name (with their tags); services ECS does not know are absent. At most SERVICE_BATCH. */
  describeServices(cluster: string, names: string[]): Promise<Map<string, ServiceInfo>>;
  /** Public IPv4 address by ENI id (undefined: the ENI has none); ENIs that no longer exist are absent. */
  describeNetworkInterfaces(eniIds: string[]): Promise<Map<string, string | undefined>>;
}

/** Which tasks ListTasks returns: ECS keeps a stopped task listed for about an hour. */
export interface TaskFilter {
  serviceName?: string;
  family?: string;
  desiredStatus: "RUNNING" | "STOPPED";
}

/** What `explain` needs beyond discovery: the tasks of a service or a family, running or recently stopped. */
export interface TaskFinder {
  listTaskArns(cluster: string, filter: TaskFilter): Promise<string[]>;
}

// AWS batch limits: DescribeTasks, DescribeContainerInstances and DescribeClusters take at most 100.
export const DESCRIBE_BATCH = 100;
// EC2 allows up to 200 values per filter; 100 keeps one DescribeInstances per container-instance batch.
export const INSTANCE_BATCH = 100;
// DescribeServices takes at most 10 services.
export const SERVICE_BATCH = 10;

export class SdkEcsReadApi implements EcsReadApi, TaskFinder {
  /** The clients come paced and counted from createClients (clients.ts). */
  constructor(
    private readonly ecs: ECSClient,
    private readonly ec2: Ec2Loader,
  ) {}

  async listClusterArns(): Promise<string[]> {
    const arns: string[] = [];
    for await (const page of paginateListClusters({ client: this.ecs, pageSize: 100 }, {})) {
      arns.push(...(page.clusterArns ?? []));
    }
    return arns;
  }

  async describeClusters(refs: string[]): Promise<ClusterListing> {
    const listing: ClusterListing = { active: [], missing: [], info: new Map() };
    for (let i = 0; i < refs.length; i += DESCRIBE_BATCH) {
      const batch = refs.slice(i, i + DESCRIBE_BATCH);
      // Tags cost nothing extra here; the cluster's state keeps them for the tag labels.
      const out = await this.ecs.send(new DescribeClustersCommand({ clusters: batch, include: ["TAGS"] }));
      const seen = new Set<string>();
      for (const c of out.clusters ?? []) {
        if (!c.clusterArn) continue;
        seen.add(c.clusterArn);
        if (c.clusterName) seen.add(c.clusterName);
        if (c.status === "ACTIVE" || c.status === undefined) {
          listing.active.push(c.clusterArn);
          listing.info.set(c.clusterArn, { tags: tags(c.tags) ?? {} });
        } else listing.missing.push(c.clusterArn);
      }
      for (const ref of batch) if (!seen.has(ref)) listing.missing.push(ref);
    }
    return listing;
  }

  async listRunningTaskArns(cluster: string): Promise<string[]> {
    const arns: string[] = [];
    const pages = paginateListTasks(
      { client: this.ecs, pageSize: 100 },
      { cluster, desiredStatus: "RUNNING" },
    );
    for await (const page of pages) arns.push(...(page.taskArns ?? []));
    return arns;
  }

  async listTaskArns(cluster: string, filter: TaskFilter): Promise<string[]> {
    const arns: string[] = [];
    for await (const page of paginateListTasks({ client: this.ecs, pageSize: 100 }, { cluster, ...filter }))
      arns.push(...(page.taskArns ?? []));
    return arns;
  }

  async describeTasks(cluster: string, taskArns: string[], includeTags: boolean): Promise<unknown[]> {
    const out = await this.ecs.send(
      new DescribeTasksCommand({ cluster, tasks: taskArns, ...(includeTags ? { include: ["TAGS"] } : {}) }),
    );
    return out.tasks ?? [];
  }

  async describeTaskDefinition(taskDefinitionArn: string): Promise<unknown> {
    const out = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
    return out.taskDefinition;
  }

  async describeContainerInstances(cluster: string, arns: string[]): Promise<ContainerInstanceInfo[]> {
    const out = await this.ecs.send(
      new DescribeContainerInstancesCommand({ cluster, containerInstances: arns }),
    );
    return (out.containerInstances ?? []).flatMap((ci) => {
      if (!ci.containerInstanceArn) return [];
      // ECS Anywhere registers managed instances ("mi-…"), which EC2 does not know.
      const external =
        (ci.ec2InstanceId?.startsWith("mi-") ?? false) ||
        (ci.attributes ?? []).some((a) => a.name === "ecs.capability.external");
      const info: ContainerInstanceInfo = { containerInstanceArn: ci.containerInstanceArn, external };
      if (ci.ec2InstanceId && !external) info.ec2InstanceId = ci.ec2InstanceId;
      return [info];
    });
  }

  async describeInstances(instanceIds: string[]): Promise<Map<string, InstanceInfo>> {
    if (instanceIds.length === 0) return new Map();
    return (await this.ec2()).describeInstances(instanceIds);
  }

  async describeServices(cluster: string, names: string[]): Promise<Map<string, ServiceInfo>> {
    const found = new Map<string, ServiceInfo>();
    if (names.length === 0) return found;
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster, services: names, include: ["TAGS"] }),
    );
    for (const s of out.services ?? []) {
      if (!s.serviceName || !s.serviceArn) continue;
      const info: ServiceInfo = { arn: s.serviceArn, tags: tags(s.tags) ?? {} };
      if (s.status) info.status = s.status;
      found.set(s.serviceName, info);
    }
    return found;
  }

  async describeNetworkInterfaces(eniIds: string[]): Promise<Map<string, string | undefined>> {
    if (eniIds.length === 0) return new Map();
    return (await this.ec2()).describeNetworkInterfaces(eniIds);
  }
}
