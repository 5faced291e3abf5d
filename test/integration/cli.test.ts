import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateClusterCommand,
  ECSClient,
  RegisterContainerInstanceCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
} from "@aws-sdk/client-ecs";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandIn, startStandIn } from "../standin/index.js";
import { type MotoServer, startMoto } from "../support/moto.js";

const ROOT = resolve(import.meta.dirname, "../..");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: its own process, configured only through flags and the environment. */
function cli(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const clean: NodeJS.ProcessEnv = {};
  // Nothing of this machine's AWS setup may leak in: the CLI must get all of it from `env`.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) clean[k] = v;
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--import", "tsx", "lambda/cli.ts", ...args], {
      cwd: ROOT,
      env: {
        ...clean,
        AWS_CONFIG_FILE: "/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("exit", (code) => done({ code, stdout, stderr }));
  });
}

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

const tmp = () => mkdtemp(join(tmpdir(), "ecs-sd-cli-"));
const readJson = async <T>(path: string) => JSON.parse(await readFile(path, "utf-8")) as T;

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

/**
 * moto's own ECS model, as a second implementation of the real API. Its gaps, worked around here: it
 * reports no `networkBindings` (so bridge containers cannot be resolved and only host and awsvpc tasks
 * become targets), only the first container of a task definition, and no ListTasks pagination.
 */
describe("prometheus-ecs-discovery CLI against moto's ECS, EC2 and S3", () => {
  let moto: MotoServer;
  let env: Record<string, string>;
  let eniIp: string | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    await fetch(`${moto.url}/moto-api/state-manager/set-transition`, {
      method: "POST",
      body: JSON.stringify({
        model_name: "ecs::task",
        transition: { progression: "manual", times: 1_000_000 },
      }),
    });
    const common = {
      endpoint: moto.url,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    };
    const ec2 = new EC2Client(common);
    const ecs = new ECSClient(common);
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "127.0.0.0/16" }));
    const VpcId = vpc.Vpc?.VpcId as string;
    // moto fails awsvpc tasks with a 500 unless the VPC has DNS hostnames.
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId, EnableDnsHostnames: { Value: true } }));
    const subnet = await ec2.send(new CreateSubnetCommand({ VpcId, CidrBlock: "127.0.0.0/24" }));
    const SubnetId = subnet.Subnet?.SubnetId as string;
    const instances = await ec2.send(
      new RunInstancesCommand({
        ImageId: "ami-12c6146b",
        MinCount: 1,
        MaxCount: 1,
        SubnetId,
        PrivateIpAddress: "127.0.0.1",
      }),
    );
    const instanceId = instances.Instances?.[0]?.InstanceId as string;
    await ecs.send(new CreateClusterCommand({ clusterName: "moto-prod" }));
    await ecs.send(
      new RegisterContainerInstanceCommand({
        cluster: "moto-prod",
        instanceIdentityDocument: JSON.stringify({ instanceId }),
      }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "node-exporter",
        networkMode: "host",
        containerDefinitions: [
          {
            name: "exporter",
            image: "ne:1",
            memory: 64,
            portMappings: [{ containerPort: 9100 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100", PROMETHEUS_EXPORTER_JOB_NAME: "node" },
          },
        ],
      }),
    );
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: "api",
        networkMode: "awsvpc",
        requiresCompatibilities: ["FARGATE"],
        cpu: "256",
        memory: "512",
        containerDefinitions: [
          {
            name: "api",
            image: "api:1",
            memory: 128,
            portMappings: [{ containerPort: 8080 }],
            dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080", PROMETHEUS_EXPORTER_PATH: "/stats" },
          },
        ],
      }),
    );
    await ecs.send(new RunTaskCommand({ cluster: "moto-prod", taskDefinition: "node-exporter", count: 1 }));
    const fargate = await ecs.send(
      new RunTaskCommand({
        cluster: "moto-prod",
        taskDefinition: "api",
        launchType: "FARGATE",
        networkConfiguration: { awsvpcConfiguration: { subnets: [SubnetId], securityGroups: [] } },
      }),
    );
    eniIp = fargate.tasks?.[0]?.attachments?.[0]?.details?.find(
      (d) => d.name === "privateIPv4Address",
    )?.value;
    await s3.send(new CreateBucketCommand({ Bucket: "sd-bucket" }));
    for (const c of [ec2, ecs, s3]) c.destroy();
    env = {
      AWS_ENDPOINT_URL: moto.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "x",
      AWS_SECRET_ACCESS_KEY: "x",
    };
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it("sync --out-dir finds the host-mode and Fargate tasks at their addresses", async () => {
    const dir = await tmp();
    const run = await cli(["sync", "--out-dir", dir], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const groups = await readJson<Group[]>(join(dir, "123456789012_us-east-1_moto-prod.json"));
    expect(eniIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(groups.map((g) => g.targets[0]).sort()).toEqual([`${eniIp}:8080`, "127.0.0.1:9100"].sort());
    const byFamily = new Map(groups.map((g) => [g.labels.task_name, g.labels]));
    expect(byFamily.get("node-exporter")).toMatchObject({ job: "node", __meta_ecs_network_mode: "host" });
    expect(byFamily.get("api")).toMatchObject({
      __metrics_path__: "/stats",
      __meta_ecs_launch_type: "FARGATE",
      __meta_ecs_network_mode: "awsvpc",
    });
  });

  it("sync --bucket writes the object at {prefix}{account}/{region}/{cluster}.json as application/json", async () => {
    const run = await cli(["sync", "--bucket", "sd-bucket", "--prefix", "sd/"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const s3 = new S3Client({
      endpoint: moto.url,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    const object = await s3.send(
      new GetObjectCommand({ Bucket: "sd-bucket", Key: "sd/123456789012/us-east-1/moto-prod.json" }),
    );
    expect(object.ContentType).toBe("application/json");
    const groups = JSON.parse((await object.Body?.transformToString()) ?? "") as Group[];
    expect(groups).toHaveLength(2);
    s3.destroy();
  });
});
