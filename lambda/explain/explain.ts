/**
 * `explain`: for every container of the tasks asked about, the targets it gives or the one reason it gives
 * none (core/verdicts.ts, the same judgement target building makes). Read-only: it describes what the
 * reconcile would describe and writes nothing.
 */
import type { ClusterListing, EcsReadApi, TaskFilter, TaskFinder } from "../aws/ecs-read-api.js";
import { DESCRIBE_BATCH } from "../aws/ecs-read-api.js";
import type { EngineConfig } from "../config.js";
import type { ClusterMeta } from "../core/group-labels.js";
import {
  type ClusterInfo,
  isScrapeable,
  parseClusterArn,
  serviceNameOf,
  type TaskView,
} from "../core/model.js";
import { normalizeTask } from "../core/normalize.js";
import type { Reason } from "../core/skip-reasons.js";
import { type ContainerVerdict, judgeTask } from "../core/verdicts.js";
import type { DiscoveryCaches } from "../discovery/caches.js";
import {
  describeServices,
  describeTaskDefinitions,
  publicIpsOf,
  resolveHosts,
} from "../discovery/describe.js";
import { isServiceNotFound } from "../shared/aws-errors.js";
import { chunk, mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
import { isConfigured } from "../triggers/plan.js";

/** What to explain: one task, a service's tasks or a family's tasks, in the given clusters or all. */
export interface ExplainQuery {
  /** Several accounts (ACCOUNTS): the member account to look in; default the one a task ARN names, or the own. */
  account?: string;
  clusters?: string[];
  task?: string;
  service?: string;
  family?: string;
}

export interface ExplainedContainer {
  cluster: string;
  clusterArn: string;
  taskArn: string;
  taskDefinitionArn: string;
  lastStatus: string | null;
  desiredStatus: string | null;
  container: string;
  reason: Reason;
  /** `host:port` of each target. */
  targets: string[];
  detail: string;
  facts: Record<string, unknown>;
  /** The target groups, labels and all, as Prometheus gets them. */
  groups: { targets: string[]; labels: Record<string, string> }[];
  notes: string[];
}

export interface ExplainReport {
  action: "explain";
  query: ExplainQuery;
  /** The clusters searched, by ARN. */
  clusters: string[];
  containers: ExplainedContainer[];
  /** Containers by reason. */
  reasons: Partial<Record<Reason, number>>;
  /** What was asked for and not found. */
  notFound: string[];
  /** Clusters that could not be searched, and why. */
  errors: { cluster: string; error: string }[];
}

export interface ExplainDeps {
  api: EcsReadApi;
  finder: TaskFinder;
  caches: DiscoveryCaches;
  config: EngineConfig;
  /** The region this deployment discovers. */
  region: string;
  /** Several accounts: the readers of the member accounts, and the own account. */
  accounts?: { apiFor(account: string): EcsReadApi & TaskFinder; own(): Promise<string> };
}

/** The account a query is about, when it names one (explicitly, or by a task or cluster ARN). */
function accountOf(query: ExplainQuery): string | undefined {
  if (query.account) return query.account;
  const arns = [query.task, ...(query.clusters ?? [])];
  for (const ref of arns) {
    const m = ref ? /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:(\d{12}):/.exec(ref) : null;
    if (m) return m[1];
  }
  return undefined;
}

/** The deps that read the query's account: a member's assumed role, or the own credentials. */
async function readersFor(deps: ExplainDeps, query: ExplainQuery): Promise<ExplainDeps> {
  const account = accountOf(query);
  if (!account || !deps.accounts || account === (await deps.accounts.own())) return deps;
  const api = deps.accounts.apiFor(account);
  return { ...deps, api, finder: api };
}

/** The cluster named in a task ARN of the long form (arn:…:task/CLUSTER/ID). */
function clusterOfTaskArn(task: string): string | undefined {
  const m = /^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):(\d{12}):task\/([A-Za-z0-9_-]{1,255})\/[A-Za-z0-9]+$/.exec(
    task,
  );
  return m ? `arn:${m[1]}:ecs:${m[2]}:${m[3]}:cluster/${m[4]}` : undefined;
}

async function clustersToSearch(
  deps: ExplainDeps,
  query: ExplainQuery,
): Promise<ClusterListing & { unsearched?: string }> {
  const fromTask = query.task ? clusterOfTaskArn(query.task) : undefined;
  const named = query.clusters?.length ? query.clusters : fromTask ? [fromTask] : [];
  if (named.length > 0) return deps.api.describeClusters(named);
  // Every cluster, not only the discovered ones: "cluster-not-discovered" is an answer too.
  const every = await deps.api.listClusterArns();
  if (every.length === 0) return { active: [], info: new Map<string, ClusterInfo>(), missing: [] };
  try {
    return await deps.api.describeClusters(every);
  } catch (error) {
    // The function's role may read only the clusters of CLUSTERS: those are still worth an answer.
    if (deps.config.clusters.length === 0) throw error;
    return { ...(await deps.api.describeClusters(deps.config.clusters)), unsearched: describeError(error) };
  }
}

async function taskArnsIn(deps: ExplainDeps, cluster: string, query: ExplainQuery): Promise<string[]> {
  if (query.task) return [query.task];
  const filter = query.service ? { serviceName: query.service } : { family: query.family as string };
  const list = async (desiredStatus: TaskFilter["desiredStatus"]) => {
    try {
      return await deps.finder.listTaskArns(cluster, { ...filter, desiredStatus });
    } catch (error) {
      if (isServiceNotFound(error)) return [];
      throw error;
    }
  };
  const [running, stopped] = await Promise.all([list("RUNNING"), list("STOPPED")]);
  return [...new Set([...running, ...stopped])];
}

async function describeAll(deps: ExplainDeps, cluster: string, arns: string[]): Promise<TaskView[]> {
  const { rules, maxConcurrency } = deps.config;
  const batches = await mapLimit(chunk(arns, DESCRIBE_BATCH), maxConcurrency, async (batch) => {
    const views: TaskView[] = [];
    for (const raw of await deps.api.describeTasks(cluster, batch, rules.includeTags)) {
      const result = normalizeTask(raw);
      if ("task" in result) views.push(result.task);
    }
    return views;
  });
  return batches.flat().sort((a, b) => a.taskArn.localeCompare(b.taskArn));
}

/** What target building reads beside the tasks: definitions, hosts, services, the cluster's tags, ENI IPs. */
async function readsFor(deps: ExplainDeps, clusterArn: string, tasks: TaskView[], info?: ClusterInfo) {
  const { api, caches, config } = deps;
  const { rules, maxConcurrency } = config;
  const running = tasks.filter(isScrapeable);
  const definitions = [...new Set(tasks.map((t) => t.taskDefinitionArn))];
  const [{ defs, unusable }, hosts, services] = await Promise.all([
    describeTaskDefinitions(api, caches, definitions, maxConcurrency),
    resolveHosts(
      api,
      caches,
      clusterArn,
      running.flatMap((t) => t.containerInstanceArn ?? []),
      maxConcurrency,
    ),
    rules.includeServices
      ? describeServices(
          api,
          clusterArn,
          running.flatMap((t) => serviceNameOf(t.group) ?? []),
          maxConcurrency,
        )
      : undefined,
    publicIpsOf(api, running, () => undefined, maxConcurrency).then((ips) => {
      for (const task of running) {
        const ip = ips.get(task.taskArn);
        if (ip !== undefined) task.publicIp = ip;
      }
    }),
  ]);
  const meta: ClusterMeta = {};
  if (services) meta.services = Object.fromEntries(services);
  if (rules.includeTags && info) meta.cluster = info;
  return { defs, unusable, hosts, meta };
}

function row(task: TaskView, cluster: string, v: ContainerVerdict): ExplainedContainer {
  return {
    cluster,
    clusterArn: task.clusterArn,
    taskArn: task.taskArn,
    taskDefinitionArn: task.taskDefinitionArn,
    lastStatus: task.lastStatus ?? null,
    desiredStatus: task.desiredStatus ?? null,
    container: v.container,
    reason: v.reason,
    targets: v.groups.flatMap((g) => g.targets),
    detail: v.detail,
    facts: v.facts,
    groups: v.groups,
    notes: v.notes,
  };
}

/** Why this deployment does not discover the cluster, if it does not. */
function notDiscoveredBecause(deps: ExplainDeps, clusterArn: string): string | undefined {
  const ref = parseClusterArn(clusterArn);
  if (!ref) return `cluster ARN ${clusterArn} is not one this deployment can read`;
  if (ref.region !== deps.region)
    return `the cluster is in region ${ref.region}; this deployment discovers ${deps.region}`;
  const listed = deps.config.accounts?.accounts ?? [];
  if (listed.length > 0 && !listed.includes(ref.accountId))
    return `the cluster's account ${ref.accountId} is not in ACCOUNTS (${listed.join(", ")})`;
  if (!isConfigured(ref, deps.config.clusters))
    return `the cluster is not in CLUSTERS (${deps.config.clusters.join(", ")}), so neither the event rule nor the reconcile covers it`;
  return undefined;
}

async function explainCluster(
  deps: ExplainDeps,
  clusterArn: string,
  info: ClusterInfo | undefined,
  query: ExplainQuery,
): Promise<ExplainedContainer[]> {
  const arns = await taskArnsIn(deps, clusterArn, query);
  if (arns.length === 0) return [];
  const tasks = await describeAll(deps, clusterArn, arns);
  if (tasks.length === 0) return [];
  const { defs, unusable, hosts, meta } = await readsFor(deps, clusterArn, tasks, info);
  const outside = notDiscoveredBecause(deps, clusterArn);
  const name = parseClusterArn(clusterArn)?.name ?? clusterArn;
  const rows: ExplainedContainer[] = [];
  for (const task of tasks) {
    const def = defs.get(task.taskDefinitionArn);
    const { verdicts } = judgeTask(
      task,
      def,
      hosts,
      deps.config.rules,
      meta,
      unusable.get(task.taskDefinitionArn),
    );
    for (const v of verdicts) {
      const r = row(task, name, v);
      // What it would be, had the cluster been discovered, stays in the facts.
      if (outside)
        Object.assign(r, {
          reason: "cluster-not-discovered",
          targets: [],
          groups: [],
          detail: outside,
          facts: { wouldBe: v.reason, ...v.facts },
        });
      rows.push(r);
    }
  }
  return rows;
}

export async function explain(ownDeps: ExplainDeps, query: ExplainQuery): Promise<ExplainReport> {
  const deps = await readersFor(ownDeps, query);
  const listing = await clustersToSearch(deps, query);
  const report: ExplainReport = {
    action: "explain",
    query,
    clusters: listing.active,
    containers: [],
    reasons: {},
    notFound: listing.missing.map((c) => `cluster ${c} was not found (or is not ACTIVE)`),
    errors: listing.unsearched ? [{ cluster: "(clusters outside CLUSTERS)", error: listing.unsearched }] : [],
  };
  const named = new Set(query.clusters ?? []);
  const results = await mapLimit(listing.active, deps.config.maxConcurrency, async (arn) => {
    try {
      return await explainCluster(deps, arn, listing.info.get(arn), query);
    } catch (error) {
      // A cluster searched only because every cluster is (and maybe outside this role's reach) must not
      // hide the answer from the others; a cluster the caller named fails the whole explain.
      const name = parseClusterArn(arn)?.name ?? arn;
      if (named.has(arn) || named.has(name)) throw error;
      report.errors.push({ cluster: arn, error: describeError(error) });
      return [];
    }
  });
  report.containers = results.flat();
  for (const c of report.containers) report.reasons[c.reason] = (report.reasons[c.reason] ?? 0) + 1;
  if (report.containers.length === 0) {
    const what = query.task
      ? `task ${query.task}`
      : query.service
        ? `service ${query.service}`
        : `family ${query.family}`;
    report.notFound.push(
      `${what}: no task found in ${listing.active.length} cluster(s) searched${query.task ? " (ECS forgets a stopped task about an hour after it stops)" : ""}`,
    );
  }
  return report;
}
