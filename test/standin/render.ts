import { randomUUID } from "node:crypto";
import type { Fleet } from "./fleet.js";
import type { ClusterRecord, HostRecord, ServiceRecord, TaskDefinitionRecord, TaskRecord } from "./model.js";

/**
 * Renders fleet records in AWS's wire shapes. The same task renders two ways: for DescribeTasks (epoch
 * seconds, ENI attachment type `ElasticNetworkInterface`, tags on request, `healthStatus`) and as the
 * `detail` of an EventBridge task state change (ISO-8601 strings, attachment type `eni`, never tags, never
 * health: AWS documents that task state change events do not provide the health status).
 */
type Json = Record<string, unknown>;
type Style = "api" | "event";

export interface TaskStateChangeEvent {
  version: "0";
  id: string;
  "detail-type": "ECS Task State Change";
  source: "aws.ecs";
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Json;
}

function time(ms: number | undefined, style: Style): number | string | undefined {
  if (ms === undefined) return undefined;
  return style === "api" ? ms / 1000 : new Date(ms).toISOString();
}

/** Drops undefined members so absent fields are absent on the wire, as in AWS responses. */
function compact(obj: Json): Json {
  for (const key of Object.keys(obj)) if (obj[key] === undefined) delete obj[key];
  return obj;
}

export function tagList(tags: Record<string, string>): { key: string; value: string }[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

export function renderTask(task: TaskRecord, style: Style, includeTags = false): Json {
  const td = task.taskDefinition;
  const mode = td.networkMode;
  const started = task.startedAt !== undefined;
  const eni = task.eni;
  const containerStatus =
    task.lastStatus === "RUNNING" || task.lastStatus === "STOPPED" ? task.lastStatus : "PENDING";
  // A container reports the task's health when it has a health check (or, in a task without any health
  // check, when it is essential); the others, and the injected proxy, stay UNKNOWN.
  const anyHealthCheck = td.containerDefinitions.some((d) => d.healthCheck !== undefined);
  const containerHealth = (index: number): string => {
    const def = task.containers[index]?.injected ? undefined : td.containerDefinitions[index];
    if (!def) return "UNKNOWN";
    return def.healthCheck !== undefined || (!anyHealthCheck && def.essential)
      ? task.healthStatus
      : "UNKNOWN";
  };
  const containers = task.containers.map((c, index) => {
    const bindings: Json[] = [];
    if ((mode === "bridge" || mode === "host") && started) {
      for (const b of c.bindings) {
        bindings.push({
          bindIP: "0.0.0.0",
          containerPort: b.containerPort,
          hostPort: b.hostPort,
          protocol: b.protocol,
        });
        // An agent with IPv6 enabled reports every published port a second time for the IPv6 wildcard.
        if (task.ipv6) {
          bindings.push({
            bindIP: "::",
            containerPort: b.containerPort,
            hostPort: b.hostPort,
            protocol: b.protocol,
          });
        }
      }
    }
    return compact({
      containerArn: c.arn,
      taskArn: task.arn,
      name: c.name,
      image: c.image,
      imageDigest: started ? c.imageDigest : undefined,
      runtimeId: started ? c.runtimeId : undefined,
      lastStatus: containerStatus,
      exitCode: task.lastStatus === "STOPPED" ? 0 : undefined,
      networkBindings: mode === "bridge" || mode === "host" ? bindings : undefined,
      networkInterfaces: eni
        ? [{ attachmentId: eni.attachmentId, privateIpv4Address: eni.privateIp }]
        : undefined,
      healthStatus: style === "api" ? containerHealth(index) : undefined,
      cpu: "0",
    });
  });
  const attachments = eni
    ? [
        {
          id: eni.attachmentId,
          // DescribeTasks says ElasticNetworkInterface; the very same attachment is `eni` in events.
          type: style === "api" ? "ElasticNetworkInterface" : "eni",
          status: task.lastStatus === "STOPPED" ? "DELETED" : "ATTACHED",
          details: [
            { name: "subnetId", value: eni.subnetId },
            { name: "networkInterfaceId", value: eni.eniId },
            { name: "macAddress", value: eni.macAddress },
            { name: "privateDnsName", value: eni.privateDnsName },
            { name: "privateIPv4Address", value: eni.privateIp },
          ],
        },
      ]
    : style === "api"
      ? []
      : undefined;
  return compact({
    attachments,
    attributes: style === "api" ? [{ name: "ecs.cpu-architecture", value: "x86_64" }] : undefined,
    availabilityZone: task.availabilityZone,
    capacityProviderName: task.capacityProviderName,
    clusterArn: task.cluster.arn,
    connectivity: task.connectivityAt !== undefined ? "CONNECTED" : undefined,
    connectivityAt: time(task.connectivityAt, style),
    containerInstanceArn: task.host?.containerInstanceArn,
    containers,
    cpu: td.cpu,
    createdAt: time(task.createdAt, style),
    desiredStatus: task.desiredStatus,
    enableExecuteCommand: style === "api" ? false : undefined,
    executionStoppedAt: time(task.executionStoppedAt, style),
    group: task.group,
    healthStatus: style === "api" ? task.healthStatus : undefined,
    lastStatus: task.lastStatus,
    launchType: task.launchType,
    memory: td.memory,
    overrides: { containerOverrides: td.containerDefinitions.map((c) => ({ name: c.name })) },
    platformVersion: task.platformVersion,
    platformFamily: task.platformFamily,
    pullStartedAt: time(task.pullStartedAt, style),
    pullStoppedAt: time(task.pullStoppedAt, style),
    startedAt: time(task.startedAt, style),
    startedBy: task.startedBy,
    stopCode: task.desiredStatus === "STOPPED" ? task.stopCode : undefined,
    stoppedAt: time(task.stoppedAt, style),
    stoppedReason: task.desiredStatus === "STOPPED" ? task.stoppedReason : undefined,
    stoppingAt: time(task.stoppingAt, style),
    tags: style === "api" && includeTags ? tagList(task.tags) : undefined,
    taskArn: task.arn,
    taskDefinitionArn: td.arn,
    updatedAt: style === "event" ? time(task.updatedAt, style) : undefined,
    version: task.version,
  });
}

export function renderTaskDefinition(td: TaskDefinitionRecord): Json {
  const fargate = td.requiresCompatibilities.includes("FARGATE");
  return compact({
    taskDefinitionArn: td.arn,
    family: td.family,
    revision: td.revision,
    networkMode: td.networkMode,
    status: td.status,
    containerDefinitions: td.containerDefinitions.map((c) =>
      compact({
        name: c.name,
        image: c.image,
        cpu: c.cpu,
        memory: c.memory,
        essential: c.essential,
        portMappings: c.portMappings.map((p) => ({ ...p })),
        environment: [],
        mountPoints: [],
        volumesFrom: [],
        dockerLabels: Object.keys(c.dockerLabels).length > 0 ? { ...c.dockerLabels } : undefined,
        healthCheck: c.healthCheck ? { ...c.healthCheck, command: [...c.healthCheck.command] } : undefined,
      }),
    ),
    volumes: [],
    placementConstraints: [],
    requiresAttributes: [],
    compatibilities: fargate || td.networkMode === "awsvpc" ? ["EC2", "FARGATE"] : ["EXTERNAL", "EC2"],
    requiresCompatibilities:
      td.requiresCompatibilities.length > 0 ? [...td.requiresCompatibilities] : undefined,
    cpu: td.cpu,
    memory: td.memory,
    registeredAt: td.registeredAt / 1000,
    registeredBy: "arn:aws:iam::000000000000:role/deployer",
  });
}

export function renderContainerInstance(host: HostRecord): Json {
  let running = 0;
  let pending = 0;
  for (const task of host.tasks) {
    if (task.lastStatus === "RUNNING") running++;
    else if (task.lastStatus !== "STOPPED") pending++;
  }
  const attributes: { name: string; value?: string }[] = [{ name: "ecs.os-type", value: "linux" }];
  if (host.external) {
    attributes.push({ name: "ecs.capability.external" });
  } else {
    attributes.push({ name: "ecs.availability-zone", value: host.availabilityZone ?? "" });
    attributes.push({ name: "ecs.instance-type", value: host.instanceType });
  }
  return compact({
    containerInstanceArn: host.containerInstanceArn,
    ec2InstanceId: host.ec2InstanceId,
    version: host.version,
    status: host.status,
    agentConnected: host.agentConnected,
    runningTasksCount: running,
    pendingTasksCount: pending,
    registeredAt: host.registeredAt / 1000,
    attributes,
    versionInfo: { agentVersion: "1.89.0", agentHash: "d5f3e2b1", dockerVersion: "DockerVersion: 25.0.8" },
    registeredResources: [],
    remainingResources: [],
    attachments: [],
    tags: [],
  });
}

/** DescribeClusters' cluster; `tags` only when asked for with `include: ["TAGS"]`. */
export function renderCluster(cluster: ClusterRecord, includeTags = false): Json {
  let running = 0;
  let pending = 0;
  for (const task of cluster.tasksById.values()) {
    if (task.lastStatus === "RUNNING") running++;
    else if (task.lastStatus !== "STOPPED") pending++;
  }
  let activeServices = 0;
  for (const service of cluster.services.values()) if (service.status === "ACTIVE") activeServices++;
  return compact({
    clusterArn: cluster.arn,
    clusterName: cluster.name,
    status: cluster.status,
    registeredContainerInstancesCount: cluster.status === "ACTIVE" ? cluster.hostsById.size : 0,
    runningTasksCount: running,
    pendingTasksCount: pending,
    activeServicesCount: activeServices,
    statistics: [],
    tags: includeTags ? tagList(cluster.tags) : undefined,
    settings: [{ name: "containerInsights", value: "disabled" }],
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
  });
}

/**
 * DescribeServices' service: counts from its tasks, one PRIMARY deployment whose id is the `startedBy` of
 * its tasks, `tags` only when asked for with `include: ["TAGS"]`.
 */
export function renderService(fleet: Fleet, service: ServiceRecord, includeTags = false): Json {
  let running = 0;
  let pending = 0;
  let desired = 0;
  for (const task of service.tasks) {
    if (task.desiredStatus === "RUNNING") desired++;
    if (task.lastStatus === "RUNNING") running++;
    else if (task.desiredStatus === "RUNNING") pending++;
  }
  const desiredCount = service.desiredCount ?? desired;
  const fargate = service.launchType === "FARGATE";
  const createdAt = service.createdAt / 1000;
  const updatedAt = service.updatedAt / 1000;
  return compact({
    serviceArn: service.arn,
    serviceName: service.name,
    clusterArn: service.cluster.arn,
    loadBalancers: [],
    serviceRegistries: [],
    status: service.status,
    desiredCount,
    runningCount: running,
    pendingCount: pending,
    launchType: service.launchType,
    platformVersion: fargate ? "LATEST" : undefined,
    platformFamily: fargate ? "Linux" : undefined,
    taskDefinition: service.taskDefinition,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: false, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
    },
    deployments:
      service.status === "INACTIVE"
        ? []
        : [
            compact({
              id: serviceDeploymentId(service.name),
              status: "PRIMARY",
              taskDefinition: service.taskDefinition,
              desiredCount,
              pendingCount: pending,
              runningCount: running,
              failedTasks: 0,
              createdAt,
              updatedAt,
              launchType: service.launchType,
              platformVersion: fargate ? "1.4.0" : undefined,
              platformFamily: fargate ? "Linux" : undefined,
              rolloutState: "COMPLETED",
              rolloutStateReason: "ECS deployment completed.",
            }),
          ],
    events: [],
    createdAt,
    placementConstraints: [],
    placementStrategy: [],
    schedulingStrategy: service.schedulingStrategy,
    deploymentController: { type: "ECS" },
    createdBy: `arn:aws:iam::${fleet.account}:role/deployer`,
    enableECSManagedTags: false,
    propagateTags: "NONE",
    enableExecuteCommand: false,
    availabilityZoneRebalancing: "DISABLED",
    tags: includeTags ? tagList(service.tags) : undefined,
  });
}

/** ECS names service deployments `ecs-svc/` + 19 digits; derived from the name so it is stable. */
export function serviceDeploymentId(serviceName: string): string {
  let h = 2166136261;
  for (let i = 0; i < serviceName.length; i++) h = Math.imul(h ^ serviceName.charCodeAt(i), 16777619) >>> 0;
  return `ecs-svc/${String(h).padStart(10, "0")}${String(h % 1000000000).padStart(9, "0")}`;
}

export function taskStateChangeEvent(fleet: Fleet, task: TaskRecord): TaskStateChangeEvent {
  return {
    version: "0",
    // Random, not from the fleet's seeded generator: events must not shift the ids of later resources.
    id: randomUUID(),
    "detail-type": "ECS Task State Change",
    source: "aws.ecs",
    account: fleet.account,
    // EventBridge's envelope time has second precision.
    time: `${new Date(task.updatedAt).toISOString().slice(0, 19)}Z`,
    region: fleet.region,
    resources: [task.arn],
    detail: renderTask(task, "event"),
  };
}
