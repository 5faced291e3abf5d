/**
 * End to end with the real Prometheus: stand-in ECS/EC2 → the Lambda's invoke path → S3 (startS3) → the sidecar
 * (a child process) → Prometheus through file_sd_configs and http_sd_configs → scrapes of exporters that
 * really listen on loopback. What Prometheus itself reports in /api/v1/targets is the oracle.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallCounter } from "../../lambda/aws/call-counter.js";
import { createClients } from "../../lambda/aws/clients.js";
import type { EngineDeps } from "../../lambda/engine/deps.js";
import type { RunSummary } from "../../lambda/engine/summary.js";
import { run as invoke } from "../../lambda/invoke.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { S3TargetOutput } from "../../lambda/publish/s3-output.js";
import { generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { engineAgainst } from "../support/engine-harness.js";
import { type MetricsServer, startMetricsServers } from "../support/metrics-servers.js";
import {
  type ActiveTarget,
  metricSum,
  type PrometheusServer,
  poll,
  promtool,
  requireBinary,
  scrapeMetrics,
  startPrometheus,
  writeConfig,
} from "../support/prometheus.js";
import { type S3Server, startS3 } from "../support/s3.js";

const ROOT = join(import.meta.dirname, "..", "..");
const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const BUCKET = "ecs-sd-e2e";
const PREFIX = "targets/";
const FILE_POOL = "ecs-file";
const HTTP_POOL = "ecs-http";
const POOLS = [FILE_POOL, HTTP_POOL] as const;

const objectKey = (cluster: string) => `${PREFIX}${ACCOUNT}/${REGION}/${cluster}.json`;
const fileName = (cluster: string) => `${ACCOUNT}_${REGION}_${cluster}.json`;

/** What Prometheus must show for one target, worked out from the fleet, never from the engine's output. */
interface Expected {
  key: string;
  cluster: string;
  server: MetricsServer;
  path: string;
  /** The group's `job` label; absent means the scrape config's job_name. */
  job?: string;
  scrapeInterval?: string;
  taskArn: string;
  family: string;
  group: string;
  container: string;
  image: string;
  networkMode: string;
  launchType: string;
  containerPort: string;
  endpoint?: string;
}

const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp() {
  const failures: unknown[] = [];
  for (const step of cleanups.splice(0).reverse()) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, "clean-up failed");
}

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ecs-sd-e2e-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Sidecar {
  child: ChildProcess;
  url: string;
  records: Array<Record<string, unknown>>;
  output: () => string;
}

/** The sidecar as it is deployed: its own process, configured by flags and the standard AWS variables. */
async function startSidecar(s3Server: S3Server, outDir: string): Promise<Sidecar> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "sidecar/main.ts",
      "--bucket",
      BUCKET,
      "--prefix",
      PREFIX,
      "--out-dir",
      outDir,
      "--interval",
      "1s",
      "--listen",
      "127.0.0.1:0",
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        AWS_ENDPOINT_URL: s3Server.url,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: "e2e",
        AWS_SECRET_ACCESS_KEY: "e2e",
        AWS_EC2_METADATA_DISABLED: "true",
      },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const records: Array<Record<string, unknown>> = [];
  let raw = "";
  let pending = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    raw = (raw + chunk.toString()).slice(-20_000);
    pending += chunk.toString();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        records.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // the sidecar's own tests hold it to JSON lines; here a stray line only matters for diagnostics
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    raw = (raw + chunk.toString()).slice(-20_000);
  });
  const listening = await poll(
    "the sidecar to listen",
    () => {
      if (child.exitCode !== null) throw new Error(`sidecar exited ${child.exitCode}: ${raw}`);
      return records.find((r) => r.event === "http_listening");
    },
    (r) => r !== undefined,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return { child, url: `http://127.0.0.1:${String(listening?.port)}`, records, output: () => raw };
}

/** A compact view of one scrape pool, readable in a timeout message. */
function view(targets: ActiveTarget[]) {
  return targets
    .map((t) => `${t.labels.instance} ${t.scrapeUrl} ${t.health}${t.lastError ? ` (${t.lastError})` : ""}`)
    .sort();
}

// Suites whose beforeAll throws show their tests as skipped; this one names the missing binary as a failure.
it("has Debian's prometheus and promtool installed", () => {
  expect(requireBinary("prometheus")).toMatch(/prometheus$/);
  expect(requireBinary("promtool")).toMatch(/promtool$/);
});

describe("Prometheus 2.x scrapes what the engine discovers, through the sidecar", () => {
  let s3Server: S3Server;
  let standIn: StandIn;
  let s3: S3Client;
  let deps: EngineDeps;
  let sdDir: string;
  let sidecar: Sidecar;
  let prometheus: PrometheusServer;
  let expected: Expected[];
  let workerTask: string;

  const run = async (event: unknown): Promise<RunSummary> => (await invoke(event, deps)).summary;

  /** Exactly `want` in both pools, every one scraped successfully. */
  const settled = (want: Expected[]) => (pools: Record<string, ActiveTarget[]>) =>
    POOLS.every((pool) => {
      const targets = pools[pool] ?? [];
      const urls = targets.map((t) => t.scrapeUrl).sort();
      const wanted = want.map((e) => `http://${e.server.address}${e.path}`).sort();
      return JSON.stringify(urls) === JSON.stringify(wanted) && targets.every((t) => t.health === "up");
    });
  const pools = async () => {
    const all = await prometheus.targets();
    return Object.fromEntries(POOLS.map((p) => [p, all.filter((t) => t.scrapePool === p)]));
  };
  const waitForTargets = async (what: string, want: Expected[]) => {
    const seen = await poll(what, async () => pools(), settled(want), {
      timeoutMs: 45_000,
      intervalMs: 300,
    }).catch((error: Error) => {
      throw new Error(
        `${error.message}\nprometheus log:\n${prometheus.log().slice(-3000)}\n` +
          `sidecar log:\n${sidecar.output().slice(-3000)}`,
      );
    });
    return seen as Record<(typeof POOLS)[number], ActiveTarget[]>;
  };

  beforeAll(async () => {
    requireBinary("prometheus");
    requireBinary("promtool");
    [s3Server, standIn] = await Promise.all([startS3(), startStandIn({ addressing: "loopback" })]);
    cleanups.push(() => s3Server.stop());
    cleanups.push(() => standIn.close());

    // Every address the engine may publish has an exporter behind it; the hosts themselves (127.0.10.1
    // and .3) and the ENIs of tasks that must not be targets (.8, .9) serve nothing on those ports.
    const servers = await startMetricsServers([
      { host: "127.0.10.1", paths: ["/custom/metrics"] }, // bridge container, fixed host port
      { host: "127.0.10.1" }, // host-mode daemon
      { host: "127.0.10.2" }, // awsvpc task on EC2, endpoint "web"
      { host: "127.0.10.2", paths: ["/admin/metrics"] }, // same container, endpoint "admin"
      { host: "127.0.10.4" }, // Fargate task, stopped later
    ]);
    for (const s of servers) cleanups.push(() => s.close());
    const [bridgeSrv, daemonSrv, webSrv, adminSrv, workerSrv] = servers as [
      MetricsServer,
      MetricsServer,
      MetricsServer,
      MetricsServer,
      MetricsServer,
    ];

    const f = standIn.fleet;
    f.addCluster("shop", { tags: { team: "storefront", "cost-center": "42" } });
    f.addCluster("backend");
    const shopHost = f.addHost("shop", { privateIp: "127.0.10.1" });
    const backendHost = f.addHost("backend", { privateIp: "127.0.10.3" });

    const web = f.registerTaskDefinition({
      family: "web",
      networkMode: "bridge",
      containers: [
        {
          name: "app",
          image: "shop/web:1.4",
          dockerLabels: {
            PROMETHEUS_EXPORTER_PORT: "8080",
            PROMETHEUS_EXPORTER_PATH: "/custom/metrics",
            PROMETHEUS_EXPORTER_JOB_NAME: "web-app",
          },
          portMappings: [{ containerPort: 8080, hostPort: bridgeSrv.port }],
        },
        { name: "log-router", image: "fluent-bit:2" },
      ],
    });
    const daemon = f.registerTaskDefinition({
      family: "node-exporter",
      networkMode: "host",
      containers: [
        {
          name: "exporter",
          image: "prom/node-exporter:1.8",
          dockerLabels: {
            PROMETHEUS_EXPORTER_PORT: String(daemonSrv.port),
            PROMETHEUS_EXPORTER_INTERVAL: "2s",
          },
          portMappings: [{ containerPort: daemonSrv.port }],
        },
      ],
    });
    const api = f.registerTaskDefinition({
      family: "api",
      networkMode: "awsvpc",
      containers: [
        {
          name: "api",
          image: "backend/api:7",
          dockerLabels: {
            "PROMETHEUS_EXPORTER_PORT.web": String(webSrv.port),
            "PROMETHEUS_EXPORTER_PORT.admin": String(adminSrv.port),
            "PROMETHEUS_EXPORTER_PATH.admin": "/admin/metrics",
            "PROMETHEUS_EXPORTER_JOB_NAME.admin": "api-admin",
          },
          portMappings: [{ containerPort: webSrv.port }, { containerPort: adminSrv.port }],
        },
      ],
    });
    const worker = f.registerTaskDefinition({
      family: "worker",
      requiresCompatibilities: ["FARGATE"],
      containers: [
        {
          name: "worker",
          image: "backend/worker:3",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: String(workerSrv.port) },
          portMappings: [{ containerPort: workerSrv.port }],
        },
      ],
    });
    const broken = f.registerTaskDefinition({
      family: "broken",
      requiresCompatibilities: ["FARGATE"],
      containers: [{ name: "broken", image: "b:1", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "abc" } }],
    });

    const webTask = f.runTask("shop", {
      taskDefinition: web,
      host: shopHost.containerInstanceArn,
      serviceName: "web",
    });
    const daemonTask = f.runTask("shop", { taskDefinition: daemon, host: shopHost.containerInstanceArn });
    const apiTask = f.runTask("backend", {
      taskDefinition: api,
      host: backendHost.containerInstanceArn,
      eniIp: "127.0.10.2",
      serviceName: "api",
    });
    workerTask = f.runTask("backend", {
      taskDefinition: worker,
      launchType: "FARGATE",
      eniIp: "127.0.10.4",
      group: "batch",
    });
    // Never targets: still PENDING, and a malformed port label.
    f.runTask("backend", {
      taskDefinition: worker,
      launchType: "FARGATE",
      eniIp: "127.0.10.9",
      lastStatus: "PENDING",
    });
    f.runTask("backend", { taskDefinition: broken, launchType: "FARGATE", eniIp: "127.0.10.8" });

    expected = [
      {
        key: "web",
        cluster: "shop",
        server: bridgeSrv,
        path: "/custom/metrics",
        job: "web-app",
        taskArn: webTask,
        family: "web",
        group: "service:web",
        container: "app",
        image: "shop/web:1.4",
        networkMode: "bridge",
        launchType: "EC2",
        containerPort: "8080",
      },
      {
        key: "daemon",
        cluster: "shop",
        server: daemonSrv,
        path: "/metrics",
        scrapeInterval: "2s",
        taskArn: daemonTask,
        family: "node-exporter",
        group: "family:node-exporter",
        container: "exporter",
        image: "prom/node-exporter:1.8",
        networkMode: "host",
        launchType: "EC2",
        containerPort: String(daemonSrv.port),
      },
      {
        key: "api-web",
        cluster: "backend",
        server: webSrv,
        path: "/metrics",
        taskArn: apiTask,
        family: "api",
        group: "service:api",
        container: "api",
        image: "backend/api:7",
        networkMode: "awsvpc",
        launchType: "EC2",
        containerPort: String(webSrv.port),
        endpoint: "web",
      },
      {
        key: "api-admin",
        cluster: "backend",
        server: adminSrv,
        path: "/admin/metrics",
        job: "api-admin",
        taskArn: apiTask,
        family: "api",
        group: "service:api",
        container: "api",
        image: "backend/api:7",
        networkMode: "awsvpc",
        launchType: "EC2",
        containerPort: String(adminSrv.port),
        endpoint: "admin",
      },
      {
        key: "worker",
        cluster: "backend",
        server: workerSrv,
        path: "/metrics",
        taskArn: workerTask,
        family: "worker",
        group: "batch",
        container: "worker",
        image: "backend/worker:3",
        networkMode: "awsvpc",
        launchType: "FARGATE",
        containerPort: String(workerSrv.port),
      },
    ];

    // The S3 client is built as the handler builds it: standard SDK configuration, endpoint from the
    // environment, path-style because an endpoint override is set.
    Object.assign(process.env, standIn.env(), { AWS_ENDPOINT_URL_S3: s3Server.url });
    s3 = createClients({ maxAttempts: 3, counter: new CallCounter(), region: REGION }).s3;
    cleanups.push(async () => s3.destroy());
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const output = new S3TargetOutput(s3, BUCKET, PREFIX, "state/");
    // The handler takes the account from the invocation's function ARN.
    // With every label Prometheus's own ECS discovery writes, so relabel rules written for it can be tried.
    deps = {
      ...engineAgainst(standIn, output, { env: { INCLUDE: "TAGS,SERVICES" } }).deps,
      accountId: ACCOUNT,
    };

    const summary = await run({
      version: "0",
      id: "7bf73129-1428-4cd3-a780-95db273d1602",
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: ACCOUNT,
      time: new Date().toISOString(),
      region: REGION,
      resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/ecs-sd-reconcile`],
      detail: {},
    });
    expect(summary).toMatchObject({ ok: true, reconcile: true, targets: expected.length });
    expect(summary.objects.written).toBe(2);

    sdDir = await tempDir("sd");
    sidecar = await startSidecar(s3Server, sdDir);
    await poll(
      "the sidecar to write both cluster files",
      async () => (await readdir(sdDir)).filter((n) => n.endsWith(".json")).sort(),
      (names) => JSON.stringify(names) === JSON.stringify([fileName("backend"), fileName("shop")]),
    );
    // /targets answers 503 until the first sync; Prometheus should start against a ready sidecar.
    await poll(
      "the sidecar to serve /targets",
      () => fetch(`${sidecar.url}/targets`),
      (r) => r.ok,
    );

    // A relabel rule as written for Prometheus's aws_sd_configs role ecs: the cluster's `team` tag.
    const tag = (value: string) => [
      { target_label: "sd", replacement: value },
      { source_labels: ["__meta_ecs_tag_cluster_team"], target_label: "team" },
    ];
    prometheus = await startPrometheus({
      global: { scrape_interval: "1s", scrape_timeout: "1s" },
      scrape_configs: [
        {
          job_name: FILE_POOL,
          file_sd_configs: [{ files: [join(sdDir, "*.json")] }],
          // One series per pool, even where a group's `job` label makes both pools name the same job.
          relabel_configs: tag("file"),
        },
        {
          job_name: HTTP_POOL,
          http_sd_configs: [{ url: `${sidecar.url}/targets`, refresh_interval: "1s" }],
          relabel_configs: tag("http"),
        },
      ],
    });
    cleanups.push(() => prometheus.stop());
  }, 120_000);

  afterAll(cleanUp, 60_000);

  it("shows exactly the discovered targets in both pools, with the contract's labels, all scraped up", async () => {
    const seen = await waitForTargets("every expected target, up, in both pools", expected);
    for (const pool of POOLS) {
      const byUrl = new Map(seen[pool].map((t) => [t.scrapeUrl, t]));
      for (const e of expected) {
        const t = byUrl.get(`http://${e.server.address}${e.path}`);
        const task = standIn.fleet.findTask(e.taskArn);
        const containerArn = task?.containers.find((c) => c.name === e.container)?.arn;
        expect(containerArn, e.key).toBeDefined();
        // The whole label set: the old tool's names, the job override, and nothing that leaked.
        expect(t?.labels, `${pool} ${e.key}`).toEqual({
          instance: e.server.address,
          job: e.job ?? pool,
          sd: pool === FILE_POOL ? "file" : "http",
          task_arn: e.taskArn,
          task_name: e.family,
          task_revision: "1",
          task_group: e.group,
          cluster_arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${e.cluster}`,
          container_name: e.container,
          container_arn: containerArn,
          docker_image: e.image,
          ...(e.cluster === "shop" ? { team: "storefront" } : {}),
        });
        expect(t?.discoveredLabels, `${pool} ${e.key}`).toMatchObject({
          __meta_ecs_desired_status: "RUNNING",
          __meta_ecs_last_status: "RUNNING",
          ...(e.cluster === "shop" ? { __meta_ecs_tag_cluster_cost_center: "42" } : {}),
          ...(e.group.startsWith("service:") ? { __meta_ecs_service_status: "ACTIVE" } : {}),
          __address__: e.server.address,
          __metrics_path__: e.path,
          __meta_ecs_cluster: e.cluster,
          __meta_ecs_task_arn: e.taskArn,
          __meta_ecs_task_group: e.group,
          __meta_ecs_network_mode: e.networkMode,
          __meta_ecs_launch_type: e.launchType,
          __meta_ecs_ip_address: e.server.host,
          __meta_ecs_container_name: e.container,
          __meta_ecs_container_port: e.containerPort,
          ...(e.endpoint
            ? { [`__meta_ecs_container_label_PROMETHEUS_EXPORTER_PORT_${e.endpoint}`]: String(e.server.port) }
            : {}),
          ...(pool === FILE_POOL
            ? { __meta_filepath: join(sdDir, fileName(e.cluster)) }
            : { __meta_url: `${sidecar.url}/targets` }),
        });
        expect(t?.scrapeInterval, `${pool} ${e.key}`).toBe(e.scrapeInterval ?? "1s");
      }
    }
    // Both mechanisms hand Prometheus the same groups: discovered labels agree apart from their source.
    const comparable = (t: ActiveTarget) => {
      const { __meta_filepath, __meta_url, job, sd, ...rest } = t.discoveredLabels;
      return JSON.stringify({ ...rest, job: job === t.scrapePool ? "(pool)" : job });
    };
    expect(seen[HTTP_POOL].map(comparable).sort()).toEqual(seen[FILE_POOL].map(comparable).sort());
    // `up` on a server that answers only its own path is the proof __metrics_path__ was used.
    for (const e of expected) {
      expect(e.server.hits.get(e.path) ?? 0, e.key).toBeGreaterThan(0);
      expect([...e.server.hits.keys()], e.key).toEqual([e.path]);
    }
  });

  it("drops a stopped task's target after its ECS Task State Change event", async () => {
    standIn.fleet.stopTask(workerTask);
    expected = expected.filter((e) => e.taskArn !== workerTask);
    const summary = await run(standIn.fleet.taskStateChangeEvent(workerTask));
    expect(summary.ok).toBe(true);
    // Applied from the event alone: one cluster rewritten, without listing the region again.
    expect(summary.clusters).toEqual([
      expect.objectContaining({ cluster: "backend", mode: "events", status: "written", targets: 2 }),
    ]);
    await waitForTargets("the stopped task's target to be gone from both pools", expected);
  });

  it("keeps the last good file and every target while the S3 object is corrupt", async () => {
    const goodFile = await readFile(join(sdDir, fileName("backend")), "utf8");
    const goodTargets = await (await fetch(`${sidecar.url}/targets`)).text();
    const errors = async (kind: string) =>
      metricSum(await scrapeMetrics(`${sidecar.url}/metrics`), "ecs_discovery_sidecar_errors_total", {
        kind,
      });

    const corruptions = [
      { kind: "not_json", body: '[{"targets": ["127.0.10.2:1"], "lab' },
      { kind: "bad_shape", body: '{"targets": ["127.0.10.2:1"], "labels": {}}' },
      { kind: "bad_shape", body: '[{"targets": ["127.0.10.2:1"], "labels": {"bad-name": "x"}}]' },
    ];
    for (const c of corruptions) {
      const before = await errors(c.kind);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey("backend"), Body: c.body }));
      await poll(
        `the sidecar to refuse ${c.body}`,
        () => errors(c.kind),
        (n) => n === before + 1,
      );
    }
    const refusedAt = Date.now();

    // Let both discovery mechanisms run again (http_sd re-fetches /targets every second and the discovery
    // manager hands updates to the scrape pools every 5 s) and check the targets on every look meanwhile.
    const syncs = async () => {
      const samples = await prometheus.metrics();
      return POOLS.map((pool) =>
        metricSum(samples, "prometheus_target_sync_length_seconds_count", { scrape_job: pool }),
      );
    };
    const syncsAtRefusal = await syncs();
    let lost: string[] | undefined;
    await poll(
      "two more target syncs of both pools, each target scraped since the refusal",
      async () => {
        const now = await pools();
        if (!settled(expected)(now)) lost = POOLS.flatMap((p) => view(now[p] ?? []).map((v) => `${p} ${v}`));
        return { now, syncs: await syncs() };
      },
      ({ now, syncs: counts }) =>
        lost !== undefined ||
        (counts.every((n, i) => n >= (syncsAtRefusal[i] ?? 0) + 2) &&
          POOLS.every((p) => (now[p] ?? []).every((t) => Date.parse(t.lastScrape) > refusedAt))),
      { timeoutMs: 45_000, intervalMs: 500 },
    );
    // Checked on every look, not only at the end: a target that vanished for one cycle is a failure.
    expect(lost).toBeUndefined();
    expect(await readFile(join(sdDir, fileName("backend")), "utf8")).toBe(goodFile);
    expect(await (await fetch(`${sidecar.url}/targets`)).text()).toBe(goodTargets);
  });

  it("a forced resync repairs the corrupt object and the sidecar picks it up", async () => {
    const goodFile = await readFile(join(sdDir, fileName("backend")), "utf8");
    const fetched = async () =>
      metricSum(await scrapeMetrics(`${sidecar.url}/metrics`), "ecs_discovery_sidecar_s3_requests_total", {
        operation: "GetObject",
        outcome: "ok",
      });
    const fetchedBefore = await fetched();
    const summary = await run({ action: "resync" });
    expect(summary).toMatchObject({ ok: true, reconcile: true, targets: expected.length });
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKey("backend") }));
    expect(await object.Body?.transformToString()).toBe(goodFile);
    // The repaired object has a new ETag: the sidecar fetches it, accepts it, and finds the file current.
    await poll("the sidecar to fetch the repaired object", fetched, (n) => n > fetchedBefore);
    expect(await readFile(join(sdDir, fileName("backend")), "utf8")).toBe(goodFile);
    await waitForTargets("the same targets after the repair", expected);
  });
});

describe("promtool accepts every file the engine writes", () => {
  let standIn: StandIn;
  let dir: string;
  let configFile: string;
  let summary: RunSummary;

  beforeAll(async () => {
    requireBinary("promtool");
    standIn = await startStandIn();
    cleanups.push(() => standIn.close());
    // A realistic mix (bridge with dynamic ports, host, awsvpc, Fargate, named endpoints, sidecars
    // without labels, pending tasks); nothing scrapes these addresses, so private ones are fine.
    generateFleet(standIn, { clusters: 4, tasks: 300, seed: 42 });
    dir = await tempDir("promtool");
    const sd = join(dir, "sd");
    const { deps } = engineAgainst(standIn, new DirectoryTargetOutput(sd));
    summary = (await invoke({ action: "resync" }, deps)).summary;
    configFile = await writeConfig(dir, {
      scrape_configs: [{ job_name: "ecs", file_sd_configs: [{ files: [join(sd, "*.json")] }] }],
    });
  }, 60_000);

  afterAll(cleanUp, 60_000);

  it("check config passes and check service-discovery lists every published target", async () => {
    expect(summary.ok).toBe(true);
    const sd = join(dir, "sd");
    const files = (await readdir(sd)).filter((n) => n.endsWith(".json")).sort();
    expect(files).toEqual(["01", "02", "03", "04"].map((n) => fileName(`cluster-${n}`)));
    const published = new Map<string, string>();
    for (const name of files) {
      const groups = JSON.parse(await readFile(join(sd, name), "utf8")) as { targets: string[] }[];
      for (const g of groups) for (const t of g.targets) published.set(t, join(sd, name));
    }
    expect(published.size).toBe(summary.targets);
    expect(summary.targets).toBeGreaterThan(200);

    const check = await promtool(["check", "config", configFile]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/SUCCESS/);

    const listed = await promtool(["check", "service-discovery", "--timeout=2s", configFile, "ecs"]);
    expect(listed.code, listed.stderr).toBe(0);
    const targets = JSON.parse(listed.stdout) as { discoveredLabels: Record<string, string> }[];
    const seen = new Map(
      targets.map((t) => [t.discoveredLabels.__address__, t.discoveredLabels.__meta_filepath]),
    );
    expect(targets).toHaveLength(published.size);
    expect(seen).toEqual(published);
  });

  it("check config fails on a broken file in the same directory", async () => {
    const sd = join(dir, "sd");
    const sample = await readFile(join(sd, fileName("cluster-01")), "utf8");
    const broken = [
      { body: sample.slice(0, Math.floor(sample.length / 2)), reason: /unexpected end|EOF/i },
      {
        body: JSON.stringify([{ targets: ["10.0.0.1:9100"], labels: { "task-name": "x" } }]),
        reason: /"task-name" is not a valid label name/,
      },
    ];
    for (const b of broken) {
      const file = join(sd, fileName("zz-broken"));
      await writeFile(file, b.body);
      const check = await promtool(["check", "config", configFile]);
      await rm(file);
      expect(check.code, check.stdout + check.stderr).toBe(1);
      expect(check.stdout + check.stderr).toMatch(b.reason);
    }
    const again = await promtool(["check", "config", configFile]);
    expect(again.code, again.stderr).toBe(0);
  });
});
