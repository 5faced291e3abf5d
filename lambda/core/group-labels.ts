/** The labels of one target group: the old poller's names and Prometheus's `__meta_ecs_*` names. */
import type { TargetGroup } from "../shared/file-sd.js";
import { formatHost, type ResolvedAddress } from "./addresses.js";
import {
  type ClusterRef,
  type ContainerDefinitionSpec,
  type ContainerView,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "./model.js";
import type { TargetRules } from "./rules.js";
import type { EndpointSpec } from "./scrape-labels.js";

const LABEL_NAME_INVALID = /[^a-zA-Z0-9_]/g;

/** Prometheus label names are `[a-zA-Z_][a-zA-Z0-9_]*`; anything else becomes `_`. */
export function sanitizeLabelName(name: string): string {
  const replaced = name.replace(LABEL_NAME_INVALID, "_");
  return /^[0-9]/.test(replaced) ? `_${replaced}` : replaced;
}

export interface GroupContext {
  task: TaskView;
  cluster: ClusterRef | undefined;
  def: TaskDefinitionSpec;
  mode: string;
  containerDef: ContainerDefinitionSpec;
  container: ContainerView | undefined;
  rules: TargetRules;
}

export function groupFor(
  ctx: GroupContext,
  endpoint: EndpointSpec,
  resolved: ResolvedAddress,
): Required<TargetGroup> {
  const { task, cluster, def, mode, containerDef, container, rules } = ctx;
  const { host } = resolved;
  // One literal, then one pass that drops empty values: far cheaper per group than building the object
  // label by label, and groups are built for every task of a cold function.
  const named: Record<string, string | undefined> = {
    // The old poller's label names, so existing dashboards and relabel rules keep working.
    task_arn: task.taskArn,
    task_name: def.family,
    task_revision: String(def.revision),
    task_group: task.group,
    cluster_arn: task.clusterArn,
    container_name: containerDef.name,
    container_arn: container?.containerArn,
    docker_image: containerDef.image ?? container?.image,
    job: endpoint.job,
    __metrics_path__: endpoint.path,
    __scheme__: endpoint.scheme,
    __scrape_interval__: endpoint.interval,
    __scrape_timeout__: endpoint.timeout,
    // The names Prometheus's own ECS discovery uses, for relabel configs written against it.
    __meta_ecs_cluster: cluster?.name,
    __meta_ecs_cluster_arn: task.clusterArn,
    __meta_ecs_region: cluster?.region,
    __meta_ecs_service: serviceNameOf(task.group),
    __meta_ecs_task_group: task.group,
    __meta_ecs_task_arn: task.taskArn,
    __meta_ecs_task_definition: def.taskDefinitionArn,
    __meta_ecs_task_family: def.family,
    __meta_ecs_task_revision: String(def.revision),
    __meta_ecs_launch_type: task.launchType,
    __meta_ecs_availability_zone: task.availabilityZone,
    __meta_ecs_ip_address: resolved.ip,
    __meta_ecs_network_mode: mode,
    __meta_ecs_container_instance_arn: host?.containerInstanceArn,
    __meta_ecs_ec2_instance_id: host?.ec2InstanceId,
    __meta_ecs_ec2_instance_private_ip: host?.privateIp,
    __meta_ecs_container_name: containerDef.name,
    __meta_ecs_container_port: String(endpoint.port ?? resolved.port),
    __meta_ecs_endpoint: endpoint.name,
  };
  const labels: Record<string, string> = {};
  for (const name in named) {
    const value = named[name];
    if (value !== undefined && value !== "") labels[name] = value;
  }
  addFamily(labels, "__meta_ecs_container_label_", containerDef.dockerLabels);
  if (rules.includeTags && task.tags) addFamily(labels, "__meta_ecs_tag_task_", task.tags);
  return { targets: [`${formatHost(endpoint.serverName ?? resolved.ip)}:${resolved.port}`], labels };
}

/** One label per entry of `values`, its name sanitized after `prefix`; a name already taken stays as it is. */
function addFamily(labels: Record<string, string>, prefix: string, values: Record<string, string>): void {
  for (const name of Object.keys(values).sort()) {
    const key = `${prefix}${sanitizeLabelName(name)}`;
    if (!(key in labels)) labels[key] = values[name] ?? "";
  }
}
