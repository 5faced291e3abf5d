/**
 * What a warm function remembers of the clusters it published, so an event costs in proportion to what
 * changed, not to the cluster's size: the parsed state by ETag, each task's targets and serialized record.
 */
import type { ClusterMeta } from "../core/group-labels.js";
import {
  type ClusterInfo,
  type HostInfo,
  type ServiceInfo,
  serviceNameOf,
  type TaskDefinitionSpec,
} from "../core/model.js";
import type { TargetRules } from "../core/rules.js";
import { type BuildResult, buildTargetGroups, buildTaskTargets, type TaskTargets } from "../core/targets.js";
import { type ClusterState, serializeState, serializeTaskRecord, type TaskRecord } from "./cluster-state.js";

/** What a task record turned into, valid while its task definition, host and rules are these. */
export interface DerivedTask {
  def: TaskDefinitionSpec | undefined;
  host: HostInfo | undefined;
  service: ServiceInfo | undefined;
  cluster: ClusterInfo | undefined;
  rules: TargetRules;
  targets: TaskTargets;
}

/**
 * Records are never changed in place (a change is a new record), so an entry keyed by a record is valid
 * for as long as that record is in use; WeakMaps forget the rest.
 */
export interface ClusterMemo {
  /** The state last read or written per cluster ARN, by the ETag it has in the output. */
  states: StateMemo;
  derived: WeakMap<TaskRecord, DerivedTask>;
  recordJson: WeakMap<TaskRecord, string>;
}

/**
 * Remembered states, least recently used first out once they hold more than `taskLimit` tasks in all.
 * Each remembered task keeps its record, groups and serialized forms alive (a few KB): the limit keeps
 * a warm function that sees many large clusters well inside its memory. The newest state always stays.
 * Only event-driven runs add clusters (`remember` with `add`); a reconcile refreshes the clusters already
 * remembered but adds none, or one reconcile of a large region would hold every cluster in memory.
 */
export class StateMemo {
  private readonly entries = new Map<string, { etag: string; state: ClusterState; tasks: number }>();
  private total = 0;

  constructor(private readonly taskLimit: number) {}

  get(clusterArn: string): { etag: string; state: ClusterState } | undefined {
    const entry = this.entries.get(clusterArn);
    if (!entry) return undefined;
    this.entries.delete(clusterArn);
    this.entries.set(clusterArn, entry);
    return entry;
  }

  /** Adds or refreshes the entry when `add`; otherwise refreshes it only if there is one. */
  remember(clusterArn: string, etag: string, state: ClusterState, add: boolean): void {
    if (add || this.entries.has(clusterArn)) this.set(clusterArn, etag, state);
  }

  set(clusterArn: string, etag: string, state: ClusterState): void {
    this.delete(clusterArn);
    const tasks = Object.keys(state.tasks).length;
    this.entries.set(clusterArn, { etag, state, tasks });
    this.total += tasks;
    for (const [arn] of this.entries) {
      if (this.total <= this.taskLimit || this.entries.size <= 1) break;
      this.delete(arn);
    }
  }

  private delete(clusterArn: string): void {
    const entry = this.entries.get(clusterArn);
    if (!entry) return;
    this.total -= entry.tasks;
    this.entries.delete(clusterArn);
  }

  has(clusterArn: string): boolean {
    return this.entries.has(clusterArn);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Tasks whose state a warm function keeps parsed (about 5 KB each with their targets). */
export const MEMO_TASK_LIMIT = 20_000;

export function createMemo(taskLimit = MEMO_TASK_LIMIT): ClusterMemo {
  return { states: new StateMemo(taskLimit), derived: new WeakMap(), recordJson: new WeakMap() };
}

/**
 * The targets of a state. A warm function reuses each unchanged task's share (same record, task
 * definition, host and rules), so an event re-derives only the tasks it touched. `remember` keeps what
 * is derived for later invocations.
 */
export function deriveTargets(
  state: ClusterState,
  rules: TargetRules,
  memo: ClusterMemo,
  remember: boolean,
): BuildResult {
  const taskDefinitions = new Map(Object.entries(state.taskDefinitions));
  const hosts = new Map(Object.entries(state.hosts));
  const tasks = Object.values(state.tasks);
  const meta: ClusterMeta = {};
  if (state.services) meta.services = state.services;
  if (state.cluster) meta.cluster = state.cluster;
  return buildTargetGroups({ tasks, taskDefinitions, hosts, rules, meta }, (task) => {
    const record = task as TaskRecord;
    const def = state.taskDefinitions[record.taskDefinitionArn];
    const host = record.containerInstanceArn ? state.hosts[record.containerInstanceArn] : undefined;
    const serviceName = serviceNameOf(record.group);
    const service = serviceName === undefined ? undefined : state.services?.[serviceName];
    const cluster = state.cluster;
    const known = memo.derived.get(record);
    if (
      known &&
      known.def === def &&
      known.host === host &&
      known.service === service &&
      known.cluster === cluster &&
      known.rules === rules
    )
      return known.targets;
    const targets = buildTaskTargets(record, taskDefinitions, hosts, rules, meta);
    if (remember) memo.derived.set(record, { def, host, service, cluster, rules, targets });
    return targets;
  });
}

/** The state's stored form, reusing the serialized records a warm function kept. */
export function serializeRemembered(state: ClusterState, memo: ClusterMemo, remember: boolean): string {
  return serializeState(state, (record) => {
    let json = memo.recordJson.get(record);
    if (json === undefined) {
      json = serializeTaskRecord(record);
      if (remember) memo.recordJson.set(record, json);
    }
    return json;
  });
}
