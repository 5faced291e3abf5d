/**
 * The sidecar's figures, measured on the shipped bundle (dist/sidecar.mjs) as a separate process against
 * moto's S3, with objects the engine wrote for a generated fleet:
 *   - S3 requests per poll when nothing changed (the goal: one LIST, zero GET);
 *   - time from an object change in S3 to the new file on disk, at the default 5 s interval;
 *   - the process's peak resident memory (VmHWM).
 * Run alone with `npx tsx test/bench/sidecar-scenarios.ts [--tasks N] [--clusters N] [--changes N]`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createCaches } from "../../lambda/discovery/caches.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { generateFleet, startStandIn } from "../standin/index.js";
import { engineAgainst } from "../support/engine-harness.js";
import { freePort, startMoto } from "../support/moto.js";

const ROOT = resolve(import.meta.dirname, "../..");
const BUNDLE = join(ROOT, "dist", "sidecar.mjs");

export interface SidecarBenchOptions {
  tasks: number;
  clusters: number;
  /** Object changes timed at the default interval. */
  changes: number;
  idlePolls: number;
}

export interface SidecarBenchResult {
  objects: number;
  objectBytes: number;
  targets: number;
  idlePolls: number;
  listPerIdlePoll: number;
  getPerIdlePoll: number;
  changeToDiskMs: { median: number; max: number; samples: number[] };
  intervalSeconds: number;
  peakRssMb: number;
  /** After the measured polls and changes: what the process holds in its steady state. */
  settledRssMb: number;
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
function buildBundle(): void {
  const built = spawnSync("npm", ["run", "--silent", "build:sidecar"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0) throw new Error("sidecar bench: npm run build:sidecar failed");
}

export async function sidecarBench(options: SidecarBenchOptions): Promise<SidecarBenchResult> {
  buildBundle();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const work = await mkdtemp(join(tmpdir(), "sidecar-bench-"));
  const standIn = await startStandIn();
  const moto = await startMoto();
  let child: ChildProcess | undefined;
  const s3 = new S3Client({
    endpoint: moto.url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  try {
    // Real objects: what the engine publishes for a generated fleet.
    generateFleet(standIn, { clusters: options.clusters, tasks: options.tasks, seed: 11 });
    const published = join(work, "published");
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(published), {
      caches: createCaches(),
    });
    await engine.run(parseTrigger({ action: "resync" }));
    await s3.send(new CreateBucketCommand({ Bucket: "bench" }));
    const files = (await readdir(published)).filter((f) => f.endsWith(".json"));
    let bytes = 0;
    let targets = 0;
    const bodies = new Map<string, string>();
    for (const f of files) {
      const body = await readFile(join(published, f), "utf-8");
      bytes += Buffer.byteLength(body);
      targets += (JSON.parse(body) as unknown[]).length;
      const [account, region, ...rest] = f.slice(0, -".json".length).split("_");
      const key = `targets/${account}/${region}/${rest.join("_")}.json`;
      bodies.set(key, body);
      await s3.send(new PutObjectCommand({ Bucket: "bench", Key: key, Body: body }));
    }

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const outDir = join(work, "sd");
    child = spawn(
      process.execPath,
      [BUNDLE, "--bucket", "bench", "--out-dir", outDir, "--listen", `127.0.0.1:${port}`],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_S3: moto.url,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "x",
          AWS_SECRET_ACCESS_KEY: "x",
          SIDECAR_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const pid = child.pid as number;
    await until(
      async () =>
        (await readdir(outDir)).filter((f) => f.endsWith(".json")).length === files.length ? 1 : undefined,
      60_000,
      "the first full sync",
    );

    // Idle polls: count what the process itself sent between two readings of its counters.
    const first = await until(async () => requestCounts(url), 10_000, "/metrics");
    let last = first;
    await until(
      async () => {
        last = await requestCounts(url);
        return last.syncs - first.syncs >= options.idlePolls ? last : undefined;
      },
      (options.idlePolls + 2) * 6_000,
      `${options.idlePolls} idle polls`,
    );
    const polls = last.syncs - first.syncs;

    // Change → disk at the default interval: change one object at a random moment of the poll cycle.
    const samples: number[] = [];
    const [key, body] = [...bodies.entries()][0] as [string, string];
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
    const rss = await rssMb(pid);
    return {
      objects: files.length,
      objectBytes: bytes,
      targets,
      idlePolls: polls,
      listPerIdlePoll: (last.list - first.list) / polls,
      getPerIdlePoll: (last.get - first.get) / polls,
      changeToDiskMs: {
        median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
        max: sorted.at(-1) ?? Number.NaN,
        samples,
      },
      intervalSeconds: 5,
      peakRssMb: rss.peak,
      settledRssMb: rss.now,
    };
  } finally {
    child?.kill("SIGTERM");
    s3.destroy();
    await Promise.all([standIn.close(), moto.stop()]);
    await rm(work, { recursive: true, force: true });
  }
}

export function formatSidecarResult(r: SidecarBenchResult): string {
  return [
    `sidecar (dist/sidecar.mjs, default ${r.intervalSeconds} s interval) on ${r.objects} objects, ${r.targets} targets, ${(r.objectBytes / 1024).toFixed(0)} KiB:`,
    `  S3 requests per idle poll: ${r.listPerIdlePoll} LIST, ${r.getPerIdlePoll} GET (over ${r.idlePolls} polls)`,
    `  object change → file on disk: median ${r.changeToDiskMs.median} ms, max ${r.changeToDiskMs.max} ms (${r.changeToDiskMs.samples.length} changes)`,
    `  resident memory: peak ${r.peakRssMb} MB, settled ${r.settledRssMb} MB`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      tasks: { type: "string", default: "10000" },
      clusters: { type: "string", default: "10" },
      changes: { type: "string", default: "5" },
      "idle-polls": { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  const result = await sidecarBench({
    tasks: Number(values.tasks),
    clusters: Number(values.clusters),
    changes: Number(values.changes),
    idlePolls: Number(values["idle-polls"]),
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : formatSidecarResult(result));
}
