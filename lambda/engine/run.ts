/**
 * A run, as Prometheus's discovery refresh reads: plan the triggers → list the clusters → refresh each
 * cluster with bounded concurrency → tally → clean up.
 */
import { type ClusterInfo, clusterNameOf, parseClusterArn } from "../core/model.js";
import { mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
import type { Trigger } from "../triggers/parse-trigger.js";
import { messagesToHandBack, planRun, type RunPlan } from "../triggers/plan.js";
import { cleanUp } from "./clean-up.js";
import type { EngineDeps } from "./deps.js";
import { type ClusterWork, refreshCluster } from "./refresh-cluster.js";
import {
  ClusterListingError,
  type ClusterResult,
  emptyCounts,
  type RunSummary,
  summarize,
} from "./summary.js";

export class DiscoveryEngine {
  private readonly now: () => number;

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Runs the trigger. Throws ClusterListingError (with the summary) when the clusters cannot be listed. */
  async run(trigger: Trigger): Promise<RunSummary> {
    const { deps } = this;
    const started = this.now();
    const before = deps.counter.snapshot();
    const plan = planRun(trigger, { region: deps.region, clusters: deps.config.clusters });
    for (const r of plan.rejected)
      deps.log.error("queue message rejected", { messageId: r.messageId, reason: r.reason });
    const tally = (results: ClusterResult[], deleted: string[] = [], skipped?: string): RunSummary =>
      summarize({
        trigger: plan.trigger,
        reconcile: plan.reconcile?.complete ?? false,
        dryRun: plan.dryRun,
        ...(skipped !== undefined ? { skipped } : {}),
        results,
        deleted,
        calls: deps.counter.since(before),
        durationMs: this.now() - started,
      });
    if (plan.skipped) {
      deps.log.info("nothing to do", { reason: plan.skipped });
      return this.settleQueue(plan, tally([], [], plan.skipped));
    }
    let listed: string[] = [];
    let info = new Map<string, ClusterInfo>();
    if (plan.reconcile) {
      try {
        ({ active: listed, info } = await this.listClusters(plan.reconcile.clusters));
      } catch (error) {
        deps.log.error("cluster listing failed; nothing was changed", { error: describeError(error) });
        const summary = tally([], [], `could not list clusters: ${describeError(error)}`);
        summary.ok = false;
        throw new ClusterListingError(summary);
      }
    }
    const results = await mapLimit(this.work(plan, listed, info), deps.config.maxConcurrency, (w) =>
      "cluster" in w ? refreshCluster(deps, w) : Promise.resolve(w.result),
    );
    const deleted = plan.reconcile?.complete && !plan.dryRun ? await cleanUp(deps, listed) : [];
    return this.settleQueue(plan, tally(results, deleted));
  }

  /** Clusters being reconciled need no events applied: the listing already covers them. */
  private work(
    plan: RunPlan,
    listed: readonly string[],
    info: ReadonlyMap<string, ClusterInfo>,
  ): (ClusterWork | { result: ClusterResult })[] {
    const { dryRun, force, fullDescribe } = plan;
    const work: (ClusterWork | { result: ClusterResult })[] = listed.map((arn) => {
      const cluster = parseClusterArn(arn);
      const clusterInfo = info.get(arn);
      if (!cluster) return { result: unparsable(arn) };
      return { cluster, dryRun, force, fullDescribe, ...(clusterInfo ? { clusterInfo } : {}) };
    });
    const reconciling = new Set(listed);
    for (const [arn, { cluster, tasks }] of plan.events) {
      if (!reconciling.has(arn)) work.push({ cluster, events: tasks, dryRun, force, fullDescribe: false });
    }
    return work;
  }

  /**
   * The clusters to reconcile, with their tags: DescribeClusters takes 100 clusters a call, so tags cost
   * one call per 100 clusters, made only when tags are published and the listing had no need of it anyway.
   */
  private async listClusters(
    requested: string[],
  ): Promise<{ active: string[]; info: Map<string, ClusterInfo> }> {
    const { api, config, log } = this.deps;
    const wanted = requested.length > 0 ? requested : config.clusters;
    if (wanted.length === 0) {
      const arns = await api.listClusterArns();
      if (!config.rules.includeTags || arns.length === 0) return { active: arns, info: new Map() };
      return { active: arns, info: (await api.describeClusters(arns)).info };
    }
    const listing = await api.describeClusters(wanted);
    for (const ref of listing.missing)
      log.warn("configured cluster does not exist or is not ACTIVE", { cluster: ref });
    return listing;
  }

  /** Queue batches: which messages go back to SQS for another try. */
  private settleQueue(plan: RunPlan, summary: RunSummary): RunSummary {
    if (plan.trigger !== "queue") return summary;
    const failedClusters = new Set(
      summary.clusters.filter((c) => c.status === "failed").map((c) => c.cluster),
    );
    summary.failedMessageIds = messagesToHandBack(plan, failedClusters);
    summary.ok = summary.ok && summary.failedMessageIds.length === 0;
    return summary;
  }
}

function unparsable(arn: string): ClusterResult {
  return {
    outcome: {
      cluster: clusterNameOf(arn),
      mode: "reconcile",
      status: "failed",
      tasks: 0,
      targets: 0,
      error: `not a cluster ARN: ${arn}`,
    },
    counts: emptyCounts(),
  };
}
