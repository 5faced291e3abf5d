/**
 * A run, as Prometheus's discovery refresh reads: plan the triggers → list the clusters → refresh each
 * cluster with bounded concurrency → tally → clean up.
 */
import { type ClusterInfo, clusterNameOf, parseClusterArn } from "../core/model.js";
import { mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
import type { Trigger } from "../triggers/parse-trigger.js";
import { messagesToHandBack, planRun, type RunPlan } from "../triggers/plan.js";
import {
  type AccountScope,
  type AccountsListing,
  accountScope,
  depsFor,
  listAccountClusters,
  listAccounts,
} from "./accounts.js";
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
    let accounts: AccountsListing | undefined;
    const tally = (plan: RunPlan, results: ClusterResult[], deleted: string[] = [], skipped?: string) =>
      summarize({
        trigger: plan.trigger,
        reconcile: plan.reconcile?.complete ?? false,
        dryRun: plan.dryRun,
        ...(skipped !== undefined ? { skipped } : {}),
        results,
        deleted,
        calls: deps.counter.since(before),
        durationMs: this.now() - started,
        ...(accounts ? { accounts: accounts.outcomes } : {}),
        unlistedAccountEvents: plan.unlistedAccountEvents,
      });
    const fail = (plan: RunPlan, error: unknown): never => {
      deps.log.error("cluster listing failed; nothing was changed", { error: describeError(error) });
      const summary = tally(plan, [], [], `could not list clusters: ${describeError(error)}`);
      summary.ok = false;
      throw new ClusterListingError(summary);
    };
    // Several accounts: the own account is known before any event is judged (the CLI asks STS for it).
    let scope: AccountScope | undefined;
    let scopeError: unknown;
    try {
      scope = await accountScope(deps);
    } catch (error) {
      scopeError = error;
    }
    const plan = planRun(trigger, {
      region: deps.region,
      clusters: deps.config.clusters,
      ...(scope ? { accounts: scope.accounts } : {}),
    });
    if (scopeError !== undefined) fail(plan, scopeError);
    for (const r of plan.rejected)
      deps.log.error("queue message rejected", { messageId: r.messageId, reason: r.reason });
    if (plan.skipped) {
      deps.log.info("nothing to do", { reason: plan.skipped });
      return this.settleQueue(plan, tally(plan, [], [], plan.skipped));
    }
    let listed: string[] = [];
    let info = new Map<string, ClusterInfo>();
    if (plan.reconcile && scope) {
      accounts = await listAccounts(deps, scope, plan.reconcile.clusters);
      if (accounts.listedAccounts.length === 0 && accounts.outcomes.length > 0)
        fail(plan, accounts.outcomes.map((o) => `${o.account}: ${o.error}`).join("; "));
      ({ active: listed, info } = accounts);
    } else if (plan.reconcile) {
      try {
        ({ active: listed, info } = await listAccountClusters(
          deps,
          plan.reconcile.clusters.length > 0 ? plan.reconcile.clusters : deps.config.clusters,
        ));
      } catch (error) {
        fail(plan, error);
      }
    }
    const results = await mapLimit(this.work(plan, listed, info), deps.config.maxConcurrency, (w) =>
      "cluster" in w
        ? refreshCluster(depsFor(deps, scope, w.cluster.accountId), w)
        : Promise.resolve(w.result),
    );
    const deleted =
      plan.reconcile?.complete && !plan.dryRun ? await cleanUp(deps, listed, accounts?.listedAccounts) : [];
    return this.settleQueue(plan, tally(plan, results, deleted));
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
