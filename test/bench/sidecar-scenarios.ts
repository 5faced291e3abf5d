/**
 * The sidecar's figures, measured on the shipped bundle (dist/sidecar.mjs) as a separate process against
 * the tests' S3 (the Node.js stand-in, or moto with S3_STANDIN=moto), with objects the engine wrote for a generated fleet:
 *   - S3 requests per poll when nothing changed (the goal: one LIST, zero GET);
 *   - time from an object change in S3 to the new file on disk, at the default 5 s interval;
 *   - the process's peak resident memory (VmHWM) and what it settles at, next to the budgets.
 * The process is started as the image starts it: the node flags of sidecar/Dockerfile's ENTRYPOINT
 * (SIDECAR_NODE_FLAGS="..." overrides them, "" for none), with SIDECAR_NODE or this benchmark's node.
 * Run alone with `npx tsx test/bench/sidecar-scenarios.ts [--fleet small,1k,10k] [--json]`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createCaches } from "../../lambda/discovery/caches.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { generateFleet, startStandIn } from "../standin/index.js";
import { engineAgainst } from "../support/engine-harness.js";
import { freePort } from "../support/ports.js";
import { s3Client, startS3 } from "../support/s3.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE = join(ROOT, "dist", "sidecar.mjs");
const DOCKERFILE = join(ROOT, "sidecar", "Dockerfile");

/** The sidecar's memory budgets (reported against, never asserted), in MB of resident memory. */
export const SIDECAR_BUDGETS = { settledMbAt1k: 64, peakMbAt10k: 128 } as const;

export interface SidecarFleet {
  name: string;
  tasks: number;
  clusters: number;
  /** Object changes timed at the default interval. */
  changes: number;
}

export const SIDECAR_FLEETS: readonly SidecarFleet[] = [
  { name: "small", tasks: 100, clusters: 1, changes: 3 },
  { name: "1k", tasks: 1000, clusters: 1, changes: 3 },
  { name: "10k", tasks: 10_000, clusters: 10, changes: 5 },
];

/** How the sidecar process is started: which node, with which flags, and where they came from. */
export interface SidecarLaunch {
  node: string;
  nodeVersion: string;
  flags: string[];
  flagsFrom: string;
}

export interface SidecarBenchOptions extends SidecarFleet {
  idlePolls: number;
  launch: SidecarLaunch;
}

export interface SidecarBenchResult {
  fleet: string;
  objects: number;
  objectBytes: number;
  targets: number;
  idlePolls: number;
  listPerIdlePoll: number;
  getPerIdlePoll: number;
  changeToDiskMs: { median: number; max: number; samples: number[] };
  intervalSeconds: number;
  /** /targets after the first sync: the groups the files hold, in file name order, and its size. */
  targetsServed: { groups: number; bytes: number; matchesFiles: boolean };
  peakRssMb: number;
  /** Two polls after the last measured change: what the process holds in its steady state. */
  settledRssMb: number;
  launch: SidecarLaunch;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`sidecar bench: timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Parses the sidecar's own request counters, so the figure is what the process itself did. */
async function requestCounts(url: string): Promise<{ list: number; get: number; syncs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (re: RegExp) =>
    text
      .split("\n")
      .filter((l) => re.test(l))
      .reduce((s, l) => s + Number(l.split(" ").at(-1)), 0);
  return {
    list: sum(/^ecs_discovery_sidecar_s3_requests_total\{operation="ListObjectsV2"/),
    get: sum(/^ecs_discovery_sidecar_s3_requests_total\{operation="GetObject"/),
    syncs: sum(/^ecs_discovery_sidecar_syncs_total\{result="success"\}/),
  };
}

/** Peak (VmHWM) and current (VmRSS) resident memory of a process, in MB. */
async function rssMb(pid: number): Promise<{ peak: number; now: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf-8");
  const mb = (field: string) =>
    Math.round((Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024) * 10) /
    10;
  return { peak: mb("VmHWM"), now: mb("VmRSS") };
}

/** Builds the bundle afresh, so the figures are never those of a stale dist/. */
export function buildSidecarBundle(): void {
  const built = spawnSync("npm", ["run", "--silent", "build:sidecar"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0) throw new Error("sidecar bench: npm run build:sidecar failed");
}

/** The node flags of the image's ENTRYPOINT (between "node" and the bundle), so the bench runs what ships. */
export function shippedNodeFlags(): string[] {
  const line = readFileSync(DOCKERFILE, "utf-8")
    .split("\n")
    .find((l) => l.startsWith("ENTRYPOINT"));
  const argv = JSON.parse(line?.slice("ENTRYPOINT".length).trim() ?? "[]") as string[];
  const bundle = argv.findIndex((a) => a.endsWith("sidecar.mjs"));
  if (argv[0] !== "node" || bundle < 0)
    throw new Error("sidecar bench: cannot read the Dockerfile ENTRYPOINT");
  return argv.slice(1, bundle);
}

/** SIDECAR_NODE and SIDECAR_NODE_FLAGS when set, else this process's node and the image's flags. */
export function sidecarLaunch(env: NodeJS.ProcessEnv = process.env): SidecarLaunch {
  const node = env.SIDECAR_NODE || process.execPath;
  const version = spawnSync(node, ["--version"], { encoding: "utf-8" });
  if (version.status !== 0) throw new Error(`sidecar bench: ${node} --version failed`);
  const custom = env.SIDECAR_NODE_FLAGS;
  return {
    node,
    nodeVersion: version.stdout.trim(),
    flags: custom === undefined ? shippedNodeFlags() : custom.split(/\s+/).filter(Boolean),
    flagsFrom: custom === undefined ? "sidecar/Dockerfile ENTRYPOINT" : "SIDECAR_NODE_FLAGS",
  };
}

interface Published {
  files: string[];
  bytes: number;
  targets: number;
  bodies: Map<string, string>;
  /** What /targets must answer: every file's groups in file name order. */
  expectedGroups: number;
}

/** Real objects: what the engine publishes for a generated fleet, put into the bench bucket. */
async function publishFleet(options: SidecarBenchOptions, work: string, s3: S3Client): Promise<Published> {
  const standIn = await startStandIn();
  try {
    generateFleet(standIn, { clusters: options.clusters, tasks: options.tasks, seed: 11 });
    const published = join(work, "published");
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(published), {
      caches: createCaches(),
    });
    await engine.run(parseTrigger({ action: "resync" }));
  } finally {
    await standIn.close();
  }
  await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
  const published = join(work, "published");
  const files = (await readdir(published)).filter((f) => f.endsWith(".json")).sort();
  const out: Published = { files, bytes: 0, targets: 0, bodies: new Map(), expectedGroups: 0 };
  for (const f of files) {
    const body = await readFile(join(published, f), "utf-8");
    out.bytes += Buffer.byteLength(body);
    const groups = (JSON.parse(body) as { targets: string[] }[]).length;
    out.targets += groups;
    out.expectedGroups += groups;
    const [account, region, ...rest] = f.slice(0, -".json".length).split("_");
    const key = `targets/${account}/${region}/${rest.join("_")}.json`;
    out.bodies.set(key, body);
    await s3.send(new PutObjectCommand({ Bucket: "bench", Key: key, Body: body }));
  }
  return out;
}

function startSidecar(launch: SidecarLaunch, outDir: string, port: number, s3Url: string): ChildProcess {
  return spawn(
    launch.node,
    [...launch.flags, BUNDLE, "--bucket", "bench", "--out-dir", outDir, "--listen", `127.0.0.1:${port}`],
    {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_S3: s3Url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "x",
        AWS_SECRET_ACCESS_KEY: "x",
        SIDECAR_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
}

/** Idle polls: what the process itself sent between two readings of its counters. */
async function idlePolls(url: string, polls: number) {
  const first = await until(async () => requestCounts(url), 10_000, "/metrics");
  let last = first;
  await until(
    async () => {
      last = await requestCounts(url);
      return last.syncs - first.syncs >= polls ? last : undefined;
    },
    (polls + 2) * 6_000,
    `${polls} idle polls`,
  );
  const n = last.syncs - first.syncs;
  return { polls: n, list: (last.list - first.list) / n, get: (last.get - first.get) / n };
}

/** /targets as Prometheus reads it; the bench's own parse, so the sidecar's memory is not charged for it. */
async function readTargets(url: string, expectedGroups: number, published: Published) {
  const text = await (await fetch(`${url}/targets`)).text();
  const groups = JSON.parse(text) as unknown[];
  const expected = published.files.flatMap(
    (f) => JSON.parse(published.bodies.get(keyOfFile(f)) ?? "[]") as unknown[],
  );
  return {
    groups: groups.length,
    bytes: Buffer.byteLength(text),
    matchesFiles: groups.length === expectedGroups && JSON.stringify(groups) === JSON.stringify(expected),
  };
}

function keyOfFile(file: string): string {
  const [account, region, ...rest] = file.slice(0, -".json".length).split("_");
  return `targets/${account}/${region}/${rest.join("_")}.json`;
}

/** Change → disk at the default interval: one object changed at a random moment of the poll cycle. */
async function timeChanges(options: SidecarBenchOptions, published: Published, s3: S3Client, outDir: string) {
  const samples: number[] = [];
  const [key, body] = [...published.bodies.entries()][0] as [string, string];
  const fileName = key.slice("targets/".length).replaceAll("/", "_");
  for (let i = 0; i < options.changes; i++) {
    await sleep(Math.round(Math.random() * 5_000));
    const groups = JSON.parse(body) as { targets: string[]; labels: Record<string, string> }[];
    groups.push({ targets: [`10.255.0.${i + 1}:9100`], labels: { bench_change: String(i) } });
    const changed = `${JSON.stringify(groups)}\n`;
    const started = Date.now();
    await s3.send(new PutObjectCommand({ Bucket: "bench", Key: key, Body: changed }));
    await until(
      async () => ((await readFile(join(outDir, fileName), "utf-8")) === changed ? 1 : undefined),
      20_000,
      "a changed object on disk",
    );
    samples.push(Date.now() - started);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    samples,
  };
}

/** One fleet: publish, start the sidecar, measure. The bundle must be built (buildSidecarBundle). */
export async function sidecarBench(options: SidecarBenchOptions): Promise<SidecarBenchResult> {
  const work = await mkdtemp(join(tmpdir(), "sidecar-bench-"));
  const server = await startS3();
  let child: ChildProcess | undefined;
  const s3 = s3Client(server.url, { maxAttempts: 3 });
  try {
    const published = await publishFleet(options, work, s3);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const outDir = join(work, "sd");
    child = startSidecar(options.launch, outDir, port, server.url);
    const pid = child.pid as number;
    await until(
      async () =>
        (await readdir(outDir)).filter((f) => f.endsWith(".json")).length === published.files.length
          ? 1
          : undefined,
      60_000,
      "the first full sync",
    );
    const targetsServed = await readTargets(url, published.expectedGroups, published);
    const idle = await idlePolls(url, options.idlePolls);
    const changeToDiskMs = await timeChanges(options, published, s3, outDir);
    await idlePolls(url, 2);
    const rss = await rssMb(pid);
    return {
      fleet: options.name,
      objects: published.files.length,
      objectBytes: published.bytes,
      targets: published.targets,
      idlePolls: idle.polls,
      listPerIdlePoll: idle.list,
      getPerIdlePoll: idle.get,
      changeToDiskMs,
      intervalSeconds: 5,
      targetsServed,
      peakRssMb: rss.peak,
      settledRssMb: rss.now,
      launch: options.launch,
    };
  } finally {
    child?.kill("SIGTERM");
    s3.destroy();
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Every fleet in turn, each in a fresh sidecar process against a fresh bucket. */
export async function sidecarBenchAll(
  fleets: readonly SidecarFleet[] = SIDECAR_FLEETS,
  launch: SidecarLaunch = sidecarLaunch(),
): Promise<SidecarBenchResult[]> {
  buildSidecarBundle();
  const results: SidecarBenchResult[] = [];
  for (const fleet of fleets) results.push(await sidecarBench({ ...fleet, idlePolls: 3, launch }));
  return results;
}

export interface SidecarBudgetLine {
  budget: string;
  ok: boolean | undefined;
  figure: string;
}

/** The budgets next to the figures: settled RSS at 1k targets, peak RSS at 10k. */
export function sidecarBudgets(results: readonly SidecarBenchResult[]): SidecarBudgetLine[] {
  const at = (name: string) => results.find((r) => r.fleet === name);
  const oneK = at("1k");
  const tenK = at("10k");
  const node = results[0]?.launch.nodeVersion ?? "";
  return [
    {
      budget: `sidecar settled RSS < ${SIDECAR_BUDGETS.settledMbAt1k} MB for 1,000 targets (${node})`,
      ok: oneK ? oneK.settledRssMb < SIDECAR_BUDGETS.settledMbAt1k : undefined,
      figure: oneK ? `${oneK.settledRssMb} MB for ${oneK.targets} targets` : "-",
    },
    {
      budget: `sidecar peak RSS < ${SIDECAR_BUDGETS.peakMbAt10k} MB for 10,000 targets (${node})`,
      ok: tenK ? tenK.peakRssMb < SIDECAR_BUDGETS.peakMbAt10k : undefined,
      figure: tenK ? `${tenK.peakRssMb} MB for ${tenK.targets} targets` : "-",
    },
  ];
}

const verdict = (ok: boolean) => (ok ? "PASS" : "OVER");

function memoryLine(r: SidecarBenchResult): string {
  const settled =
    r.fleet === "1k"
      ? ` (budget < ${SIDECAR_BUDGETS.settledMbAt1k} MB: ${verdict(r.settledRssMb < SIDECAR_BUDGETS.settledMbAt1k)})`
      : "";
  const peak =
    r.fleet === "10k"
      ? ` (budget < ${SIDECAR_BUDGETS.peakMbAt10k} MB: ${verdict(r.peakRssMb < SIDECAR_BUDGETS.peakMbAt10k)})`
      : "";
  return `  resident memory: settled ${r.settledRssMb} MB${settled}, peak ${r.peakRssMb} MB${peak}`;
}

export function formatSidecarResult(r: SidecarBenchResult): string {
  return [
    `sidecar ${r.fleet} (dist/sidecar.mjs, default ${r.intervalSeconds} s interval) on ${r.objects} objects, ${r.targets} targets, ${(r.objectBytes / 1024).toFixed(0)} KiB:`,
    `  S3 requests per idle poll: ${r.listPerIdlePoll} LIST, ${r.getPerIdlePoll} GET (over ${r.idlePolls} polls)`,
    `  object change → file on disk: median ${r.changeToDiskMs.median} ms, max ${r.changeToDiskMs.max} ms (${r.changeToDiskMs.samples.length} changes)`,
    `  /targets: ${r.targetsServed.groups} groups, ${(r.targetsServed.bytes / 1024).toFixed(0)} KiB, ${r.targetsServed.matchesFiles ? "the files' groups in file name order" : "NOT the files' groups"}`,
    memoryLine(r),
  ].join("\n");
}

export function formatSidecarResults(results: readonly SidecarBenchResult[]): string {
  const launch = results[0]?.launch;
  const how = launch
    ? `sidecar process: ${launch.node} (${launch.nodeVersion}) ${launch.flags.join(" ") || "(no flags)"} dist/sidecar.mjs — flags from ${launch.flagsFrom}`
    : "";
  return [how, ...results.map(formatSidecarResult)].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      fleet: { type: "string", default: SIDECAR_FLEETS.map((f) => f.name).join(",") },
      json: { type: "boolean", default: false },
    },
  });
  const wanted = (values.fleet ?? "").split(",").map((f) => f.trim());
  const fleets = SIDECAR_FLEETS.filter((f) => wanted.includes(f.name));
  if (fleets.length === 0) throw new Error(`--fleet: expected some of ${SIDECAR_FLEETS.map((f) => f.name)}`);
  const results = await sidecarBenchAll(fleets);
  console.log(values.json ? JSON.stringify(results, null, 2) : formatSidecarResults(results));
  for (const b of sidecarBudgets(results))
    if (b.ok !== undefined) console.log(`${b.budget}: ${verdict(b.ok)} (${b.figure})`);
}
