import {
  type ClusterInfo,
  DESCRIBED_ONLY,
  type HostInfo,
  isScrapeable,
  type ServiceInfo,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "../core/model.js";
import { isRecord } from "../shared/values.js";

/**
 * The engine's record of one cluster, stored next to (not inside) the published targets. The targets
 * are always derived from it, so any trigger (a reconcile, an event, a batch) that leaves the same state
 * publishes the same bytes. Pure functions only; reading and writing it is the engine's business.
 */

export const STATE_SCHEMA = 1;

export interface TaskRecord extends TaskView {
  /** When this version of the task was first recorded (epoch ms). */
  seenAt: number;
}

/**
 * A running task with nothing to scrape under the rules of its time: what it takes to tell whether it
 * still has nothing (its definition, and its service for selectors) without describing it again.
 */
export interface OtherTask {
  taskDefinitionArn: string;
  group?: string;
}

/** A task known to have stopped; a stopped task never runs again, so late RUNNING events are ignored. */
export interface Tombstone {
  version: number;
  at: number;
}

export interface ClusterState {
  schema: number;
  clusterArn: string;
  tasks: Record<string, TaskRecord>;
  tombstones: Record<string, Tombstone>;
  /** Task definitions and hosts the recorded tasks use: caches that survive Lambda cold starts. */
  taskDefinitions: Record<string, TaskDefinitionSpec>;
  hosts: Record<string, HostInfo>;
  /**
   * Task definitions of running tasks with nothing to scrape: kept (until a reconcile no longer lists
   * them) only so that a cold start does not describe them again. Absent in states written before.
   */
  otherTaskDefinitions?: Record<string, TaskDefinitionSpec>;
  /** Listed running tasks with nothing to scrape, by ARN (absent in states written before). */
  otherTasks?: Record<string, OtherTask>;
  /**
   * When a reconcile last described every listed task (epoch ms): the ones between describe only what
   * the state does not already know.
   */
  describedAt?: number;
  /** Services of the recorded tasks, by name (when services are published); refreshed by the reconcile. */
  services?: Record<string, ServiceInfo>;
  /** The cluster's tags (when tags are published); refreshed by the reconcile. */
  cluster?: ClusterInfo;
  /** Churn guard: a reconcile that would remove this many tasks was held back at `since`. */
  heldBack?: { removals: number; since: number };
}

/** ECS keeps stopped tasks visible for about an hour; events older than that are not worth guarding. */
export const TOMBSTONE_TTL_MS = 60 * 60 * 1000;

export function emptyState(clusterArn: string): ClusterState {
  return { schema: STATE_SCHEMA, clusterArn, tasks: {}, tombstones: {}, taskDefinitions: {}, hosts: {} };
}

/** Parses a stored state; anything unexpected (another schema, corruption) reads as "no state". */
export function parseState(body: string, clusterArn: string): ClusterState | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(value) || value.schema !== STATE_SCHEMA || value.clusterArn !== clusterArn) return undefined;
  for (const key of ["tasks", "tombstones", "taskDefinitions", "hosts"])
    if (!isRecord(value[key])) return undefined;
  for (const key of ["otherTaskDefinitions", "otherTasks", "services", "cluster"])
    if (value[key] !== undefined && !isRecord(value[key])) return undefined;
  if (value.describedAt !== undefined && typeof value.describedAt !== "number") return undefined;
  return value as unknown as ClusterState;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) if (value[key] !== undefined) out[key] = sortKeys(value[key]);
  return out;
}

/**
 * The stored form: keys sorted at every level, so equal states are equal bytes. `taskJson` may supply a
 * record's serialized form (a warm Lambda keeps them: re-serializing thousands of unchanged tasks per
 * event would cost more than the event); it must return what `JSON.stringify(sortKeys(record))` would.
 */
export function serializeState(
  state: ClusterState,
  taskJson: (record: TaskRecord) => string = serializeTaskRecord,
): string {
  const parts: string[] = [];
  for (const key of Object.keys(state).sort()) {
    const value = (state as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (key === "tasks") {
      const tasks = value as Record<string, TaskRecord>;
      // The key order JSON.stringify gives an object built in sorted order (integer-like keys first).
      const order: Record<string, true> = {};
      for (const arn of Object.keys(tasks).sort()) order[arn] = true;
      const entries = Object.keys(order).map(
        (arn) => `${JSON.stringify(arn)}:${taskJson(tasks[arn] as TaskRecord)}`,
      );
      parts.push(`"tasks":{${entries.join(",")}}`);
    } else {
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(sortKeys(value))}`);
    }
  }
  return `{${parts.join(",")}}\n`;
}

/** A record's serialized form, as serializeState writes it. */
export function serializeTaskRecord(record: TaskRecord): string {
  return JSON.stringify(sortKeys(record));
}

export type EventDecision = "stale" | "upsert" | "remove" | "ignore";

const STOPPING = new Set(["STOPPED", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "DELETED"]);

/** What an event's view of a task means for the state; versions make duplicates and late events no-ops. */
export function decide(state: ClusterState, task: TaskView): EventDecision {
  const record = state.tasks[task.taskArn];
  const tombstone = state.tombstones[task.taskArn];
  const version = task.version;
  if (version !== undefined) {
    if (record?.version !== undefined && version <= record.version) return "stale";
    if (tombstone && version <= tombstone.version) return "stale";
  }
  if (isScrapeable(task)) return tombstone ? "stale" : "upsert";
  if (STOPPING.has(task.desiredStatus ?? "") || STOPPING.has(task.lastStatus ?? "")) return "remove";
  return record ? "remove" : "ignore";
}

/** Drops task definitions, hosts and services no recorded task uses, and tombstones past their time. */
export function compact(state: ClusterState, now: number): ClusterState {
  const taskDefinitions: Record<string, TaskDefinitionSpec> = {};
  const hosts: Record<string, HostInfo> = {};
  const services: Record<string, ServiceInfo> = {};
  for (const t of Object.values(state.tasks)) {
    const def = state.taskDefinitions[t.taskDefinitionArn];
    if (def) taskDefinitions[t.taskDefinitionArn] = def;
    const host = t.containerInstanceArn ? state.hosts[t.containerInstanceArn] : undefined;
    if (host) hosts[host.containerInstanceArn] = host;
    const name = serviceNameOf(t.group);
    const service = name === undefined ? undefined : state.services?.[name];
    if (name !== undefined && service) services[name] = service;
  }
  const tombstones: Record<string, Tombstone> = {};
  for (const [arn, t] of Object.entries(state.tombstones))
    if (now - t.at < TOMBSTONE_TTL_MS) tombstones[arn] = t;
  const out: ClusterState = { ...state, taskDefinitions, hosts, tombstones };
  if (Object.keys(services).length > 0) out.services = services;
  else delete out.services;
  return out;
}

/** The same task's newer view: what only describes tell (events never carry it) stays from the earlier one. */
export function withDescribedFacts(task: TaskView, previous: TaskView | undefined): TaskView {
  if (!previous) return task;
  let merged: TaskView | undefined;
  for (const key of DESCRIBED_ONLY) {
    if (task[key] !== undefined || previous[key] === undefined) continue;
    // The ENI's public address belongs to that ENI only.
    if (key === "publicIp" && previous.eniId !== task.eniId) continue;
    merged ??= { ...task };
    (merged as unknown as Record<string, unknown>)[key] = previous[key];
  }
  return merged ?? task;
}

export function upsert(state: ClusterState, task: TaskView, now: number): void {
  const previous = state.tasks[task.taskArn];
  const sameVersion = previous && previous.version === task.version;
  state.tasks[task.taskArn] = {
    ...withDescribedFacts(task, previous),
    seenAt: sameVersion ? previous.seenAt : now,
  };
  delete state.tombstones[task.taskArn];
}

export function remove(state: ClusterState, task: Pick<TaskView, "taskArn" | "version">, now: number): void {
  const previous = state.tasks[task.taskArn];
  delete state.tasks[task.taskArn];
  const version = task.version ?? previous?.version ?? 0;
  const existing = state.tombstones[task.taskArn];
  if (!existing || existing.version < version) state.tombstones[task.taskArn] = { version, at: now };
}

export interface ReconcileSnapshot {
  /** Running tasks whose task definition is relevant, as DescribeTasks gave them. */
  tasks: TaskView[];
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>;
  hosts: ReadonlyMap<string, HostInfo>;
  /** The services of the tasks, freshly described (absent: services are not published). */
  services?: ReadonlyMap<string, ServiceInfo>;
  /** The cluster's tags, freshly described (absent: tags are not published). */
  clusterInfo?: ClusterInfo;
  /** Listed running tasks with nothing to scrape. */
  otherTasks?: Readonly<Record<string, OtherTask>>;
  /** Set when the listing described every task: the time to record as `describedAt`. */
  describedAt?: number;
}

/** Equal in the stored form. */
export function sameStoredForm(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

/** `fresh`, or `old` when equal to it: an unchanged object keeps the targets derived from it valid. */
function keepIfSame<T>(fresh: T, old: T | undefined): T {
  return old !== undefined && sameStoredForm(old, fresh) ? old : fresh;
}

export interface MergeResult {
  state: ClusterState;
  /** Tasks the reconcile removed without any stop event having said so. */
  unexplainedRemovals: number;
}

/**
 * Folds a fresh listing into the state. The listing is the truth as of `startedAt`; anything events
 * recorded after that (a task that started, or stopped, while the listing ran) wins where it is newer.
 */
export function mergeReconcile(
  current: ClusterState | undefined,
  snapshot: ReconcileSnapshot,
  clusterArn: string,
  startedAt: number,
  now: number,
): MergeResult {
  const base = current ?? emptyState(clusterArn);
  const next: ClusterState = {
    schema: STATE_SCHEMA,
    clusterArn,
    tasks: {},
    tombstones: { ...base.tombstones },
    taskDefinitions: { ...base.taskDefinitions },
    hosts: { ...base.hosts },
  };
  for (const [arn, def] of snapshot.taskDefinitions) next.taskDefinitions[arn] = def;
  for (const [arn, host] of snapshot.hosts) next.hosts[arn] = keepIfSame(host, base.hosts[arn]);
  if (snapshot.services) {
    next.services = {};
    for (const [name, s] of snapshot.services) next.services[name] = keepIfSame(s, base.services?.[name]);
  }
  const cluster = snapshot.clusterInfo ? keepIfSame(snapshot.clusterInfo, base.cluster) : base.cluster;
  if (cluster) next.cluster = cluster;
  // Every definition the listing used but no recorded task needs; the set is replaced, so it stays small.
  const used = new Set(snapshot.tasks.map((t) => t.taskDefinitionArn));
  const others: Record<string, TaskDefinitionSpec> = {};
  for (const [arn, def] of snapshot.taskDefinitions) if (!used.has(arn)) others[arn] = def;
  if (Object.keys(others).length > 0) next.otherTaskDefinitions = others;
  if (snapshot.otherTasks && Object.keys(snapshot.otherTasks).length > 0)
    next.otherTasks = { ...snapshot.otherTasks };
  const describedAt = snapshot.describedAt ?? base.describedAt;
  if (describedAt !== undefined) next.describedAt = describedAt;
  const listed = new Set<string>();
  for (const task of snapshot.tasks) {
    listed.add(task.taskArn);
    const tombstone = base.tombstones[task.taskArn];
    if (tombstone && (task.version ?? 0) <= tombstone.version) continue;
    const record = base.tasks[task.taskArn];
    // A record the listing kept without describing it again is the same object: memos derived from it hold.
    if (record && (task === record || (record.version ?? 0) > (task.version ?? 0))) {
      next.tasks[task.taskArn] = record;
      continue;
    }
    const sameVersion = record && record.version === task.version;
    next.tasks[task.taskArn] = {
      ...withDescribedFacts(task, record),
      seenAt: sameVersion ? record.seenAt : now,
    };
  }
  let unexplainedRemovals = 0;
  for (const [arn, record] of Object.entries(base.tasks)) {
    if (listed.has(arn)) continue;
    if (record.seenAt >= startedAt) {
      next.tasks[arn] = record;
      continue;
    }
    unexplainedRemovals++;
    next.tombstones[arn] = { version: record.version ?? 0, at: now };
  }
  return { state: compact(next, now), unexplainedRemovals };
}

export interface ChurnDecision {
  hold: boolean;
  reason?: string;
}

/**
 * The churn guard: a reconcile that would remove more than `maxPercent` of a cluster's tasks at once,
 * with no stop events explaining it, is held back once; the next reconcile that sees the same drop
 * publishes it. One bad listing (an API answering short) thus never empties a cluster's targets.
 */
export function churnGuard(
  current: ClusterState | undefined,
  unexplainedRemovals: number,
  maxPercent: number,
  force: boolean,
): ChurnDecision {
  if (!current || force || maxPercent >= 100 || unexplainedRemovals === 0) return { hold: false };
  const before = Object.keys(current.tasks).length;
  if (before === 0) return { hold: false };
  const percent = (unexplainedRemovals / before) * 100;
  if (percent <= maxPercent) return { hold: false };
  if (current.heldBack) return { hold: false, reason: "confirmed by a second reconcile" };
  return {
    hold: true,
    reason: `would remove ${unexplainedRemovals} of ${before} tasks (${percent.toFixed(0)} %) without stop events; held back until the next reconcile confirms`,
  };
}
