/**
 * Where a container's endpoint is reached, by network mode: bridge and host through the EC2 host's
 * private IP (bridge: the host port bound to the container port), awsvpc through the task's ENI.
 */
import { isIP } from "node:net";
import {
  type ContainerDefinitionSpec,
  type ContainerView,
  type HostInfo,
  type NetworkBinding,
  type TaskView,
  usesHostAddress,
} from "./model.js";
import type { EndpointSpec } from "./scrape-labels.js";
import type { SkipReason } from "./skip-reasons.js";

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

/** Dynamic-export mode: the container must publish exactly one TCP host port; with the container port. */
function singleHostPort(bindings: NetworkBinding[]): { port: number; containerPort?: number } | undefined {
  const published = bindings.filter((b) => tcp(b) && b.hostPort);
  const ports = new Set(published.map((b) => b.hostPort as number));
  const port = ports.size === 1 ? [...ports][0] : undefined;
  if (port === undefined) return undefined;
  const containerPort = published.find((b) => b.containerPort !== undefined)?.containerPort;
  return containerPort === undefined ? { port } : { port, containerPort };
}

function singleContainerPort(def: ContainerDefinitionSpec): number | undefined {
  const ports = new Set(
    def.portMappings.filter((m) => tcp(m) && m.containerPort).map((m) => m.containerPort as number),
  );
  return ports.size === 1 ? [...ports][0] : undefined;
}

/**
 * Where an endpoint is reached (`port`: the port scraped, a host port in bridge mode) and the container port
 * behind it when known.
 */
export type ResolvedAddress = { ip: string; port: number; containerPort?: number };
/** Why an endpoint has no address, as a reason code and in words. */
export type AddressProblem = { problem: string; reason: SkipReason };
type Resolved = ResolvedAddress | AddressProblem;

const noPort = (problem: string): AddressProblem => ({ problem, reason: "no-host-port" });
const noHost = (problem: string): AddressProblem => ({ problem, reason: "no-ec2-host" });

export function resolveAddress(
  task: TaskView,
  mode: string,
  def: ContainerDefinitionSpec,
  container: ContainerView | undefined,
  endpoint: EndpointSpec,
  hosts: ReadonlyMap<string, HostInfo>,
): Resolved {
  if (mode === "none") return noPort('network mode "none" has no address to scrape');
  if (mode === "awsvpc") {
    const ip = container?.privateIpv4Address ?? task.eniPrivateIp;
    if (!ip) return { problem: "the task has no ENI address yet", reason: "not-running" };
    // Events are input: one malformed address would make the sidecar refuse the whole cluster's object.
    if (!isIP(ip))
      return noPort(`the task's ENI address ${JSON.stringify(ip.slice(0, 64))} is not an IP address`);
    const port = endpoint.port ?? singleContainerPort(def);
    if (port === undefined) return noPort("dynamic export needs exactly one port mapping in awsvpc mode");
    return { ip, port, containerPort: port };
  }
  if (!usesHostAddress(mode)) return noPort(`network mode "${mode}" is not supported`);
  if (!task.containerInstanceArn) return noHost(`${mode} mode task has no container instance`);
  const host = hosts.get(task.containerInstanceArn);
  if (!host) return noHost(`container instance ${task.containerInstanceArn} could not be resolved to a host`);
  if (host.external) return noHost("runs on an ECS Anywhere (external) instance, which has no EC2 address");
  if (!host.privateIp) {
    return noHost(
      `EC2 instance ${host.ec2InstanceId ?? "(unknown)"} of the container instance was not found`,
    );
  }
  if (!isIP(host.privateIp)) {
    return noHost(`EC2 instance ${host.ec2InstanceId ?? "(unknown)"} has no usable private IP address`);
  }
  const bindings = container?.networkBindings ?? [];
  const ip = host.privateIp;
  if (endpoint.port === undefined) {
    const single = singleHostPort(bindings);
    if (single) return { ip, ...single };
    const port = mode === "host" ? singleContainerPort(def) : undefined;
    if (port === undefined) return noPort("dynamic export needs exactly one published host port");
    return { ip, port, containerPort: port };
  }
  if (mode === "host") return { ip, port: endpoint.port, containerPort: endpoint.port };
  const port = hostPortFor(bindings, endpoint.port);
  if (port === undefined) return noPort(`container port ${endpoint.port} has no host port binding`);
  return { ip, port, containerPort: endpoint.port };
}

export function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
