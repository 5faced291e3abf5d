import { type CallCounter, type CallCounts, isThrottle } from "./aws/call-counter.js";
import type { EcsReadApi } from "./aws/ecs-read-api.js";
import type { EngineConfig } from "./config.js";
import { type ClusterRef, clusterNameOf, parseClusterArn, type TargetGroup } from "./core/model.js";
import { buildTargetGroups, serializeGroups, type TargetRules } from "./core/targets.js";
import type { DiscoveryCaches } from "./discovery/caches.js";
import { discoverCluster } from "./discovery/discover-cluster.js";
import { mapLimit } from "./discovery/limit.js";
import type { QueueTrigger, SingleTrigger, Trigger } from "./events/parse-trigger.js";
import type { TargetOutput } from "./publish/target-output.js";

/** The logging surface the engine needs; Powertools' Logger satisfies it, and so does a console shim. */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export interface EngineDeps {
  api: EcsReadApi;
  output: TargetOutput;
  config: EngineConfig;
  caches: DiscoveryCaches;
  log: Log;
  counter: CallCounter;
  /** The region the clients talk to; events from other regions are not this deployment's. */
  region: string;
  /** The account, when known without a cluster ARN (from the Lambda context); used to clean up objects. */
  accountId?: string;
  now?: () => number;
}

export type ClusterStatus = "written" | "unchanged" | "failed" | "gone" | "dry-run";

export interface ClusterOutcome {
  cluster: string;
  status: ClusterStatus;
  tasks: number;
  targets: number;
  object?: string;
  error?: string;
}

export interface RunSummary {
  trigger: string;
  ok: boolean;
  /** A complete reconcile: every configured cluster listed and published, vanished ones cleaned up. */
  reconcile: boolean;
  dryRun: boolean;
  skipped?: string;
  clusters: ClusterOutcome[];
  tasks: number;
  targets: number;
  objects: { written: number; unchanged: number; deleted: number; failed: number };
  deleted: string[];
  warnings: number;
  apiCalls: Record<string, number>;
  throttles: Record<string, number>;
  apiErrors: Record<string, number>;
  durationMs: number;
  /** Queue batches: message ids to hand back to SQS for another try. */
  failedMessageIds?: string[];
  /** Dry runs: the groups that would have been written, by cluster name. */
  targetGroups?: Record<string, TargetGroup[]>;
}

// A conflicting write means another run published in between; rediscover and try again a few times.
const PUBLISH_ATTEMPTS = 3;

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  const name = e?.name && e.name !== "Error" ? `${e.name}: ` : "";
  return `${name}${e?.message ?? String(error)}`;
}

function rulesOf(config: EngineConfig): TargetRules {
  const rules: TargetRules = {
    labels: config.labels,
    selectors: config.selectors,
    includeTags: config.includeTags,
  };
  if (config.filter) rules.filter = config.filter;
  return rules;
}

function matchesRef(ref: string, cluster: ClusterRef): boolean {
  return ref === cluster.arn || ref === cluster.name;
}

interface Plan {
  trigger: string;
  dryRun: boolean;
  /** Cluster ARNs (or names, when not yet resolved) to discover. */
  clusters: string[];
  /** Whether objects of clusters outside `clusters` may be removed: only after a complete listing. */
  cleanUp: boolean;
  skipped?: string;
}

export class DiscoveryEngine {
  constructor(private readonly deps: EngineDeps) {}

  private get log(): Log {
    return this.deps.log;
  }

  /** True when configuration lets this deployment publish the cluster. */
  private configured(cluster: ClusterRef): boolean {
    const list = this.deps.config.clusters;
    return list.length === 0 || list.some((ref) => matchesRef(ref, cluster));
  }

  async run(trigger: Trigger): Promise<RunSummary> {
    if (trigger.kind === "queue") return this.runQueue(trigger);
    return this.runPlan(await this.plan(trigger));
  }

  private async plan(trigger: SingleTrigger): Promise<Plan> {
    if (trigger.kind === "task-event") {
      const cluster = parseClusterArn(trigger.clusterArn) as ClusterRef;
      const base = { trigger: "task-event", dryRun: false, clusters: [] as string[], cleanUp: false };
      if (trigger.region !== this.deps.region || cluster.region !== this.deps.region) {
        return {
          ...base,
          skipped: `event is for region ${cluster.region}; this deployment serves ${this.deps.region}`,
        };
      }
      if (!this.configured(cluster)) {
        return { ...base, skipped: `cluster ${cluster.name} is not among the configured clusters` };
      }
      return { ...base, clusters: [trigger.clusterArn] };
    }
    const dryRun = trigger.kind === "resync" && trigger.dryRun;
    const requested = trigger.kind === "resync" ? trigger.clusters : undefined;
    if (requested) {
      const configured = this.deps.config.clusters;
      const outside = requested.filter(
        (ref) =>
          configured.length > 0 &&
          !configured.some((c) => c === ref || clusterNameOf(c) === clusterNameOf(ref)),
      );
      if (outside.length > 0) {
        return {
          trigger: trigger.kind,
          dryRun,
          clusters: [],
          cleanUp: false,
          skipped: `not among the configured clusters: ${outside.join(", ")}`,
        };
      }
    }
    return { trigger: trigger.kind, dryRun, clusters: requested ?? [], cleanUp: !requested };
  }

  private async runQueue(trigger: QueueTrigger): Promise<RunSummary> {
    const failed: string[] = [];
    for (const item of trigger.items) {
      if (item.error) {
        this.log.error("queue message rejected", { messageId: item.messageId, reason: item.error });
        failed.push(item.messageId);
      }
    }
    const valid = trigger.items.filter((i) => i.trigger);
    // A batch coalesces: one full reconcile if any message asks for it, else one pass per affected cluster.
    const full = valid.some((i) => i.trigger?.kind === "schedule" || i.trigger?.kind === "resync");
    const byCluster = new Map<string, string[]>();
    let plan: Plan;
    if (full) {
      plan = { trigger: "queue", dryRun: false, clusters: [], cleanUp: true };
    } else {
      const clusters: string[] = [];
      const skips: string[] = [];
      for (const item of valid) {
        const p = await this.plan(item.trigger as SingleTrigger);
        if (p.skipped) skips.push(p.skipped);
        for (const c of p.clusters) {
          if (!byCluster.has(c)) {
            byCluster.set(c, []);
            clusters.push(c);
          }
          byCluster.get(c)?.push(item.messageId);
        }
      }
      plan = { trigger: "queue", dryRun: false, clusters, cleanUp: false };
      if (clusters.length === 0) plan.skipped = skips[0] ?? "no actionable messages";
    }
    const summary = await this.runPlan(plan);
    for (const outcome of summary.clusters) {
      if (outcome.status !== "failed") continue;
      if (full) failed.push(...valid.map((i) => i.messageId));
      else
        for (const [ref, ids] of byCluster) if (clusterNameOf(ref) === outcome.cluster) failed.push(...ids);
    }
    summary.failedMessageIds = [...new Set(failed)];
    summary.ok = summary.ok && failed.length === 0;
    return summary;
  }

  private async runPlan(plan: Plan): Promise<RunSummary> {
    const now = this.deps.now ?? Date.now;
    const started = now();
    const before: CallCounts = this.deps.counter.snapshot();
    const summary: RunSummary = {
      trigger: plan.trigger,
      ok: true,
      reconcile: plan.cleanUp,
      dryRun: plan.dryRun,
      clusters: [],
      tasks: 0,
      targets: 0,
      objects: { written: 0, unchanged: 0, deleted: 0, failed: 0 },
      deleted: [],
      warnings: 0,
      apiCalls: {},
      throttles: {},
      apiErrors: {},
      durationMs: 0,
    };
    if (plan.dryRun) summary.targetGroups = {};
    const finish = (): RunSummary => {
      const delta = this.deps.counter.since(before);
      summary.apiCalls = delta.calls;
      summary.throttles = delta.throttles;
      summary.apiErrors = delta.errors;
      summary.durationMs = now() - started;
      return summary;
    };
    if (plan.skipped) {
      summary.skipped = plan.skipped;
      this.log.info("nothing to do", { reason: plan.skipped });
      return finish();
    }

    let clusterArns: string[];
    let missing: string[] = [];
    try {
      ({ clusterArns, missing } = await this.resolveClusters(plan));
    } catch (error) {
      summary.ok = false;
      summary.skipped = `could not list clusters: ${describeError(error)}`;
      this.log.error("cluster listing failed; nothing was changed", { error: describeError(error) });
      throw Object.assign(new Error(summary.skipped), { summary: finish() });
    }
    for (const ref of missing)
      this.log.warn("configured cluster does not exist or is not ACTIVE", { cluster: ref });

    const outcomes = await mapLimit(clusterArns, this.deps.config.maxConcurrency, (arn) =>
      this.reconcileCluster(arn, plan.dryRun, summary),
    );
    summary.clusters = outcomes.sort((a, b) => a.cluster.localeCompare(b.cluster));
    for (const o of outcomes) {
      summary.tasks += o.tasks;
      summary.targets += o.targets;
      if (o.status === "written") summary.objects.written++;
      if (o.status === "unchanged") summary.objects.unchanged++;
      if (o.status === "failed") {
        summary.objects.failed++;
        summary.ok = false;
      }
    }
    if (plan.cleanUp && !plan.dryRun) await this.cleanUp(clusterArns, summary);
    return finish();
  }

  private async resolveClusters(plan: Plan): Promise<{ clusterArns: string[]; missing: string[] }> {
    if (plan.trigger === "task-event" || (plan.trigger === "queue" && !plan.cleanUp)) {
      return { clusterArns: plan.clusters, missing: [] };
    }
    const wanted = plan.clusters.length > 0 ? plan.clusters : this.deps.config.clusters;
    if (wanted.length === 0) return { clusterArns: await this.deps.api.listClusterArns(), missing: [] };
    const listing = await this.deps.api.describeClusters(wanted);
    return { clusterArns: listing.active, missing: listing.missing };
  }

  private async reconcileCluster(
    clusterArn: string,
    dryRun: boolean,
    summary: RunSummary,
  ): Promise<ClusterOutcome> {
    const ref = parseClusterArn(clusterArn);
    const name = clusterNameOf(clusterArn);
    if (!ref)
      return {
        cluster: name,
        status: "failed",
        tasks: 0,
        targets: 0,
        error: `not a cluster ARN: ${clusterArn}`,
      };
    const rules = rulesOf(this.deps.config);
    const objectRef = { accountId: ref.accountId, region: ref.region, name: ref.name };
    const location = this.deps.output.locationOf(objectRef);
    for (let attempt = 1; ; attempt++) {
      try {
        // Read first: the write below is conditional on exactly this version.
        const current = dryRun ? undefined : await this.deps.output.read(objectRef);
        const snapshot = await discoverCluster(this.deps.api, this.deps.caches, clusterArn, {
          rules,
          maxConcurrency: this.deps.config.maxConcurrency,
        });
        const built = buildTargetGroups({ ...snapshot, rules });
        for (const w of built.warnings) {
          this.log.warn(w.message, {
            cluster: ref.name,
            task: w.taskArn,
            container: w.container,
            label: w.label,
          });
        }
        summary.warnings += built.warnings.length;
        const outcome = {
          cluster: ref.name,
          tasks: snapshot.tasks.length,
          targets: built.groups.length,
          object: location,
        };
        if (dryRun) {
          if (summary.targetGroups) summary.targetGroups[ref.name] = built.groups;
          return { ...outcome, status: "dry-run" };
        }
        const body = serializeGroups(built.groups);
        if (current?.body === body) return { ...outcome, status: "unchanged" };
        if ((await this.deps.output.write(objectRef, body, current)) === "written") {
          this.log.info("published", { cluster: ref.name, targets: built.groups.length, object: location });
          return { ...outcome, status: "written" };
        }
        if (attempt >= PUBLISH_ATTEMPTS) throw new Error(`object changed under us ${attempt} times in a row`);
        this.log.info("object changed since it was read; rediscovering", { cluster: ref.name, attempt });
      } catch (error) {
        const reason = describeError(error);
        if ((error as { name?: string }).name === "ClusterNotFoundException") {
          this.log.warn("cluster no longer exists; its object goes with the next complete listing", {
            cluster: ref.name,
          });
          return { cluster: ref.name, status: "gone", tasks: 0, targets: 0, object: location, error: reason };
        }
        this.log.error("cluster not published; its last object stays in place", {
          cluster: ref.name,
          error: reason,
          throttled: isThrottle(error),
        });
        return { cluster: ref.name, status: "failed", tasks: 0, targets: 0, object: location, error: reason };
      }
    }
  }

  /** Removes objects of clusters that the (complete) listing no longer returns. */
  private async cleanUp(clusterArns: string[], summary: RunSummary): Promise<void> {
    const keep = new Map<string, Set<string>>();
    const scope = (accountId: string, region: string) => {
      const key = `${accountId}/${region}`;
      if (!keep.has(key)) keep.set(key, new Set());
      return keep.get(key) as Set<string>;
    };
    for (const arn of clusterArns) {
      const ref = parseClusterArn(arn);
      if (ref) scope(ref.accountId, ref.region).add(ref.name);
    }
    if (this.deps.accountId) scope(this.deps.accountId, this.deps.region);
    for (const [key, names] of keep) {
      const [accountId, region] = key.split("/") as [string, string];
      try {
        for (const name of await this.deps.output.listClusters(accountId, region)) {
          if (names.has(name)) continue;
          const ref = { accountId, region, name };
          await this.deps.output.remove(ref);
          summary.deleted.push(this.deps.output.locationOf(ref));
          summary.objects.deleted++;
          this.log.info("removed object of a cluster that no longer exists", { cluster: name });
        }
      } catch (error) {
        this.log.error("could not clean up objects of vanished clusters", { error: describeError(error) });
      }
    }
  }
}
