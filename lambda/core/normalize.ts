import { isRecord } from "../shared/values.js";
import type {
  ContainerDefinitionSpec,
  ContainerView,
  NetworkBinding,
  TaskDefinitionSpec,
  TaskView,
} from "./model.js";

/**
 * Normalizes a task as DescribeTasks returns it, or as the `detail` of an `ECS Task State Change` event
 * carries it. Both are read loosely (unknown input), because AWS adds fields at any time and events are
 * untrusted input: only the fields used are checked, and an unusable task is reported, not thrown.
 */

type Loose = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function num(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function bindings(value: unknown): NetworkBinding[] {
  const out: NetworkBinding[] = [];
  for (const b of array(value)) {
    if (!isRecord(b)) continue;
    const binding: NetworkBinding = {};
    const bindIP = str(b.bindIP);
    const containerPort = num(b.containerPort);
    const hostPort = num(b.hostPort);
    const protocol = str(b.protocol);
    const containerPortRange = str(b.containerPortRange);
    const hostPortRange = str(b.hostPortRange);
    if (bindIP) binding.bindIP = bindIP;
    if (containerPort !== undefined) binding.containerPort = containerPort;
    if (hostPort !== undefined) binding.hostPort = hostPort;
    if (protocol) binding.protocol = protocol;
    if (containerPortRange) binding.containerPortRange = containerPortRange;
    if (hostPortRange) binding.hostPortRange = hostPortRange;
    out.push(binding);
  }
  return out;
}

function container(value: unknown): ContainerView | undefined {
  if (!isRecord(value)) return undefined;
  const name = str(value.name);
  if (!name) return undefined;
  const view: ContainerView = { name, networkBindings: bindings(value.networkBindings) };
  const containerArn = str(value.containerArn);
  const image = str(value.image);
  const lastStatus = str(value.lastStatus);
  if (containerArn) view.containerArn = containerArn;
  if (image) view.image = image;
  if (lastStatus) view.lastStatus = lastStatus;
  for (const ni of array(value.networkInterfaces)) {
    const ip = isRecord(ni) ? str(ni.privateIpv4Address) : undefined;
    if (ip) {
      view.privateIpv4Address = ip;
      break;
    }
  }
  return view;
}

const ENI_DETAILS = {
  privateIPv4Address: "eniPrivateIp",
  networkInterfaceId: "eniId",
  subnetId: "subnetId",
} as const;

// DescribeTasks calls the task ENI attachment "ElasticNetworkInterface"; events call it "eni".
function eniDetails(
  attachments: unknown,
): Partial<Record<(typeof ENI_DETAILS)[keyof typeof ENI_DETAILS], string>> {
  const out: Partial<Record<(typeof ENI_DETAILS)[keyof typeof ENI_DETAILS], string>> = {};
  for (const a of array(attachments)) {
    if (!isRecord(a)) continue;
    const type = str(a.type);
    if (type !== "ElasticNetworkInterface" && type !== "eni") continue;
    for (const d of array(a.details)) {
      if (!isRecord(d) || typeof d.name !== "string" || !Object.hasOwn(ENI_DETAILS, d.name)) continue;
      const key = ENI_DETAILS[d.name as keyof typeof ENI_DETAILS];
      const value = str(d.value);
      if (value && out[key] === undefined) out[key] = value;
    }
    return out;
  }
  return out;
}

/** Tags as a map: `{}` when the answer says "no tags", undefined when it does not say (events, no TAGS). */
export function tags(value: unknown): Record<string, string> | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const t of value) {
    if (isRecord(t) && typeof t.key === "string") out[t.key] = typeof t.value === "string" ? t.value : "";
  }
  return out;
}

export type NormalizeResult = { task: TaskView } | { problem: string };

export function normalizeTask(value: unknown): NormalizeResult {
  if (!isRecord(value)) return { problem: "task is not an object" };
  const taskArn = str(value.taskArn);
  const clusterArn = str(value.clusterArn);
  const taskDefinitionArn = str(value.taskDefinitionArn);
  if (!taskArn) return { problem: "task has no taskArn" };
  if (!clusterArn) return { problem: `task ${taskArn} has no clusterArn` };
  if (!taskDefinitionArn) return { problem: `task ${taskArn} has no taskDefinitionArn` };
  const task: TaskView = {
    taskArn,
    clusterArn,
    taskDefinitionArn,
    containers: array(value.containers)
      .map(container)
      .filter((c): c is ContainerView => c !== undefined),
  };
  const optional = {
    group: str(value.group),
    launchType: str(value.launchType),
    availabilityZone: str(value.availabilityZone),
    containerInstanceArn: str(value.containerInstanceArn),
    lastStatus: str(value.lastStatus),
    desiredStatus: str(value.desiredStatus),
    healthStatus: str(value.healthStatus),
    platformFamily: str(value.platformFamily),
    platformVersion: str(value.platformVersion),
    ...eniDetails(value.attachments),
  };
  for (const [key, v] of Object.entries(optional)) {
    if (v !== undefined) (task as unknown as Loose)[key] = v;
  }
  const version = num(value.version);
  if (version !== undefined) task.version = version;
  const taskTags = tags(value.tags);
  if (taskTags) task.tags = taskTags;
  return { task };
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

export function normalizeTaskDefinition(value: unknown): TaskDefinitionSpec | undefined {
  if (!isRecord(value)) return undefined;
  const taskDefinitionArn = str(value.taskDefinitionArn);
  const family = str(value.family);
  const revision = num(value.revision);
  if (!taskDefinitionArn || !family || revision === undefined) return undefined;
  const containers: ContainerDefinitionSpec[] = [];
  let healthChecks = false;
  for (const c of array(value.containerDefinitions)) {
    if (!isRecord(c)) continue;
    if (isRecord(c.healthCheck)) healthChecks = true;
    const name = str(c.name);
    if (!name) continue;
    const spec: ContainerDefinitionSpec = {
      name,
      dockerLabels: stringMap(c.dockerLabels),
      portMappings: array(c.portMappings)
        .filter(isRecord)
        .map((m) => {
          const mapping: { containerPort?: number; hostPort?: number; protocol?: string } = {};
          const containerPort = num(m.containerPort);
          const hostPort = num(m.hostPort);
          const protocol = str(m.protocol);
          if (containerPort !== undefined) mapping.containerPort = containerPort;
          if (hostPort !== undefined) mapping.hostPort = hostPort;
          if (protocol) mapping.protocol = protocol;
          return mapping;
        }),
    };
    const image = str(c.image);
    if (image) spec.image = image;
    containers.push(spec);
  }
  const spec: TaskDefinitionSpec = { taskDefinitionArn, family, revision, containers, healthChecks };
  const networkMode = str(value.networkMode);
  if (networkMode) spec.networkMode = networkMode;
  return spec;
}
