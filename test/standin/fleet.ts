import { nameOf } from "./faults.js";
import type {
  AddHostOptions,
  Addressing,
  ClusterOptions,
  ClusterRecord,
  ContainerRecord,
  CreateServiceOptions,
  DesiredStatus,
  Ec2InstanceRecord,
  EniRecord,
  FleetOptions,
  HealthStatus,
  HostRecord,
  LaunchType,
  RunTaskOptions,
  ServiceRecord,
  ServiceStatus,
  Tags,
  TaskDefinitionInput,
  TaskDefinitionRecord,
  TaskRecord,
  TaskStatus,
} from "./model.js";
import { Prng } from "./prng.js";
import { serviceDeploymentId, type TaskStateChangeEvent, taskStateChangeEvent } from "./render.js";

/**
 * The in-memory model of one AWS account and region: ECS clusters, task definitions, container instances
 * services and tasks, plus the EC2 instances behind the container instances and the ENIs of awsvpc tasks.
 * Tests mutate it directly; the HTTP handlers read it. Every lookup the API needs is indexed (by ARN, id,
 * cluster), so a 50,000-task fleet is served without scanning all tasks per request.
 *
 * Determinism: every id comes from the seeded `ids` generator, in call order. Metadata (tags, statuses,
 * public addresses, health) never draws from it, so adding metadata to a fleet leaves its ids unchanged.
 */

const FIRST_DYNAMIC_PORT = 32768;
const LAST_DYNAMIC_PORT = 60999;
const TERMINAL: TaskStatus = "STOPPED";
const HEALTH_STATUSES: ReadonlySet<string> = new Set(["HEALTHY", "UNHEALTHY", "UNKNOWN"]);
const SERVICE_STATUSES: ReadonlySet<string> = new Set(["ACTIVE", "DRAINING", "INACTIVE"]);
/** Documentation ranges (RFC 5737), then the benchmarking range 198.18.0.0/15 (RFC 2544): never private. */
const PUBLIC_BLOCKS = ["203.0.113", "198.51.100", "192.0.2"];

export class Fleet {
  readonly region: string;
  readonly account: string;
  /** Mutable so `generateFleet` can switch it; affects addresses allocated afterwards. */
  addressing: Addressing;
  readonly clock: () => number;
  readonly ids: Prng;

  readonly clusters = new Map<string, ClusterRecord>();
  readonly taskDefinitions = new Map<string, TaskDefinitionRecord>();
  readonly families = new Map<string, TaskDefinitionRecord[]>();
  readonly tasks = new Map<string, TaskRecord>();
  readonly hosts = new Map<string, HostRecord>();
  readonly hostsByInstanceId = new Map<string, HostRecord>();
  readonly instances = new Map<string, Ec2InstanceRecord>();
  /** Append-only; terminated-and-forgotten instances are skipped when paging. */
  readonly instanceLog: Ec2InstanceRecord[] = [];
  /** awsvpc tasks by ENI id; only those not STOPPED count as existing ENIs (`findNetworkInterface`). */
  readonly networkInterfaces = new Map<string, TaskRecord>();
  /** Append-only in creation order, for DescribeNetworkInterfaces paging; gone ENIs are skipped. */
  readonly eniLog: TaskRecord[] = [];

  private readonly vpcId: string;
  private readonly subnets: Map<string, string>;
  private seq = 0;
  private hostAddresses = 0;
  private eniAddresses = 0;
  private publicAddresses = 0;
  private readonly imageId: string;

  constructor(options: FleetOptions = {}) {
    this.region = options.region ?? "us-east-1";
    this.account = options.account ?? "123456789012";
    this.addressing = options.addressing ?? "private";
    this.clock = options.clock ?? Date.now;
    this.ids = new Prng(options.seed ?? 1);
    this.vpcId = `vpc-${this.ids.hex(17)}`;
    this.imageId = `ami-${this.ids.hex(17)}`;
    this.subnets = new Map(this.availabilityZones().map((az) => [az, `subnet-${this.ids.hex(17)}`]));
  }

  availabilityZones(): string[] {
    return [`${this.region}a`, `${this.region}b`, `${this.region}c`];
  }

  // ---- clusters -------------------------------------------------------------------------------------

  /**
   * Creates a cluster (CreateCluster). Naming an existing ACTIVE cluster adds `tags` to it; naming a deleted
   * one brings it back with only these tags, as a cluster created again under an old name.
   */
  addCluster(name: string, options: ClusterOptions = {}): string {
    const tags = checkTags(options.tags ?? {}, `cluster ${name}`);
    const existing = this.clusters.get(name);
    if (existing) {
      if (existing.status === "INACTIVE") existing.tags = {};
      existing.status = "ACTIVE";
      Object.assign(existing.tags, tags);
      return existing.arn;
    }
    const cluster: ClusterRecord = {
      name,
      arn: `arn:aws:ecs:${this.region}:${this.account}:cluster/${name}`,
      status: "ACTIVE",
      tags: { ...tags },
      services: new Map(),
      serviceLog: [],
      taskLog: [],
      tasksById: new Map(),
      hostLog: [],
      hostsById: new Map(),
      nextHostPick: 0,
    };
    this.clusters.set(name, cluster);
    return cluster.arn;
  }

  /**
   * Deletes a cluster. AWS refuses while tasks or instances remain; the stand-in forgets them instead, so
   * tests can make a cluster vanish in one step. Like AWS, DescribeClusters then reports it INACTIVE and
   * every other call naming it gets ClusterNotFoundException.
   */
  deleteCluster(name: string): void {
    const cluster = this.clusters.get(nameOf(name));
    if (!cluster) throw new Error(`no cluster ${name}`);
    for (const task of cluster.tasksById.values()) this.forgetTask(task);
    for (const host of cluster.hostsById.values()) {
      this.hosts.delete(host.containerInstanceArn);
      this.hostsByInstanceId.delete(host.ec2InstanceId);
    }
    cluster.taskLog = [];
    cluster.hostLog = [];
    cluster.hostsById.clear();
    cluster.services.clear();
    cluster.serviceLog = [];
    cluster.status = "INACTIVE";
  }

  /** TagResource on a cluster: adds the tags, overwriting values of keys it already has. */
  tagCluster(name: string, tags: Tags): void {
    const cluster = this.requireCluster(name);
    Object.assign(cluster.tags, checkTags({ ...cluster.tags, ...tags }, `cluster ${cluster.name}`));
  }

  // ---- services -------------------------------------------------------------------------------------

  /**
   * CreateService, without deploying anything: tasks join it when run with its `serviceName`. Running a
   * task with an unknown `serviceName` creates the service implicitly (ACTIVE, no tags).
   */
  createService(clusterName: string, name: string, options: CreateServiceOptions = {}): string {
    const cluster = this.requireCluster(clusterName);
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw new Error(`invalid service name ${JSON.stringify(name)}: up to 255 letters, digits, - and _`);
    }
    const existing = cluster.services.get(name);
    if (existing && existing.status !== "INACTIVE") {
      throw new Error(`service ${name} already exists in cluster ${cluster.name}`);
    }
    let taskDefinition: string | undefined;
    if (options.taskDefinition !== undefined) {
      taskDefinition = this.findTaskDefinition(options.taskDefinition, false)?.arn;
      if (taskDefinition === undefined)
        throw new Error(`no active task definition ${options.taskDefinition}`);
    }
    if (
      options.desiredCount !== undefined &&
      (!Number.isInteger(options.desiredCount) || options.desiredCount < 0)
    ) {
      throw new Error("desiredCount must be a non-negative integer");
    }
    const tags = checkTags(options.tags ?? {}, `service ${name}`);
    const service = this.newService(cluster, name, options.launchType);
    service.tags = { ...tags };
    if (options.schedulingStrategy !== undefined) service.schedulingStrategy = options.schedulingStrategy;
    if (taskDefinition !== undefined) service.taskDefinition = taskDefinition;
    if (options.desiredCount !== undefined) service.desiredCount = options.desiredCount;
    return service.arn;
  }

  /** TagResource on a service: adds the tags, overwriting values of keys it already has. */
  tagService(clusterName: string, name: string, tags: Tags): void {
    const service = this.requireService(clusterName, name);
    Object.assign(service.tags, checkTags({ ...service.tags, ...tags }, `service ${service.name}`));
  }

  /**
   * DRAINING is what DeleteService shows first, INACTIVE what follows; an INACTIVE service is still
   * described but no longer listed. Its tasks are left alone (stop them to model the drain).
   */
  setServiceStatus(clusterName: string, name: string, status: ServiceStatus): void {
    if (!SERVICE_STATUSES.has(status)) throw new Error(`invalid service status ${status}`);
    const service = this.requireService(clusterName, name);
    service.status = status;
    service.updatedAt = this.clock();
  }

  /** A service by name or ARN (long `service/CLUSTER/NAME` or old short `service/NAME` format). */
  findService(clusterNameOrArn: string, nameOrArn: string): ServiceRecord | undefined {
    const cluster = this.activeCluster(clusterNameOrArn);
    return cluster ? this.serviceIn(cluster, nameOrArn) : undefined;
  }

  /** @internal */
  serviceIn(cluster: ClusterRecord, nameOrArn: string): ServiceRecord | undefined {
    if (!nameOrArn.startsWith("arn:")) return cluster.services.get(nameOrArn);
    const prefix = `arn:aws:ecs:${this.region}:${this.account}:service/`;
    if (!nameOrArn.startsWith(prefix)) return undefined;
    const rest = nameOrArn.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash >= 0 && rest.slice(0, slash) !== cluster.name) return undefined;
    return cluster.services.get(rest.slice(slash + 1));
  }

  serviceArn(clusterName: string, name: string): string {
    return `arn:aws:ecs:${this.region}:${this.account}:service/${clusterName}/${name}`;
  }

  private requireService(clusterName: string, name: string): ServiceRecord {
    const cluster = this.requireCluster(clusterName);
    const service = this.serviceIn(cluster, name);
    if (!service) throw new Error(`no service ${name} in cluster ${cluster.name}`);
    return service;
  }

  private newService(
    cluster: ClusterRecord,
    name: string,
    launchType: LaunchType | undefined,
  ): ServiceRecord {
    const now = this.clock();
    const service: ServiceRecord = {
      cluster,
      name,
      arn: this.serviceArn(cluster.name, name),
      status: "ACTIVE",
      ...(launchType !== undefined ? { launchType } : {}),
      schedulingStrategy: "REPLICA",
      tags: {},
      createdAt: now,
      updatedAt: now,
      tasks: new Set(),
    };
    cluster.services.set(name, service);
    cluster.serviceLog.push(service);
    return service;
  }

  /** An ACTIVE cluster by name or ARN (of this account and region). */
  activeCluster(nameOrArn: string): ClusterRecord | undefined {
    if (
      nameOrArn.startsWith("arn:") &&
      !nameOrArn.startsWith(`arn:aws:ecs:${this.region}:${this.account}:cluster/`)
    ) {
      return undefined;
    }
    const cluster = this.clusters.get(nameOf(nameOrArn));
    return cluster?.status === "ACTIVE" ? cluster : undefined;
  }

  private requireCluster(nameOrArn: string): ClusterRecord {
    const cluster = this.activeCluster(nameOrArn);
    if (!cluster) throw new Error(`no active cluster ${nameOrArn}`);
    return cluster;
  }

  // ---- task definitions -----------------------------------------------------------------------------

  registerTaskDefinition(input: TaskDefinitionInput): string {
    const requires = input.requiresCompatibilities ?? [];
    const networkMode = input.networkMode ?? (requires.includes("FARGATE") ? "awsvpc" : "bridge");
    if (requires.includes("FARGATE") && networkMode !== "awsvpc") {
      throw new Error("Fargate task definitions require networkMode awsvpc");
    }
    const revisions = this.families.get(input.family) ?? [];
    const revision = revisions.length + 1;
    const record: TaskDefinitionRecord = {
      arn: `arn:aws:ecs:${this.region}:${this.account}:task-definition/${input.family}:${revision}`,
      family: input.family,
      revision,
      networkMode,
      status: "ACTIVE",
      requiresCompatibilities: [...requires],
      containerDefinitions: input.containers.map((c) => ({
        name: c.name,
        image: c.image,
        essential: c.essential ?? true,
        cpu: c.cpu ?? 0,
        ...(c.memory !== undefined ? { memory: c.memory } : {}),
        dockerLabels: { ...(c.dockerLabels ?? {}) },
        // AWS stores what it will use: in host and awsvpc modes the host port is the container port;
        // in bridge mode an omitted host port is stored as 0 (dynamic).
        portMappings: (c.portMappings ?? []).map((p) => ({
          containerPort: p.containerPort,
          hostPort: networkMode === "bridge" ? (p.hostPort ?? 0) : p.containerPort,
          protocol: p.protocol ?? "tcp",
        })),
        ...(c.healthCheck
          ? {
              // ECS stores its defaults: every 30 s, 5 s timeout, 3 retries.
              healthCheck: {
                command: [...c.healthCheck.command],
                interval: c.healthCheck.interval ?? 30,
                timeout: c.healthCheck.timeout ?? 5,
                retries: c.healthCheck.retries ?? 3,
                ...(c.healthCheck.startPeriod !== undefined
                  ? { startPeriod: c.healthCheck.startPeriod }
                  : {}),
              },
            }
          : {}),
      })),
      ...(input.cpu !== undefined ? { cpu: input.cpu } : {}),
      ...(input.memory !== undefined ? { memory: input.memory } : {}),
      registeredAt: this.clock(),
      tags: { ...(input.tags ?? {}) },
    };
    revisions.push(record);
    this.families.set(input.family, revisions);
    this.taskDefinitions.set(record.arn, record);
    return record.arn;
  }

  /** Marks a revision INACTIVE: still describable by ARN or family:revision, no longer the family's latest. */
  deregisterTaskDefinition(ref: string): void {
    const td = this.findTaskDefinition(ref, true);
    if (!td) throw new Error(`no task definition ${ref}`);
    td.status = "INACTIVE";
  }

  /**
   * From now on DescribeTaskDefinition answers ClientException ("Unable to describe task definition.") for
   * this revision, as AWS does for one it will not describe (deleted, say), while tasks running it keep it.
   */
  refuseTaskDefinition(ref: string): void {
    const td = this.findTaskDefinition(ref, true);
    if (!td) throw new Error(`no task definition ${ref}`);
    td.refused = true;
  }

  /** By ARN, `family:revision`, or `family` (latest ACTIVE revision), as DescribeTaskDefinition resolves it. */
  findTaskDefinition(ref: string, includeInactive = true): TaskDefinitionRecord | undefined {
    if (ref.startsWith("arn:")) {
      const prefix = `arn:aws:ecs:${this.region}:${this.account}:task-definition/`;
      if (!ref.startsWith(prefix)) return undefined;
      return this.findTaskDefinition(ref.slice(prefix.length), includeInactive);
    }
    const colon = ref.lastIndexOf(":");
    if (colon < 0) {
      const revisions = this.families.get(ref) ?? [];
      for (let i = revisions.length - 1; i >= 0; i--) {
        const td = revisions[i];
        if (td?.status === "ACTIVE") return td;
      }
      return undefined;
    }
    const revision = Number(ref.slice(colon + 1));
    const td = this.families.get(ref.slice(0, colon))?.[revision - 1];
    if (!td || (!includeInactive && td.status !== "ACTIVE")) return undefined;
    return td;
  }

  // ---- hosts and EC2 instances ----------------------------------------------------------------------

  addHost(
    clusterName: string,
    options: AddHostOptions = {},
  ): { containerInstanceArn: string; ec2InstanceId: string } {
    const cluster = this.requireCluster(clusterName);
    const external = options.external ?? false;
    if (external && (options.publicIp !== undefined || options.tags !== undefined || options.subnetId)) {
      throw new Error("an EXTERNAL (ECS Anywhere) host has no EC2 instance: no publicIp, tags or subnetId");
    }
    const tags = checkTags(options.tags ?? {}, "EC2 instance");
    const id = this.ids.hex(32);
    const seq = ++this.seq;
    const privateIp = options.privateIp ?? this.nextHostAddress();
    const now = this.clock();
    let ec2InstanceId: string;
    let availabilityZone: string | undefined;
    if (external) {
      // ECS Anywhere machines are SSM managed instances; ECS reports their `mi-` id in ec2InstanceId.
      ec2InstanceId = `mi-${this.ids.hex(17)}`;
    } else {
      availabilityZone = options.az ?? this.availabilityZones()[cluster.hostLog.length % 3];
      const az = availabilityZone ?? `${this.region}a`;
      const instance: Ec2InstanceRecord = {
        seq,
        instanceId: `i-${this.ids.hex(17)}`,
        reservationId: `r-${this.ids.hex(17)}`,
        ownerId: this.account,
        imageId: this.imageId,
        instanceType: options.instanceType ?? "m6i.large",
        privateIp,
        privateDnsName: this.privateDnsName(privateIp),
        availabilityZone: az,
        subnetId: options.subnetId ?? this.subnets.get(az) ?? `subnet-${this.ids.hex(17)}`,
        vpcId: this.vpcId,
        state: "running",
        launchTime: now,
        ...(options.publicIp !== undefined ? { publicIp: options.publicIp } : {}),
        tags: { ...tags },
      };
      this.instances.set(instance.instanceId, instance);
      this.instanceLog.push(instance);
      ec2InstanceId = instance.instanceId;
    }
    const host: HostRecord = {
      cluster,
      seq,
      id,
      containerInstanceArn: `arn:aws:ecs:${this.region}:${this.account}:container-instance/${cluster.name}/${id}`,
      ec2InstanceId,
      external,
      privateIp,
      instanceType: options.instanceType ?? "m6i.large",
      ...(availabilityZone !== undefined ? { availabilityZone } : {}),
      status: "ACTIVE",
      agentConnected: true,
      registeredAt: now,
      version: 1,
      tasks: new Set(),
      usedPorts: new Set(),
      nextDynamicPort: FIRST_DYNAMIC_PORT,
    };
    cluster.hostLog.push(host);
    cluster.hostsById.set(id, host);
    this.hosts.set(host.containerInstanceArn, host);
    this.hostsByInstanceId.set(ec2InstanceId, host);
    return { containerInstanceArn: host.containerInstanceArn, ec2InstanceId };
  }

  /**
   * Terminates an EC2 instance. By default it disappears from DescribeInstances at once (InstanceIds
   * naming it fail with InvalidInstanceID.NotFound); `{ visible: true }` keeps it listed as `terminated`
   * without a private IP, as AWS does for about an hour. The container instance stays registered with its
   * agent disconnected, which is what ECS shows until the instance is deregistered.
   */
  terminateInstance(instanceId: string, options: { visible?: boolean } = {}): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`no EC2 instance ${instanceId}`);
    instance.state = "terminated";
    if (!options.visible) this.instances.delete(instanceId);
    const host = this.hostsByInstanceId.get(instanceId);
    if (host) {
      host.agentConnected = false;
      host.version += 1;
    }
  }

  /** CreateTags on an EC2 instance: adds the tags, overwriting values of keys it already has. */
  tagInstance(ec2InstanceId: string, tags: Tags): void {
    const instance = this.instances.get(ec2InstanceId);
    if (!instance) throw new Error(`no EC2 instance ${ec2InstanceId}`);
    Object.assign(instance.tags, checkTags({ ...instance.tags, ...tags }, `EC2 instance ${ec2InstanceId}`));
  }

  /** Gives an EC2 instance a public IPv4 address (an Elastic IP associated), or takes it away. */
  setInstancePublicIp(ec2InstanceId: string, publicIp: string | undefined): void {
    const instance = this.instances.get(ec2InstanceId);
    if (!instance) throw new Error(`no EC2 instance ${ec2InstanceId}`);
    if (publicIp === undefined) delete instance.publicIp;
    else instance.publicIp = publicIp;
  }

  /**
   * The next public IPv4 address of this fleet: 203.0.113.0/24, 198.51.100.0/24 and 192.0.2.0/24 (the
   * documentation ranges), then 198.18.0.0/15 (benchmarking). Never private or loopback, never routable.
   */
  allocatePublicIp(): string {
    const n = this.publicAddresses++;
    const perBlock = 254;
    if (n < PUBLIC_BLOCKS.length * perBlock) {
      return `${PUBLIC_BLOCKS[Math.floor(n / perBlock)]}.${(n % perBlock) + 1}`;
    }
    const m = n - PUBLIC_BLOCKS.length * perBlock;
    return `198.${18 + (Math.floor(m / (perBlock * 256)) % 2)}.${Math.floor(m / perBlock) % 256}.${(m % perBlock) + 1}`;
  }

  /** Public DNS name EC2 gives a public IPv4 address in this region. */
  publicDnsName(ip: string): string {
    const domain =
      this.region === "us-east-1" ? "compute-1.amazonaws.com" : `${this.region}.compute.amazonaws.com`;
    return `ec2-${ip.replaceAll(".", "-")}.${domain}`;
  }

  /** The awsvpc task behind an ENI id, while that ENI exists (its task is not STOPPED). */
  findNetworkInterface(eniId: string): TaskRecord | undefined {
    const task = this.networkInterfaces.get(eniId);
    return task && eniExists(task) ? task : undefined;
  }

  /** Container instance by ARN, or by its EC2 (`i-`) / managed (`mi-`) instance id. */
  findHost(ref: string): HostRecord | undefined {
    return this.hosts.get(ref) ?? this.hostsByInstanceId.get(ref);
  }

  // ---- tasks ----------------------------------------------------------------------------------------

  runTask(clusterName: string, options: RunTaskOptions): string {
    const cluster = this.requireCluster(clusterName);
    const td = this.findTaskDefinition(options.taskDefinition, false);
    if (!td) throw new Error(`no active task definition ${options.taskDefinition}`);
    let host = options.host !== undefined ? this.findHost(options.host) : undefined;
    if (options.host !== undefined && (!host || host.cluster !== cluster)) {
      throw new Error(`no container instance ${options.host} in cluster ${cluster.name}`);
    }
    const launchType = options.launchType ?? defaultLaunchType(host, td);
    if (launchType === "FARGATE") {
      if (td.networkMode !== "awsvpc") throw new Error("Fargate tasks need an awsvpc task definition");
      host = undefined;
    } else {
      if (options.platformVersion !== undefined || options.platformFamily !== undefined) {
        throw new Error("platformVersion and platformFamily are Fargate-only");
      }
      host ??= this.pickHost(cluster, launchType === "EXTERNAL");
    }
    const publicIpWanted = options.assignPublicIp === true || options.eniPublicIp !== undefined;
    if (publicIpWanted && td.networkMode !== "awsvpc") {
      throw new Error("assignPublicIp needs an awsvpc task definition (other modes use the host's address)");
    }
    const healthStatus = options.healthStatus ?? "UNKNOWN";
    if (!HEALTH_STATUSES.has(healthStatus)) throw new Error(`invalid health status ${healthStatus}`);
    const now = this.clock();
    const id = this.ids.hex(32);
    const arn = `arn:aws:ecs:${this.region}:${this.account}:task/${cluster.name}/${id}`;
    const group =
      options.group ?? (options.serviceName ? `service:${options.serviceName}` : `family:${td.family}`);
    const serviceName = group.startsWith("service:") ? group.slice("service:".length) : undefined;
    const startedBy =
      options.startedBy ?? (serviceName !== undefined ? serviceDeploymentId(serviceName) : undefined);
    const availabilityZone = host ? host.availabilityZone : this.ids.pick(this.availabilityZones());

    const containers: ContainerRecord[] = td.containerDefinitions.map((def) => ({
      arn: `arn:aws:ecs:${this.region}:${this.account}:container/${cluster.name}/${id}/${this.ids.uuid()}`,
      name: def.name,
      image: def.image,
      runtimeId: `${id}-${this.ids.hex(10)}`,
      imageDigest: `sha256:${this.ids.hex(64)}`,
      injected: false,
      bindings: [],
    }));
    if (options.injectServiceConnect) {
      containers.push({
        arn: `arn:aws:ecs:${this.region}:${this.account}:container/${cluster.name}/${id}/${this.ids.uuid()}`,
        name: `ecs-service-connect-${this.ids.hex(4)}`,
        image: "public.ecr.aws/ecs/aws-ecs-service-connect-agent:interface-v1",
        runtimeId: `${id}-${this.ids.hex(10)}`,
        imageDigest: `sha256:${this.ids.hex(64)}`,
        injected: true,
        bindings: [],
      });
    }

    let eni: EniRecord | undefined;
    if (td.networkMode === "awsvpc") {
      const privateIp = options.eniIp ?? this.nextEniAddress();
      eni = {
        attachmentId: this.ids.uuid(),
        eniId: `eni-${this.ids.hex(17)}`,
        subnetId: this.subnets.get(availabilityZone ?? "") ?? `subnet-${this.ids.hex(17)}`,
        vpcId: this.vpcId,
        availabilityZone: availabilityZone ?? `${this.region}a`,
        macAddress: macAddress(this.ids),
        privateIp,
        privateDnsName: this.privateDnsName(privateIp),
        attachedAt: now,
      };
      // Drawn after every id, from the fleet's own counter: a public address never shifts later ids.
      if (publicIpWanted) eni.publicIp = options.eniPublicIp ?? this.allocatePublicIp();
    }

    const task: TaskRecord = {
      seq: ++this.seq,
      id,
      arn,
      cluster,
      taskDefinition: td,
      ...(host ? { host } : {}),
      launchType,
      ...(options.capacityProviderName !== undefined
        ? { capacityProviderName: options.capacityProviderName }
        : {}),
      ...(launchType === "FARGATE"
        ? {
            platformVersion: options.platformVersion ?? "1.4.0",
            platformFamily: options.platformFamily ?? "Linux",
          }
        : {}),
      ...(availabilityZone !== undefined ? { availabilityZone } : {}),
      group,
      healthStatus,
      ...(startedBy !== undefined ? { startedBy } : {}),
      lastStatus: "PENDING",
      desiredStatus: "RUNNING",
      version: 1,
      createdAt: now,
      updatedAt: now,
      ...(eni ? { eni } : {}),
      containers,
      tags: { ...(options.tags ?? {}) },
      ipv6: options.ipv6 ?? false,
      removed: false,
    };
    if (host) this.bindPorts(task, host);
    if (td.networkMode === "awsvpc") task.connectivityAt = now;
    if (serviceName !== undefined) this.joinService(task, serviceName);

    cluster.taskLog.push(task);
    cluster.tasksById.set(id, task);
    this.tasks.set(arn, task);
    host?.tasks.add(task);
    if (eni) {
      this.networkInterfaces.set(eni.eniId, task);
      this.eniLog.push(task);
    }
    if ((options.lastStatus ?? "RUNNING") === "RUNNING") this.setTaskStatus(arn, { lastStatus: "RUNNING" });
    return arn;
  }

  /**
   * Moves a task along its lifecycle. Every call that changes something bumps `version`, as ECS does for
   * each state change (events carry it so consumers can drop stale ones).
   */
  setTaskStatus(taskArn: string, change: { lastStatus?: TaskStatus; desiredStatus?: DesiredStatus }): void {
    const task = this.requireTask(taskArn);
    const now = this.clock();
    let changed = false;
    if (change.desiredStatus !== undefined && change.desiredStatus !== task.desiredStatus) {
      if (task.desiredStatus === "STOPPED") throw new Error("a task asked to stop cannot be restarted");
      task.desiredStatus = change.desiredStatus;
      task.stoppingAt = now;
      task.stopCode ??= "UserInitiated";
      task.stoppedReason ??= "Task stopped by user";
      changed = true;
    }
    if (change.lastStatus !== undefined && change.lastStatus !== task.lastStatus) {
      if (task.lastStatus === TERMINAL) throw new Error("a STOPPED task cannot change its status");
      task.lastStatus = change.lastStatus;
      if (change.lastStatus === "RUNNING" && task.startedAt === undefined) {
        task.pullStartedAt = now;
        task.pullStoppedAt = now;
        task.startedAt = now;
        task.connectivityAt ??= now;
      }
      if (change.lastStatus === TERMINAL) {
        if (task.desiredStatus !== "STOPPED") {
          // Stopped without being asked: the essential container exited.
          task.desiredStatus = "STOPPED";
          task.stopCode ??= "EssentialContainerExited";
          task.stoppedReason ??= "Essential container in task exited";
        }
        task.stoppingAt ??= now;
        task.executionStoppedAt = now;
        task.stoppedAt = now;
        this.releasePorts(task);
        task.service?.tasks.delete(task);
      }
      changed = true;
    }
    if (changed) {
      task.version += 1;
      task.updatedAt = now;
    }
  }

  /**
   * The task's health, as ECS aggregates it from its containers' health checks. A change bumps `version`
   * and `updatedAt` like any other change of the task. DescribeTasks shows it; task state change events do
   * not carry health at all (AWS sends none for a health change, and `healthStatus` is absent from them).
   */
  setTaskHealth(taskArn: string, status: HealthStatus): void {
    if (!HEALTH_STATUSES.has(status)) throw new Error(`invalid health status ${status}`);
    const task = this.requireTask(taskArn);
    if (task.lastStatus === TERMINAL) throw new Error("a STOPPED task's health no longer changes");
    if (task.healthStatus === status) return;
    task.healthStatus = status;
    task.version += 1;
    task.updatedAt = this.clock();
  }

  /** StopTask as AWS does it: desired STOPPED, then last STOPPED (two version bumps). */
  stopTask(taskArn: string, reason = "Task stopped by user"): void {
    const task = this.requireTask(taskArn);
    task.stoppedReason ??= reason;
    this.setTaskStatus(taskArn, { desiredStatus: "STOPPED" });
    this.setTaskStatus(taskArn, { lastStatus: "STOPPED" });
  }

  /** Forgets a task, as AWS does about an hour after it stopped: DescribeTasks then reports it MISSING. */
  removeTask(taskArn: string): void {
    this.forgetTask(this.requireTask(taskArn));
  }

  findTask(taskArn: string): TaskRecord | undefined {
    return this.tasks.get(taskArn);
  }

  /** The EventBridge "ECS Task State Change" event AWS would deliver for the task's current state. */
  taskStateChangeEvent(taskArn: string): TaskStateChangeEvent {
    return taskStateChangeEvent(this, this.requireTask(taskArn));
  }

  private requireTask(taskArn: string): TaskRecord {
    const task = this.tasks.get(taskArn);
    if (!task) throw new Error(`no task ${taskArn}`);
    return task;
  }

  private forgetTask(task: TaskRecord): void {
    this.releasePorts(task);
    task.service?.tasks.delete(task);
    if (task.eni) this.networkInterfaces.delete(task.eni.eniId);
    task.removed = true;
    task.cluster.tasksById.delete(task.id);
    this.tasks.delete(task.arn);
  }

  /** Puts a task in its service, creating the service (ACTIVE, no tags) when the cluster has none by that name. */
  private joinService(task: TaskRecord, serviceName: string): void {
    const cluster = task.cluster;
    let service = cluster.services.get(serviceName);
    if (!service || service.status === "INACTIVE") {
      // A service on a capacity provider strategy has no launch type.
      service = this.newService(
        cluster,
        serviceName,
        task.capacityProviderName === undefined ? task.launchType : undefined,
      );
    }
    const td = task.taskDefinition;
    const current = service.taskDefinition ? this.taskDefinitions.get(service.taskDefinition) : undefined;
    // The deployment's task definition: the newest revision of the family its tasks run.
    if (!current || (current.family === td.family && td.revision > current.revision)) {
      service.taskDefinition = td.arn;
    }
    service.tasks.add(task);
    task.service = service;
  }

  private pickHost(cluster: ClusterRecord, external: boolean): HostRecord {
    const candidates = cluster.hostLog.length;
    for (let i = 0; i < candidates; i++) {
      const host = cluster.hostLog[(cluster.nextHostPick + i) % candidates];
      if (host && host.status === "ACTIVE" && host.external === external && cluster.hostsById.has(host.id)) {
        cluster.nextHostPick = (cluster.nextHostPick + i + 1) % candidates;
        return host;
      }
    }
    throw new Error(`no ${external ? "EXTERNAL" : "EC2"} container instance in cluster ${cluster.name}`);
  }

  /** Host ports: fixed ones reserved (RESOURCE:PORTS when taken, as RunTask fails), dynamic ones allocated. */
  private bindPorts(task: TaskRecord, host: HostRecord): void {
    const mode = task.taskDefinition.networkMode;
    if (mode !== "bridge" && mode !== "host") return;
    task.taskDefinition.containerDefinitions.forEach((def, index) => {
      const container = task.containers[index];
      if (!container) return;
      for (const mapping of def.portMappings) {
        let hostPort = mode === "host" ? mapping.containerPort : mapping.hostPort;
        if (hostPort === 0) {
          hostPort = this.dynamicPort(host);
        } else if (host.usedPorts.has(hostPort)) {
          throw new Error(`RESOURCE:PORTS: host port ${hostPort} is taken on ${host.containerInstanceArn}`);
        }
        host.usedPorts.add(hostPort);
        container.bindings.push({
          containerPort: mapping.containerPort,
          hostPort,
          protocol: mapping.protocol,
        });
      }
    });
    // The Service Connect proxy listens on its own port; in bridge mode it gets a dynamic binding, which
    // makes it look scrapeable to a careless consumer (it must never become a target).
    for (const container of task.containers) {
      if (container.injected && mode === "bridge") {
        const hostPort = this.dynamicPort(host);
        host.usedPorts.add(hostPort);
        container.bindings.push({ containerPort: 15000, hostPort, protocol: "tcp" });
      }
    }
  }

  private dynamicPort(host: HostRecord): number {
    const span = LAST_DYNAMIC_PORT - FIRST_DYNAMIC_PORT + 1;
    for (let i = 0; i < span; i++) {
      const port = host.nextDynamicPort;
      host.nextDynamicPort = port >= LAST_DYNAMIC_PORT ? FIRST_DYNAMIC_PORT : port + 1;
      if (!host.usedPorts.has(port)) return port;
    }
    throw new Error(`RESOURCE:PORTS: no dynamic port left on ${host.containerInstanceArn}`);
  }

  private releasePorts(task: TaskRecord): void {
    const host = task.host;
    if (!host?.tasks.has(task)) return;
    host.tasks.delete(task);
    for (const container of task.containers) {
      for (const binding of container.bindings) host.usedPorts.delete(binding.hostPort);
    }
  }

  // ---- addresses ------------------------------------------------------------------------------------

  private nextHostAddress(): string {
    if (this.addressing === "loopback") return this.loopbackAddress();
    const n = this.hostAddresses++;
    return `10.0.${Math.floor(n / 250) % 256}.${(n % 250) + 4}`;
  }

  private nextEniAddress(): string {
    if (this.addressing === "loopback") return this.loopbackAddress();
    const n = this.eniAddresses++;
    return `10.${1 + Math.floor(n / 64000)}.${Math.floor(n / 250) % 256}.${(n % 250) + 4}`;
  }

  /** Hosts and ENIs share one sequence in 127.0.0.0/16 so every address is distinct (and scrape-safe). */
  private loopbackAddress(): string {
    const n = this.hostAddresses++;
    return `127.0.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`;
  }

  private privateDnsName(ip: string): string {
    // us-east-1 is the one region whose private DNS domain is ec2.internal.
    const domain = this.region === "us-east-1" ? "ec2.internal" : `${this.region}.compute.internal`;
    return `ip-${ip.replaceAll(".", "-")}.${domain}`;
  }
}

/** An awsvpc task's ENI exists from RunTask until the task is STOPPED (then it is detached and deleted). */
export function eniExists(task: TaskRecord): boolean {
  return !task.removed && task.lastStatus !== TERMINAL;
}

/** ECS and EC2 tag limits: at most 50 tags, keys of 1..128 characters, values of at most 256. */
function checkTags(tags: Tags, owner: string): Tags {
  const entries = Object.entries(tags);
  if (entries.length > 50) throw new Error(`${owner}: at most 50 tags, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (typeof value !== "string") throw new Error(`${owner}: tag ${key} must have a string value`);
    if (key.length < 1 || key.length > 128)
      throw new Error(`${owner}: tag keys have 1..128 characters: ${key}`);
    if (value.length > 256) throw new Error(`${owner}: tag values have at most 256 characters (key ${key})`);
  }
  return tags;
}

function defaultLaunchType(host: HostRecord | undefined, td: TaskDefinitionRecord): LaunchType {
  if (host) return host.external ? "EXTERNAL" : "EC2";
  return td.requiresCompatibilities.includes("FARGATE") ? "FARGATE" : "EC2";
}

function macAddress(prng: Prng): string {
  const h = prng.hex(10);
  // 0a: a locally administered unicast prefix, what EC2 ENIs use.
  return `0a:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}`;
}
