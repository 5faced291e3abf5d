import { isIP } from "node:net";
import type { FilterLabel, LabelNames, Selector } from "../config.js";
import {
  type ClusterRef,
  type ContainerDefinitionSpec,
  type ContainerView,
  type HostInfo,
  isScrapeable,
  type NetworkBinding,
  parseClusterArn,
  serviceNameOf,
  type TargetGroup,
  type TaskDefinitionSpec,
  type TaskView,
} from "./model.js";
import { declaresEndpoints, type EndpointSpec, parseEndpoints } from "./scrape-labels.js";

export interface TargetRules {
  labels: LabelNames;
  filter?: FilterLabel;
  selectors: Selector[];
  includeTags: boolean;
}

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
}

export interface BuildResult {
  groups: TargetGroup[];
  /** Each group's line in the file, in the same order. */
  lines: string[];
  warnings: TargetWarning[];
}

const LABEL_NAME_INVALID = /[^a-zA-Z0-9_]/g;

/** Prometheus label names are `[a-zA-Z_][a-zA-Z0-9_]*`; anything else becomes `_`. */
export function sanitizeLabelName(name: string): string {
  const replaced = name.replace(LABEL_NAME_INVALID, "_");
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced;
}

function filterAllows(labels: Record<string, string>, filter: FilterLabel | undefined): boolean {
  if (!filter) return true;
  const value = labels[filter.name];
  if (value === undefined) return false;
  return filter.value === undefined || value === filter.value;
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

function networkModeOf(task: TaskView, def: TaskDefinitionSpec): string {
  if (def.networkMode) return def.networkMode;
  // ECS's default for a task definition without networkMode: Fargate only knows awsvpc, EC2 Linux uses bridge.
  return task.launchType === "FARGATE" ? "awsvpc" : "bridge";
}

function isIpv6(bindIP: string | undefined): boolean {
  return bindIP?.includes(":") ?? false;
}

function tcp(binding: NetworkBinding): boolean {
  return binding.protocol === undefined || binding.protocol.toLowerCase() === "tcp";
}

function parseRange(range: string | undefined): [number, number] | undefined {
  const m = range ? /^(\d+)-(\d+)$/.exec(range) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** The host port bound to a container port; IPv4 bindings first, since the agent may report each twice. */
export function hostPortFor(bindings: NetworkBinding[], containerPort: number): number | undefined {
  const ordered = [...bindings.filter((b) => !isIpv6(b.bindIP)), ...bindings.filter((b) => isIpv6(b.bindIP))];
  for (const b of ordered) {
    if (!tcp(b)) continue;
    if (b.containerPort === containerPort && b.hostPort) return b.hostPort;
    const containerRange = parseRange(b.containerPortRange);
    const hostRange = parseRange(b.hostPortRange);
    if (
      containerRange &&
      hostRange &&
      containerPort >= containerRange[0] &&
      containerPort <= containerRange[1]
    ) {
      return hostRange[0] + (containerPort - containerRange[0]);
    }
  }
  return undefined;
}

/** Dynamic-export mode: the container must publish exactly one TCP host port. */
function singleHostPort(bindings: NetworkBinding[]): number | undefined {
  const ports = new Set(bindings.filter((b) => tcp(b) && b.hostPort).map((b) => b.hostPort as number));
  return ports.size === 1 ? [...ports][0] : undefined;
}

function singleContainerPort(def: ContainerDefinitionSpec): number | undefined {
  const ports = new Set(
    def.portMappings.filter((m) => tcp(m) && m.containerPort).map((m) => m.containerPort as number),
  );
  return ports.size === 1 ? [...ports][0] : undefined;
}

type Resolved = { ip: string; port: number; hostLabels: Record<string, string> } | { problem: string };

function resolveAddress(
  task: TaskView,
  mode: string,
  def: ContainerDefinitionSpec,
  container: ContainerView | undefined,
  endpoint: EndpointSpec,
  hosts: ReadonlyMap<string, HostInfo>,
): Resolved {
  if (mode === "none") return { problem: 'network mode "none" has no address to scrape' };
  if (mode === "awsvpc") {
    const ip = container?.privateIpv4Address ?? task.eniPrivateIp;
    if (!ip) return { problem: "the task has no ENI address yet" };
    // Events are input: one malformed address would make the sidecar refuse the whole cluster's object.
    if (!isIP(ip))
      return { problem: `the task's ENI address ${JSON.stringify(ip.slice(0, 64))} is not an IP address` };
    const port = endpoint.port ?? singleContainerPort(def);
    if (port === undefined)
      return { problem: "dynamic export needs exactly one port mapping in awsvpc mode" };
    return { ip, port, hostLabels: {} };
  }
  if (mode !== "bridge" && mode !== "host") return { problem: `network mode "${mode}" is not supported` };
  if (!task.containerInstanceArn) return { problem: `${mode} mode task has no container instance` };
  const host = hosts.get(task.containerInstanceArn);
  if (!host)
    return { problem: `container instance ${task.containerInstanceArn} could not be resolved to a host` };
  if (host.external)
    return { problem: "runs on an ECS Anywhere (external) instance, which has no EC2 address" };
  if (!host.privateIp) {
    return {
      problem: `EC2 instance ${host.ec2InstanceId ?? "(unknown)"} of the container instance was not found`,
    };
  }
  if (!isIP(host.privateIp)) {
    return { problem: `EC2 instance ${host.ec2InstanceId ?? "(unknown)"} has no usable private IP address` };
  }
  const hostLabels: Record<string, string> = { __meta_ecs_container_instance_arn: host.containerInstanceArn };
  if (host.ec2InstanceId) hostLabels.__meta_ecs_ec2_instance_id = host.ec2InstanceId;
  hostLabels.__meta_ecs_ec2_instance_private_ip = host.privateIp;
  const bindings = container?.networkBindings ?? [];
  let port: number | undefined;
  if (endpoint.port === undefined) {
    port = singleHostPort(bindings) ?? (mode === "host" ? singleContainerPort(def) : undefined);
    if (port === undefined) return { problem: "dynamic export needs exactly one published host port" };
  } else if (mode === "host") {
    port = endpoint.port;
  } else {
    port = hostPortFor(bindings, endpoint.port);
    if (port === undefined) return { problem: `container port ${endpoint.port} has no host port binding` };
  }
  return { ip: host.privateIp, port, hostLabels };
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

interface GroupContext {
  task: TaskView;
  cluster: ClusterRef | undefined;
  def: TaskDefinitionSpec;
  mode: string;
  containerDef: ContainerDefinitionSpec;
  container: ContainerView | undefined;
  rules: TargetRules;
}

function groupFor(
  ctx: GroupContext,
  endpoint: EndpointSpec,
  resolved: { ip: string; port: number; hostLabels: Record<string, string> },
): TargetGroup {
  const { task, cluster, def, mode, containerDef, container, rules } = ctx;
  const labels: Record<string, string> = {};
  const put = (name: string, value: string | undefined) => {
    if (value !== undefined && value !== "") labels[name] = value;
  };
  // The old poller's label names, so existing dashboards and relabel rules keep working.
  put("task_arn", task.taskArn);
  put("task_name", def.family);
  put("task_revision", String(def.revision));
  put("task_group", task.group);
  put("cluster_arn", task.clusterArn);
  put("container_name", containerDef.name);
  put("container_arn", container?.containerArn);
  put("docker_image", containerDef.image ?? container?.image);
  put("job", endpoint.job);
  put("__metrics_path__", endpoint.path);
  put("__scheme__", endpoint.scheme);
  put("__scrape_interval__", endpoint.interval);
  put("__scrape_timeout__", endpoint.timeout);

  // The names Prometheus's own ECS discovery uses, for relabel configs written against it.
  put("__meta_ecs_cluster", cluster?.name);
  put("__meta_ecs_cluster_arn", task.clusterArn);
  put("__meta_ecs_region", cluster?.region);
  put("__meta_ecs_service", serviceNameOf(task.group));
  put("__meta_ecs_task_group", task.group);
  put("__meta_ecs_task_arn", task.taskArn);
  put("__meta_ecs_task_definition", def.taskDefinitionArn);
  put("__meta_ecs_task_family", def.family);
  put("__meta_ecs_task_revision", String(def.revision));
  put("__meta_ecs_launch_type", task.launchType);
  put("__meta_ecs_availability_zone", task.availabilityZone);
  put("__meta_ecs_ip_address", resolved.ip);
  put("__meta_ecs_network_mode", mode);
  for (const [name, value] of Object.entries(resolved.hostLabels)) put(name, value);
  put("__meta_ecs_container_name", containerDef.name);
  put("__meta_ecs_container_port", String(endpoint.port ?? resolved.port));
  put("__meta_ecs_endpoint", endpoint.name);
  for (const name of Object.keys(containerDef.dockerLabels).sort()) {
    const key = `__meta_ecs_container_label_${sanitizeLabelName(name)}`;
    if (!(key in labels)) labels[key] = containerDef.dockerLabels[name] ?? "";
  }
  if (rules.includeTags && task.tags) {
    for (const name of Object.keys(task.tags).sort()) {
      const key = `__meta_ecs_tag_task_${sanitizeLabelName(name)}`;
      if (!(key in labels)) labels[key] = task.tags[name] ?? "";
    }
  }
  const host = endpoint.serverName ?? resolved.ip;
  return { targets: [`${formatHost(host)}:${resolved.port}`], labels };
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
  if (declaresEndpoints(labels, rules.labels) && filterAllows(labels, rules.filter)) {
    const parsed = parseEndpoints(labels, rules.labels);
    for (const problem of parsed.problems) {
      warnings.push({
        taskArn: task.taskArn,
        container: containerDef.name,
        label: problem.label,
        message: `container skipped: ${problem.message}`,
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
 * One task's share of the output: its groups normalised (targets and label keys sorted), each with the
 * line it takes in the file, and the warnings it raised. Depends only on the task, its task definition,
 * its host and the rules, so a caller may keep it for as long as those stay the same.
 */
export interface TaskTargets {
  groups: TargetGroup[];
  lines: string[];
  warnings: TargetWarning[];
}

export function buildTaskTargets(
  task: TaskView,
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>,
  hosts: ReadonlyMap<string, HostInfo>,
  rules: TargetRules,
): TaskTargets {
  const warnings: TargetWarning[] = [];
  const groups: TargetGroup[] = [];
  const out = (): TaskTargets => {
    const normalised = groups.map(normalise);
    return { groups: normalised, lines: normalised.map(groupLine), warnings };
  };
  if (!isScrapeable(task)) return out();
  const def = taskDefinitions.get(task.taskDefinitionArn);
  if (!def) {
    warnings.push({
      taskArn: task.taskArn,
      message: `task definition ${task.taskDefinitionArn} is not known`,
    });
    return out();
  }
  const mode = networkModeOf(task, def);
  const cluster = parseClusterArn(task.clusterArn);
  for (const containerDef of def.containers) {
    const endpoints = endpointsFor(task, def, containerDef, rules, warnings);
    if (endpoints.length === 0) continue;
    const container = task.containers.find((c) => c.name === containerDef.name);
    // A container that has exited (a finished init container, say) serves nothing.
    if (container?.lastStatus === "STOPPED") continue;
    if (!container && mode !== "awsvpc") continue;
    const ctx: GroupContext = { task, cluster, def, mode, containerDef, container, rules };
    for (const endpoint of endpoints) {
      const resolved = resolveAddress(task, mode, containerDef, container, endpoint, hosts);
      if ("problem" in resolved) {
        const label = endpoint.name === "" ? undefined : `${rules.labels.port}.${endpoint.name}`;
        warnings.push({
          taskArn: task.taskArn,
          container: containerDef.name,
          ...(label ? { label } : {}),
          message: `endpoint skipped: ${resolved.problem}`,
        });
        continue;
      }
      groups.push(groupFor(ctx, endpoint, resolved));
    }
  }
  return out();
}

/**
 * Turns described tasks into file_sd target groups, one per endpoint, sorted. Pure: everything it needs
 * (task definitions, hosts) is passed in, so the Lambda, the CLI and the benchmarks share it. `perTask`
 * lets a caller reuse the share of tasks that did not change (the engine's warm event path).
 */
export function buildTargetGroups(
  input: BuildInput,
  perTask: (task: TaskView) => TaskTargets = (task) =>
    buildTaskTargets(task, input.taskDefinitions, input.hosts, input.rules),
): BuildResult {
  const warnings: TargetWarning[] = [];
  const entries: { line: string; group: TargetGroup }[] = [];
  for (const task of input.tasks) {
    const share = perTask(task);
    share.groups.forEach((group, i) => {
      entries.push({ line: share.lines[i] as string, group });
    });
    warnings.push(...share.warnings);
  }
  return { ...sortedUnique(entries), warnings };
}

/**
 * Sorted by line, exact duplicates dropped. Sorting by the line is sorting by targets, then labels:
 * both are serialised in that order, so this is a stable byte order.
 */
function sortedUnique(entries: { line: string; group: TargetGroup }[]): {
  groups: TargetGroup[];
  lines: string[];
} {
  entries.sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const groups: TargetGroup[] = [];
  const lines: string[] = [];
  for (const { line, group } of entries) {
    if (line === lines[lines.length - 1]) continue;
    lines.push(line);
    groups.push(group);
  }
  return { groups, lines };
}

function groupLine(group: TargetGroup): string {
  return JSON.stringify({ targets: group.targets, labels: group.labels });
}

function sortedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] as string;
  return out;
}

/** Targets and label keys sorted, as every group is written. */
function normalise(group: TargetGroup): TargetGroup {
  return { targets: [...group.targets].sort(), labels: sortedLabels(group.labels) };
}

/** One group per line: compact for large fleets, yet readable and diffable by an operator. */
export function serializeGroups(groups: TargetGroup[]): string {
  const entries = groups.map(normalise).map((group) => ({ line: groupLine(group), group }));
  return serializeLines(sortedUnique(entries).lines);
}

/** The file from buildTargetGroups' `lines`: nothing is serialised a second time. */
export function serializeLines(lines: readonly string[]): string {
  if (lines.length === 0) return "[]\n";
  return `[\n${lines.join(",\n")}\n]\n`;
}
