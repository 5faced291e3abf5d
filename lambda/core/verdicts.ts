/**
 * Each container of a task, judged: the target groups it gives, or the one reason it gives none. Target
 * building (`targets.ts`), `explain` and the skipped-container counts all come from here, so what explain
 * says is what the reconcile did.
 */
import { normalizeGroup, type TargetGroup, targetGroupProblem } from "../shared/file-sd.js";
import { type AddressProblem, resolveAddress } from "./addresses.js";
import { type ClusterMeta, type GroupContext, groupFor } from "./group-labels.js";
import {
  type ContainerDefinitionSpec,
  type ContainerView,
  type HostInfo,
  isScrapeable,
  networkModeOf,
  parseClusterArn,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "./model.js";
import { filterAllows, type Selector, type TargetRules } from "./rules.js";
import { declaresEndpoints, type EndpointSpec, type LabelProblem, parseEndpoints } from "./scrape-labels.js";
import type { Reason, SkipReason } from "./skip-reasons.js";

export interface TargetWarning {
  taskArn: string;
  container?: string;
  label?: string;
  message: string;
}

/** Groups as written: targets and label keys sorted, labels always present. */
export type BuiltGroup = Required<TargetGroup>;

export interface ContainerVerdict {
  container: string;
  reason: Reason;
  /** Why, in words ("" for a target without notes). */
  detail: string;
  /** What the reason rests on: the filter and the container's value, the bindings, the label and value… */
  facts: Record<string, unknown>;
  groups: BuiltGroup[];
  /** A target's endpoints or settings that were dropped while the rest still gives targets. */
  notes: string[];
}

export interface TaskVerdicts {
  verdicts: ContainerVerdict[];
  /** What the engine logs: label and endpoint problems of a running task. */
  warnings: TargetWarning[];
}

function verdict(
  container: string,
  reason: Reason,
  detail: string,
  facts: Record<string, unknown> = {},
): ContainerVerdict {
  return { container, reason, detail, facts, groups: [], notes: [] };
}

function selectorEndpoints(
  task: TaskView,
  def: TaskDefinitionSpec,
  container: ContainerDefinitionSpec,
  selectors: Selector[],
): EndpointSpec[] {
  const service = serviceNameOf(task.group);
  const out: EndpointSpec[] = [];
  for (const s of selectors) {
    if (s.family && !s.family.test(def.family)) continue;
    if (s.service && (service === undefined || !s.service.test(service))) continue;
    if (s.container && !s.container.test(container.name)) continue;
    const spec: EndpointSpec = { name: "", port: s.port };
    if (s.path) spec.path = s.path;
    if (s.scheme) spec.scheme = s.scheme;
    if (s.job) spec.job = s.job;
    out.push(spec);
  }
  return out;
}

/** The endpoints a container asks for, or the verdict of a container that asks for none. */
function endpointsOf(
  task: TaskView,
  def: TaskDefinitionSpec,
  containerDef: ContainerDefinitionSpec,
  rules: TargetRules,
): { endpoints: EndpointSpec[]; problems: LabelProblem[] } | ContainerVerdict {
  const labels = containerDef.dockerLabels;
  const names = rules.labels;
  const declares = declaresEndpoints(labels, names, rules.dynamicExportOnly);
  const selected = selectorEndpoints(task, def, containerDef, rules.selectors);
  if (!declares && selected.length === 0) {
    const onlyDynamic = rules.dynamicExportOnly && labels[names.port] !== undefined;
    const detail = onlyDynamic
      ? `with DYNAMIC_EXPORT=only only ${names.dynamicExport} counts, and the container does not set it (it has ${names.port})`
      : `no ${names.port}, ${names.port}.<name> or ${names.dynamicExport} label, and no selector matches`;
    return verdict(containerDef.name, "no-port-label", detail, {
      portLabel: names.port,
      dynamicExportLabel: names.dynamicExport,
    });
  }
  const filter = rules.filter;
  const passes = declares && filterAllows(labels, filter);
  if (!passes && selected.length === 0 && filter) {
    const has = labels[filter.name];
    const wanted = filter.value === undefined ? `the label ${filter.name}` : `${filter.name}=${filter.value}`;
    const seen = has === undefined ? `no ${filter.name} label` : `${filter.name}=${JSON.stringify(has)}`;
    return verdict(
      containerDef.name,
      "filtered-out",
      `FILTER_LABEL asks for ${wanted}; the container has ${seen}`,
      {
        filterLabel: filter.name,
        filterValue: filter.value ?? null,
        has: has ?? null,
      },
    );
  }
  const parsed = passes
    ? parseEndpoints(labels, names, rules.dynamicExportOnly)
    : { endpoints: [], problems: [] };
  const endpoints = [...parsed.endpoints];
  for (const spec of selected) if (!endpoints.some((e) => e.port === spec.port)) endpoints.push(spec);
  return { endpoints, problems: parsed.problems };
}

/** A container whose labels ask for endpoints none of which can be built. */
function badLabels(containerDef: ContainerDefinitionSpec, problems: LabelProblem[], rules: TargetRules) {
  const first = problems[0];
  const label = first?.label ?? rules.labels.port;
  return verdict(containerDef.name, "bad-label", `${label}: ${first?.message ?? "no usable endpoint"}`, {
    label,
    value: containerDef.dockerLabels[label] ?? null,
    problem: first?.message ?? null,
  });
}

/** Why a container of a task that has endpoints is not running, if it is not. */
function notRunning(
  task: TaskView,
  name: string,
  container: ContainerView | undefined,
  mode: string,
): ContainerVerdict | undefined {
  if (!isScrapeable(task)) {
    return verdict(
      name,
      "not-running",
      `the task is ${task.lastStatus ?? "(no status)"} (desired ${task.desiredStatus ?? "(none)"}); only RUNNING tasks desired RUNNING are scraped`,
      { lastStatus: task.lastStatus ?? null, desiredStatus: task.desiredStatus ?? null },
    );
  }
  // A container that has exited (a finished init container, say) serves nothing.
  if (container?.lastStatus === "STOPPED")
    return verdict(name, "not-running", "the container has stopped while its task runs", {
      containerStatus: "STOPPED",
    });
  if (!container && mode !== "awsvpc")
    return verdict(name, "not-running", "ECS reports no such container on the task yet", {
      containerStatus: null,
    });
  return undefined;
}

interface EndpointOutcome {
  group?: BuiltGroup;
  reason?: SkipReason;
  problem?: string;
  facts?: Record<string, unknown>;
  label?: string;
}

/**
 * The group of one endpoint, or why there is none. Every group is held to the file_sd contract the
 * sidecar applies, so one bad value skips its own endpoint instead of having the cluster's object refused.
 */
function endpointOutcome(ctx: GroupContext, endpoint: EndpointSpec, hosts: ReadonlyMap<string, HostInfo>) {
  const { task, mode, containerDef, container, rules } = ctx;
  const label = endpoint.name === "" ? undefined : `${rules.labels.port}.${endpoint.name}`;
  const resolved = resolveAddress(task, mode, containerDef, container, endpoint, hosts);
  if ("problem" in resolved) return addressOutcome(ctx, endpoint, resolved, label);
  const group = groupFor(ctx, endpoint, resolved);
  const problem = targetGroupProblem(group);
  if (problem === undefined) return { group: normalizeGroup(group) } as EndpointOutcome;
  const outcome: EndpointOutcome = { reason: "bad-label", problem, facts: { label: label ?? null, problem } };
  if (label) outcome.label = label;
  return outcome;
}

function addressOutcome(
  ctx: GroupContext,
  endpoint: EndpointSpec,
  resolved: AddressProblem,
  label: string | undefined,
): EndpointOutcome {
  const { task, mode, container, host } = ctx;
  let facts: Record<string, unknown> = {};
  if (resolved.reason === "no-host-port")
    facts = {
      networkMode: mode,
      containerPort: endpoint.port ?? null,
      bindings: container?.networkBindings ?? [],
    };
  if (resolved.reason === "no-ec2-host")
    facts = {
      containerInstanceArn: task.containerInstanceArn ?? null,
      ec2InstanceId: host?.ec2InstanceId ?? null,
      external: host?.external ?? null,
    };
  const outcome: EndpointOutcome = { reason: resolved.reason, problem: resolved.problem, facts };
  if (label) outcome.label = label;
  return outcome;
}

function containerVerdict(
  ctx: Omit<GroupContext, "containerDef" | "container">,
  containerDef: ContainerDefinitionSpec,
  hosts: ReadonlyMap<string, HostInfo>,
  warnings: TargetWarning[],
): ContainerVerdict {
  const { task, def, mode, rules } = ctx;
  const asked = endpointsOf(task, def, containerDef, rules);
  if ("reason" in asked) return asked;
  const warn = isScrapeable(task);
  if (warn)
    for (const p of asked.problems)
      warnings.push({
        taskArn: task.taskArn,
        container: containerDef.name,
        label: p.label,
        message: p.message,
      });
  if (asked.endpoints.length === 0) return badLabels(containerDef, asked.problems, rules);
  const container = task.containers.find((c) => c.name === containerDef.name);
  const stopped = notRunning(task, containerDef.name, container, mode);
  if (stopped) return stopped;
  const full: GroupContext = { ...ctx, containerDef, container };
  const result = verdict(containerDef.name, "target", "");
  result.notes = asked.problems.map((p) => `${p.label}: ${p.message}`);
  let firstProblem: EndpointOutcome | undefined;
  let firstNote = -1;
  for (const endpoint of asked.endpoints) {
    const outcome = endpointOutcome(full, endpoint, hosts);
    if (outcome.group) {
      result.groups.push(outcome.group);
      continue;
    }
    if (!firstProblem) {
      firstProblem = outcome;
      firstNote = result.notes.length;
    }
    result.notes.push(`endpoint ${outcome.label ?? "(unnamed)"} skipped: ${outcome.problem}`);
    warnings.push({
      taskArn: task.taskArn,
      container: containerDef.name,
      ...(outcome.label ? { label: outcome.label } : {}),
      message: `endpoint skipped: ${outcome.problem}`,
    });
  }
  if (result.groups.length > 0 || !firstProblem) return result;
  const failed = verdict(
    containerDef.name,
    firstProblem.reason ?? "bad-label",
    firstProblem.problem ?? "",
    firstProblem.facts,
  );
  // The first problem is the reason itself; the notes keep only what else went wrong.
  failed.notes = result.notes.filter((_, i) => i !== firstNote);
  return failed;
}

/**
 * Every container of the task judged: those of its task definition, then those ECS added to the task
 * (Service Connect's proxy, a security agent) that the definition does not have. Warnings are those the
 * engine logs, and only for a running task, as they always were.
 */
export function judgeTask(
  task: TaskView,
  def: TaskDefinitionSpec | undefined,
  hosts: ReadonlyMap<string, HostInfo>,
  rules: TargetRules,
  meta: ClusterMeta = {},
  unavailable?: string,
): TaskVerdicts {
  const warnings: TargetWarning[] = [];
  if (!def) {
    if (isScrapeable(task))
      warnings.push({
        taskArn: task.taskArn,
        message: `task definition ${task.taskDefinitionArn} is not known`,
      });
    const detail = `task definition ${task.taskDefinitionArn} could not be described${unavailable ? `: ${unavailable}` : ""}`;
    const facts = { taskDefinitionArn: task.taskDefinitionArn };
    return {
      verdicts: task.containers.map((c) => verdict(c.name, "definition-unavailable", detail, facts)),
      warnings,
    };
  }
  const mode = networkModeOf(task, def);
  const cluster = parseClusterArn(task.clusterArn);
  const host = task.containerInstanceArn ? hosts.get(task.containerInstanceArn) : undefined;
  const ctx = { task, cluster, def, mode, host, meta, rules };
  const verdicts = def.containers.map((c) => containerVerdict(ctx, c, hosts, warnings));
  const declared = new Set(def.containers.map((c) => c.name));
  for (const c of task.containers) {
    if (declared.has(c.name)) continue;
    verdicts.push(
      verdict(
        c.name,
        "injected-container",
        `not in task definition ${def.family}:${def.revision}: ECS added it to the task, so it has no docker labels`,
        { taskDefinition: `${def.family}:${def.revision}` },
      ),
    );
  }
  return { verdicts, warnings };
}
