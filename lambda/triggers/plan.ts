/**
 * Turns triggers into work, purely: a schedule or a resync means a reconcile (of all configured
 * clusters, or of the ones named); task events coalesce by cluster, each cluster's ARN parsed once. For
 * queue batches the plan also keeps which message asked for what, so that exactly the messages whose
 * work failed are handed back to SQS.
 */
import { type ClusterRef, clusterNameOf, parseClusterArn, type TaskView } from "../core/model.js";
import type { SingleTrigger, Trigger } from "./parse-trigger.js";

export interface ClusterEvents {
  cluster: ClusterRef;
  tasks: TaskView[];
}

export interface RunPlan {
  trigger: string;
  dryRun: boolean;
  force: boolean;
  /**
   * A resync asked for it: an operator resyncs when in doubt, so every listed task is described again
   * (a scheduled reconcile describes only what the recorded state lacks, and everything now and then).
   */
  fullDescribe: boolean;
  /**
   * Clusters to list and reconcile: the ones named, or (empty) every configured cluster. `complete` when
   * the listing covers every configured cluster, which is what allows clean-up of vanished ones.
   */
  reconcile?: { clusters: string[]; complete: boolean };
  /** Event tasks to apply, by cluster ARN. */
  events: Map<string, ClusterEvents>;
  /** Why nothing is to be done, when nothing is. */
  skipped?: string;
  /** Queue messages that could not be read: handed back at once. */
  rejected: { messageId: string; reason: string }[];
  /** Queue messages that were read, and the cluster each is about (none: the whole run). */
  messages: { messageId: string; cluster?: string }[];
  /** Task events from accounts not in ACCOUNTS: ignored, and counted. */
  unlistedAccountEvents: number;
}

/** What this deployment serves. */
export interface PlanScope {
  region: string;
  /** Configured cluster names or ARNs; empty means every cluster of the region. */
  clusters: readonly string[];
  /** ACCOUNTS: the accounts whose events are this deployment's; absent: any (the rule's own account). */
  accounts?: readonly string[];
}

export function isConfigured(cluster: ClusterRef, configured: readonly string[]): boolean {
  return configured.length === 0 || configured.some((ref) => ref === cluster.arn || ref === cluster.name);
}

export function planRun(trigger: Trigger, scope: PlanScope): RunPlan {
  const plan: RunPlan = {
    trigger: trigger.kind,
    dryRun: false,
    force: false,
    fullDescribe: false,
    events: new Map(),
    rejected: [],
    messages: [],
    unlistedAccountEvents: 0,
  };
  const triggers: SingleTrigger[] = [];
  if (trigger.kind === "queue") {
    for (const item of trigger.items) {
      if (item.trigger) {
        triggers.push(item.trigger);
        const t = item.trigger;
        plan.messages.push({
          messageId: item.messageId,
          ...(t.kind === "task-event" ? { cluster: clusterNameOf(t.clusterArn) } : {}),
        });
      } else {
        plan.rejected.push({ messageId: item.messageId, reason: item.error ?? "unreadable" });
      }
    }
  } else {
    triggers.push(trigger);
  }
  const skips: string[] = [];
  const subset: string[] = [];
  let full = false;
  for (const t of triggers) {
    if (t.kind === "task-event") {
      const skip = addEvent(plan, t, scope);
      if (skip) skips.push(skip);
      continue;
    }
    if (t.kind === "resync") {
      plan.dryRun ||= t.dryRun;
      plan.force ||= t.force;
      plan.fullDescribe = true;
    }
    if (t.kind === "resync" && t.clusters) {
      const outside = t.clusters.filter(
        (ref) =>
          scope.clusters.length > 0 && !scope.clusters.some((c) => clusterNameOf(c) === clusterNameOf(ref)),
      );
      if (outside.length > 0) skips.push(`not among the configured clusters: ${outside.join(", ")}`);
      else subset.push(...t.clusters);
    } else {
      full = true;
    }
  }
  if (full || subset.length > 0)
    plan.reconcile = { clusters: full ? [] : [...new Set(subset)], complete: full };
  if (!plan.reconcile && plan.events.size === 0) plan.skipped = skips[0] ?? "nothing to do";
  return plan;
}

/** Adds a task event to the plan, or says why it is not this deployment's. */
function addEvent(
  plan: RunPlan,
  t: Extract<SingleTrigger, { kind: "task-event" }>,
  scope: PlanScope,
): string | undefined {
  const cluster = parseClusterArn(t.clusterArn) as ClusterRef;
  if (t.region !== scope.region || cluster.region !== scope.region)
    return `event is for region ${cluster.region}; this deployment serves ${scope.region}`;
  if (scope.accounts && !scope.accounts.includes(cluster.accountId)) {
    plan.unlistedAccountEvents++;
    return `event is from account ${cluster.accountId}, which is not in ACCOUNTS`;
  }
  if (!isConfigured(cluster, scope.clusters))
    return `cluster ${cluster.name} is not among the configured clusters`;
  const entry = plan.events.get(cluster.arn) ?? { cluster, tasks: [] };
  entry.tasks.push(t.task);
  plan.events.set(cluster.arn, entry);
  return undefined;
}

/**
 * The queue messages to hand back to SQS: the unreadable ones, each task event of a cluster that failed,
 * and every reconcile request when any cluster failed.
 */
export function messagesToHandBack(plan: RunPlan, failedClusters: ReadonlySet<string>): string[] {
  const ids = plan.rejected.map((r) => r.messageId);
  for (const m of plan.messages) {
    const affected = m.cluster !== undefined ? failedClusters.has(m.cluster) : failedClusters.size > 0;
    if (affected) ids.push(m.messageId);
  }
  return [...new Set(ids)];
}
