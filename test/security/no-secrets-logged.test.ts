/**
 * Credentials never reach a log. The Lambda handler (as deployed: Powertools logger and metrics, real SDK
 * clients) and the sidecar run with marker values in AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, through
 * every failure path that logs an error: denied, throttled and failing ECS calls, failing S3 writes and
 * reads, a failed cluster listing, rejected input. Every byte written to stdout and stderr, every console
 * call, every logger line and everything thrown is searched for any 12-character piece of the markers.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format, inspect } from "node:util";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSidecar } from "../../sidecar/app.js";
import { jsonLogger } from "../../sidecar/log.js";
import { type S3FaultProxy, startS3FaultProxy } from "../faults/s3-proxy.js";
import { adminClient } from "../faults/world.js";
import { generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { type S3Server, startS3 } from "../support/s3.js";

const SECRET = "SECRETMARKERwJalrXUtnFEMIK7MDENGbPxRfiCYzq1";
const TOKEN = "TOKENMARKERIQoJb3JpZ2luX2VjEJrtoken0a1b2c3d4e5f";
const BUCKET = "secret-test-targets";

/** Every 12-character window of each marker: a logged prefix or fragment counts as a leak too. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const marker of [SECRET, TOKEN]) {
    for (let i = 0; i + 12 <= marker.length; i++) {
      const piece = marker.slice(i, i + 12);
      if (text.includes(piece)) {
        found.push(`${marker.slice(0, 12)}… (fragment "${piece}")`);
        break;
      }
    }
  }
  return found;
}

/** Captures everything the process writes while `body` runs, without echoing it. */
async function capture<T>(body: () => Promise<T>): Promise<{ value?: T; error?: unknown; text: string }> {
  const chunks: string[] = [];
  const out = process.stdout.write;
  const err = process.stderr.write;
  const methods = ["log", "info", "warn", "error", "debug", "trace"] as const;
  const originals = methods.map((m) => console[m]);
  const sink = ((chunk: unknown) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = sink;
  process.stderr.write = sink;
  for (const m of methods) console[m] = (...args: unknown[]) => chunks.push(format(...args));
  try {
    const value = await body();
    return { value, text: chunks.join("") };
  } catch (error) {
    return { error, text: `${chunks.join("")}\n${inspect(error, { depth: 20, showHidden: true })}` };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    methods.forEach((m, i) => {
      console[m] = originals[i] as (typeof console)[typeof m];
    });
  }
}

let s3: S3Server;
let standIn: StandIn;
let proxy: S3FaultProxy;
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startS3();
  await adminClient(s3.url).send(new CreateBucketCommand({ Bucket: BUCKET }));
  proxy = await startS3FaultProxy(s3.url, BUCKET);
  standIn = await startStandIn();
  generateFleet(standIn, { clusters: 3, tasks: 24, hostsPerCluster: 2, seed: 11 });
  Object.assign(process.env, standIn.env(), {
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: TOKEN,
    AWS_ENDPOINT_URL_S3: proxy.url,
    TARGETS_BUCKET: BUCKET,
    MAX_ATTEMPTS: "2",
    POWERTOOLS_LOG_LEVEL: "DEBUG",
  });
});
afterAll(async () => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  await proxy?.close();
  await standIn?.close();
  await s3?.stop();
});

describe("no secret in any log", () => {
  it("the Lambda handler, through every failure that logs", async () => {
    const { handler } = await import("../../lambda/handler.js");
    const key = (cluster: string) => `targets/${standIn.account}/${standIn.region}/${cluster}.json`;
    const runs: { name: string; run: () => Promise<unknown>; setUp?: () => void }[] = [
      { name: "a healthy reconcile", run: () => handler({ action: "resync" }) },
      {
        name: "denied, throttled and failing ECS and EC2 calls, a failing S3 write",
        setUp: () => {
          const fleet = standIn.fleet;
          const def = fleet.registerTaskDefinition({
            family: "fresh",
            networkMode: "awsvpc",
            requiresCompatibilities: ["FARGATE"],
            containers: [{ name: "f", image: "f:1", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" } }],
          });
          fleet.runTask("cluster-03", { taskDefinition: def, launchType: "FARGATE" });
          fleet.addHost("cluster-02");
          standIn.faults.inject({ cluster: "cluster-01", kind: "accessDenied" });
          standIn.faults.inject({ operation: "DescribeTaskDefinition", kind: "5xx" });
          standIn.faults.inject({ operation: "DescribeInstances", kind: "throttle" });
          standIn.faults.inject({ operation: "DescribeTasks", cluster: "cluster-02", kind: "throttle" });
          proxy.inject({
            method: "PUT",
            keyPrefix: key("cluster-02"),
            action: { kind: "status", status: 500 },
          });
        },
        run: () => handler({ action: "resync" }),
      },
      {
        name: "S3 reads failing and garbled",
        setUp: () => {
          proxy.inject({ method: "GET", action: { kind: "corruptBody" } });
        },
        run: () => handler({ action: "resync", clusters: ["cluster-02", "cluster-03"] }),
      },
      {
        name: "the cluster listing failing",
        setUp: () => {
          standIn.faults.inject({ operation: "ListClusters", kind: "5xx" });
        },
        run: () => handler({ action: "resync" }),
      },
      { name: "rejected input", run: () => handler({ action: "resync", force: "yes" }) },
      {
        name: "an SQS batch with a bad message and a denied cluster",
        setUp: () => {
          standIn.faults.inject({ cluster: "cluster-01", kind: "accessDenied" });
        },
        run: () => {
          const task = [...standIn.fleet.tasks.values()].find((t) => t.cluster.name === "cluster-01");
          const event = standIn.fleet.taskStateChangeEvent(task?.arn as string);
          return handler({
            Records: [
              { messageId: "bad", eventSource: "aws:sqs", body: "{not json" },
              { messageId: "good", eventSource: "aws:sqs", body: JSON.stringify(event) },
            ],
          });
        },
      },
    ];
    const failures: string[] = [];
    let lines = 0;
    for (const { name, run, setUp } of runs) {
      standIn.faults.clear();
      proxy.clear();
      setUp?.();
      const { value, error, text } = await capture(run);
      lines += text.split("\n").filter((l) => l.trim() !== "").length;
      const all = `${text}\n${JSON.stringify(value ?? null)}\n${error ? inspect(error, { depth: 20 }) : ""}`;
      for (const leak of leaks(all)) failures.push(`${name}: ${leak}`);
      if (name === "rejected input") expect(text).toMatch(/rejected input; nothing was changed/);
      if (name.startsWith("denied")) expect(text).toMatch(/AccessDeniedException/);
    }
    standIn.faults.clear();
    proxy.clear();
    expect(lines, "the runs did log").toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  it("the sidecar, through every failure that logs", async () => {
    const admin = adminClient(s3.url);
    const dir = await mkdtemp(join(tmpdir(), "secret-sidecar-"));
    const k = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
    await admin.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: k("good"), Body: '[{"targets":["10.0.0.1:80"]}]' }),
    );
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: k("bad"), Body: "[{" }));
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: "targets/../escape.json", Body: "[]" }));
    const env = { ...process.env };
    const scenarios: { name: string; args: string[]; setUp?: () => void }[] = [
      {
        name: "a sync with a bad object and a bad key",
        args: ["--bucket", BUCKET, "--out-dir", dir, "--once"],
      },
      {
        name: "LIST failing",
        setUp: () =>
          proxy.inject({ method: "GET", keyPrefix: undefined, action: { kind: "status", status: 500 } }),
        args: ["--bucket", BUCKET, "--out-dir", dir, "--once"],
      },
      {
        name: "GET cut mid-body",
        setUp: () => proxy.inject({ method: "GET", keyPrefix: "targets/", action: { kind: "truncateBody" } }),
        args: ["--bucket", BUCKET, "--out-dir", `${dir}-2`, "--once"],
      },
      { name: "no such bucket", args: ["--bucket", "no-such-bucket-here", "--out-dir", dir, "--once"] },
      { name: "a bad flag", args: ["--bucket", BUCKET, "--out-dir", dir, "--interval", "soon"] },
    ];
    const failures: string[] = [];
    let lines = 0;
    for (const { name, args, setUp } of scenarios) {
      proxy.clear();
      setUp?.();
      const logged: string[] = [];
      const { value, text } = await capture(() =>
        runSidecar(
          args,
          env,
          jsonLogger((line) => logged.push(line)),
        ),
      );
      lines += logged.length;
      for (const leak of leaks(`${text}\n${logged.join("\n")}\n${String(value)}`))
        failures.push(`${name}: ${leak}`);
    }
    proxy.clear();
    admin.destroy();
    expect(lines, "the sidecar did log").toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });

  it("the leak check itself finds a marker fragment, wherever it was written", async () => {
    const { text } = await capture(async () => {
      process.stdout.write(`token=${TOKEN}\n`);
      console.error("key", SECRET);
    });
    expect(leaks(text)).toHaveLength(2);
    expect(leaks(`{"error":"signature ${SECRET.slice(5, 20)} mismatch"}`)).toHaveLength(1);
    expect(leaks(`x-amz-security-token: ${TOKEN}`)).toHaveLength(1);
    expect(leaks("nothing here")).toEqual([]);
  });
});
