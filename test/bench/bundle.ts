import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { startStandIn } from "../standin/server.js";
import { startS3 } from "../support/s3.js";
import { addWebTask } from "../support/web-task.js";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Where build:lambda writes the function's code; the benchmark builds the same into its own directory. */
const SHIPPED_DIR = "dist/lambda";
const OUT_DIR = ".tmp/bench/lambda";
const ACCOUNT = "111122223333"; // the sample events' account
const REGION = "us-east-1"; // the sample events' region
const BUCKET = "bench-targets";

/** Medians over the fresh processes of one scenario. */
export interface ColdStartFigures {
  /** `await import(entry)`: the Lambda's module init, minus the runtime's own start. */
  medianImportMs: number;
  /** From the module imported to the first event's answer. */
  medianFirstEventMs: number;
  /** Code files, relative to the bundle's directory, that the process had loaded after the event. */
  loaded: string[];
  /** Of those, the ones the first event loaded (imported on first use). */
  loadedByEvent: string[];
  /** What the handler answered (the same in every run). */
  outcome: string;
}

export interface BundleFigures {
  command: string;
  /** What the runtime's import of the entry loads: the entry file and the chunks it imports statically. */
  bytes: number;
  /** The same files, gzipped one by one. */
  gzipBytes: number;
  initFiles: string[];
  /** Every code file of the bundle, chunks loaded on first use included. */
  totalBytes: number;
  files: string[];
  buildMs: number;
  /** `await import(entry)` in a fresh Node process, for each run. */
  initMs: number[];
  medianInitMs: number;
  /** Process start to the entry imported, for the same runs. */
  medianProcessReadyMs: number;
  /** Import, then a task event of an unknown cluster, with every endpoint refusing connections. */
  againstNothing: ColdStartFigures;
  /** Import, then a task event for a known task on a known host: ECS/EC2 stand-in, the tests' S3 (startS3). */
  againstStandIn?: ColdStartFigures;
  node: string;
}

/**
 * Builds the handler with package.json's own build:lambda command, which the CDK construct shares
 * (cdk/function-code.ts); only the output directory differs, so dist/ is left alone. Then imports it in fresh processes with the
 * variables the stack sets and hands each one event. `standIn`: also against the ECS/EC2 stand-in and the tests' S3.
 */
export async function measureBundle(variant: string, runs = 15, standIn = true): Promise<BundleFigures> {
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf-8")) as {
    scripts: Record<string, string>;
  };
  const script = pkg.scripts["build:lambda"] ?? "";
  if (script.split(SHIPPED_DIR).length !== 2)
    throw new Error(`build:lambda no longer names ${SHIPPED_DIR} once; the benchmark cannot mirror it`);
  const outDir = `${OUT_DIR}/${variant}`;
  const command = script.replace(SHIPPED_DIR, outDir);
  await rm(join(ROOT, outDir), { recursive: true, force: true });
  const t0 = performance.now();
  await run("sh", ["-c", command], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
  });
  const buildMs = performance.now() - t0;
  const dir = join(ROOT, outDir);
  const files = await codeFiles(dir);
  const entries = files.filter((f) => !f.includes("/"));
  if (entries.length !== 1 || !entries[0]) throw new Error(`expected one entry file in ${outDir}: ${files}`);
  const entry = join(dir, entries[0]);
  const bodies = new Map(
    await Promise.all(files.map(async (f) => [f, await readFile(join(dir, f))] as const)),
  );
  const sum = (names: string[], size: (b: Buffer) => number) =>
    names.reduce((total, f) => total + size(bodies.get(f) ?? Buffer.alloc(0)), 0);

  const probe = await writeProbe();
  const nothing = await coldStarts(probe, entry, nothingEnv(), sqsBatch(sampleTaskEvent()), runs);
  const figures: BundleFigures = {
    command,
    bytes: sum(nothing.atImport, (b) => b.length),
    gzipBytes: sum(nothing.atImport, (b) => gzipSync(b).length),
    initFiles: nothing.atImport,
    totalBytes: sum(files, (b) => b.length),
    files,
    buildMs,
    initMs: nothing.importMs,
    medianInitMs: median(nothing.importMs),
    medianProcessReadyMs: median(nothing.readyMs),
    againstNothing: nothing.figures,
    node: process.version,
  };
  if (standIn) figures.againstStandIn = await againstStandIn(probe, entry, runs);
  return figures;
}

/** The bundle's code files (no source maps), relative to its directory. */
async function codeFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  return names
    .filter((d) => d.isFile() && /\.[cm]?js$/.test(d.name))
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

/**
 * A fresh process that imports the entry and hands it one event, recording every module file it loads
 * (through a synchronous loader hook, which sees chunks imported on first use as well).
 */
const PROBE = `
import { readFileSync, writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
const [entry, eventFile, resultFile] = process.argv.slice(2);
const loaded = new Set();
registerHooks({ load: (url, context, next) => (loaded.add(url), next(url, context)) });
const t0 = performance.now();
const { handler } = await import(entry);
const t1 = performance.now();
const atImport = [...loaded];
const context = {
  functionName: "discovery",
  invokedFunctionArn: "arn:aws:lambda:${REGION}:${ACCOUNT}:function:discovery",
  awsRequestId: "00000000-0000-4000-8000-000000000000",
  getRemainingTimeInMillis: () => 60000,
};
let outcome;
try {
  const answer = await handler(JSON.parse(readFileSync(eventFile, "utf8")), context);
  outcome = "batchItemFailures " + JSON.stringify(answer.batchItemFailures?.map((f) => f.itemIdentifier));
} catch (error) {
  outcome = "error: " + String(error?.message ?? error);
}
const t2 = performance.now();
const result = { importMs: t1 - t0, eventMs: t2 - t1, readyMs: t1, atImport, loaded: [...loaded], outcome };
writeFileSync(resultFile, JSON.stringify(result));
`;

async function writeProbe(): Promise<string> {
  const file = join(ROOT, OUT_DIR, "probe.mjs");
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, PROBE);
  return file;
}

interface ProbeResult {
  importMs: number;
  eventMs: number;
  readyMs: number;
  atImport: string[];
  loaded: string[];
  outcome: string;
}

async function coldStarts(
  probe: string,
  entry: string,
  env: Record<string, string>,
  event: unknown,
  runs: number,
): Promise<{ figures: ColdStartFigures; atImport: string[]; importMs: number[]; readyMs: number[] }> {
  const eventFile = join(ROOT, OUT_DIR, "event.json");
  const resultFile = join(ROOT, OUT_DIR, "result.json");
  await writeFile(eventFile, JSON.stringify(event));
  const results: ProbeResult[] = [];
  for (let i = 0; i < runs; i++) {
    await run(process.execPath, [probe, pathToFileURL(entry).href, eventFile, resultFile], {
      cwd: ROOT,
      env: { ...baseEnv(), ...env },
    });
    results.push(JSON.parse(await readFile(resultFile, "utf8")) as ProbeResult);
  }
  const dirUrl = `${pathToFileURL(dirname(entry)).href}/`;
  const ours = (urls: string[] = []) =>
    urls.filter((u) => u.startsWith(dirUrl)).map((u) => u.slice(dirUrl.length));
  const first = results[0];
  const atImport = ours(first?.atImport);
  const loaded = ours(first?.loaded);
  const figures: ColdStartFigures = {
    medianImportMs: median(results.map((r) => r.importMs)),
    medianFirstEventMs: median(results.map((r) => r.eventMs)),
    loaded,
    loadedByEvent: loaded.filter((f) => !atImport.includes(f)),
    outcome: first?.outcome ?? "-",
  };
  const importMs = results.map((r) => r.importMs);
  return { figures, atImport, importMs, readyMs: results.map((r) => r.readyMs) };
}

/** The variables the stack sets (function-environment.ts), with dummy credentials. */
function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    TARGETS_BUCKET: BUCKET,
    TARGETS_PREFIX: "targets/",
    STATE_PREFIX: "state/",
    POWERTOOLS_SERVICE_NAME: "prometheus-ecs-discovery",
    POWERTOOLS_LOG_LEVEL: "WARN",
    AWS_LAMBDA_FUNCTION_NAME: "discovery",
  };
}

/** Every endpoint refuses connections at once, and nothing is retried: the init and the SDK's first call. */
function nothingEnv(): Record<string, string> {
  return { AWS_ENDPOINT_URL: "http://127.0.0.1:9", MAX_ATTEMPTS: "1" };
}

function sampleTaskEvent(): unknown {
  return JSON.parse(readFileSync(join(ROOT, "test/fixtures/aws-events/task-state-change-ec2.json"), "utf8"));
}

function sqsBatch(event: unknown): unknown {
  return {
    Records: [
      {
        messageId: "m-1",
        receiptHandle: "r-1",
        body: JSON.stringify(event),
        attributes: {},
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:discovery-events`,
        awsRegion: REGION,
      },
    ],
  };
}

/**
 * The common event of a cold function: a task on a host the recorded state already knows. One resync
 * (in a process of its own) records the cluster first; then each run is a fresh process and one event.
 */
async function againstStandIn(probe: string, entry: string, runs: number): Promise<ColdStartFigures> {
  const [standIn, s3Server] = await Promise.all([
    startStandIn({ region: REGION, account: ACCOUNT }),
    startS3(),
  ]);
  try {
    const taskArn = addWebTask(standIn.fleet);
    const s3 = new S3Client({
      region: REGION,
      endpoint: s3Server.url,
      forcePathStyle: true,
      credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const env = { ...standIn.env(), AWS_ENDPOINT_URL_S3: s3Server.url };
    await coldStarts(probe, entry, env, { action: "resync" }, 1);
    return (await coldStarts(probe, entry, env, sqsBatch(standIn.fleet.taskStateChangeEvent(taskArn)), runs))
      .figures;
  } finally {
    await Promise.all([standIn.close(), s3Server.stop()]);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
