import type { Fleet } from "./fleet.js";
import type {
  Addressing,
  ContainerDefinitionInput,
  HealthStatus,
  HostRecord,
  LaunchType,
  SchedulingStrategy,
  TaskDefinitionInput,
} from "./model.js";
import { Prng } from "./prng.js";
import type { StandIn } from "./server.js";

/**
 * Builds realistic fleets, deterministically from a seed: the same seed on a fresh stand-in (same fleet
 * seed) gives the same clusters, ARNs, ports and addresses. The mix is what the engine must cope with:
 * bridge tasks with dynamic host ports (some hosts with IPv6 double bindings), host-mode daemons,
 * awsvpc tasks on EC2, Fargate, named extra endpoints, unlabelled sidecars, services, standalone tasks,
 * custom groups, older task-definition revisions still running, Service Connect proxies, a few PENDING tasks.
 *
 * Metadata (on by default): tagged clusters, services and EC2 instances, some hosts and Fargate tasks with
 * public addresses, health checks and health statuses. It comes from a second generator derived from the
 * seed, never from the one that picks task kinds, ports and ids: a seed gives the same ARNs, addresses and
 * ports with or without metadata, and as it did before metadata existed.
 */
export interface GenerateOptions {
  clusters: number;
  /** Total tasks, spread as evenly as possible over the clusters (counts differ by at most one). */
  tasks: number;
  /** EC2 container instances per cluster; default one per 20 tasks. 0 gives a Fargate-only fleet. */
  hostsPerCluster?: number;
  /** ECS Anywhere (EXTERNAL) container instances per cluster, with one task each; default 0. */
  externalHostsPerCluster?: number;
  seed?: number;
  /** Addresses of hosts and ENIs; `loopback` (127.0.x.y) for anything a real Prometheus will scrape. */
  addressing?: Addressing;
  /** Cluster names are `${clusterPrefix}-01`, `-02`, …; default `cluster`. */
  clusterPrefix?: string;
  /** Share of tasks left PENDING (never targets); default 0.01. */
  pendingFraction?: number;
  /** Tags, public addresses and health (default on); `false` gives bare resources as before. */
  metadata?: boolean | GenerateMetadataOptions;
}

export interface GenerateMetadataOptions {
  /** Share of EC2 hosts with a public IPv4 address; default 0.25. */
  hostPublicIpFraction?: number;
  /** Share of Fargate tasks whose ENI gets a public IPv4 address; default 0.3. */
  fargatePublicIpFraction?: number;
  /** Share of RUNNING tasks with a health check that are UNHEALTHY (the others HEALTHY); default 0.05. */
  unhealthyFraction?: number;
}

export interface GeneratedFleet {
  clusters: string[];
  hosts: { cluster: string; containerInstanceArn: string; ec2InstanceId: string }[];
  taskArns: string[];
  taskDefinitionArns: string[];
  /** The services the tasks belong to (created explicitly with metadata, implicitly without). */
  serviceArns: string[];
}

const SERVICE_WORDS = [
  "checkout",
  "payments",
  "search",
  "catalog",
  "orders",
  "profile",
  "billing",
  "inventory",
  "shipping",
  "reviews",
  "auth",
  "notifications",
];

type Kind = "api" | "daemon" | "vpc" | "fargate" | "batch" | "warmer" | "worker";

/** Weights of the non-daemon kinds; the EC2 ones drop out when a cluster has no EC2 hosts. */
const WEIGHTS: [Kind, number][] = [
  ["api", 0.35],
  ["vpc", 0.15],
  ["fargate", 0.25],
  ["batch", 0.1],
  ["warmer", 0.05],
  ["worker", 0.1],
];
const EC2_ONLY: ReadonlySet<Kind> = new Set(["api", "vpc", "batch", "warmer", "daemon"]);
/** The kinds whose definition has a container health check (when metadata is on). */
const HEALTH_CHECKED: ReadonlySet<Kind> = new Set(["api", "vpc", "fargate"]);
const FARGATE_KINDS: ReadonlySet<Kind> = new Set(["fargate", "worker"]);

const LOG_ROUTER: ContainerDefinitionInput = {
  name: "log-router",
  image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
  essential: false,
};

/** `target`: the stand-in (its default fleet), an `AccountFleet` (`standIn.addFleet(…)`) or a fleet. */
export function generateFleet(
  target: StandIn | { fleet: Fleet } | Fleet,
  options: GenerateOptions,
): GeneratedFleet {
  const fleet = "fleet" in target ? target.fleet : target;
  if (options.addressing) fleet.addressing = options.addressing;
  const rng = new Prng(options.seed ?? 1);
  const prefix = options.clusterPrefix ?? "cluster";
  const clusterCount = Math.max(1, options.clusters);
  const perCluster = (i: number): number =>
    Math.floor(options.tasks / clusterCount) + (i < options.tasks % clusterCount ? 1 : 0);
  const pendingFraction = options.pendingFraction ?? 0.01;
  const result: GeneratedFleet = {
    clusters: [],
    hosts: [],
    taskArns: [],
    taskDefinitionArns: [],
    serviceArns: [],
  };
  const meta =
    options.metadata === false ? undefined : options.metadata === true ? {} : (options.metadata ?? {});
  // Its own stream: metadata draws never shift the choices (and so the ids) of the main generator.
  const metaRng = new Prng(mix32(options.seed ?? 1));
  const hostPublicIp = meta?.hostPublicIpFraction ?? 0.25;
  const fargatePublicIp = meta?.fargatePublicIpFraction ?? 0.3;
  const unhealthy = meta?.unhealthyFraction ?? 0.05;

  for (let ci = 0; ci < clusterCount; ci++) {
    const name = `${prefix}-${String(ci + 1).padStart(2, "0")}`;
    const word = SERVICE_WORDS[ci % SERVICE_WORDS.length] ?? "svc";
    const env = ci % 3 === 0 ? "prod" : "staging";
    fleet.addCluster(
      name,
      meta ? { tags: { env, team: word, "cost-center": `cc-${String(1000 + ci)}` } } : {},
    );
    result.clusters.push(name);
    const taskCount = perCluster(ci);
    const hostCount = options.hostsPerCluster ?? Math.ceil(taskCount / 20);

    const hosts: HostRecord[] = [];
    for (let h = 0; h < hostCount; h++) {
      const added = fleet.addHost(
        name,
        meta
          ? {
              tags: { Name: `${name}-ecs-${h + 1}`, team: word, "aws:autoscaling:groupName": `${name}-asg` },
              ...(metaRng.bool(hostPublicIp) ? { publicIp: fleet.allocatePublicIp() } : {}),
            }
          : {},
      );
      result.hosts.push({ cluster: name, ...added });
      const host = fleet.findHost(added.containerInstanceArn);
      if (host) hosts.push(host);
    }
    // IPv6 is an agent setting, so it is decided per host: every fourth host reports double bindings.
    const ipv6Hosts = new Set(hosts.filter((_, i) => i % 4 === 0));
    const ipv6Host = (host: HostRecord): boolean => ipv6Hosts.has(host);

    const round = Math.floor(ci / SERVICE_WORDS.length);
    const family = (kind: Kind): string => `${word}${round > 0 ? round + 1 : ""}-${kind}`;
    const defs = new Map<Kind, string[]>();
    const register = (kind: Kind, input: TaskDefinitionInput): void => {
      const arn = fleet.registerTaskDefinition(input);
      result.taskDefinitionArns.push(arn);
      defs.set(kind, [...(defs.get(kind) ?? []), arn]);
    };
    for (const [kind, input] of definitions(rng, family, meta !== undefined)) register(kind, input);

    /** The service of a kind, created with its tags before its first task when metadata is on. */
    const service = (kind: Kind): string => {
      const svc = family(kind);
      if (meta && !fleet.findService(name, svc)) {
        const launchType: LaunchType = kind === "fargate" ? "FARGATE" : "EC2";
        const schedulingStrategy: SchedulingStrategy = kind === "daemon" ? "DAEMON" : "REPLICA";
        fleet.createService(name, svc, {
          launchType,
          schedulingStrategy,
          tags: { team: word, env, "aws:cloudformation:stack-name": `${name}-${kind}` },
        });
      }
      return svc;
    };
    /** RUNNING tasks of health-checked definitions are HEALTHY, a few UNHEALTHY; all others UNKNOWN. */
    const health = (kind: Kind, running: boolean): HealthStatus | undefined => {
      if (!meta || !running || !HEALTH_CHECKED.has(kind)) return undefined;
      return metaRng.bool(unhealthy) ? "UNHEALTHY" : "HEALTHY";
    };

    let remaining = taskCount;
    // ECS Anywhere machines: one small exporter task each (the engine must skip these with a warning).
    for (let e = 0; e < (options.externalHostsPerCluster ?? 0) && remaining > 0; e++, remaining--) {
      const added = fleet.addHost(name, { external: true });
      result.hosts.push({ cluster: name, ...added });
      result.taskArns.push(
        fleet.runTask(name, { taskDefinition: latest(defs, "batch"), host: added.containerInstanceArn }),
      );
    }
    // A host-mode exporter daemon on part of the hosts (one per host: host ports cannot be shared).
    const daemons = Math.min(hosts.length, Math.floor(taskCount * 0.1), remaining);
    for (let d = 0; d < daemons; d++, remaining--) {
      const host = hosts[d] as HostRecord;
      result.taskArns.push(
        fleet.runTask(name, {
          taskDefinition: latest(defs, "daemon"),
          host: host.containerInstanceArn,
          serviceName: service("daemon"),
          ipv6: ipv6Host(host),
        }),
      );
    }

    const weights = hosts.length > 0 ? WEIGHTS : WEIGHTS.filter(([k]) => !EC2_ONLY.has(k));
    const totalWeight = weights.reduce((s, [, w]) => s + w, 0);
    let nextHost = 0;
    for (; remaining > 0; remaining--) {
      let roll = rng.next() * totalWeight;
      let kind: Kind = weights[0]?.[0] ?? "fargate";
      for (const [k, w] of weights) {
        roll -= w;
        if (roll < 0) {
          kind = k;
          break;
        }
      }
      const revisions = defs.get(kind) ?? [];
      // A rolling deployment in progress: some tasks still run the previous revision.
      const taskDefinition =
        revisions.length > 1 && rng.bool(0.1)
          ? (revisions[0] as string)
          : (revisions[revisions.length - 1] as string);
      const host = EC2_ONLY.has(kind) ? hosts[nextHost++ % hosts.length] : undefined;
      const isService = kind === "api" || kind === "vpc" || kind === "fargate";
      // The main generator's draws, in the order they have always been made.
      const spot = kind === "fargate" && rng.bool(0.3);
      const injectServiceConnect = (kind === "vpc" || kind === "fargate") && rng.bool(0.1);
      const pending = rng.bool(pendingFraction);
      const healthStatus = health(kind, !pending);
      const assignPublicIp = meta !== undefined && FARGATE_KINDS.has(kind) && metaRng.bool(fargatePublicIp);
      result.taskArns.push(
        fleet.runTask(name, {
          taskDefinition,
          ...(host ? { host: host.containerInstanceArn, ipv6: ipv6Host(host) } : {}),
          ...(isService ? { serviceName: service(kind) } : {}),
          ...(kind === "warmer" ? { group: "warmers" } : {}),
          ...(kind === "worker" ? { startedBy: "events-rule/nightly" } : {}),
          ...(spot ? { capacityProviderName: "FARGATE_SPOT" } : {}),
          injectServiceConnect,
          tags: { team: word, env },
          lastStatus: pending ? "PENDING" : "RUNNING",
          ...(healthStatus ? { healthStatus } : {}),
          ...(assignPublicIp ? { assignPublicIp } : {}),
        }),
      );
    }
    for (const svc of fleet.activeCluster(name)?.services.values() ?? []) {
      if (svc.status !== "INACTIVE") result.serviceArns.push(svc.arn);
    }
  }
  return result;
}

/** murmur3's finalizer: a well-mixed 32-bit seed for the metadata generator. */
function mix32(seed: number): number {
  let h = (seed ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function latest(defs: Map<Kind, string[]>, kind: Kind): string {
  const list = defs.get(kind) ?? [];
  const arn = list[list.length - 1];
  if (arn === undefined) throw new Error(`no ${kind} task definition`);
  return arn;
}

/**
 * The task definitions of one cluster; `api` gets two revisions (old and new). `healthChecks` adds
 * container health checks to the api, vpc and fargate apps without touching `rng`.
 */
function definitions(
  rng: Prng,
  family: (kind: Kind) => string,
  healthChecks: boolean,
): [Kind, TaskDefinitionInput][] {
  const check = (port: number) =>
    healthChecks
      ? { healthCheck: { command: ["CMD-SHELL", `curl -fsS http://localhost:${port}/health || exit 1`] } }
      : {};
  const apiPort = rng.pick([8080, 8000, 3000, 9000]);
  const separateMetrics = rng.bool(0.5);
  const apiDef = (revisionImage: string): TaskDefinitionInput => ({
    family: family("api"),
    networkMode: "bridge",
    containers: [
      {
        name: "app",
        image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${family("api")}:${revisionImage}`,
        portMappings: separateMetrics
          ? [{ containerPort: apiPort, hostPort: 0 }, { containerPort: 9102 }]
          : [{ containerPort: apiPort, hostPort: 0 }],
        ...check(apiPort),
        dockerLabels: {
          PROMETHEUS_EXPORTER_PORT: String(separateMetrics ? 9102 : apiPort),
          ...(rng.bool(0.5) ? { PROMETHEUS_EXPORTER_PATH: "/actuator/prometheus" } : {}),
          ...(rng.bool(0.3) ? { PROMETHEUS_EXPORTER_JOB_NAME: family("api") } : {}),
        },
      },
      LOG_ROUTER,
    ],
  });
  return [
    ["api", apiDef("v1")],
    ["api", apiDef("v2")],
    [
      "daemon",
      {
        family: family("daemon"),
        networkMode: "host",
        containers: [
          {
            name: "node-exporter",
            image: "quay.io/prometheus/node-exporter:v1.8.2",
            portMappings: [{ containerPort: 9100 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100", PROMETHEUS_EXPORTER_JOB_NAME: "node" },
          },
        ],
      },
    ],
    [
      "vpc",
      {
        family: family("vpc"),
        networkMode: "awsvpc",
        containers: [
          {
            name: "app",
            image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${family("vpc")}:latest`,
            portMappings: [{ containerPort: 9090 }, { containerPort: 9091 }],
            ...check(9090),
            dockerLabels: {
              PROMETHEUS_EXPORTER_PORT: "9090",
              // A second endpoint of the same container, with its own path.
              "PROMETHEUS_EXPORTER_PORT.admin": "9091",
              "PROMETHEUS_EXPORTER_PATH.admin": "/admin/metrics",
            },
          },
          {
            name: "envoy",
            image: "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.12.1-prod",
            essential: false,
          },
        ],
      },
    ],
    [
      "fargate",
      {
        family: family("fargate"),
        requiresCompatibilities: ["FARGATE"],
        cpu: "256",
        memory: "512",
        containers: [
          {
            name: "web",
            image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${family("fargate")}:latest`,
            portMappings: [{ containerPort: 3000 }],
            ...check(3000),
            dockerLabels: {
              PROMETHEUS_EXPORTER_PORT: "3000",
              ...(rng.bool(0.4) ? { PROMETHEUS_EXPORTER_SCHEME: "https" } : {}),
              PROMETHEUS_EXPORTER_JOB_NAME: family("fargate"),
            },
          },
          LOG_ROUTER,
        ],
      },
    ],
    [
      "batch",
      {
        family: family("batch"),
        networkMode: "bridge",
        containers: [
          {
            name: "report",
            image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${family("batch")}:latest`,
            portMappings: [{ containerPort: 9400, hostPort: 0 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9400", PROMETHEUS_EXPORTER_PATH: "/metrics" },
          },
        ],
      },
    ],
    [
      "warmer",
      {
        family: family("warmer"),
        networkMode: "bridge",
        // No labels at all: a task that must never produce targets.
        containers: [{ name: "warmer", image: "public.ecr.aws/docker/library/busybox:stable" }],
      },
    ],
    [
      "worker",
      {
        family: family("worker"),
        requiresCompatibilities: ["FARGATE"],
        cpu: "512",
        memory: "1024",
        containers: [
          {
            name: "consumer",
            image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${family("worker")}:latest`,
          },
        ],
      },
    ],
  ];
}
