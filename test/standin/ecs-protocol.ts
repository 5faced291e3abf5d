import { ApiError, clusterNotFound, invalidParameter } from "./errors.js";
import type { Fleet } from "./fleet.js";
import type { ClusterRecord, HostRecord, ServiceRecord, TaskRecord } from "./model.js";
import {
  renderCluster,
  renderContainerInstance,
  renderService,
  renderTask,
  renderTaskDefinition,
  tagList,
} from "./render.js";

/**
 * ECS operations over the awsJson1_1 protocol: the request is the JSON body, the operation comes from the
 * `X-Amz-Target: AmazonEC2ContainerServiceV20141113.<Operation>` header. Limits and error codes follow
 * AWS, because the engine's batching and paging are only tested if the stand-in is as strict as ECS.
 */
export const ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113.";

type Json = Record<string, unknown>;
type Handler = (fleet: Fleet, input: Json) => Json;

/** Largest batch / page size of the ECS list and describe calls. */
const MAX_BATCH = 100;
/** DescribeServices takes at most 10 services; ListServices pages default to 10 (up to 100). */
const MAX_SERVICES = 10;

const handlers: Record<string, Handler> = {
  ListClusters: listClusters,
  DescribeClusters: describeClusters,
  ListServices: listServices,
  DescribeServices: describeServices,
  ListTasks: listTasks,
  DescribeTasks: describeTasks,
  DescribeTaskDefinition: describeTaskDefinition,
  ListContainerInstances: listContainerInstances,
  DescribeContainerInstances: describeContainerInstances,
};

export function isEcsOperation(operation: string): boolean {
  return Object.hasOwn(handlers, operation);
}

export function handleEcs(fleet: Fleet, operation: string, input: Json): Json {
  const handler = handlers[operation];
  if (!handler) {
    throw new ApiError(
      "UnknownOperationException",
      400,
      `Operation ${operation} is not supported by the stand-in.`,
    );
  }
  return handler(fleet, input);
}

// ---- input helpers --------------------------------------------------------------------------------

function optString(input: Json, key: string): string | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalidParameter(`${key} must be a string.`);
  return v;
}

function optStringList(input: Json, key: string): string[] | undefined {
  const v = input[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw invalidParameter(`${key} must be a list of strings.`);
  return v as string[];
}

function maxResults(input: Json, byDefault = MAX_BATCH): number {
  const v = input.maxResults;
  if (v === undefined || v === null) return byDefault;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_BATCH) {
    throw invalidParameter("maxResults must be between 1 and 100.");
  }
  return v;
}

function includesTags(input: Json): boolean {
  return (optStringList(input, "include") ?? []).includes("TAGS");
}

/** The cluster a call targets; ECS falls back to the cluster named `default`. */
function targetCluster(fleet: Fleet, input: Json): ClusterRecord {
  const cluster = fleet.activeCluster(optString(input, "cluster") ?? "default");
  if (!cluster) throw clusterNotFound();
  return cluster;
}

// Page tokens are opaque to clients; these encode the position in an append-only log, so a page costs
// O(page) whatever the fleet size, and they name their cluster so a token cannot be replayed elsewhere.
function encodeToken(kind: string, scope: string, position: number): string {
  return Buffer.from(JSON.stringify({ k: kind, s: scope, p: position })).toString("base64");
}

function decodeToken(token: string | undefined, kind: string, scope: string): number {
  if (token === undefined) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64").toString("utf8")) as {
      k?: unknown;
      s?: unknown;
      p?: unknown;
    };
    if (parsed.k === kind && parsed.s === scope && typeof parsed.p === "number" && parsed.p >= 0)
      return parsed.p;
  } catch {
    // fall through to the AWS error below
  }
  throw invalidParameter("Invalid token.");
}

/**
 * Walks `log` from `start`, keeping up to `limit` entries that pass `keep`. Returns the next position
 * only when another match exists, so the last page carries no token (as AWS does).
 */
function page<T>(log: readonly T[], start: number, limit: number, keep: (item: T) => boolean) {
  const items: T[] = [];
  let i = start;
  for (; i < log.length && items.length < limit; i++) {
    const item = log[i] as T;
    if (keep(item)) items.push(item);
  }
  for (; i < log.length; i++) {
    if (keep(log[i] as T)) return { items, next: i };
  }
  return { items, next: undefined };
}

// ---- clusters -------------------------------------------------------------------------------------

function listClusters(fleet: Fleet, input: Json): Json {
  const limit = maxResults(input);
  const log = [...fleet.clusters.values()];
  const start = decodeToken(optString(input, "nextToken"), "clusters", "");
  const { items, next } = page(log, start, limit, (c) => c.status === "ACTIVE");
  return {
    clusterArns: items.map((c) => c.arn),
    ...(next !== undefined ? { nextToken: encodeToken("clusters", "", next) } : {}),
  };
}

function describeClusters(fleet: Fleet, input: Json): Json {
  const refs = optStringList(input, "clusters") ?? ["default"];
  if (refs.length > MAX_BATCH) throw invalidParameter("Clusters cannot have more than 100 elements.");
  const clusters: Json[] = [];
  const failures: Json[] = [];
  for (const ref of refs) {
    const name = ref.startsWith("arn:") ? ref.slice(ref.lastIndexOf("/") + 1) : ref;
    const arn = `arn:aws:ecs:${fleet.region}:${fleet.account}:cluster/${name}`;
    const cluster = fleet.clusters.get(name);
    // A deleted cluster is still described (status INACTIVE), as AWS does for a while after deletion.
    if (cluster && (!ref.startsWith("arn:") || ref === arn)) {
      clusters.push(renderCluster(cluster, includesTags(input)));
    } else {
      failures.push({ arn, reason: "MISSING" });
    }
  }
  return { clusters, failures };
}

// ---- services -------------------------------------------------------------------------------------

const SCHEDULING_STRATEGIES = new Set(["REPLICA", "DAEMON"]);

function listServices(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const limit = maxResults(input, MAX_SERVICES);
  const launchType = optString(input, "launchType");
  if (launchType !== undefined && !LAUNCH_TYPES.has(launchType)) {
    throw invalidParameter(`Invalid launchType: ${launchType}.`);
  }
  const strategy = optString(input, "schedulingStrategy");
  if (strategy !== undefined && !SCHEDULING_STRATEGIES.has(strategy)) {
    throw invalidParameter(`Invalid schedulingStrategy: ${strategy}.`);
  }
  // INACTIVE services and ones replaced by a newer service of the same name are not listed.
  const keep = (s: ServiceRecord): boolean =>
    s.status !== "INACTIVE" &&
    cluster.services.get(s.name) === s &&
    (launchType === undefined || s.launchType === launchType) &&
    (strategy === undefined || s.schedulingStrategy === strategy);
  const start = decodeToken(optString(input, "nextToken"), "services", cluster.name);
  const { items, next } = page(cluster.serviceLog, start, limit, keep);
  return {
    serviceArns: items.map((s) => s.arn),
    ...(next !== undefined ? { nextToken: encodeToken("services", cluster.name, next) } : {}),
  };
}

function describeServices(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const refs = optStringList(input, "services");
  if (!refs || refs.length === 0) throw invalidParameter("Services cannot be empty.");
  if (refs.length > MAX_SERVICES) {
    throw invalidParameter(`Services cannot have more than ${MAX_SERVICES} elements.`);
  }
  const withTags = includesTags(input);
  const services: Json[] = [];
  const failures: Json[] = [];
  for (const ref of refs) {
    const service = fleet.serviceIn(cluster, ref);
    if (service) services.push(renderService(fleet, service, withTags));
    else
      failures.push({
        arn: ref.startsWith("arn:") ? ref : fleet.serviceArn(cluster.name, ref),
        reason: "MISSING",
      });
  }
  return { services, failures };
}

// ---- tasks ----------------------------------------------------------------------------------------

const LAUNCH_TYPES = new Set(["EC2", "FARGATE", "EXTERNAL"]);
const DESIRED_STATUSES = new Set(["RUNNING", "PENDING", "STOPPED"]);

function listTasks(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const limit = maxResults(input);
  const desiredStatus = optString(input, "desiredStatus") ?? "RUNNING";
  if (!DESIRED_STATUSES.has(desiredStatus))
    throw invalidParameter(`Invalid desiredStatus: ${desiredStatus}.`);
  const launchType = optString(input, "launchType");
  if (launchType !== undefined && !LAUNCH_TYPES.has(launchType)) {
    throw invalidParameter(`Invalid launchType: ${launchType}.`);
  }
  const family = optString(input, "family");
  const serviceName = optString(input, "serviceName");
  const startedBy = optString(input, "startedBy");
  const instanceRef = optString(input, "containerInstance");
  let host: HostRecord | undefined;
  if (instanceRef !== undefined) {
    host = instanceRef.startsWith("arn:") ? fleet.findHost(instanceRef) : cluster.hostsById.get(instanceRef);
    if (!host || host.cluster !== cluster) throw invalidParameter("Container instance not found.");
  }
  const service =
    serviceName === undefined ? undefined : `service:${serviceName.slice(serviceName.lastIndexOf("/") + 1)}`;
  const keep = (t: TaskRecord): boolean =>
    !t.removed &&
    t.desiredStatus === desiredStatus &&
    (launchType === undefined || t.launchType === launchType) &&
    (family === undefined || t.taskDefinition.family === family) &&
    (service === undefined || t.group === service) &&
    (startedBy === undefined || t.startedBy === startedBy) &&
    (host === undefined || t.host === host);
  const start = decodeToken(optString(input, "nextToken"), "tasks", cluster.name);
  const { items, next } = page(cluster.taskLog, start, limit, keep);
  return {
    taskArns: items.map((t) => t.arn),
    ...(next !== undefined ? { nextToken: encodeToken("tasks", cluster.name, next) } : {}),
  };
}

function describeTasks(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const refs = optStringList(input, "tasks");
  if (!refs || refs.length === 0) throw invalidParameter("Tasks cannot be empty.");
  if (refs.length > MAX_BATCH) throw invalidParameter("Tasks cannot have more than 100 elements.");
  const withTags = includesTags(input);
  const tasks: Json[] = [];
  const failures: Json[] = [];
  const prefix = `arn:aws:ecs:${fleet.region}:${fleet.account}:task/`;
  for (const ref of refs) {
    let task: TaskRecord | undefined;
    if (ref.startsWith("arn:")) {
      const found = fleet.findTask(ref);
      task = found && found.cluster === cluster ? found : undefined;
    } else {
      task = cluster.tasksById.get(ref);
    }
    if (task) tasks.push(renderTask(task, "api", withTags));
    else
      failures.push({
        arn: ref.startsWith("arn:") ? ref : `${prefix}${cluster.name}/${ref}`,
        reason: "MISSING",
      });
  }
  return { tasks, failures };
}

function describeTaskDefinition(fleet: Fleet, input: Json): Json {
  const ref = optString(input, "taskDefinition");
  const td = ref === undefined || ref === "" ? undefined : fleet.findTaskDefinition(ref);
  // AWS answers a ClientException (not a "not found" code) for an unknown task definition.
  if (!td || td.refused) throw new ApiError("ClientException", 400, "Unable to describe task definition.");
  return {
    taskDefinition: renderTaskDefinition(td),
    ...(includesTags(input) ? { tags: tagList(td.tags) } : {}),
  };
}

// ---- container instances --------------------------------------------------------------------------

const INSTANCE_STATUSES = new Set([
  "ACTIVE",
  "DRAINING",
  "REGISTERING",
  "DEREGISTERING",
  "REGISTRATION_FAILED",
]);

function listContainerInstances(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const limit = maxResults(input);
  const status = optString(input, "status");
  if (status !== undefined && !INSTANCE_STATUSES.has(status))
    throw invalidParameter(`Invalid status: ${status}.`);
  const keep = (h: HostRecord): boolean =>
    cluster.hostsById.has(h.id) && (status === undefined ? h.status !== "INACTIVE" : h.status === status);
  const start = decodeToken(optString(input, "nextToken"), "instances", cluster.name);
  const { items, next } = page(cluster.hostLog, start, limit, keep);
  return {
    containerInstanceArns: items.map((h) => h.containerInstanceArn),
    ...(next !== undefined ? { nextToken: encodeToken("instances", cluster.name, next) } : {}),
  };
}

function describeContainerInstances(fleet: Fleet, input: Json): Json {
  const cluster = targetCluster(fleet, input);
  const refs = optStringList(input, "containerInstances");
  if (!refs || refs.length === 0) throw invalidParameter("ContainerInstances cannot be empty.");
  if (refs.length > MAX_BATCH)
    throw invalidParameter("ContainerInstances cannot have more than 100 elements.");
  const withTags = includesTags(input);
  const containerInstances: Json[] = [];
  const failures: Json[] = [];
  for (const ref of refs) {
    const host = ref.startsWith("arn:") ? fleet.findHost(ref) : cluster.hostsById.get(ref);
    if (host && host.cluster === cluster && cluster.hostsById.has(host.id)) {
      const rendered = renderContainerInstance(host);
      if (!withTags) delete rendered.tags;
      containerInstances.push(rendered);
    } else {
      const arn = ref.startsWith("arn:")
        ? ref
        : `arn:aws:ecs:${fleet.region}:${fleet.account}:container-instance/${cluster.name}/${ref}`;
      failures.push({ arn, reason: "MISSING" });
    }
  }
  return { containerInstances, failures };
}
