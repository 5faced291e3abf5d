import { type CallCounter, type CallCounts, isThrottle } from "./aws/call-counter.js";
import type { EcsReadApi } from "./aws/ecs-read-api.js";
import type { EngineConfig } from "./config.js";
import {
  type ClusterRef,
  clusterNameOf,
  type HostInfo,
  parseClusterArn,
  type TargetGroup,
  type TaskDefinitionSpec,
  type TaskView,
} from "./core/model.js";
import { normalizeTask } from "./core/normalize.js";
import {
  type BuildResult,
  buildTargetGroups,
  buildTaskTargets,
  serializeLines,
  type TargetRules,
} from "./core/targets.js";
import type { DiscoveryCaches } from "./discovery/caches.js";
import { describeTaskDefinitions, discoverCluster, resolveHosts } from "./discovery/discover-cluster.js";
import { chunk, mapLimit } from "./discovery/limit.js";
import type { QueueTrigger, SingleTrigger, Trigger } from "./events/parse-trigger.js";
import type { ObjectRef, StoredObject, TargetOutput } from "./publish/target-output.js";
import {
  type ClusterState,
  churnGuard,
  compact,
  decide,
  isRelevant,
  mergeReconcile,
  parseState,
  remove,
  serializeState,
  serializeTaskRecord,
  type TaskRecord,
  upsert,
} from "./state/cluster-state.js";

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
  /** Pauses between conflicting publish rounds; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
}

export type ClusterStatus = "written" | "unchanged" | "failed" | "gone" | "held-back" | "dry-run";

export interface ClusterOutcome {
  cluster: string;
  status: ClusterStatus;
  /** How the cluster was refreshed: a full listing, or events applied to its state. */
  mode: "reconcile" | "events";
  tasks: number;
  targets: number;
  object?: string;
  error?: string;
  /** Why a cluster was held back (the churn guard's finding). */
  reason?: string;
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
  events: { applied: number; stale: number; ignored: number };
  /** Targets a reconcile had to add or remove relative to the recorded state: missed events. */
  drift: { added: number; removed: number };
  heldBack: number;
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

// A conflicting write means another run published in between; read again and retry a few times.
const PUBLISH_ATTEMPTS = 4;
/**
 * Whole read-apply-write rounds of one cluster. During a storm two queue-driven invocations work on the
 * same cluster at once; without a randomized pause the slower one can lose every round to the faster one
 * and hand its whole batch back to SQS, whose visibility timeout is many minutes.
 */
const CONFLICT_ATTEMPTS = 8;

/** Full jitter: a random pause up to 50 ms · 2^attempt, capped at 2 s. */
export function conflictBackoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(2_000, 50 * 2 ** attempt));
}

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

function objectRefOf(cluster: ClusterRef): ObjectRef {
  return { accountId: cluster.accountId, region: cluster.region, name: cluster.name };
}

function groupKeys(groups: TargetGroup[]): Set<string> {
  return new Set(groups.map((g) => JSON.stringify(g)));
}

interface Plan {
  trigger: string;
  dryRun: boolean;
  force: boolean;
  /** Full reconcile of these clusters (ARNs, or names not yet resolved). */
  clusters: string[];
  /** Event tasks to apply, by cluster ARN. */
  events: Map<string, TaskView[]>;
  /** Whether objects of clusters outside `clusters` may be removed: only after a complete listing. */
  cleanUp: boolean;
  /** Whether `clusters` still has to be listed (all clusters, or the configured ones). */
  listClusters: boolean;
  skipped?: string;
}

type CommitResult = "written" | "unchanged" | "conflict";

export class DiscoveryEngine {
  private readonly rules: TargetRules;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: EngineDeps) {
    this.rules = rulesOf(deps.config);
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private get log(): Log {
    return this.deps.log;
  }

  /** True when configuration lets this deployment publish the cluster. */
  private configured(cluster: ClusterRef): boolean {
    const list = this.deps.config.clusters;
    return list.length === 0 || list.some((ref) => ref === cluster.arn || ref === cluster.name);
  }

  async run(trigger: Trigger): Promise<RunSummary> {
    if (trigger.kind === "queue") return this.runQueue(trigger);
    return this.runPlan(this.plan([trigger]));
  }

  /** Turns triggers into work: any schedule or resync means a full reconcile; events coalesce by cluster. */
  private plan(triggers: SingleTrigger[]): Plan {
    const plan: Plan = {
      trigger: triggers.length === 1 ? (triggers[0]?.kind ?? "queue") : "queue",
      dryRun: false,
      force: false,
      clusters: [],
      events: new Map(),
      cleanUp: false,
      listClusters: false,
    };
    const skips: string[] = [];
    const subset: string[] = [];
    let full = false;
    for (const trigger of triggers) {
      if (trigger.kind === "task-event") {
        const cluster = parseClusterArn(trigger.clusterArn) as ClusterRef;
        if (trigger.region !== this.deps.region || cluster.region !== this.deps.region) {
          skips.push(`event is for region ${cluster.region}; this deployment serves ${this.deps.region}`);
        } else if (!this.configured(cluster)) {
          skips.push(`cluster ${cluster.name} is not among the configured clusters`);
        } else {
          const list = plan.events.get(cluster.arn) ?? [];
          list.push(trigger.task);
          plan.events.set(cluster.arn, list);
        }
        continue;
      }
      if (trigger.kind === "resync") {
        plan.dryRun ||= trigger.dryRun;
        plan.force ||= trigger.force;
      }
      if (trigger.kind === "resync" && trigger.clusters) {
        const configured = this.deps.config.clusters;
        const outside = trigger.clusters.filter(
          (ref) => configured.length > 0 && !configured.some((c) => clusterNameOf(c) === clusterNameOf(ref)),
        );
        if (outside.length > 0) skips.push(`not among the configured clusters: ${outside.join(", ")}`);
        else subset.push(...trigger.clusters);
      } else {
        full = true;
      }
    }
    if (full || subset.length > 0) {
      plan.listClusters = true;
      plan.cleanUp = full;
      plan.clusters = full ? [] : [...new Set(subset)];
    }
    if (!plan.listClusters && plan.events.size === 0) plan.skipped = skips[0] ?? "nothing to do";
    return plan;
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
    const plan = this.plan(valid.map((i) => i.trigger as SingleTrigger));
    plan.trigger = "queue";
    const summary = await this.runPlan(plan);
    const failedClusters = new Set(
      summary.clusters.filter((c) => c.status === "failed").map((c) => c.cluster),
    );
    for (const item of valid) {
      const t = item.trigger as SingleTrigger;
      const affected =
        t.kind === "task-event" ? failedClusters.has(clusterNameOf(t.clusterArn)) : failedClusters.size > 0;
      if (affected) failed.push(item.messageId);
    }
    summary.failedMessageIds = [...new Set(failed)];
    summary.ok = summary.ok && failed.length === 0;
    return summary;
  }

  private newSummary(plan: Plan): RunSummary {
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
      events: { applied: 0, stale: 0, ignored: 0 },
      drift: { added: 0, removed: 0 },
      heldBack: 0,
      warnings: 0,
      apiCalls: {},
      throttles: {},
      apiErrors: {},
      durationMs: 0,
    };
    if (plan.dryRun) summary.targetGroups = {};
    return summary;
  }

  private async runPlan(plan: Plan): Promise<RunSummary> {
    const started = this.now();
    const before: CallCounts = this.deps.counter.snapshot();
    const summary = this.newSummary(plan);
    const finish = (): RunSummary => {
      const delta = this.deps.counter.since(before);
      summary.apiCalls = delta.calls;
      summary.throttles = delta.throttles;
      summary.apiErrors = delta.errors;
      summary.durationMs = this.now() - started;
      return summary;
    };
    if (plan.skipped) {
      summary.skipped = plan.skipped;
      this.log.info("nothing to do", { reason: plan.skipped });
      return finish();
    }

    let reconcileArns: string[] = [];
    if (plan.listClusters) {
      try {
        reconcileArns = await this.listClusters(plan.clusters);
      } catch (error) {
        summary.ok = false;
        summary.skipped = `could not list clusters: ${describeError(error)}`;
        this.log.error("cluster listing failed; nothing was changed", { error: describeError(error) });
        throw Object.assign(new Error(summary.skipped), { summary: finish() });
      }
    }
    const reconciling = new Set(reconcileArns);
    // Clusters being reconciled need no events applied: the listing already covers them.
    const eventArns = [...plan.events.keys()].filter((arn) => !reconciling.has(arn));
    const work = [
      ...reconcileArns.map((arn) => () => this.refreshCluster(arn, undefined, plan, summary)),
      ...eventArns.map((arn) => () => this.refreshCluster(arn, plan.events.get(arn), plan, summary)),
    ];
    const outcomes = await mapLimit(work, this.deps.config.maxConcurrency, (job) => job());
    summary.clusters = outcomes.sort((a, b) => a.cluster.localeCompare(b.cluster));
    for (const o of outcomes) {
      summary.tasks += o.tasks;
      summary.targets += o.targets;
      if (o.status === "written") summary.objects.written++;
      if (o.status === "unchanged" || o.status === "held-back") summary.objects.unchanged++;
      if (o.status === "failed") {
        summary.objects.failed++;
        summary.ok = false;
      }
    }
    if (plan.cleanUp && !plan.dryRun) await this.cleanUp(reconcileArns, summary);
    return finish();
  }

  private async listClusters(requested: string[]): Promise<string[]> {
    const wanted = requested.length > 0 ? requested : this.deps.config.clusters;
    if (wanted.length === 0) return this.deps.api.listClusterArns();
    const listing = await this.deps.api.describeClusters(wanted);
    for (const ref of listing.missing)
      this.log.warn("configured cluster does not exist or is not ACTIVE", { cluster: ref });
    return listing.active;
  }

  /** Hands the state's task definitions and hosts to the caches, so a cold start describes nothing twice. */
  private seedCaches(state: ClusterState | undefined): void {
    if (!state) return;
    const { caches } = this.deps;
    const known: Record<string, TaskDefinitionSpec>[] = [
      state.taskDefinitions,
      state.otherTaskDefinitions ?? {},
    ];
    for (const defs of known) {
      for (const [arn, def] of Object.entries(defs)) {
        if (!caches.taskDefinitions.has(arn)) caches.taskDefinitions.set(arn, Promise.resolve(def));
      }
    }
    for (const [arn, host] of Object.entries(state.hosts))
      if (!caches.hosts.has(arn)) caches.hosts.set(arn, host);
  }

  /**
   * The targets of a state. A warm Lambda reuses each unchanged task's share (same record, task
   * definition, host and configuration), so an event re-derives only the tasks it touched.
   */
  private derive(state: ClusterState, remember: boolean): BuildResult {
    const { derived } = this.deps.caches.memo;
    const { config } = this.deps;
    const taskDefinitions = new Map(Object.entries(state.taskDefinitions));
    const hosts = new Map(Object.entries(state.hosts));
    const tasks = Object.values(state.tasks);
    return buildTargetGroups({ tasks, taskDefinitions, hosts, rules: this.rules }, (task) => {
      const record = task as TaskRecord;
      const def = state.taskDefinitions[record.taskDefinitionArn];
      const host = record.containerInstanceArn ? state.hosts[record.containerInstanceArn] : undefined;
      const known = derived.get(record);
      if (known && known.def === def && known.host === host && known.config === config) return known.targets;
      const targets = buildTaskTargets(record, taskDefinitions, hosts, this.rules);
      if (remember) derived.set(record, { def, host, config, targets });
      return targets;
    });
  }

  /** `remember`: keep the parsed state for later invocations (event-driven runs; see StateMemo). */
  private async readState(
    ref: ObjectRef,
    clusterArn: string,
    remember: boolean,
  ): Promise<{ stored?: StoredObject; state?: ClusterState }> {
    const stored = await this.deps.output.read(ref, "state");
    if (!stored) return {};
    // The object this process last read or wrote: parsing it again would only rebuild the same records.
    const remembered = this.deps.caches.memo.states.get(clusterArn);
    if (remembered && remembered.etag !== "" && remembered.etag === stored.etag)
      return { stored, state: remembered.state };
    const state = parseState(stored.body, clusterArn);
    if (state) this.deps.caches.memo.states.remember(clusterArn, stored.etag, state, remember);
    if (!state) {
      this.log.warn("stored state is unreadable; rebuilding it from a full listing", {
        object: this.deps.output.locationOf(ref, "state"),
      });
    }
    return state ? { stored, state } : { stored };
  }

  /**
   * Refreshes one cluster: a full listing when `events` is undefined (or no usable state exists yet),
   * else the events applied to its recorded state. Any failed call leaves both objects as they were.
   */
  private async refreshCluster(
    clusterArn: string,
    events: TaskView[] | undefined,
    plan: Plan,
    summary: RunSummary,
  ): Promise<ClusterOutcome> {
    const cluster = parseClusterArn(clusterArn);
    const name = clusterNameOf(clusterArn);
    const mode = events ? "events" : "reconcile";
    if (!cluster)
      return {
        cluster: name,
        mode,
        status: "failed",
        tasks: 0,
        targets: 0,
        error: `not a cluster ARN: ${clusterArn}`,
      };
    const ref = objectRefOf(cluster);
    // Clusters that events touch are worth keeping parsed and derived between invocations; a reconcile
    // of the others would only fill the memory of a warm function with what it is unlikely to need.
    const remember = events !== undefined || this.deps.caches.memo.states.has(clusterArn);
    const object = this.deps.output.locationOf(ref);
    try {
      for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
        const [{ stored, state }, targets] = await Promise.all([
          this.readState(ref, clusterArn, remember),
          plan.dryRun ? Promise.resolve(undefined) : this.deps.output.read(ref),
        ]);
        this.seedCaches(state);
        let next: ClusterState;
        let held = false;
        let heldReason: string | undefined;
        let eventsMode = false;
        let derived: BuildResult | undefined;
        if (events && state) {
          next = await this.applyEvents(cluster, state, events, summary);
          eventsMode = true;
        } else {
          ({
            next,
            held,
            built: derived,
            reason: heldReason,
          } = await this.reconcile(cluster, state, plan.force, summary, remember));
          // A first event for a cluster bootstraps it; the event may still be newer than the listing.
          if (events && !held) {
            next = await this.applyEvents(cluster, next, events, summary);
            derived = undefined;
          }
        }
        const built = derived ?? this.derive(next, remember);
        for (const w of built.warnings) {
          this.log.warn(w.message, {
            cluster: cluster.name,
            task: w.taskArn,
            container: w.container,
            label: w.label,
          });
        }
        summary.warnings += built.warnings.length;
        const outcome = {
          cluster: cluster.name,
          mode: eventsMode ? ("events" as const) : ("reconcile" as const),
          tasks: Object.keys(next.tasks).length,
          targets: built.groups.length,
          object,
        };
        if (plan.dryRun) {
          if (summary.targetGroups) summary.targetGroups[cluster.name] = built.groups;
          return { ...outcome, status: "dry-run" };
        }
        const result = await this.commit(ref, next, built, stored, targets, remember);
        if (result === "conflict") {
          this.log.info("objects changed since they were read; reading again", {
            cluster: cluster.name,
            attempt,
          });
          await this.sleep(conflictBackoffMs(attempt));
          continue;
        }
        if (result === "written")
          this.log.info("published", { cluster: cluster.name, targets: built.groups.length, object });
        if (held) return { ...outcome, status: "held-back", ...(heldReason ? { reason: heldReason } : {}) };
        return { ...outcome, status: result };
      }
      throw new Error(`objects kept changing under concurrent runs (${CONFLICT_ATTEMPTS} attempts)`);
    } catch (error) {
      const reason = describeError(error);
      if ((error as { name?: string }).name === "ClusterNotFoundException") {
        this.log.warn("cluster no longer exists; its object goes with the next complete listing", {
          cluster: name,
        });
        return { cluster: name, mode, status: "gone", tasks: 0, targets: 0, object, error: reason };
      }
      this.log.error("cluster not published; its last object stays in place", {
        cluster: name,
        error: reason,
        throttled: isThrottle(error),
      });
      return { cluster: name, mode, status: "failed", tasks: 0, targets: 0, object, error: reason };
    }
  }

  private warnUnusable(
    cluster: ClusterRef,
    unusable: ReadonlyMap<string, string>,
    tasks: readonly TaskView[],
    summary: RunSummary,
  ): void {
    for (const [arn, reason] of unusable) {
      const skipped = tasks.filter((t) => t.taskDefinitionArn === arn).length;
      summary.warnings++;
      this.log.warn("task definition cannot be described; its tasks are skipped until it can", {
        cluster: cluster.name,
        taskDefinition: arn,
        tasks: skipped,
        error: reason,
      });
    }
  }

  private async reconcile(
    cluster: ClusterRef,
    current: ClusterState | undefined,
    force: boolean,
    summary: RunSummary,
    remember: boolean,
  ): Promise<{ next: ClusterState; held: boolean; built?: BuildResult; reason?: string }> {
    const startedAt = this.now();
    const snapshot = await discoverCluster(this.deps.api, this.deps.caches, cluster.arn, {
      rules: this.rules,
      maxConcurrency: this.deps.config.maxConcurrency,
    });
    this.warnUnusable(cluster, snapshot.unusableDefinitions, snapshot.tasks, summary);
    const { labels, selectors } = this.rules;
    const relevant = snapshot.tasks.filter((t) => {
      const def = snapshot.taskDefinitions.get(t.taskDefinitionArn);
      return def !== undefined && isRelevant(def, t, labels, selectors);
    });
    const merged = mergeReconcile(
      current,
      { ...snapshot, tasks: relevant },
      cluster.arn,
      startedAt,
      this.now(),
    );
    let built: BuildResult | undefined;
    if (current) {
      const before = groupKeys(this.derive(current, remember).groups);
      built = this.derive(merged.state, remember);
      const after = groupKeys(built.groups);
      for (const k of after) if (!before.has(k)) summary.drift.added++;
      for (const k of before) if (!after.has(k)) summary.drift.removed++;
    }
    const guard = churnGuard(current, merged.unexplainedRemovals, this.deps.config.churnGuardPercent, force);
    if (guard.hold && current) {
      summary.heldBack++;
      this.log.warn("churn guard: reconcile held back", { cluster: cluster.name, reason: guard.reason });
      return {
        next: { ...current, heldBack: { removals: merged.unexplainedRemovals, since: this.now() } },
        held: true,
        ...(guard.reason ? { reason: `churn guard: ${guard.reason}` } : {}),
      };
    }
    if (guard.reason)
      this.log.info("churn guard: removal confirmed", { cluster: cluster.name, reason: guard.reason });
    // The caller publishes merged.state: it can reuse what was derived from it here.
    return built ? { next: merged.state, held: false, built } : { next: merged.state, held: false };
  }

  /**
   * Applies task events to the recorded state. With warm caches this makes no ECS call at all: the event
   * carries the task; only a new task definition revision, a new host, or tags cost a describe.
   */
  private async applyEvents(
    cluster: ClusterRef,
    current: ClusterState,
    events: TaskView[],
    summary: RunSummary,
  ): Promise<ClusterState> {
    const { api, caches, config } = this.deps;
    // upsert, remove and compact replace records, never change one in place: copying the maps is enough
    // to leave `current` untouched, and far cheaper than a deep clone of thousands of tasks.
    const state: ClusterState = {
      ...current,
      tasks: { ...current.tasks },
      tombstones: { ...current.tombstones },
      taskDefinitions: { ...current.taskDefinitions },
      hosts: { ...current.hosts },
    };
    const now = this.now();
    const ordered = [...events].sort((a, b) => (a.version ?? 0) - (b.version ?? 0));
    const upserts = ordered.filter((t) => decide(state, t) === "upsert");

    const defArns = [...new Set(upserts.map((t) => t.taskDefinitionArn))];
    const { defs, unusable } = await describeTaskDefinitions(
      api,
      caches,
      defArns,
      config.maxConcurrency,
      state.taskDefinitions,
    );
    this.warnUnusable(cluster, unusable, upserts, summary);
    const relevant = upserts.filter((t) => {
      const def = defs.get(t.taskDefinitionArn);
      return def !== undefined && isRelevant(def, t, this.rules.labels, this.rules.selectors);
    });
    // Definitions with nothing to scrape are remembered too, so a cold start need not describe them again.
    const others = { ...(state.otherTaskDefinitions ?? {}) };
    for (const [arn, def] of defs) {
      if (!state.taskDefinitions[arn] && !relevant.some((t) => t.taskDefinitionArn === arn))
        others[arn] = def;
    }
    if (Object.keys(others).length > 0) state.otherTaskDefinitions = others;
    const hostArns = relevant.flatMap((t) => {
      const mode =
        defs.get(t.taskDefinitionArn)?.networkMode ?? (t.launchType === "FARGATE" ? "awsvpc" : "bridge");
      return (mode === "bridge" || mode === "host") &&
        t.containerInstanceArn &&
        !state.hosts[t.containerInstanceArn]
        ? [t.containerInstanceArn]
        : [];
    });
    const hosts: Map<string, HostInfo> = await resolveHosts(
      api,
      caches,
      cluster.arn,
      hostArns,
      config.maxConcurrency,
    );
    const tags = new Map<string, Record<string, string> | undefined>();
    if (this.rules.includeTags) {
      // Events never carry tags: new tasks are described once, with them.
      const newTasks = [...new Set(relevant.filter((t) => !state.tasks[t.taskArn]).map((t) => t.taskArn))];
      for (const batch of chunk(newTasks, 100)) {
        for (const raw of await api.describeTasks(cluster.arn, batch, true)) {
          const n = normalizeTask(raw);
          if ("task" in n) tags.set(n.task.taskArn, n.task.tags);
        }
      }
    }
    const relevantArns = new Set(relevant.map((t) => t.taskArn));
    for (const task of ordered) {
      const decision = decide(state, task);
      if (decision === "stale") {
        summary.events.stale++;
        continue;
      }
      if (decision === "upsert" && relevantArns.has(task.taskArn)) {
        const def = defs.get(task.taskDefinitionArn);
        if (def) state.taskDefinitions[def.taskDefinitionArn] = def;
        const host = task.containerInstanceArn ? hosts.get(task.containerInstanceArn) : undefined;
        if (host) state.hosts[host.containerInstanceArn] = host;
        const taskTags = tags.get(task.taskArn);
        upsert(state, taskTags ? { ...task, tags: taskTags } : task, now);
        summary.events.applied++;
      } else if (decision === "remove") {
        remove(state, task, now);
        summary.events.applied++;
      } else {
        summary.events.ignored++;
      }
    }
    return compact(state, now);
  }

  /**
   * The state is the commit point: it is written first, conditionally. The targets follow, also
   * conditionally; if another run wrote them meanwhile, they are only retried while our state is
   * still the newest (a newer state's writer publishes its own targets).
   */
  private async commit(
    ref: ObjectRef,
    next: ClusterState,
    built: BuildResult,
    storedState: StoredObject | undefined,
    storedTargets: StoredObject | undefined,
    remember: boolean,
  ): Promise<CommitResult> {
    const { output } = this.deps;
    const { recordJson, states } = this.deps.caches.memo;
    const stateBody = serializeState(next, (record) => {
      let json = recordJson.get(record);
      if (json === undefined) {
        json = serializeTaskRecord(record);
        if (remember) recordJson.set(record, json);
      }
      return json;
    });
    let stateEtag = storedState?.etag;
    if (stateBody !== storedState?.body) {
      stateEtag = await output.write(ref, stateBody, storedState, "state");
      if (stateEtag === undefined) return "conflict";
    }
    if (stateEtag) states.remember(next.clusterArn, stateEtag, next, remember);
    const body = serializeLines(built.lines);
    let expected = storedTargets;
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
      if (expected?.body === body) return attempt === 0 ? "unchanged" : "written";
      if ((await output.write(ref, body, expected)) !== undefined) return "written";
      const latest = await output.read(ref, "state");
      if (latest?.etag !== stateEtag) return "written";
      expected = await output.read(ref);
    }
    return "conflict";
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
          this.log.info("removed the objects of a cluster that no longer exists", { cluster: name });
        }
      } catch (error) {
        this.log.error("could not clean up objects of vanished clusters", { error: describeError(error) });
      }
    }
  }
}
