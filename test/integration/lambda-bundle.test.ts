import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { App } from "aws-cdk-lib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandIn, startStandIn } from "../standin/server.js";
import { synthConstruct } from "../support/cdk.js";
import { type S3Server, startS3 } from "../support/s3.js";
import { addWebTask } from "../support/web-task.js";

/**
 * The function exactly as `cdk deploy` ships it: the esbuild bundle from the cloud assembly, loaded in a fresh
 * Node process (no tsx, no node_modules on the way), with the environment the template gives it, run on the
 * sample events against the ECS/EC2 stand-in and S3 (startS3).
 */
const REAL_ENTRY = fileURLToPath(new URL("../../lambda/handler.ts", import.meta.url));
const ACCOUNT = "111122223333"; // the sample events' account
const REGION = "us-east-1"; // the EC2 sample event's region
const BUCKET = "bundle-test-targets";

const RUNNER = `
import { readFileSync, writeFileSync } from "node:fs";
import { registerHooks } from "node:module";
const [bundle, eventsFile, resultsFile, loadedFile] = process.argv.slice(2);
// Every module file the process loads, chunks imported on first use included.
const loaded = [];
registerHooks({ load: (url, context, next) => (loaded.push(url), next(url, context)) });
const { handler } = await import(bundle);
const context = {
  functionName: "discovery",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:${REGION}:${ACCOUNT}:function:discovery",
  memoryLimitInMB: "512",
  awsRequestId: "00000000-0000-4000-8000-000000000000",
  getRemainingTimeInMillis: () => 60000,
};
const results = [];
for (const event of JSON.parse(readFileSync(eventsFile, "utf8"))) {
  try {
    results.push({ ok: await handler(event, context) });
  } catch (error) {
    results.push({ error: String(error?.message ?? error) });
  }
}
writeFileSync(resultsFile, JSON.stringify(results));
writeFileSync(loadedFile, JSON.stringify(loaded));
`;

let standIn: StandIn;
let s3Server: S3Server;
let s3: S3Client;
let bundle: string;
let functionEnv: Record<string, string>;
let work: string;
let taskArn: string;

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf8"));

/** The function's stdout (its logs and EMF metrics) of the last run, as CloudWatch would receive it. */
let lastStdout = "";
/** The bundle's files (relative to its directory) that the last run's process loaded. */
let lastLoaded: string[] = [];

async function run(events: unknown[]): Promise<{ ok?: Record<string, unknown>; error?: string }[]> {
  const eventsFile = join(work, "events.json");
  const resultsFile = join(work, "results.json");
  const loadedFile = join(work, "loaded.json");
  writeFileSync(eventsFile, JSON.stringify(events));
  writeFileSync(join(work, "runner.mjs"), RUNNER);
  ({ stdout: lastStdout } = await promisify(execFile)(
    process.execPath,
    [join(work, "runner.mjs"), pathToFileURL(bundle).href, eventsFile, resultsFile, loadedFile],
    {
      cwd: work,
      env: {
        PATH: process.env.PATH ?? "",
        ...functionEnv,
        ...standIn.env(),
        AWS_ENDPOINT_URL_S3: s3Server.url,
        AWS_LAMBDA_FUNCTION_NAME: "discovery",
      },
      timeout: 60_000,
    },
  ));
  const base = `${pathToFileURL(dirname(bundle)).href}/`;
  lastLoaded = (JSON.parse(readFileSync(loadedFile, "utf8")) as string[])
    .filter((url) => url.startsWith(base))
    .map((url) => url.slice(base.length));
  return JSON.parse(readFileSync(resultsFile, "utf8"));
}

beforeAll(async () => {
  const { stack, template } = synthConstruct({ entry: REAL_ENTRY });
  const fn = Object.values(template.findResources("AWS::Lambda::Function"))[0]?.Properties;
  const assembly = (stack.node.root as App).synth();
  bundle = join(assembly.directory, `asset.${String(fn.Code.S3Key).replace(/\.zip$/, "")}`, "index.mjs");
  functionEnv = Object.fromEntries(
    Object.entries(fn.Environment.Variables as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === "string" ? v : BUCKET,
    ]),
  );
  work = mkdtempSync(join(tmpdir(), "bundle-test-"));

  [standIn, s3Server] = await Promise.all([startStandIn({ region: REGION, account: ACCOUNT }), startS3()]);
  taskArn = addWebTask(standIn.fleet);

  s3 = new S3Client({
    region: REGION,
    endpoint: s3Server.url,
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 60_000);

afterAll(async () => {
  await Promise.all([standIn?.close(), s3Server?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

interface PackageJson {
  scripts: Record<string, string | undefined>;
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Every file under `dir`, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

const bundleFiles = () => filesUnder(dirname(bundle)).filter((f) => f.endsWith(".mjs"));

/** The bundle's files holding the EC2 SDK, known by its service namespace in the SDK's schemas. */
const ec2Files = () =>
  bundleFiles().filter((f) => readFileSync(join(dirname(bundle), f), "utf8").includes('"com.amazonaws.ec2"'));

const objectKey = `targets/${ACCOUNT}/${REGION}/default.json`;

async function published(): Promise<{ targets: string[]; labels: Record<string, string> }[]> {
  const body = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: objectKey }));
  return JSON.parse(await (body.Body?.transformToString() ?? "[]"));
}

describe("the deployed bundle", () => {
  it("carries the SDK and the engine in ESM files: an entry and the chunks it imports", () => {
    expect(bundleFiles()).toContain("index.mjs");
    for (const file of bundleFiles()) {
      const code = readFileSync(join(dirname(bundle), file), "utf8");
      expect(code, file).not.toMatch(/from\s*"@aws-sdk\//);
      expect(code, file).not.toMatch(/from\s*"@aws-lambda-powertools\//);
    }
  });

  it("keeps the EC2 SDK in one file, not the entry", () => {
    expect(ec2Files()).toHaveLength(1);
    expect(ec2Files()).not.toContain("index.mjs");
  });

  it("is what npm run build:lambda builds, file for file", async () => {
    const out = join(work, "build-lambda");
    const script = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson).scripts[
      "build:lambda"
    ];
    expect(script).toContain("dist/lambda");
    await promisify(execFile)("sh", ["-c", (script ?? "").replace("dist/lambda", out)], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
    });
    expect(filesUnder(out)).toEqual(filesUnder(dirname(bundle)));
  });

  it("publishes the running task on a manual resync", async () => {
    const [result] = await run([{ action: "resync" }]);
    expect(result?.error).toBeUndefined();
    // The host is new: DescribeInstances, so the EC2 chunk was loaded (and the check below can see it).
    expect(lastLoaded).toEqual(expect.arrayContaining(ec2Files()));
    const groups = await published();
    expect(groups).toHaveLength(1);
    expect(groups[0]?.labels.job).toBe("nginx");
    expect(groups[0]?.labels.task_arn).toBe(taskArn);
  });

  it("handles the sample scheduled event", async () => {
    const [result] = await run([fixture("scheduled-event.json")]);
    expect(result?.error).toBeUndefined();
  });

  it("emits the metric the stale-targets alarm reads, in its namespace and dimension, with drift", async () => {
    const [result] = await run([fixture("scheduled-event.json")]);
    expect(result?.error).toBeUndefined();
    const { template } = synthConstruct({ entry: REAL_ENTRY });
    const alarm = Object.values(template.findResources("AWS::CloudWatch::Alarm")).find(
      (a) => a.Properties.MetricName === "ReconcileSuccess",
    )?.Properties;
    const emf = lastStdout
      .split("\n")
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    type Emf = Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    };
    const runDocs = emf.filter((doc) => "ReconcileSuccess" in doc);
    expect(runDocs).toHaveLength(1);
    const record = runDocs[0] as Emf;
    const directive = record._aws.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe(alarm?.Namespace);
    for (const d of alarm?.Dimensions ?? []) {
      expect(directive?.Dimensions.flat()).toContain(d.Name);
      expect(record[d.Name]).toBe(d.Value);
    }
    expect(record).toMatchObject({ ReconcileSuccess: 1, DriftTargetsAdded: 0, DriftTargetsRemoved: 0 });
    // The dashboard's SEARCH schemas ({namespace,service,cluster}, …) match only this exact dimension set.
    const withDimension = (metric: string, dimension: string) =>
      (emf as Emf[]).filter(
        (doc) =>
          metric in doc &&
          typeof doc[dimension] === "string" &&
          JSON.stringify(doc._aws.CloudWatchMetrics[0]?.Dimensions) ===
            JSON.stringify([["service", dimension]]),
      );
    expect(withDimension("ClusterTargets", "cluster").length).toBeGreaterThan(0);
    expect(withDimension("ClusterFailed", "cluster").length).toBeGreaterThan(0);
    expect(withDimension("OperationCalls", "operation").map((d) => d.operation)).toContain("ListTasks");
  });

  it("handles the ECS guide's sample task event (a task this cluster does not have) without changing targets", async () => {
    const before = await published();
    const [result] = await run([fixture("task-state-change-ec2.json")]);
    expect(result?.error).toBeUndefined();
    expect(await published()).toEqual(before);
  });

  it("handles an SQS batch of task events and reports no failed items", async () => {
    const event = standIn.fleet.taskStateChangeEvent(taskArn);
    const batch = {
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
    const [result] = await run([batch]);
    expect(result?.error).toBeUndefined();
    expect(result?.ok?.batchItemFailures).toEqual([]);
    // A cold start on an event for a known host: the EC2 SDK is neither loaded nor evaluated.
    expect(lastLoaded).toContain("index.mjs");
    expect(lastLoaded.filter((file) => ec2Files().includes(file))).toEqual([]);
  });

  it("takes the stopped task away after its task event", async () => {
    standIn.fleet.stopTask(taskArn);
    const [result] = await run([standIn.fleet.taskStateChangeEvent(taskArn)]);
    expect(result?.error).toBeUndefined();
    expect(await published()).toEqual([]);
  });

  it("rejects a garbage payload and writes nothing", async () => {
    const before = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    const [result] = await run([{ action: "explode" }]);
    expect(result?.error).toMatch(/unknown action "explode"/);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(after.Contents?.map((o) => o.ETag)).toEqual(before.Contents?.map((o) => o.ETag));
  });
});
