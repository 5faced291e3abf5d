/**
 * The engine's own view of ECS objects: only the fields target building needs, normalized from either
 * DescribeTasks output or an EventBridge task event (whose shapes differ in timestamps and attachment
 * types), so the pure core never sees the difference.
 */

export interface NetworkBinding {
  bindIP?: string;
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
  containerPortRange?: string;
  hostPortRange?: string;
}

export interface ContainerView {
  name: string;
  containerArn?: string;
  image?: string;
  lastStatus?: string;
  networkBindings: NetworkBinding[];
  /** The ENI address ECS reports on the container (awsvpc). */
  privateIpv4Address?: string;
}

export interface TaskView {
  taskArn: string;
  clusterArn: string;
  taskDefinitionArn: string;
  group?: string;
  launchType?: string;
  availabilityZone?: string;
  containerInstanceArn?: string;
  lastStatus?: string;
  desiredStatus?: string;
  version?: number;
  /** HEALTHY, UNHEALTHY or UNKNOWN; DescribeTasks always gives it, events may not. */
  healthStatus?: string;
  /** Fargate: the platform family ("Linux", …) and version ("1.4.0"). */
  platformFamily?: string;
  platformVersion?: string;
  /** Private IPv4 address of the task's ENI (awsvpc). */
  eniPrivateIp?: string;
  /** The task ENI's id and subnet (awsvpc). */
  eniId?: string;
  subnetId?: string;
  /**
   * The task ENI's public IPv4 address, which only DescribeNetworkInterfaces tells: "" once looked up and
   * found to have none, absent while not looked up.
   */
  publicIp?: string;
  containers: ContainerView[];
  tags?: Record<string, string>;
}

/**
 * What events do not carry but a describe told about a task: kept from the task's earlier record when an
 * event updates it.
 */
export const DESCRIBED_ONLY = [
  "tags",
  "healthStatus",
  "platformFamily",
  "platformVersion",
  "publicIp",
] as const;
export type DescribedFacts = Partial<Pick<TaskView, (typeof DESCRIBED_ONLY)[number]>>;

/** The DESCRIBED_ONLY facts `task` has. */
export function describedFacts(task: TaskView): DescribedFacts {
  const facts: Record<string, unknown> = {};
  for (const key of DESCRIBED_ONLY) if (task[key] !== undefined) facts[key] = task[key];
  return facts as DescribedFacts;
}

export interface PortMapping {
  containerPort?: number;
  hostPort?: number;
  protocol?: string;
}

export interface ContainerDefinitionSpec {
  name: string;
  image?: string;
  dockerLabels: Record<string, string>;
  portMappings: PortMapping[];
}

/** What the engine keeps of a task definition; immutable per ARN, so safe to cache forever. */
export interface TaskDefinitionSpec {
  taskDefinitionArn: string;
  family: string;
  revision: number;
  networkMode?: string;
  containers: ContainerDefinitionSpec[];
  /**
   * Whether any container has a health check, so the task's health can change while it runs (without one
   * ECS reports UNKNOWN for the task's whole life). Absent in specs recorded before it was kept.
   */
  healthChecks?: boolean;
}

/** A container instance resolved to its host; a container instance never changes its EC2 instance. */
export interface HostInfo {
  containerInstanceArn: string;
  ec2InstanceId?: string;
  privateIp?: string;
  /** What DescribeInstances says of the EC2 instance; refreshed by the reconcile (tags, public IP change). */
  publicIp?: string;
  subnetId?: string;
  instanceType?: string;
  tags?: Record<string, string>;
  /** ECS Anywhere: no EC2 instance behind it, so no address the engine can know. */
  external: boolean;
}

/** What DescribeServices says of a service; refreshed by the reconcile. */
export interface ServiceInfo {
  arn: string;
  status?: string;
  tags?: Record<string, string>;
}

/** What DescribeClusters says of a cluster beyond its ARN; refreshed by the reconcile. */
export interface ClusterInfo {
  tags: Record<string, string>;
}

export interface ClusterRef {
  arn: string;
  name: string;
  accountId: string;
  region: string;
}

const CLUSTER_ARN = /^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):(\d{12}):cluster\/([A-Za-z0-9_-]{1,255})$/;

export function parseClusterArn(arn: string): ClusterRef | undefined {
  const m = CLUSTER_ARN.exec(arn);
  if (!m) return undefined;
  return { arn, region: m[2] as string, accountId: m[3] as string, name: m[4] as string };
}

export function clusterNameOf(ref: string): string {
  const parsed = parseClusterArn(ref);
  return parsed ? parsed.name : ref;
}

/** `service:NAME` groups belong to services; anything else is a standalone task or a custom group. */
export function serviceNameOf(group: string | undefined): string | undefined {
  return group?.startsWith("service:") ? group.slice("service:".length) : undefined;
}

export function isScrapeable(task: Pick<TaskView, "lastStatus" | "desiredStatus">): boolean {
  return task.lastStatus === "RUNNING" && task.desiredStatus === "RUNNING";
}

/**
 * The network mode a task runs in. A task definition without one gets ECS's default: Fargate only knows
 * awsvpc, EC2 (Linux) uses bridge.
 */
export function networkModeOf(
  task: Pick<TaskView, "launchType">,
  def: Pick<TaskDefinitionSpec, "networkMode">,
): string {
  return def.networkMode ?? (task.launchType === "FARGATE" ? "awsvpc" : "bridge");
}

/** Bridge and host tasks are reached through their EC2 host; awsvpc tasks through their own ENI. */
export function usesHostAddress(mode: string): boolean {
  return mode === "bridge" || mode === "host";
}
