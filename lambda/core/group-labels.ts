/** The labels of one target group: the old poller's names and Prometheus's `__meta_ecs_*` names. */
import type { TargetGroup } from "../shared/file-sd.js";
import { formatHost, type ResolvedAddress } from "./addresses.js";
import {
  type ClusterInfo,
  type ClusterRef,
  type ContainerDefinitionSpec,
  type ContainerView,
  type HostInfo,
  type ServiceInfo,
  serviceNameOf,
  type TaskDefinitionSpec,
  type TaskView,
} from "./model.js";
import type { TargetRules } from "./rules.js";
import type { EndpointSpec } from "./scrape-labels.js";

const LABEL_NAME_INVALID = /[^a-zA-Z0-9_]/g;

/**
 * A tag key or docker label name as the end of a label name: every character outside `[a-zA-Z0-9_]` becomes
 * `_`, as Prometheus's ECS discovery does. A leading digit stays: the family's prefix makes the name valid.
 */
export function sanitizeLabelName(name: string): string {
  return name.replace(LABEL_NAME_INVALID, "_");
}

/** What target building knows of a cluster beyond its tasks: its tags and its services (when published). */
export interface ClusterMeta {
  services?: Readonly<Record<string, ServiceInfo>>;
  cluster?: ClusterInfo;
}

export interface GroupContext {
  task: TaskView;
  cluster: ClusterRef | undefined;
  def: TaskDefinitionSpec;
  mode: string;
  containerDef: ContainerDefinitionSpec;
  container: ContainerView | undefined;
  /** The container instance's host, in every network mode (awsvpc on EC2 included). */
  host: HostInfo | undefined;
  meta: ClusterMeta;
  rules: TargetRules;
}

export function groupFor(
  ctx: GroupContext,
  endpoint: EndpointSpec,
  resolved: ResolvedAddress,
): Required<TargetGroup> {
  const { task, cluster, def, mode, containerDef, container, host, rules } = ctx;
  const serviceName = serviceNameOf(task.group);
  const service =
    rules.includeServices && serviceName !== undefined ? ctx.meta.services?.[serviceName] : undefined;
  // Prometheus: the ENI's subnet and public address for awsvpc, the EC2 instance's otherwise.
  const ownEni = mode === "awsvpc";
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
    __meta_ecs_service: serviceName,
    __meta_ecs_service_arn: service?.arn,
    __meta_ecs_service_status: service?.status,
    __meta_ecs_task_group: task.group,
    __meta_ecs_task_arn: task.taskArn,
    __meta_ecs_task_definition: def.taskDefinitionArn,
    __meta_ecs_task_family: def.family,
    __meta_ecs_task_revision: String(def.revision),
    __meta_ecs_launch_type: task.launchType,
    __meta_ecs_availability_zone: task.availabilityZone,
    __meta_ecs_desired_status: task.desiredStatus,
    __meta_ecs_last_status: task.lastStatus,
    __meta_ecs_health_status: task.healthStatus,
    __meta_ecs_platform_family: task.platformFamily,
    __meta_ecs_platform_version: task.platformVersion,
    __meta_ecs_ip_address: resolved.ip,
    __meta_ecs_subnet_id: ownEni ? task.subnetId : host?.subnetId,
    __meta_ecs_public_ip: ownEni ? task.publicIp : host?.publicIp,
    __meta_ecs_network_mode: mode,
    __meta_ecs_container_instance_arn: task.containerInstanceArn,
    __meta_ecs_ec2_instance_id: host?.ec2InstanceId,
    __meta_ecs_ec2_instance_type: host?.instanceType,
    __meta_ecs_ec2_instance_private_ip: host?.privateIp,
    __meta_ecs_ec2_instance_public_ip: host?.publicIp,
    // Ours, container level: a label's value matches its name.
    __meta_ecs_container_name: containerDef.name,
    __meta_ecs_container_port:
      resolved.containerPort === undefined ? undefined : String(resolved.containerPort),
    __meta_ecs_endpoint: endpoint.name,
  };
  const labels: Record<string, string> = {};
  for (const name in named) {
    const value = named[name];
    if (value !== undefined && value !== "") labels[name] = value;
  }
  addFamily(labels, "__meta_ecs_container_label_", containerDef.dockerLabels);
  if (rules.includeTags) {
    if (ctx.meta.cluster) addFamily(labels, "__meta_ecs_tag_cluster_", ctx.meta.cluster.tags);
    if (service?.tags) addFamily(labels, "__meta_ecs_tag_service_", service.tags);
    if (task.tags) addFamily(labels, "__meta_ecs_tag_task_", task.tags);
    if (host?.tags) addFamily(labels, "__meta_ecs_tag_ec2_", host.tags);
  }
  return { targets: [`${formatHost(endpoint.serverName ?? resolved.ip)}:${resolved.port}`], labels };
}

/**
 * One label per entry of `values` with a value (an empty label is no label to Prometheus), its name
 * sanitized after `prefix`; of two names that sanitize alike, the first in sorted order wins.
 */
function addFamily(labels: Record<string, string>, prefix: string, values: Record<string, string>): void {
  for (const name of Object.keys(values).sort()) {
    const key = `${prefix}${sanitizeLabelName(name)}`;
    const value = values[name];
    if (!(key in labels) && value) labels[key] = value;
  }
}
