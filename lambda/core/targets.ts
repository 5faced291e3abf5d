import {
  groupLine,
  normalizeGroup,
  sortedUnique,
  type TargetGroup,
  targetGroupProblem,
} from "../shared/file-sd.js";
import { resolveAddress } from "./addresses.js";
import { type ClusterMeta, type GroupContext, groupFor } from "./group-labels.js";
import {
  type ContainerDefinitionSpec,
  type HostInfo,
  isScrapeable,
  networkModeOf,
  parseClusterArn,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "./model.js";
import { optsIn, type Selector, type TargetRules } from "./rules.js";
import { type EndpointSpec, parseEndpoints } from "./scrape-labels.js";

export interface TargetWarning {
  taskArn: string;
  container?: string;
  label?: string;
  message: string;
}

export interface BuildInput {
  tasks: TaskView[];
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>;
  hosts: ReadonlyMap<string, HostInfo>;
  rules: TargetRules;
  /** The cluster's tags and services, for their labels. */
  meta?: ClusterMeta;
}

/** Groups as written: targets and label keys sorted, labels always present. */
export type BuiltGroup = Required<TargetGroup>;

export interface BuildResult {
  groups: BuiltGroup[];
  /** Each group's line in the file, in the same order. */
  lines: string[];
  warnings: TargetWarning[];
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

function endpointsFor(
  task: TaskView,
  def: TaskDefinitionSpec,
  containerDef: ContainerDefinitionSpec,
  rules: TargetRules,
  warnings: TargetWarning[],
): EndpointSpec[] {
  const endpoints: EndpointSpec[] = [];
  const labels = containerDef.dockerLabels;
  if (optsIn(labels, rules)) {
    // A bad label costs only what it names; each problem says what was dropped and what was kept.
    const parsed = parseEndpoints(labels, rules.labels, rules.dynamicExportOnly);
    for (const problem of parsed.problems) {
      warnings.push({
        taskArn: task.taskArn,
        container: containerDef.name,
        label: problem.label,
        message: problem.message,
      });
    }
    endpoints.push(...parsed.endpoints);
  }
  for (const spec of selectorEndpoints(task, def, containerDef, rules.selectors)) {
    if (!endpoints.some((e) => e.port === spec.port)) endpoints.push(spec);
  }
  return endpoints;
}

/**
 * One task's share of the output: its groups normalized (targets and label keys sorted), each with the
 * line it takes in the file, and the warnings it raised. Depends only on the task, its task definition,
 * its host and the rules, so a caller may keep it for as long as those stay the same.
 */
export interface TaskTargets {
  groups: BuiltGroup[];
  lines: string[];
  warnings: TargetWarning[];
}

export function buildTaskTargets(
  task: TaskView,
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>,
  hosts: ReadonlyMap<string, HostInfo>,
  rules: TargetRules,
  meta: ClusterMeta = {},
): TaskTargets {
  const warnings: TargetWarning[] = [];
  const groups: BuiltGroup[] = [];
  const def = isScrapeable(task) ? taskDefinitions.get(task.taskDefinitionArn) : undefined;
  if (isScrapeable(task) && !def)
    warnings.push({
      taskArn: task.taskArn,
      message: `task definition ${task.taskDefinitionArn} is not known`,
    });
  if (def) {
    const mode = networkModeOf(task, def);
    const cluster = parseClusterArn(task.clusterArn);
    const host = task.containerInstanceArn ? hosts.get(task.containerInstanceArn) : undefined;
    for (const containerDef of def.containers) {
      const endpoints = endpointsFor(task, def, containerDef, rules, warnings);
      if (endpoints.length === 0) continue;
      const container = task.containers.find((c) => c.name === containerDef.name);
      // A container that has exited (a finished init container, say) serves nothing.
      if (container?.lastStatus === "STOPPED") continue;
      if (!container && mode !== "awsvpc") continue;
      const ctx: GroupContext = { task, cluster, def, mode, containerDef, container, host, meta, rules };
      for (const endpoint of endpoints) groups.push(...endpointGroup(ctx, endpoint, hosts, warnings));
    }
  }
  const normalized = groups.map(normalizeGroup);
  return { groups: normalized, lines: normalized.map(groupLine), warnings };
}

/**
 * The group of one endpoint, or none with a warning. Every group is held to the file_sd contract the
 * sidecar applies, so one bad value skips its own endpoint instead of having the cluster's object refused.
 */
function endpointGroup(
  ctx: GroupContext,
  endpoint: EndpointSpec,
  hosts: ReadonlyMap<string, HostInfo>,
  warnings: TargetWarning[],
): BuiltGroup[] {
  const { task, mode, containerDef, container, rules } = ctx;
  const resolved = resolveAddress(task, mode, containerDef, container, endpoint, hosts);
  const group = "problem" in resolved ? undefined : groupFor(ctx, endpoint, resolved);
  const problem = "problem" in resolved ? resolved.problem : targetGroupProblem(group);
  if (group && problem === undefined) return [group];
  const label = endpoint.name === "" ? undefined : `${rules.labels.port}.${endpoint.name}`;
  warnings.push({
    taskArn: task.taskArn,
    container: containerDef.name,
    ...(label ? { label } : {}),
    message: `endpoint skipped: ${problem}`,
  });
  return [];
}

/**
 * Turns described tasks into file_sd target groups, one per endpoint, sorted. Pure: everything it needs
 * (task definitions, hosts) is passed in, so the Lambda, the CLI and the benchmarks share it. `perTask`
 * lets a caller reuse the share of tasks that did not change (the engine's warm event path).
 */
export function buildTargetGroups(
  input: BuildInput,
  perTask: (task: TaskView) => TaskTargets = (task) =>
    buildTaskTargets(task, input.taskDefinitions, input.hosts, input.rules, input.meta),
): BuildResult {
  const warnings: TargetWarning[] = [];
  const entries: { line: string; group: BuiltGroup }[] = [];
  for (const task of input.tasks) {
    const share = perTask(task);
    share.groups.forEach((group, i) => {
      entries.push({ line: share.lines[i] as string, group });
    });
    warnings.push(...share.warnings);
  }
  return { ...sortedUnique(entries), warnings };
}
