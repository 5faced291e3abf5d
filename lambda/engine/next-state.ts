/**
 * The compute step of a cluster refresh: the state a cluster should have next, from a full listing
 * (reconcile) or from task events applied to its recorded state. Reads go through `discovery/`, the
 * folding is `state/`'s; this module decides which, logs what an operator needs to know, and returns its
 * counts.
 */
import type { ClusterInfo, ClusterRef, TaskView } from "../core/model.js";
import { relevantTasks } from "../core/rules.js";
import type { BuildResult, BuiltGroup } from "../core/targets.js";
import { discoverCluster } from "../discovery/discover-cluster.js";
import { readForEvents } from "../discovery/event-reads.js";
import { describeError } from "../shared/values.js";
import { applyEvents, orderEvents, pendingUpserts } from "../state/apply-events.js";
import { type ClusterState, churnGuard, mergeReconcile } from "../state/cluster-state.js";
import { deriveTargets } from "../state/memo.js";
import type { EngineDeps } from "./deps.js";
import { type ClusterCounts, emptyCounts } from "./summary.js";

export interface NextState {
  next: ClusterState;
  mode: "reconcile" | "events";
  /** Held back by the churn guard: `next` is the current state, marked as such. */
  held: boolean;
  reason?: string;
  /** The targets of `next`, when computing them was part of the step. */
  built?: BuildResult;
  counts: ClusterCounts;
}

export interface StepContext {
  deps: EngineDeps;
  cluster: ClusterRef;
  force: boolean;
  /** Describe every listed task (a resync); otherwise only when FULL_DESCRIBE_MINUTES have passed. */
  fullDescribe: boolean;
  /** Keep what is parsed and derived for later invocations (see StateMemo). */
  remember: boolean;
  /** The cluster's tags, when the run's listing described them. */
  clusterInfo?: ClusterInfo;
}

/** Events applied to the recorded state; with no usable state yet, a reconcile first (then the events). */
export async function nextState(
  ctx: StepContext,
  current: ClusterState | undefined,
  events: readonly TaskView[] | undefined,
): Promise<NextState> {
  if (events && current) {
    const applied = await eventsState(ctx, current, events);
    return { next: applied.next, mode: "events", held: false, counts: applied.counts };
  }
  const reconciled = await reconcileState(ctx, current);
  if (!events || reconciled.held) return reconciled;
  // A first event for a cluster bootstraps it; the event may still be newer than the listing.
  const applied = await eventsState(ctx, reconciled.next, events);
  const counts = reconciled.counts;
  counts.warnings += applied.counts.warnings;
  counts.events = applied.counts.events;
  return { next: applied.next, mode: "reconcile", held: false, counts };
}

function warnUnusable(
  ctx: StepContext,
  unusable: ReadonlyMap<string, string>,
  tasks: readonly TaskView[],
): number {
  for (const [arn, reason] of unusable) {
    ctx.deps.log.warn("task definition cannot be described; its tasks are skipped until it can", {
      cluster: ctx.cluster.name,
      taskDefinition: arn,
      tasks: tasks.filter((t) => t.taskDefinitionArn === arn).length,
      error: reason,
    });
  }
  return unusable.size;
}

async function eventsState(
  ctx: StepContext,
  current: ClusterState,
  events: readonly TaskView[],
): Promise<{ next: ClusterState; counts: ClusterCounts }> {
  const { deps, cluster } = ctx;
  const { rules, maxConcurrency } = deps.config;
  const ordered = orderEvents(events);
  const upserts = pendingUpserts(current, ordered);
  const reads = await readForEvents(deps.api, deps.caches, cluster, current, upserts, {
    rules,
    maxConcurrency,
  });
  const counts = emptyCounts();
  counts.warnings = warnUnusable(ctx, reads.unusable, upserts);
  const folded = applyEvents(current, ordered, reads, rules, (deps.now ?? Date.now)());
  counts.events = folded.counts;
  return { next: folded.state, counts };
}

/**
 * What makes a target the same target for drift: its address, task, container and endpoint. Labels that
 * change while a task runs and no event says so (health, tags, a service's status) are refreshed by the
 * reconcile, but are not drift: counting them would make "events are missed" out of every health check.
 */
function targetIdentity(group: BuiltGroup): string {
  const { labels } = group;
  return [group.targets.join(","), labels.task_arn, labels.container_name, labels.__meta_ecs_endpoint].join(
    "\n",
  );
}

/** Whether this reconcile describes every listed task: the first one, a resync, or one now and then. */
function describesAll(ctx: StepContext, current: ClusterState | undefined, now: number): boolean {
  if (!current || ctx.fullDescribe || current.describedAt === undefined) return true;
  return now - current.describedAt >= ctx.deps.config.fullDescribeMinutes * 60_000;
}

async function reconcileState(ctx: StepContext, current: ClusterState | undefined): Promise<NextState> {
  const { deps, cluster, remember } = ctx;
  const { rules, maxConcurrency, churnGuardPercent } = deps.config;
  const now = deps.now ?? Date.now;
  const memo = deps.caches.memo;
  const counts = emptyCounts();
  const startedAt = now();
  const full = describesAll(ctx, current, startedAt);
  const snapshot = await discoverCluster(
    deps.api,
    deps.caches,
    cluster.arn,
    { rules, maxConcurrency, full, ...(ctx.clusterInfo ? { clusterInfo: ctx.clusterInfo } : {}) },
    current,
  );
  deps.log.debug("listed", { cluster: cluster.name, tasks: snapshot.listed, described: snapshot.described });
  counts.warnings = warnUnusable(ctx, snapshot.unusableDefinitions, snapshot.tasks);
  const { staleHosts } = snapshot;
  if (staleHosts !== undefined) {
    counts.warnings++;
    deps.log.warn("EC2 instances could not be refreshed; their labels stay as last described", {
      cluster: cluster.name,
      error: describeError(staleHosts),
    });
  }
  const relevant = relevantTasks(snapshot.tasks, snapshot.taskDefinitions, rules);
  const merged = mergeReconcile(
    current,
    { ...snapshot, tasks: relevant, ...(full ? { describedAt: startedAt } : {}) },
    cluster.arn,
    startedAt,
    now(),
  );
  let built: BuildResult | undefined;
  if (current) {
    const before = new Set(deriveTargets(current, rules, memo, remember).groups.map(targetIdentity));
    built = deriveTargets(merged.state, rules, memo, remember);
    const after = new Set(built.groups.map(targetIdentity));
    for (const key of after) if (!before.has(key)) counts.drift.added++;
    for (const key of before) if (!after.has(key)) counts.drift.removed++;
  }
  const guard = churnGuard(current, merged.unexplainedRemovals, churnGuardPercent, ctx.force);
  if (guard.hold && current) {
    counts.heldBack++;
    deps.log.warn("churn guard: reconcile held back", { cluster: cluster.name, reason: guard.reason });
    return {
      next: { ...current, heldBack: { removals: merged.unexplainedRemovals, since: now() } },
      mode: "reconcile",
      held: true,
      ...(guard.reason ? { reason: `churn guard: ${guard.reason}` } : {}),
      counts,
    };
  }
  if (guard.reason)
    deps.log.info("churn guard: removal confirmed", { cluster: cluster.name, reason: guard.reason });
  // The caller publishes merged.state: it can reuse what was derived from it here.
  return { next: merged.state, mode: "reconcile", held: false, ...(built ? { built } : {}), counts };
}
