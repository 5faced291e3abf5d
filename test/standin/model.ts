/** The records of the in-memory fleet model, and the inputs of its mutations. */

export type LaunchType = "EC2" | "FARGATE" | "EXTERNAL";
export type NetworkMode = "bridge" | "host" | "awsvpc" | "none";
export type TaskStatus =
  | "PROVISIONING"
  | "PENDING"
  | "ACTIVATING"
  | "RUNNING"
  | "DEACTIVATING"
  | "STOPPING"
  | "DEPROVISIONING"
  | "STOPPED";
export type DesiredStatus = "RUNNING" | "STOPPED";
/** `private`: 10.x addresses like a VPC. `loopback`: 127.0.x.y, for tests a real Prometheus scrapes. */
export type Addressing = "private" | "loopback";

export interface PortMappingInput {
  containerPort: number;
  /** Bridge mode: 0 or absent means a dynamic host port. host/awsvpc: always the container port. */
  hostPort?: number;
  protocol?: "tcp" | "udp";
}

export interface ContainerDefinitionInput {
  name: string;
  image: string;
  essential?: boolean;
  dockerLabels?: Record<string, string>;
  portMappings?: PortMappingInput[];
  cpu?: number;
  memory?: number;
}

export interface TaskDefinitionInput {
  family: string;
  /** Default `bridge`, or `awsvpc` when `requiresCompatibilities` includes FARGATE. */
  networkMode?: NetworkMode;
  requiresCompatibilities?: LaunchType[];
  containers: ContainerDefinitionInput[];
  cpu?: string;
  memory?: string;
  tags?: Record<string, string>;
}

export interface PortMappingRecord {
  containerPort: number;
  hostPort: number;
  protocol: "tcp" | "udp";
}

export interface ContainerDefinitionRecord {
  name: string;
  image: string;
  essential: boolean;
  cpu: number;
  memory?: number;
  dockerLabels: Record<string, string>;
  portMappings: PortMappingRecord[];
}

export interface TaskDefinitionRecord {
  arn: string;
  family: string;
  revision: number;
  networkMode: NetworkMode;
  status: "ACTIVE" | "INACTIVE";
  requiresCompatibilities: LaunchType[];
  containerDefinitions: ContainerDefinitionRecord[];
  cpu?: string;
  memory?: string;
  registeredAt: number;
  tags: Record<string, string>;
}

export interface ClusterRecord {
  name: string;
  arn: string;
  status: "ACTIVE" | "INACTIVE";
  /** Append-only in creation order; removed tasks stay here and are skipped (lazy deletion keeps paging O(page)). */
  taskLog: TaskRecord[];
  tasksById: Map<string, TaskRecord>;
  hostLog: HostRecord[];
  hostsById: Map<string, HostRecord>;
  nextHostPick: number;
}

export interface HostRecord {
  cluster: ClusterRecord;
  seq: number;
  id: string;
  containerInstanceArn: string;
  /** `i-…` for EC2 instances; ECS Anywhere (EXTERNAL) instances report their SSM managed instance `mi-…`. */
  ec2InstanceId: string;
  external: boolean;
  privateIp: string;
  instanceType: string;
  availabilityZone?: string;
  status: "ACTIVE" | "DRAINING" | "INACTIVE";
  agentConnected: boolean;
  registeredAt: number;
  version: number;
  /** Tasks placed here that are not STOPPED yet. */
  tasks: Set<TaskRecord>;
  usedPorts: Set<number>;
  nextDynamicPort: number;
}

export interface Ec2InstanceRecord {
  seq: number;
  instanceId: string;
  reservationId: string;
  ownerId: string;
  imageId: string;
  instanceType: string;
  privateIp: string;
  privateDnsName: string;
  availabilityZone: string;
  subnetId: string;
  vpcId: string;
  state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
  launchTime: number;
}

export interface EniRecord {
  attachmentId: string;
  eniId: string;
  subnetId: string;
  macAddress: string;
  privateIp: string;
  privateDnsName: string;
}

export interface NetworkBindingRecord {
  containerPort: number;
  hostPort: number;
  protocol: "tcp" | "udp";
}

export interface ContainerRecord {
  arn: string;
  name: string;
  image: string;
  runtimeId: string;
  imageDigest: string;
  /** Added by ECS (Service Connect), not in the task definition. */
  injected: boolean;
  bindings: NetworkBindingRecord[];
}

export interface TaskRecord {
  seq: number;
  id: string;
  arn: string;
  cluster: ClusterRecord;
  taskDefinition: TaskDefinitionRecord;
  host?: HostRecord;
  launchType: LaunchType;
  capacityProviderName?: string;
  platformVersion?: string;
  availabilityZone?: string;
  group: string;
  startedBy?: string;
  lastStatus: TaskStatus;
  desiredStatus: DesiredStatus;
  version: number;
  createdAt: number;
  pullStartedAt?: number;
  pullStoppedAt?: number;
  connectivityAt?: number;
  startedAt?: number;
  stoppingAt?: number;
  executionStoppedAt?: number;
  stoppedAt?: number;
  updatedAt: number;
  stopCode?: string;
  stoppedReason?: string;
  eni?: EniRecord;
  containers: ContainerRecord[];
  tags: Record<string, string>;
  /** The agent has IPv6 enabled: every binding is reported twice (0.0.0.0 and ::). */
  ipv6: boolean;
  removed: boolean;
}

export interface AddHostOptions {
  privateIp?: string;
  az?: string;
  /** An ECS Anywhere machine: launch type EXTERNAL, `mi-…` id, no EC2 instance behind it. */
  external?: boolean;
  instanceType?: string;
}

export interface RunTaskOptions {
  /** ARN, `family:revision` or `family` (latest ACTIVE revision). */
  taskDefinition: string;
  /** containerInstanceArn or ec2InstanceId; picked round-robin in the cluster when needed and absent. */
  host?: string;
  /** Default: from the host (EC2/EXTERNAL), else FARGATE when the definition requires it, else EC2. */
  launchType?: LaunchType;
  capacityProviderName?: string;
  /** Default `family:FAMILY` (a standalone task), or `service:NAME` when `serviceName` is given. */
  group?: string;
  serviceName?: string;
  /** Default `ecs-svc/<digits>` for service tasks, absent for standalone ones. */
  startedBy?: string;
  tags?: Record<string, string>;
  lastStatus?: "PENDING" | "RUNNING";
  ipv6?: boolean;
  /** awsvpc only: the ENI's private IP (allocated from the fleet's addressing otherwise). */
  eniIp?: string;
  /** Adds the `ecs-service-connect-XXXX` proxy container ECS injects; it is not in the task definition. */
  injectServiceConnect?: boolean;
}

export interface FleetOptions {
  region?: string;
  account?: string;
  /** Seed of the id generator: same seed, same ARNs. Default 1. */
  seed?: number;
  addressing?: Addressing;
  /** Milliseconds since epoch; default Date.now. */
  clock?: () => number;
}
