import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandIn, startStandIn } from "../standin/index.js";
import { cli, type Group, readJson, tmp } from "../support/cli-run.js";
import { type S3Server, s3Client, startS3 } from "../support/s3.js";

describe("prometheus-ecs-discovery CLI against the stand-in", () => {
  let standIn: StandIn;
  let env: Record<string, string>;
  let fargateTask: string;

  beforeAll(async () => {
    standIn = await startStandIn();
    env = standIn.env();
    const f = standIn.fleet;
    f.addCluster("web");
    f.addCluster("batch");
    const host = f.addHost("batch", { privateIp: "10.1.0.5" });
    const fargate = f.registerTaskDefinition({
      family: "frontend",
      requiresCompatibilities: ["FARGATE"],
      containers: [
        {
          name: "web",
          image: "web:1",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "3000", PROMETHEUS_EXPORTER_JOB_NAME: "frontend" },
          portMappings: [{ containerPort: 3000 }],
        },
      ],
    });
    const bridge = f.registerTaskDefinition({
      family: "reports",
      networkMode: "bridge",
      containers: [
        {
          name: "report",
          image: "report:1",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9400" },
          portMappings: [{ containerPort: 9400, hostPort: 0 }],
        },
      ],
    });
    fargateTask = f.runTask("web", { taskDefinition: fargate, launchType: "FARGATE", eniIp: "10.0.8.8" });
    f.runTask("batch", { taskDefinition: bridge, host: host.containerInstanceArn });
  });
  afterAll(async () => {
    await standIn.close();
  });

  it("--help prints the usage and exits 0", async () => {
    const run = await cli(["--help"], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/prometheus-ecs-discovery sync/);
    expect(run.stdout).toMatch(/prometheus-ecs-discovery invoke --event FILE/);
  });

  it("sync --out-dir writes one file per cluster, named as the sidecar names them", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect((await readdir(dir)).filter((f) => f.endsWith(".json")).sort()).toEqual([
      "123456789012_us-east-1_batch.json",
      "123456789012_us-east-1_web.json",
    ]);
    const web = await readJson<Group[]>(join(dir, "123456789012_us-east-1_web.json"));
    expect(web.map((g) => g.targets)).toEqual([["10.0.8.8:3000"]]);
    expect(web[0]?.labels.job).toBe("frontend");
    const batch = await readJson<Group[]>(join(dir, "123456789012_us-east-1_batch.json"));
    expect(batch).toHaveLength(1);
    expect(batch[0]?.targets[0]).toMatch(/^10\.1\.0\.5:\d+$/);
    const summary = JSON.parse(run.stdout) as { ok: boolean; objects: { written: number } };
    expect(summary).toMatchObject({ ok: true, objects: { written: 2 } });
  });

  it("sync --cluster limits the run to that cluster", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir, "--cluster", "web"], env);
    expect(run.code).toBe(0);
    expect((await readdir(dir)).filter((f) => f.endsWith(".json"))).toEqual([
      "123456789012_us-east-1_web.json",
    ]);
  });

  it("invoke --event runs the handler; a second run on the same output behaves like a warm second invocation", async () => {
    const dir = await tmp();
    const scheduled = join(dir, "..", `${dir.split("/").pop()}-scheduled.json`);
    await writeFile(
      scheduled,
      JSON.stringify({ source: "aws.events", "detail-type": "Scheduled Event", detail: {} }),
    );
    const first = await cli(["invoke", "--event", scheduled, "--out-dir", dir], env);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ trigger: "schedule", objects: { written: 2 } });
    const second = await cli(["invoke", "--event", scheduled, "--out-dir", dir], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ objects: { written: 0, unchanged: 2 } });

    // The state lives in the output, so a task event in a fresh process needs no ECS call to apply.
    standIn.fleet.stopTask(fargateTask);
    const stopEvent = join(dir, "..", `${dir.split("/").pop()}-stop.json`);
    await writeFile(stopEvent, JSON.stringify(standIn.fleet.taskStateChangeEvent(fargateTask)));
    standIn.counters.reset();
    const stopped = await cli(["invoke", "--event", stopEvent, "--out-dir", dir], env);
    expect(stopped.code).toBe(0);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ trigger: "task-event", events: { applied: 1 } });
    expect(standIn.counters.snapshot().totalCalls).toBe(0);
    expect(await readJson<Group[]>(join(dir, "123456789012_us-east-1_web.json"))).toEqual([]);
  });

  it("rejects an event file that is no known event, with the reason and no write", async () => {
    const dir = await tmp();
    const bad = join(dir, "..", `${dir.split("/").pop()}-bad.json`);
    await writeFile(bad, JSON.stringify({ source: "aws.s3", "detail-type": "Object Created", detail: {} }));
    const run = await cli(["invoke", "--event", bad, "--out-dir", dir], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/unsupported event \(source "aws\.s3", detail-type "Object Created"\)/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("exits 2 and keeps the old file of a cluster that fails, updating the others", async () => {
    const dir = await tmp();
    expect((await cli(["sync", "--out-dir", dir], env)).code).toBe(0);
    const before = await readFile(join(dir, "123456789012_us-east-1_batch.json"), "utf-8");
    const rule = standIn.faults.inject({ cluster: "batch", kind: "accessDenied" });
    try {
      const run = await cli(["sync", "--out-dir", dir], env);
      expect(run.code).toBe(2);
      const summary = JSON.parse(run.stdout) as { clusters: { cluster: string; status: string }[] };
      expect(summary.clusters.find((c) => c.cluster === "batch")?.status).toBe("failed");
      expect(run.stderr).toMatch(/"cluster":"batch"/);
      expect(run.stderr).toMatch(/AccessDeniedException/);
      expect(await readFile(join(dir, "123456789012_us-east-1_batch.json"), "utf-8")).toBe(before);
    } finally {
      standIn.faults.remove(rule);
    }
  });

  it("exits 1 with one line when no region is configured", async () => {
    const run = await cli(["sync", "--out-dir", await tmp()], { ...env, AWS_REGION: undefined });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/AWS_REGION/);
  });

  it("exits 1 with one line when there are no credentials", async () => {
    const run = await cli(["sync", "--out-dir", await tmp()], {
      ...env,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/no AWS credentials/);
  });

  it("exits 1 with the reason on the last line when the endpoint is unreachable", async () => {
    const run = await cli(["sync", "--out-dir", await tmp()], {
      ...env,
      AWS_ENDPOINT_URL_ECS: "http://127.0.0.1:9",
      MAX_ATTEMPTS: "1",
    });
    expect(run.code).toBe(1);
    // The structured log line, then the one-line reason last, where a shell user looks.
    const lines = run.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(
      /^prometheus-ecs-discovery: error: could not list clusters: connect ECONNREFUSED 127\.0\.0\.1:9$/,
    );
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: "ERROR" });
  });

  it("names the bad variable when the configuration is wrong", async () => {
    const run = await cli(["sync", "--out-dir", await tmp()], { ...env, SELECTORS: "[{" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/configuration: SELECTORS must be a JSON array/);
  });
});

describe("prometheus-ecs-discovery CLI writing to S3", () => {
  let standIn: StandIn;
  let s3: S3Server;

  beforeAll(async () => {
    [standIn, s3] = await Promise.all([startStandIn(), startS3()]);
    standIn.fleet.addCluster("prod");
    const definition = standIn.fleet.registerTaskDefinition({
      family: "api",
      requiresCompatibilities: ["FARGATE"],
      containers: [
        {
          name: "api",
          image: "api:1",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
          portMappings: [{ containerPort: 8080 }],
        },
      ],
    });
    standIn.fleet.runTask("prod", { taskDefinition: definition, launchType: "FARGATE", eniIp: "10.0.9.9" });
    const admin = s3Client(s3.url);
    await admin.send(new CreateBucketCommand({ Bucket: "sd-bucket" }));
    admin.destroy();
  });
  afterAll(async () => {
    await Promise.all([standIn?.close(), s3?.stop()]);
  });

  it("sync --bucket writes the object at {prefix}{account}/{region}/{cluster}.json as application/json", async () => {
    const env = { ...standIn.env(), AWS_ENDPOINT_URL_S3: s3.url };
    const run = await cli(["sync", "--bucket", "sd-bucket", "--prefix", "sd/"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const admin = s3Client(s3.url);
    const object = await admin.send(
      new GetObjectCommand({ Bucket: "sd-bucket", Key: "sd/123456789012/us-east-1/prod.json" }),
    );
    expect(object.ContentType).toBe("application/json");
    const groups = JSON.parse((await object.Body?.transformToString()) ?? "") as Group[];
    expect(groups.map((g) => g.targets)).toEqual([["10.0.9.9:8080"]]);
    admin.destroy();

    // A second run finds the state it stored and writes nothing.
    const again = await cli(["sync", "--bucket", "sd-bucket", "--prefix", "sd/"], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ objects: { written: 0 } });
  });
});
