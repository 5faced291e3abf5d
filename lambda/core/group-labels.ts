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
