import { type EC2Client, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  paginateListClusters,
  paginateListTasks,
} from "@aws-sdk/client-ecs";

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
  /** Private IPv4 address by instance id; instances that no longer exist are absent. */
  describeInstances(instanceIds: string[]): Promise<Map<string, string | undefined>>;
}

// AWS batch limits: DescribeTasks, DescribeContainerInstances and DescribeClusters take at most 100.
export const DESCRIBE_BATCH = 100;
// EC2 allows up to 200 values per filter; 100 keeps one DescribeInstances per container-instance batch.
export const INSTANCE_BATCH = 100;

export class SdkEcsReadApi implements EcsReadApi {
  /** The clients come paced and counted from createClients (clients.ts). */
  constructor(
    private readonly ecs: ECSClient,
    private readonly ec2: EC2Client,
  ) {}

  async listClusterArns(): Promise<string[]> {
    const arns: string[] = [];
    for await (const page of paginateListClusters({ client: this.ecs, pageSize: 100 }, {})) {
      arns.push(...(page.clusterArns ?? []));
    }
    return arns;
  }

  async describeClusters(refs: string[]): Promise<ClusterListing> {
    const active: string[] = [];
    const missing: string[] = [];
    for (let i = 0; i < refs.length; i += DESCRIBE_BATCH) {
      const batch = refs.slice(i, i + DESCRIBE_BATCH);
      const out = await this.ecs.send(new DescribeClustersCommand({ clusters: batch }));
      const seen = new Set<string>();
      for (const c of out.clusters ?? []) {
        if (!c.clusterArn) continue;
        seen.add(c.clusterArn);
        if (c.clusterName) seen.add(c.clusterName);
        if (c.status === "ACTIVE" || c.status === undefined) active.push(c.clusterArn);
        else missing.push(c.clusterArn);
      }
      for (const ref of batch) if (!seen.has(ref)) missing.push(ref);
    }
    return { active, missing };
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

  async describeInstances(instanceIds: string[]): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    if (instanceIds.length === 0) return found;
    // A filter, unlike InstanceIds, does not fail the whole call when one instance is gone.
    const input = { Filters: [{ Name: "instance-id", Values: instanceIds }], MaxResults: 1000 };
    for await (const page of paginateDescribeInstances({ client: this.ec2 }, input)) {
      for (const r of page.Reservations ?? []) {
        for (const i of r.Instances ?? []) if (i.InstanceId) found.set(i.InstanceId, i.PrivateIpAddress);
      }
    }
    return found;
  }
}
