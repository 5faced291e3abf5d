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
/** A task's health as ECS aggregates it from its essential containers' health checks. */
export type HealthStatus = "HEALTHY" | "UNHEALTHY" | "UNKNOWN";
/** ACTIVE; DRAINING while being deleted; INACTIVE once deleted (still described for a while, not listed). */
export type ServiceStatus = "ACTIVE" | "DRAINING" | "INACTIVE";
export type SchedulingStrategy = "REPLICA" | "DAEMON";
/** Tags as a plain object; rendered as `[{ key, value }]` (ECS) or `<tagSet><item><key/><value/></item>` (EC2). */
export type Tags = Record<string, string>;

export interface PortMappingInput {
  containerPort: number;
  /** Bridge mode: 0 or absent means a dynamic host port. host/awsvpc: always the container port. */
  hostPort?: number;
  protocol?: "tcp" | "udp";
}

/** A container health check as in a task definition (seconds; ECS's defaults when absent). */
export interface HealthCheckInput {
  command: string[];
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

export interface ContainerDefinitionInput {
  name: string;
  image: string;
  essential?: boolean;
  dockerLabels?: Record<string, string>;
  portMappings?: PortMappingInput[];
  cpu?: number;
  memory?: number;
  healthCheck?: HealthCheckInput;
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
  healthCheck?: Required<Omit<HealthCheckInput, "startPeriod">> & { startPeriod?: number };
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
  /** DescribeTaskDefinition answers ClientException for it (`Fleet.refuseTaskDefinition`). */
  refused?: boolean;
}

export interface ClusterRecord {
  name: string;
  arn: string;
  status: "ACTIVE" | "INACTIVE";
  tags: Tags;
  /** By name; services stay here when INACTIVE (DescribeServices still finds them, ListServices does not). */
  services: Map<string, ServiceRecord>;
  /** Append-only in creation order, for ListServices paging. */
  serviceLog: ServiceRecord[];
  /** Append-only in creation order; removed tasks stay here and are skipped (lazy deletion keeps paging O(page)). */
  taskLog: TaskRecord[];
  tasksById: Map<string, TaskRecord>;
  hostLog: HostRecord[];
  hostsById: Map<string, HostRecord>;
  nextHostPick: number;
}

export interface ServiceRecord {
  cluster: ClusterRecord;
  name: string;
  /** Long ARN format: `arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME`. */
  arn: string;
  status: ServiceStatus;
  /** Absent for services that use a capacity provider strategy instead. */
  launchType?: LaunchType;
  schedulingStrategy: SchedulingStrategy;
  /** The task definition of the service's deployment: given, or the newest revision a service task ran. */
  taskDefinition?: string;
  /** Given, or else the number of its tasks whose desired status is RUNNING. */
  desiredCount?: number;
  tags: Tags;
  createdAt: number;
  updatedAt: number;
  /** Its tasks that are not STOPPED (running and pending counts). */
  tasks: Set<TaskRecord>;
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
  /** Public IPv4 address (DescribeInstances `ipAddress`), when the instance has one. */
  publicIp?: string;
  tags: Tags;
}

export interface EniRecord {
  attachmentId: string;
  eniId: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  macAddress: string;
  privateIp: string;
  privateDnsName: string;
  /** Public IPv4 address (`assignPublicIp`), only DescribeNetworkInterfaces tells it. */
  publicIp?: string;
  attachedAt: number;
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
  /** Fargate only, as in AWS (`1.4.0` by default); EC2 and EXTERNAL tasks have neither. */
  platformVersion?: string;
  platformFamily?: string;
  availabilityZone?: string;
  group: string;
  /** The service of a `service:NAME` group. */
  service?: ServiceRecord;
  healthStatus: HealthStatus;
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
  /** Public IPv4 address of the EC2 instance (use a documentation range, e.g. `fleet.allocatePublicIp()`). */
  publicIp?: string;
  /** EC2 instance tags (DescribeInstances `tagSet`). */
  tags?: Tags;
  /** Default: the fleet's subnet of the instance's AZ. */
  subnetId?: string;
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
  /** awsvpc only: give the ENI a public IPv4 address (from documentation ranges, never private/loopback). */
  assignPublicIp?: boolean;
  /** awsvpc only: this public address for the ENI (implies `assignPublicIp`). */
  eniPublicIp?: string;
  /** Initial health; default UNKNOWN. Later changes go through `setTaskHealth`. */
  healthStatus?: HealthStatus;
  /** Fargate only: default `1.4.0`. */
  platformVersion?: string;
  /** Fargate only: default `Linux`. */
  platformFamily?: string;
}

export interface ClusterOptions {
  tags?: Tags;
}

export interface CreateServiceOptions {
  tags?: Tags;
  launchType?: LaunchType;
  schedulingStrategy?: SchedulingStrategy;
  /** ARN, `family:revision` or `family`; default: the newest revision its tasks run. */
  taskDefinition?: string;
  desiredCount?: number;
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
