/**
 * `npm run demo`: the whole product end to end on this machine, no AWS account needed.
 *
 *   ECS/EC2 stand-in ──► the discovery Lambda (lambda/handler.ts in a local runtime) ──► S3 stand-in
 *        ──► the sync sidecar ──► file_sd files ──► Prometheus (when it is installed)
 *
 * It runs a reconcile, then the fast path (a task starts, a task stops: one event each), and prints what
 * each step did. `--keep` leaves everything running until Ctrl-C.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { ExplainReport } from "../../lambda/explain/explain.js";
import { explainTable } from "../../lambda/explain/format.js";
import { generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { type S3StandIn, startS3StandIn } from "../standin/s3/index.js";
import { freePort } from "../support/ports.js";

const USAGE = `usage: npm run demo -- [--clusters N] [--tasks N] [--seed N] [--keep] [--no-prometheus]

  --clusters N      clusters in the sample fleet (default 3)
  --tasks N         tasks in the sample fleet (default 60)
  --seed N          fleet seed (default 7)
  --keep            keep the stand-in, S3, the sidecar and Prometheus running until Ctrl-C
  --no-prometheus   stop at the files, even when prometheus is installed
  --work-dir DIR    where files and logs go (default .tmp/demo; emptied first)`;

const { values } = parseArgs({
  options: {
    clusters: { type: "string", default: "3" },
    tasks: { type: "string", default: "60" },
    seed: { type: "string", default: "7" },
    keep: { type: "boolean", default: false },
    "no-prometheus": { type: "boolean", default: false },
    "work-dir": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
function count(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`demo: --${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
    process.exit(2);
  }
  return n;
}
const clusters = count("clusters", values.clusters, 1, 50);
const tasks = count("tasks", values.tasks, 1, 5000);
const seed = count("seed", values.seed, 0, 1_000_000);

const ROOT = resolve(import.meta.dirname, "../..");
const WORK = resolve(values["work-dir"] ?? join(ROOT, ".tmp", "demo"));
const SD_DIR = join(WORK, "file_sd");
const BUCKET = "ecs-discovery-demo";
const PREFIX = "targets/";
const ACCOUNT = "123456789012";

const children: ChildProcess[] = [];
const servers: Server[] = [];
let standIn: StandIn | undefined;
let s3StandIn: S3StandIn | undefined;

function step(title: string): void {
  console.log(`\n── ${title}`);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tsxChild(script: string, args: string[], env: NodeJS.ProcessEnv, log: string, ipc = false) {
  const out = createWriteStream(log, { flags: "a" });
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, script), ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe", ...(ipc ? (["ipc"] as const) : [])],
  });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.push(child);
  return child;
}

// ── the local Lambda runtime ───────────────────────────────────────────────────────────────────

interface Summary {
  trigger: string;
  ok: boolean;
  tasks: number;
  targets: number;
  objects: { written: number; unchanged: number; deleted: number; failed: number };
  events: { applied: number; stale: number; ignored: number };
  warnings: number;
  skippedContainers: Record<string, number>;
  apiCalls: Record<string, number>;
  durationMs: number;
}

class LocalLambda {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Record<string, unknown>) => void>();
  private constructor(private readonly child: ChildProcess) {
    child.on("message", (raw) => {
      const reply = raw as Record<string, unknown>;
      const settle = this.pending.get(reply.id as number);
      if (settle) {
        this.pending.delete(reply.id as number);
        settle(reply);
      }
    });
  }

  static async start(env: NodeJS.ProcessEnv, log: string): Promise<LocalLambda> {
    const child = tsxChild("test/demo/local-lambda.ts", [], env, log, true);
    const init = await new Promise<Record<string, unknown>>((resolveInit, reject) => {
      child.once("message", (m) => resolveInit(m as Record<string, unknown>));
      child.once("exit", (code) => reject(new Error(`the local Lambda exited (code ${code}); see ${log}`)));
    });
    if (init.init !== "ok") throw new Error(`the Lambda failed its cold start: ${String(init.error)}`);
    return new LocalLambda(child);
  }

  invoke(event: unknown): Promise<Summary> {
    return this.call(event) as Promise<Summary>;
  }

  call(event: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolveInvoke, reject) => {
      this.pending.set(id, (reply) => {
        if (reply.error) reject(new Error(`the Lambda failed: ${String(reply.error)}`));
        else resolveInvoke(reply.result);
      });
      this.child.send({ id, event });
    });
  }
}

const EC2_OPERATIONS = /^Describe(Instances|NetworkInterfaces)$/;

function describeRun(s: Summary): string {
  const listed = (match: (op: string) => boolean) => {
    const calls = Object.entries(s.apiCalls)
      .filter(([op]) => match(op))
      .map(([op, n]) => `${op} ${n}`)
      .join(", ");
    return calls === "" ? "none" : calls;
  };
  const ecs = listed((op) => !/Object/.test(op) && !EC2_OPERATIONS.test(op));
  const ec2 = listed((op) => EC2_OPERATIONS.test(op));
  const s3 = Object.entries(s.apiCalls)
    .filter(([op]) => /Object/.test(op))
    .reduce((sum, [, n]) => sum + n, 0);
  return [
    `   ${s.ok ? "ok" : "NOT OK"}: ${s.tasks} tasks, ${s.targets} targets; objects ${s.objects.written} written, ${s.objects.unchanged} unchanged, ${s.objects.deleted} deleted`,
    `   ECS calls: ${ecs}; EC2 calls: ${ec2}; S3 requests: ${s3}; ${s.durationMs} ms`,
    ...(Object.keys(s.skippedContainers ?? {}).length > 0
      ? [
          `   containers of recorded tasks that gave no target: ${Object.entries(s.skippedContainers)
            .map(([reason, n]) => `${n} ${reason}`)
            .join(", ")}`,
        ]
      : []),
    ...(s.warnings > 0
      ? [`   ${s.warnings} containers or endpoints skipped with a warning (see the Lambda log)`]
      : []),
  ].join("\n");
}

// ── file_sd files ──────────────────────────────────────────────────────────────────────────────

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

async function readTargets(): Promise<Map<string, Group[]>> {
  const files = new Map<string, Group[]>();
  for (const name of (await readdir(SD_DIR)).filter((f) => f.endsWith(".json")).sort()) {
    files.set(name, JSON.parse(await readFile(join(SD_DIR, name), "utf-8")) as Group[]);
  }
  return files;
}

function allGroups(files: Map<string, Group[]>): Group[] {
  return [...files.values()].flat();
}

function printTable(files: Map<string, Group[]>, limit = 24): void {
  const rows = allGroups(files).map((g) => [
    g.labels.__meta_ecs_cluster ?? "",
    `${g.labels.__scheme__ ?? "http"}://${g.targets.join(",")}${g.labels.__metrics_path__ ?? "/metrics"}`,
    g.labels.__meta_ecs_network_mode ?? "",
    `${g.labels.task_name}:${g.labels.task_revision}`,
    g.labels.container_name ?? "",
    g.labels.__meta_ecs_endpoint ?? "",
    g.labels.job ?? "(scrape job)",
  ]);
  const header = ["cluster", "scrape URL", "mode", "task definition", "container", "endpoint", "job"];
  const shown = rows.slice(0, limit);
  const widths = header.map((h, i) => Math.max(h.length, ...shown.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `   ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`;
  console.log(line(header));
  console.log(line(widths.map((w) => "─".repeat(w))));
  for (const r of shown) console.log(line(r));
  if (rows.length > shown.length) console.log(`   … and ${rows.length - shown.length} more`);
  console.log(`   ${rows.length} targets in ${files.size} files under ${SD_DIR}`);
}

// ── Prometheus ─────────────────────────────────────────────────────────────────────────────────

/** Tiny exporters on the loopback addresses the fleet was given, so Prometheus has something to scrape. */
async function startExporters(groups: Group[]): Promise<number> {
  let started = 0;
  const seen = new Set<string>();
  for (const g of groups) {
    for (const target of g.targets) {
      if (seen.has(target)) continue;
      seen.add(target);
      const [host, port] = target.split(":") as [string, string];
      const server = createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(`# HELP demo_up A demo exporter.\n# TYPE demo_up gauge\ndemo_up{target="${target}"} 1\n`);
      });
      const ok = await new Promise<boolean>((done) => {
        server.once("error", () => done(false));
        server.listen(Number(port), host, () => done(true));
      });
      if (ok) {
        servers.push(server);
        started++;
      }
    }
  }
  return started;
}

interface ActiveTarget {
  health: string;
  scrapeUrl: string;
  labels: Record<string, string>;
}

async function runPrometheus(expected: number): Promise<string> {
  const port = await freePort();
  const config = join(WORK, "prometheus.yml");
  await writeFile(
    config,
    [
      "global:",
      "  scrape_interval: 5s",
      "  scrape_timeout: 2s",
      "scrape_configs:",
      "  - job_name: ecs",
      "    file_sd_configs:",
      `      - files: ["${SD_DIR}/*.json"]`,
      "",
    ].join("\n"),
  );
  spawnLogged("prometheus", [
    `--config.file=${config}`,
    `--storage.tsdb.path=${join(WORK, "prometheus-data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  const active = await waitFor(
    `Prometheus to discover ${expected} targets`,
    async () => {
      const res = await fetch(`${url}/api/v1/targets?state=active`);
      const body = (await res.json()) as { data: { activeTargets: ActiveTarget[] } };
      const list = body.data.activeTargets;
      return list.length === expected && list.every((t) => t.health !== "unknown") ? list : undefined;
    },
    60_000,
  );
  const up = active.filter((t) => t.health === "up").length;
  console.log(`   Prometheus discovered all ${active.length} targets; ${up} up, ${active.length - up} down`);
  if (up < active.length) {
    console.log("   (down: https endpoints, which the demo's plain-HTTP exporters cannot answer)");
  }
  return `${url}/targets`;
}

function spawnLogged(command: string, args: string[]): ChildProcess {
  const out = createWriteStream(join(WORK, `${command}.log`), { flags: "a" });
  const child = spawn(command, args, { cwd: WORK, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  children.push(child);
  return child;
}

// ── the demo ───────────────────────────────────────────────────────────────────────────────────

async function shutdown(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  for (const server of servers) server.close();
  await Promise.all([standIn?.close(), s3StandIn?.close()]);
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(SD_DIR, { recursive: true });

  step("1. ECS and EC2: the local stand-in, with a sample fleet");
  standIn = await startStandIn({ addressing: "loopback", seed, account: ACCOUNT });
  const fleet = generateFleet(standIn, { clusters, tasks, seed, addressing: "loopback" });
  console.log(
    `   ${standIn.url}: ${fleet.clusters.length} clusters (${fleet.clusters.join(", ")}), ` +
      `${fleet.hosts.length} EC2 hosts, ${fleet.taskArns.length} tasks of ${fleet.taskDefinitionArns.length} task definitions`,
  );
  console.log(
    "   bridge tasks with dynamic host ports, host-mode daemons, awsvpc on EC2, Fargate, a few PENDING",
  );

  step("2. S3: the local S3 stand-in (the S3 REST protocol, in memory)");
  s3StandIn = await startS3StandIn();
  const awsEnv = {
    ...standIn.env(),
    AWS_ENDPOINT_URL_S3: s3StandIn.url,
    AWS_REGION: standIn.region,
    AWS_ACCESS_KEY_ID: "demo",
    AWS_SECRET_ACCESS_KEY: "demo",
  };
  const s3 = new S3Client({
    endpoint: s3StandIn.url,
    region: standIn.region,
    forcePathStyle: true,
    credentials: { accessKeyId: "demo", secretAccessKey: "demo" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  s3.destroy();
  console.log(`   ${s3StandIn.url}, bucket ${BUCKET}`);

  step("3. The discovery Lambda: cold start, then the scheduled reconcile");
  const lambdaLog = join(WORK, "lambda.log");
  const lambda = await LocalLambda.start(
    {
      ...process.env,
      ...awsEnv,
      TARGETS_BUCKET: BUCKET,
      TARGETS_PREFIX: PREFIX,
      DEMO_ACCOUNT_ID: ACCOUNT,
      POWERTOOLS_LOG_LEVEL: "WARN",
    },
    lambdaLog,
  );
  const scheduled = {
    version: "0",
    id: "demo-schedule",
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: standIn.region,
    resources: [`arn:aws:events:${standIn.region}:${ACCOUNT}:rule/reconcile`],
    detail: {},
  };
  console.log(describeRun(await lambda.invoke(scheduled)));
  console.log(`   objects: s3://${BUCKET}/${PREFIX}${ACCOUNT}/${standIn.region}/{cluster}.json`);

  step("4. The sidecar: S3 → a file_sd directory");
  const sidecarPort = await freePort();
  tsxChild(
    "sidecar/main.ts",
    [
      "--bucket",
      BUCKET,
      "--prefix",
      PREFIX,
      "--out-dir",
      SD_DIR,
      "--interval",
      "1s",
      "--listen",
      `127.0.0.1:${sidecarPort}`,
    ],
    { ...process.env, ...awsEnv },
    join(WORK, "sidecar.log"),
  );
  let files = await waitFor(
    "the sidecar's first files",
    async () => {
      const found = await readTargets();
      return found.size === fleet.clusters.length ? found : undefined;
    },
    30_000,
  );
  printTable(files);
  console.log(`   also over HTTP for http_sd_configs: http://127.0.0.1:${sidecarPort}/targets`);

  step("5. The fast path: one task starts, one stops, one event each");
  const running = [...standIn.fleet.tasks.values()].filter((t) => t.lastStatus === "RUNNING");
  const template = running.find((t) => t.launchType === "FARGATE") ?? running[0];
  if (!template) throw new Error("the sample fleet has no running task");
  const clusterName = template.cluster.name;
  const started = standIn.fleet.runTask(clusterName, {
    taskDefinition: template.taskDefinition.arn,
    ...(template.launchType === "FARGATE" ? { launchType: "FARGATE" as const } : {}),
    group: template.group,
  });
  const before = allGroups(files).length;
  let t0 = Date.now();
  let summary = await lambda.invoke(standIn.fleet.taskStateChangeEvent(started));
  console.log(`   task started in ${clusterName} (${template.taskDefinition.family}):`);
  console.log(describeRun(summary));
  files = await waitFor(
    "the new target on disk",
    async () => {
      const now = await readTargets();
      return allGroups(now).some((g) => g.labels.task_arn === started) ? now : undefined;
    },
    30_000,
  );
  console.log(`   on disk ${Date.now() - t0} ms after the event (sidecar polling every 1 s)`);

  const victim = running.find((t) => t.arn !== template.arn && t.cluster.name === clusterName);
  if (victim) {
    standIn.fleet.stopTask(victim.arn);
    t0 = Date.now();
    summary = await lambda.invoke(standIn.fleet.taskStateChangeEvent(victim.arn));
    console.log(`   task stopped in ${clusterName} (${victim.taskDefinition.family}):`);
    console.log(describeRun(summary));
    files = await waitFor(
      "the stopped target to leave the disk",
      async () => {
        const now = await readTargets();
        return allGroups(now).some((g) => g.labels.task_arn === victim.arn) ? undefined : now;
      },
      30_000,
    );
    console.log(`   gone from disk ${Date.now() - t0} ms after the event`);
  }
  console.log(`   targets: ${before} before the events, ${allGroups(files).length} after`);

  step("6. Why is a container a target, or not? explain (read-only)");
  const service = template.group?.startsWith("service:")
    ? template.group.slice("service:".length)
    : undefined;
  const question = service ? { service } : { family: template.taskDefinition.family };
  console.log(
    `   {"action":"explain", ${JSON.stringify(question).slice(1, -1)}} (or: npm run cli -- explain --${Object.keys(question)[0]} ${Object.values(question)[0]})`,
  );
  const report = (await lambda.call({ action: "explain", ...question })) as ExplainReport;
  const table = explainTable(report, 12).trimEnd().split("\n");
  for (const row of table) console.log(`   ${row.length > 150 ? `${row.slice(0, 149)}…` : row}`);

  step("7. Prometheus");
  let targetsPage: string | undefined;
  const hasPrometheus = spawnSync("prometheus", ["--version"], { stdio: "ignore" }).status === 0;
  if (values["no-prometheus"]) {
    console.log("   skipped (--no-prometheus)");
  } else if (!hasPrometheus) {
    console.log(
      "   prometheus is not installed; on Debian: apt-get install prometheus, then run the demo again",
    );
  } else {
    const groups = allGroups(files);
    const exporters = await startExporters(groups);
    console.log(`   ${exporters} tiny exporters listen on the fleet's loopback addresses`);
    targetsPage = await runPrometheus(groups.length);
    console.log(`   targets page: ${targetsPage}`);
  }

  step("Where things are");
  console.log(`   file_sd files:  ${SD_DIR}`);
  console.log(`   logs:           ${WORK}/{lambda,sidecar${targetsPage ? ",prometheus" : ""}}.log`);
  if (values.keep) {
    console.log("\nEverything keeps running; Ctrl-C stops it.");
    await new Promise<void>((done) => {
      process.once("SIGINT", done);
      process.once("SIGTERM", done);
    });
  } else {
    console.log("   (npm run demo -- --keep leaves everything running to look at)");
  }
}

main()
  .then(shutdown, async (error: unknown) => {
    console.error(`\ndemo failed: ${(error as Error).message}`);
    await shutdown();
    process.exitCode = 1;
  })
  .then(() => process.exit());
