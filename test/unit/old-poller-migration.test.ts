/**
 * The migration corpus: task definitions as users of the old poller (teralytics/prometheus-ecs-discovery,
 * the version with -config.scheme-label and -config.dynamic-port-detection) wrote them, each with the
 * targets and labels that poller wrote for it, worked out by reading its code. Each row runs through the
 * product the way the engine runs a task (relevance, then target building) with rules read from the
 * settings the old flags map to. The product must write the same targets with the same values for every
 * label the old poller wrote (its own `__meta_ecs_*` labels come on top), or the row is marked deliberate
 * with the reason and the product's own output.
 */
import { describe, expect, it } from "vitest";
import type { HostInfo, NetworkBinding, TaskDefinitionSpec, TaskView } from "../../lambda/core/model.js";
import { compileRules, relevantTasks } from "../../lambda/core/rules.js";
import { type BuiltGroup, buildTargetGroups } from "../../lambda/core/targets.js";
import { readDiscoverySettings } from "../../lambda/shared/settings.js";

const CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7";
const CI = "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/5e3288cd4b1241ee88e4b0864bdc4c95";
const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.4";
const HOST: HostInfo = {
  containerInstanceArn: CI,
  ec2InstanceId: "i-0abc",
  privateIp: "10.0.0.5",
  external: false,
};
const ANYWHERE: HostInfo = { containerInstanceArn: CI, ec2InstanceId: "mi-0abc", external: true };

const PORT = "PROMETHEUS_EXPORTER_PORT";
const PATH = "PROMETHEUS_EXPORTER_PATH";
const SCHEME = "PROMETHEUS_EXPORTER_SCHEME";
const JOB = "PROMETHEUS_EXPORTER_JOB_NAME";
const SERVER = "PROMETHEUS_EXPORTER_SERVER_NAME";
const DYNAMIC = "PROMETHEUS_DYNAMIC_EXPORT";

/** Every label the old poller wrote; `job`, `__metrics_path__` and `__scheme__` only when not empty. */
const OLD_LABELS = [
  "task_arn",
  "task_name",
  "task_revision",
  "task_group",
  "cluster_arn",
  "container_name",
  "container_arn",
  "docker_image",
  "job",
  "__metrics_path__",
  "__scheme__",
] as const;

/** The old poller's flags, and the function's variable each became. */
type OldFlag =
  | "-config.port-label"
  | "-config.path-label"
  | "-config.scheme-label"
  | "-config.filter-label"
  | "-config.server-name-label"
  | "-config.job-name-label"
  | "-config.dynamic-port-detection";
const FLAG_VARIABLE: Record<OldFlag, string> = {
  "-config.port-label": "PORT_LABEL",
  "-config.path-label": "PATH_LABEL",
  "-config.scheme-label": "SCHEME_LABEL",
  "-config.filter-label": "FILTER_LABEL",
  "-config.server-name-label": "SERVER_NAME_LABEL",
  "-config.job-name-label": "JOB_NAME_LABEL",
  "-config.dynamic-port-detection": "DYNAMIC_EXPORT",
};

interface Container {
  name?: string;
  labels: Record<string, string>;
  /** Container ports of the definition's port mappings (default [8080]). */
  ports?: number[];
  /**
   * The running container's bindings: [containerPort, hostPort, bindIP (default 0.0.0.0)], or a port range
   * mapping as ECS reports it: ["9000-9010", "41000-41010"].
   */
  bindings?: ([number, number, string?] | [string, string])[];
  /** The running container's ENI address (awsvpc). */
  eni?: string;
  lastStatus?: string;
  /** false: ECS runs it, but it is not in the task definition (Service Connect). */
  inDefinition?: false;
}

/** One target: its address, its container (default "app") and the optional labels it carries. */
interface Target {
  target: string;
  container?: string;
  job?: string;
  __metrics_path__?: string;
  __scheme__?: string;
}

interface Row {
  name: string;
  flags?: Partial<Record<OldFlag, string>>;
  launchType?: "EC2" | "FARGATE" | "EXTERNAL";
  networkMode?: "bridge" | "host" | "awsvpc";
  containers: Container[];
  task?: Partial<Pick<TaskView, "lastStatus" | "desiredStatus" | "group">>;
  hosts?: HostInfo[];
  /** What the old poller wrote. */
  old: Target[];
  /** The old poller's whole poll failed on this task: it wrote no file at all. */
  oldPollFailed?: true;
  /** Where the product differs on purpose: why, and what it writes instead. */
  deliberate?: { reason: string; product: Target[] };
  /** A warning the product logs for the row (it never fails silently where the old poller wrote nonsense). */
  warning?: RegExp;
}

const app = (labels: Record<string, string>, more: Omit<Container, "labels"> = {}): Container[] => [
  { labels, ...more },
];
const DYNAMIC_MODE = { "-config.dynamic-port-detection": "true" } as const;
const FARGATE = { launchType: "FARGATE", networkMode: "awsvpc" } as const;

const ROWS: Row[] = [
  // ---- addresses by network mode
  {
    name: "bridge with a dynamic host port",
    containers: app({ [PORT]: "8080" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "bridge, the agent reporting an IPv4 and an IPv6 binding",
    containers: app(
      { [PORT]: "8080" },
      {
        bindings: [
          [8080, 32768],
          [8080, 32768, "::"],
        ],
      },
    ),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "bridge with a static host port",
    containers: app({ [PORT]: "8080" }, { bindings: [[8080, 80]] }),
    old: [{ target: "10.0.0.5:80" }],
  },
  {
    name: "EC2 task definition without networkMode (bridge)",
    networkMode: undefined,
    containers: app({ [PORT]: "8080" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "several port mappings: the labelled container port's binding",
    containers: app(
      { [PORT]: "9100" },
      {
        ports: [8080, 9100],
        bindings: [
          [8080, 32768],
          [9100, 32769],
        ],
      },
    ),
    old: [{ target: "10.0.0.5:32769" }],
  },
  {
    name: "several containers, one target each, unlabelled ones left out",
    containers: [
      { labels: { [PORT]: "8080" } },
      { name: "envoy", labels: { [PORT]: "9901" }, ports: [9901], bindings: [[9901, 32790]] },
      { name: "log-router", labels: {}, ports: [], bindings: [] },
    ],
    old: [{ target: "10.0.0.5:32768" }, { target: "10.0.0.5:32790", container: "envoy" }],
  },
  {
    name: "host network mode",
    networkMode: "host",
    containers: app({ [PORT]: "9100" }, { ports: [9100], bindings: [[9100, 9100]] }),
    old: [{ target: "10.0.0.5:9100" }],
  },
  {
    name: "host network mode without port mappings",
    networkMode: "host",
    containers: app({ [PORT]: "9100" }, { ports: [], bindings: [] }),
    old: [{ target: "10.0.0.5:9100" }],
  },
  {
    name: "awsvpc on EC2: the task ENI's address and the container port",
    networkMode: "awsvpc",
    containers: app({ [PORT]: "8080" }, { bindings: [], eni: "10.1.0.7" }),
    old: [{ target: "10.1.0.7:8080" }],
  },
  {
    name: "awsvpc on Fargate",
    ...FARGATE,
    containers: app({ [PORT]: "8080" }, { bindings: [], eni: "10.2.0.9" }),
    old: [{ target: "10.2.0.9:8080" }],
  },
  {
    name: "Fargate task definition without networkMode",
    launchType: "FARGATE",
    networkMode: undefined,
    containers: app({ [PORT]: "8080" }, { bindings: [], eni: "10.2.0.9" }),
    old: [{ target: "10.2.0.9:8080" }],
  },
  // ---- the port label
  {
    name: "port written +9100",
    networkMode: "host",
    containers: app({ [PORT]: "+9100" }, { ports: [9100], bindings: [[9100, 9100]] }),
    old: [{ target: "10.0.0.5:9100" }],
  },
  {
    name: "port written with leading zeros",
    containers: app({ [PORT]: "008080" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  { name: "port 0", warning: /port "0" .* dropped/, containers: app({ [PORT]: "0" }), old: [] },
  {
    name: "negative port",
    warning: /port "-8080" .* dropped/,
    containers: app({ [PORT]: "-8080" }),
    old: [],
  },
  {
    name: "port not a number",
    warning: /port "http" .* dropped/,
    containers: app({ [PORT]: "http" }),
    old: [],
  },
  {
    name: "bridge, labelled port without a binding",
    warning: /container port 9999 has no host port binding/,
    containers: app({ [PORT]: "9999" }),
    old: [],
  },
  {
    name: "port in white space",
    containers: app({ [PORT]: " 8080" }),
    old: [],
    deliberate: {
      reason: "Atoi refused the blank; a port surrounded by white space is plainly meant, so it is trimmed",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "awsvpc, port beyond 65535",
    warning: /port "70000" is not a port number from 1 to 65535: the unnamed endpoint is dropped/,
    ...FARGATE,
    containers: app({ [PORT]: "70000" }, { bindings: [], eni: "10.2.0.9" }),
    old: [{ target: "10.2.0.9:70000" }],
    deliberate: {
      reason: "no such port: Prometheus cannot scrape it and the sidecar would refuse the whole file for it",
      product: [],
    },
  },
  // ---- path, scheme, job, server name
  {
    name: "path with a leading /",
    containers: app({ [PORT]: "8080", [PATH]: "/prom" }),
    old: [{ target: "10.0.0.5:32768", __metrics_path__: "/prom" }],
  },
  {
    name: "path without a leading /, written as it is",
    containers: app({ [PORT]: "8080", [PATH]: "metrics" }),
    old: [{ target: "10.0.0.5:32768", __metrics_path__: "metrics" }],
  },
  {
    name: "empty path: Prometheus's default",
    containers: app({ [PORT]: "8080", [PATH]: "" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "scheme https",
    containers: app({ [PORT]: "8080", [SCHEME]: "https" }),
    old: [{ target: "10.0.0.5:32768", __scheme__: "https" }],
  },
  {
    name: "scheme in upper case",
    containers: app({ [PORT]: "8080", [SCHEME]: "HTTPS" }),
    old: [{ target: "10.0.0.5:32768", __scheme__: "HTTPS" }],
    deliberate: {
      reason: "written in lower case, the only spelling Prometheus documents; the scrape URL is the same",
      product: [{ target: "10.0.0.5:32768", __scheme__: "https" }],
    },
  },
  {
    name: "scheme neither http nor https",
    warning: /scheme "ftp" is not "http" or "https": the setting is ignored/,
    containers: app({ [PORT]: "8080", [SCHEME]: "ftp" }),
    old: [{ target: "10.0.0.5:32768", __scheme__: "ftp" }],
    deliberate: {
      reason:
        "Prometheus cannot scrape ftp: the setting is ignored with a warning and the target kept (http)",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "job name",
    containers: app({ [PORT]: "8080", [JOB]: "checkout" }),
    old: [{ target: "10.0.0.5:32768", job: "checkout" }],
  },
  {
    name: "empty job name: no job label, the target kept",
    containers: app({ [PORT]: "8080", [JOB]: "" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "server name",
    containers: app({ [PORT]: "8080", [SERVER]: "web.internal" }),
    old: [{ target: "web.internal:32768" }],
  },
  {
    name: "server name with a trailing /",
    containers: app({ [PORT]: "8080", [SERVER]: "web.internal/" }),
    old: [{ target: "web.internal:32768" }],
  },
  {
    name: "server name with several trailing /",
    containers: app({ [PORT]: "8080", [SERVER]: "web.internal//" }),
    old: [{ target: "web.internal:32768" }],
  },
  {
    name: "empty server name",
    containers: app({ [PORT]: "8080", [SERVER]: "" }),
    old: [{ target: ":32768" }],
    deliberate: {
      reason: "a target without a host cannot be scraped: an empty server name means none, so the IP is used",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "server name with a port",
    warning: /server name "web.internal:8443" .* the task's IP address/,
    containers: app({ [PORT]: "8080", [SERVER]: "web.internal:8443" }),
    old: [{ target: "web.internal:8443:32768" }],
    deliberate: {
      reason: "host:port:port is no address: the server name is ignored with a warning and the IP is used",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "labels the old poller did not know (interval, a bad one) change nothing it wrote",
    warning: /interval "often" .* ignored/,
    containers: app({ [PORT]: "8080", PROMETHEUS_EXPORTER_INTERVAL: "often" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "standalone task: its group as task_group",
    task: { group: "family:web" },
    containers: app({ [PORT]: "8080" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  // ---- the filter label
  {
    name: "filter NAME, carried",
    flags: { "-config.filter-label": "scrape" },
    containers: app({ [PORT]: "8080", scrape: "true" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "filter NAME, not carried",
    flags: { "-config.filter-label": "scrape" },
    containers: app({ [PORT]: "8080" }),
    old: [],
  },
  {
    name: "filter NAME=VALUE, same value",
    flags: { "-config.filter-label": "team=payments" },
    containers: app({ [PORT]: "8080", team: "payments" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "filter NAME=VALUE, other value",
    flags: { "-config.filter-label": "team=payments" },
    containers: app({ [PORT]: "8080", team: "search" }),
    old: [],
  },
  {
    name: "filter NAME= (an empty value)",
    flags: { "-config.filter-label": "team=" },
    containers: app({ [PORT]: "8080", team: "" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "filter value containing =, same value",
    flags: { "-config.filter-label": "route=a=b" },
    containers: app({ [PORT]: "8080", route: "a=b" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "filter value containing =, other value",
    flags: { "-config.filter-label": "route=a=b" },
    containers: app({ [PORT]: "8080", route: "c" }),
    old: [{ target: "10.0.0.5:32768" }],
    deliberate: {
      reason: "the old poller split NAME=VALUE at every = and then checked only that NAME was there",
      product: [],
    },
  },
  // ---- custom label names
  {
    name: "custom label names",
    flags: {
      "-config.port-label": "com.example.port",
      "-config.path-label": "com.example.path",
      "-config.scheme-label": "com.example.scheme",
      "-config.job-name-label": "com.example.job",
      "-config.server-name-label": "com.example.host",
    },
    containers: app({
      "com.example.port": "8080",
      "com.example.path": "/x",
      "com.example.scheme": "https",
      "com.example.job": "api",
      "com.example.host": "web.internal/",
    }),
    old: [{ target: "web.internal:32768", __metrics_path__: "/x", __scheme__: "https", job: "api" }],
  },
  {
    name: "custom port label: the default name means nothing",
    flags: { "-config.port-label": "com.example.port" },
    containers: app({ [PORT]: "8080", [PATH]: "/m" }),
    old: [],
  },
  // ---- dynamic port detection
  {
    name: "dynamic detection: labelled 1, the single binding",
    flags: DYNAMIC_MODE,
    containers: app({ [DYNAMIC]: "1" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "dynamic detection: the port label is ignored",
    flags: DYNAMIC_MODE,
    containers: app({ [DYNAMIC]: "1", [PORT]: "9999" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  {
    name: "dynamic detection: path, job and server name still apply",
    flags: DYNAMIC_MODE,
    containers: app({ [DYNAMIC]: "1", [PATH]: "/m", [JOB]: "dyn", [SERVER]: "web.internal/" }),
    old: [{ target: "web.internal:32768", __metrics_path__: "/m", job: "dyn" }],
  },
  {
    name: "dynamic detection: a port label alone counts for nothing",
    flags: DYNAMIC_MODE,
    containers: app({ [PORT]: "8080" }),
    old: [],
  },
  {
    name: "dynamic detection: labelled 0",
    flags: DYNAMIC_MODE,
    containers: app({ [DYNAMIC]: "0" }),
    old: [],
  },
  {
    name: "dynamic detection: two published ports",
    warning: /exactly one published host port/,
    flags: DYNAMIC_MODE,
    containers: app(
      { [DYNAMIC]: "1" },
      {
        ports: [8080, 9100],
        bindings: [
          [8080, 32768],
          [9100, 32769],
        ],
      },
    ),
    old: [],
  },
  {
    name: "dynamic detection: host network mode",
    flags: DYNAMIC_MODE,
    networkMode: "host",
    containers: app({ [DYNAMIC]: "1" }, { ports: [9100], bindings: [[9100, 9100]] }),
    old: [{ target: "10.0.0.5:9100" }],
  },
  {
    name: "dynamic detection: one port reported as an IPv4 and an IPv6 binding",
    flags: DYNAMIC_MODE,
    containers: app(
      { [DYNAMIC]: "1" },
      {
        bindings: [
          [8080, 32768],
          [8080, 32768, "::"],
        ],
      },
    ),
    old: [],
    deliberate: {
      reason: "newer agents report each port once per address family; it is still one port, so it is scraped",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "dynamic detection: awsvpc on Fargate",
    flags: DYNAMIC_MODE,
    ...FARGATE,
    containers: app({ [DYNAMIC]: "1" }, { bindings: [], eni: "10.2.0.9" }),
    old: [],
    deliberate: {
      reason: "awsvpc has no host bindings, which the old poller counted; the single port mapping is used",
      product: [{ target: "10.2.0.9:8080" }],
    },
  },
  {
    name: "dynamic detection: labelled true",
    flags: DYNAMIC_MODE,
    containers: app({ [DYNAMIC]: "true" }),
    old: [],
    deliberate: {
      reason: "the label means the same in both modes, where true and 1 are one value",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "dynamic detection: the filter label is not carried",
    flags: { ...DYNAMIC_MODE, "-config.filter-label": "scrape" },
    containers: app({ [DYNAMIC]: "1" }),
    old: [{ target: "10.0.0.5:32768" }],
    deliberate: {
      reason: "the old poller ignored a configured filter in this mode; a configured filter always applies",
      product: [],
    },
  },
  {
    name: "dynamic detection off: a dynamic label alone",
    containers: app({ [DYNAMIC]: "1" }),
    old: [],
    deliberate: {
      reason:
        "per container (the default) the label opts its container in; DYNAMIC_EXPORT=only is the old mode",
      product: [{ target: "10.0.0.5:32768" }],
    },
  },
  {
    name: "dynamic detection off: port label and dynamic label, the port label wins",
    containers: app({ [PORT]: "8080", [DYNAMIC]: "1" }),
    old: [{ target: "10.0.0.5:32768" }],
  },
  // ---- what the old poller's code treated specially
  {
    name: "bridge, the agent reporting only an IPv6 binding",
    containers: app({ [PORT]: "8080" }, { bindings: [[8080, 40000, "::"]] }),
    old: [],
    deliberate: {
      reason: "the old poller took only bindings on 0.0.0.0; a binding on :: is the same published port",
      product: [{ target: "10.0.0.5:40000" }],
    },
  },
  {
    name: "bridge, a port range mapping",
    containers: app({ [PORT]: "9004" }, { ports: [], bindings: [["9000-9010", "41000-41010"]] }),
    // A range binding has no single container port, which the old poller read without checking: it crashed.
    old: [],
    oldPollFailed: true,
    deliberate: {
      reason: "the labelled port is looked up in the range; the old poller crashed on such a binding",
      product: [{ target: "10.0.0.5:41004" }],
    },
  },
  {
    name: "bridge container without published ports",
    warning: /container port 8080 has no host port binding/,
    containers: app({ [PORT]: "8080" }, { ports: [], bindings: [] }),
    old: [{ target: "10.0.0.5:8080" }],
    deliberate: {
      reason:
        "with no bindings the old poller fell back to the host IP and container port, unreachable in bridge mode",
      product: [],
    },
  },
  {
    name: "host network mode, labelled port not among the bindings",
    networkMode: "host",
    containers: app({ [PORT]: "9100" }, { ports: [8080], bindings: [[8080, 8080]] }),
    old: [],
    deliberate: {
      reason: "in host mode the container port is the host port, mapped or not",
      product: [{ target: "10.0.0.5:9100" }],
    },
  },
  {
    name: "named endpoint labels, unknown to the old poller",
    networkMode: "host",
    containers: app({ [PORT]: "8080", [`${PORT}.admin`]: "9090" }, { ports: [8080, 9090], bindings: [] }),
    old: [{ target: "10.0.0.5:8080" }],
    deliberate: {
      reason: "PROMETHEUS_EXPORTER_PORT.<name> is new: one more target per named endpoint",
      product: [{ target: "10.0.0.5:8080" }, { target: "10.0.0.5:9090" }],
    },
  },
  {
    name: "task still PENDING",
    ...FARGATE,
    task: { lastStatus: "PENDING" },
    containers: app({ [PORT]: "8080" }, { bindings: [], eni: "10.2.0.9" }),
    old: [{ target: "10.2.0.9:8080" }],
    deliberate: {
      reason: "a target exists only while the task is RUNNING; the old poller listed every task meant to run",
      product: [],
    },
  },
  {
    name: "task asked to stop (desiredStatus STOPPED)",
    task: { desiredStatus: "STOPPED" },
    containers: app({ [PORT]: "8080" }),
    old: [],
  },
  {
    name: "Fargate task whose ENI has no address",
    warning: /no ENI address/,
    ...FARGATE,
    containers: app({ [PORT]: "8080" }, { bindings: [] }),
    old: [{ target: ":8080" }],
    deliberate: { reason: "a target without a host cannot be scraped: skipped with a warning", product: [] },
  },
  {
    name: "exited container (a finished init container)",
    ...FARGATE,
    containers: [
      {
        name: "init",
        labels: { [PORT]: "9000" },
        ports: [9000],
        bindings: [],
        eni: "10.2.0.9",
        lastStatus: "STOPPED",
      },
      { labels: { [PORT]: "8080" }, bindings: [], eni: "10.2.0.9" },
    ],
    old: [{ target: "10.2.0.9:9000", container: "init" }, { target: "10.2.0.9:8080" }],
    deliberate: { reason: "a stopped container serves nothing", product: [{ target: "10.2.0.9:8080" }] },
  },
  {
    name: "container ECS injected on Fargate (Service Connect)",
    ...FARGATE,
    containers: [
      { labels: { [PORT]: "8080" }, bindings: [], eni: "10.2.0.9" },
      { name: "ecs-service-connect-7d2e", labels: {}, bindings: [], eni: "10.2.0.9", inDefinition: false },
    ],
    // On Fargate the old poller paired a container missing from the definition with the definition's last one.
    old: [{ target: "10.2.0.9:8080" }, { target: "10.2.0.9:8080", container: "ecs-service-connect-7d2e" }],
    deliberate: {
      reason: "an injected container is not in the task definition and is never a target",
      product: [{ target: "10.2.0.9:8080" }],
    },
  },
  {
    name: "ECS Anywhere (external) instance",
    launchType: "EXTERNAL",
    hosts: [ANYWHERE],
    containers: app({ [PORT]: "8080" }),
    // Its mi- id made the old poller's DescribeInstances call fail, and with it the whole poll: the file
    // was not rewritten, so every cluster's targets stayed as they were until the task went away.
    old: [],
    oldPollFailed: true,
    warning: /ECS Anywhere/,
    deliberate: {
      reason: "the task is skipped with a warning; every other task is still published",
      product: [],
    },
  },
];

function isAwsvpc(row: Row): boolean {
  return row.networkMode === "awsvpc" || (row.networkMode === undefined && row.launchType === "FARGATE");
}

function containerArn(name: string): string {
  return `arn:aws:ecs:eu-west-1:123456789012:container/prod/0f1e2d3c4b5a69788796a5b4c3d2e1f0/${name}-4349`;
}

function bindings(row: Row, c: Container): NetworkBinding[] {
  const list = c.bindings ?? (isAwsvpc(row) ? [] : [[8080, 32768]]);
  return list.map((b) =>
    typeof b[0] === "string"
      ? { bindIP: "0.0.0.0", containerPortRange: b[0], hostPortRange: String(b[1]), protocol: "tcp" }
      : { bindIP: b[2] ?? "0.0.0.0", containerPort: b[0], hostPort: Number(b[1]), protocol: "tcp" },
  );
}

function definitionOf(row: Row): TaskDefinitionSpec {
  return {
    taskDefinitionArn: TD,
    family: "web",
    revision: 7,
    ...(row.networkMode ? { networkMode: row.networkMode } : {}),
    containers: row.containers
      .filter((c) => c.inDefinition !== false)
      .map((c) => ({
        name: c.name ?? "app",
        image: IMAGE,
        dockerLabels: c.labels,
        portMappings: (c.ports ?? [8080]).map((containerPort) => ({
          containerPort,
          hostPort: 0,
          protocol: "tcp",
        })),
      })),
  };
}

function taskOf(row: Row): TaskView {
  const fargate = row.launchType === "FARGATE";
  const eni = row.containers.find((c) => c.eni)?.eni;
  return {
    taskArn: TASK,
    clusterArn: CLUSTER,
    taskDefinitionArn: TD,
    group: "service:web",
    launchType: row.launchType ?? "EC2",
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    ...(fargate ? {} : { containerInstanceArn: CI }),
    ...(eni ? { eniPrivateIp: eni } : {}),
    ...row.task,
    containers: row.containers.map((c) => ({
      name: c.name ?? "app",
      containerArn: containerArn(c.name ?? "app"),
      // The agent reports the image it resolved; the old poller wrote the definition's.
      image: `${IMAGE}@sha256:0123`,
      lastStatus: c.lastStatus ?? "RUNNING",
      networkBindings: bindings(row, c),
      ...(c.eni ? { privateIpv4Address: c.eni } : {}),
    })),
  };
}

/** The product, as the engine runs one task: relevance (what is recorded at all), then target building. */
function product(row: Row): { groups: BuiltGroup[]; warnings: string[] } {
  const env: Record<string, string> = {};
  for (const [flag, value] of Object.entries(row.flags ?? {}) as [OldFlag, string][]) {
    env[FLAG_VARIABLE[flag]] = flag === "-config.dynamic-port-detection" ? "only" : value;
  }
  const rules = compileRules(readDiscoverySettings(env));
  const taskDefinitions = new Map([[TD, definitionOf(row)]]);
  const tasks = relevantTasks([taskOf(row)], taskDefinitions, rules);
  const hosts = new Map((row.hosts ?? [HOST]).map((h) => [h.containerInstanceArn, h]));
  const built = buildTargetGroups({ tasks, taskDefinitions, hosts, rules });
  return { groups: built.groups, warnings: built.warnings.map((w) => w.message) };
}

type Written = { target: string; labels: Record<string, string> };

/** The labels the old poller wrote for a target: its fixed set, and the optional three when not empty. */
function oldLabels(row: Row, t: Target): Written {
  const container = t.container ?? "app";
  const labels: Record<string, string | undefined> = {
    task_arn: TASK,
    task_name: "web",
    task_revision: "7",
    task_group: row.task?.group ?? "service:web",
    cluster_arn: CLUSTER,
    container_name: container,
    container_arn: containerArn(container),
    docker_image: IMAGE,
    job: t.job,
    __metrics_path__: t.__metrics_path__,
    __scheme__: t.__scheme__,
  };
  return { target: t.target, labels: withValues(labels) };
}

function withValues(labels: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== undefined && v !== "")) as Record<
    string,
    string
  >;
}

/** The product's groups reduced to what the old poller wrote: the target and the old label names. */
function asOld(groups: BuiltGroup[]): Written[] {
  return groups.map((g) => ({
    target: g.targets[0] as string,
    labels: withValues(Object.fromEntries(OLD_LABELS.map((name) => [name, g.labels[name]]))),
  }));
}

const byTarget = (a: Written, b: Written) =>
  `${a.target} ${a.labels.container_name}`.localeCompare(`${b.target} ${b.labels.container_name}`);

describe("migrating from the old poller: the same targets and labels for the same task definitions", () => {
  it("covers the corpus", () => {
    expect(ROWS.length).toBeGreaterThanOrEqual(25);
    expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
  });

  it.each(ROWS.filter((r) => !r.deliberate).map((r) => [r.name, r] as const))("%s", (_name, row) => {
    const expected = row.old.map((t) => oldLabels(row, t)).sort(byTarget);
    const { groups, warnings } = product(row);
    expect(asOld(groups).sort(byTarget)).toEqual(expected);
    if (row.warning)
      expect(
        warnings.some((w) => row.warning?.test(w)),
        warnings.join("\n"),
      ).toBe(true);
  });

  it.each(ROWS.filter((r) => r.deliberate).map((r) => [r.name, r] as const))(
    "%s (deliberately different)",
    (_name, row) => {
      const deliberate = row.deliberate as NonNullable<Row["deliberate"]>;
      expect(deliberate.reason.length).toBeGreaterThan(20);
      const old = row.old.map((t) => oldLabels(row, t)).sort(byTarget);
      const expected = deliberate.product.map((t) => oldLabels(row, t)).sort(byTarget);
      if (!row.oldPollFailed)
        expect(expected, "the product's output differs from the old poller's").not.toEqual(old);
      const { groups, warnings } = product(row);
      expect(asOld(groups).sort(byTarget)).toEqual(expected);
      if (row.warning)
        expect(
          warnings.some((w) => row.warning?.test(w)),
          warnings.join("\n"),
        ).toBe(true);
    },
  );
});
