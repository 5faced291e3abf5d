import { randomUUID } from "node:crypto";
import type { Fleet } from "./fleet.js";
import type { ClusterRecord, HostRecord, TaskDefinitionRecord, TaskRecord } from "./model.js";

/**
 * Renders fleet records in AWS's wire shapes. The same task renders two ways: for DescribeTasks (epoch
 * seconds, ENI attachment type `ElasticNetworkInterface`, tags on request) and as the `detail` of an
 * EventBridge task state change (ISO-8601 strings, attachment type `eni`, never tags).
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
  const containers = task.containers.map((c) => {
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
      healthStatus: "UNKNOWN",
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
    healthStatus: style === "api" ? "UNKNOWN" : undefined,
    lastStatus: task.lastStatus,
    launchType: task.launchType,
    memory: td.memory,
    overrides: { containerOverrides: td.containerDefinitions.map((c) => ({ name: c.name })) },
    platformVersion: task.platformVersion,
    platformFamily: task.launchType === "FARGATE" ? "Linux" : undefined,
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

export function renderCluster(cluster: ClusterRecord): Json {
  let running = 0;
  let pending = 0;
  for (const task of cluster.tasksById.values()) {
    if (task.lastStatus === "RUNNING") running++;
    else if (task.lastStatus !== "STOPPED") pending++;
  }
  return {
    clusterArn: cluster.arn,
    clusterName: cluster.name,
    status: cluster.status,
    registeredContainerInstancesCount: cluster.status === "ACTIVE" ? cluster.hostsById.size : 0,
    runningTasksCount: running,
    pendingTasksCount: pending,
    activeServicesCount: 0,
    statistics: [],
    tags: [],
    settings: [{ name: "containerInsights", value: "disabled" }],
    capacityProviders: [],
    defaultCapacityProviderStrategy: [],
  };
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
