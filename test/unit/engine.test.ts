import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { CallCounter } from "../../lambda/aws/call-counter.js";
import type { ClusterListing, ContainerInstanceInfo, EcsReadApi } from "../../lambda/aws/ecs-read-api.js";
import { loadEngineConfig } from "../../lambda/config.js";
import { createCaches } from "../../lambda/discovery/caches.js";
import { DiscoveryEngine, type EngineDeps, type Log } from "../../lambda/engine.js";
import { parseTrigger } from "../../lambda/events/parse-trigger.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import type { ObjectRef, StoredObject, TargetOutput } from "../../lambda/publish/target-output.js";

const ACCOUNT = "123456789012";
const arn = (name: string) => `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/${name}`;
const TD = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/web:1`;

/** An in-memory ECS with Fargate tasks; `fail` makes every call naming a cluster throw. */
class FakeEcs implements EcsReadApi {
  clusters = new Map<string, string[]>();
  fail = new Map<string, Error>();
  calls: string[] = [];

  constructor(spec: Record<string, number>) {
    for (const [name, count] of Object.entries(spec)) {
      this.clusters.set(
        name,
        Array.from({ length: count }, (_, i) => `arn:aws:ecs:us-east-1:${ACCOUNT}:task/${name}/t${i}`),
      );
    }
  }
  private check(cluster: string) {
    const name = cluster.split("/").pop() ?? cluster;
    const error = this.fail.get(name);
    if (error) throw error;
    if (!this.clusters.has(name))
      throw Object.assign(new Error("Cluster not found."), { name: "ClusterNotFoundException" });
    return name;
  }
  async listClusterArns() {
    this.calls.push("ListClusters");
    return [...this.clusters.keys()].map(arn);
  }
  async describeClusters(refs: string[]): Promise<ClusterListing> {
    this.calls.push("DescribeClusters");
    const names = refs.map((r) => r.split("/").pop() ?? r);
    return {
      active: names.filter((n) => this.clusters.has(n)).map(arn),
      missing: refs.filter((_, i) => !this.clusters.has(names[i] ?? "")),
    };
  }
  async listRunningTaskArns(cluster: string) {
    this.calls.push("ListTasks");
    return this.clusters.get(this.check(cluster)) ?? [];
  }
  async describeTasks(cluster: string, taskArns: string[]) {
    this.calls.push("DescribeTasks");
    this.check(cluster);
    return taskArns.map((taskArn, i) => ({
      taskArn,
      clusterArn: cluster,
      taskDefinitionArn: TD,
      launchType: "FARGATE",
      lastStatus: "RUNNING",
      desiredStatus: "RUNNING",
      attachments: [
        {
          type: "ElasticNetworkInterface",
          details: [{ name: "privateIPv4Address", value: `10.0.0.${i + 1}` }],
        },
      ],
      containers: [{ name: "app", lastStatus: "RUNNING" }],
    }));
  }
  async describeTaskDefinition(taskDefinitionArn: string) {
    this.calls.push("DescribeTaskDefinition");
    return {
      taskDefinitionArn,
      family: "web",
      revision: 1,
      networkMode: "awsvpc",
      containerDefinitions: [{ name: "app", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" } }],
    };
  }
  async describeContainerInstances(): Promise<ContainerInstanceInfo[]> {
    return [];
  }
  async describeInstances() {
    return new Map<string, string | undefined>();
  }
}

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

function recordingLog() {
  const lines: { level: string; message: string; attributes?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, attributes?: Record<string, unknown>) =>
    lines.push({ level, message, ...(attributes ? { attributes } : {}) });
  return {
    log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } as Log,
    lines,
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ecs-sd-engine-"));
});

function deps(
  api: EcsReadApi,
  overrides: Partial<EngineDeps> = {},
  env: Record<string, string> = {},
): EngineDeps {
  return {
    api,
    output: new DirectoryTargetOutput(dir),
    config: loadEngineConfig(env),
    caches: createCaches(),
    log: silent,
    counter: new CallCounter(),
    region: "us-east-1",
    ...overrides,
  };
}

const file = (name: string) => join(dir, `${ACCOUNT}_us-east-1_${name}.json`);
const resync = parseTrigger({ action: "resync" });

describe("reconcile", () => {
  it("writes one file per cluster and nothing when nothing changed", async () => {
    const api = new FakeEcs({ a: 3, b: 150 });
    const engine = new DiscoveryEngine(deps(api));
    const first = await engine.run(resync);
    expect(first.ok).toBe(true);
    expect(first.objects).toMatchObject({ written: 2, unchanged: 0 });
    expect(JSON.parse(await readFile(file("a"), "utf-8"))).toHaveLength(3);
    expect(JSON.parse(await readFile(file("b"), "utf-8"))).toHaveLength(150);
    const second = await engine.run(resync);
    expect(second.objects).toMatchObject({ written: 0, unchanged: 2 });
  });

  it("describes tasks in batches of 100 and each task definition once", async () => {
    const api = new FakeEcs({ a: 250 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    expect(api.calls.filter((c) => c === "DescribeTasks")).toHaveLength(3);
    expect(api.calls.filter((c) => c === "DescribeTaskDefinition")).toHaveLength(1);
    api.calls = [];
    await engine.run(resync);
    expect(api.calls.filter((c) => c === "DescribeTaskDefinition")).toHaveLength(0);
  });

  it("keeps a failing cluster's last object and publishes the others", async () => {
    const api = new FakeEcs({ a: 2, b: 2 });
    const { log, lines } = recordingLog();
    const engine = new DiscoveryEngine(deps(api, { log }));
    await engine.run(resync);
    const before = await readFile(file("b"), "utf-8");
    api.clusters.set("a", [...(api.clusters.get("a") ?? []), `arn:aws:ecs:us-east-1:${ACCOUNT}:task/a/new`]);
    api.clusters.set("b", []);
    api.fail.set("b", Object.assign(new Error("User is not authorized"), { name: "AccessDeniedException" }));
    const summary = await engine.run(resync);
    expect(summary.ok).toBe(false);
    expect(summary.clusters.find((c) => c.cluster === "b")).toMatchObject({
      status: "failed",
      error: expect.stringContaining("AccessDeniedException"),
    });
    expect(summary.clusters.find((c) => c.cluster === "a")).toMatchObject({ status: "written", targets: 3 });
    expect(await readFile(file("b"), "utf-8")).toBe(before);
    expect(lines.some((l) => l.level === "error" && l.attributes?.cluster === "b")).toBe(true);
  });

  it("removes objects of vanished clusters only after a complete listing", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.clusters.delete("b");
    const partial = await engine.run(parseTrigger({ action: "resync", clusters: ["a"] }));
    expect(partial.objects.deleted).toBe(0);
    expect(await readdir(dir)).toContain(`${ACCOUNT}_us-east-1_b.json`);
    const full = await engine.run(resync);
    expect(full.objects.deleted).toBe(1);
    expect(await readdir(dir)).not.toContain(`${ACCOUNT}_us-east-1_b.json`);
  });

  it("changes nothing when the cluster listing fails", async () => {
    const api = new FakeEcs({ a: 1 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.listClusterArns = async () => {
      throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    };
    await expect(engine.run(resync)).rejects.toThrow(/could not list clusters: ThrottlingException/);
    expect(await readdir(dir)).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
  });

  it("returns targets instead of writing on a dry run", async () => {
    const api = new FakeEcs({ a: 2 });
    const summary = await new DiscoveryEngine(deps(api)).run(
      parseTrigger({ action: "resync", dryRun: true }),
    );
    expect(summary.targetGroups?.a).toHaveLength(2);
    expect(await readdir(dir)).toEqual([]);
  });

  it("rediscovers when another run wrote the object in between, and never overwrites it blindly", async () => {
    const api = new FakeEcs({ a: 2 });
    const inner = new DirectoryTargetOutput(dir);
    let interfere = 1;
    const output: TargetOutput = {
      location: inner.location,
      locationOf: (ref) => inner.locationOf(ref),
      read: (ref) => inner.read(ref),
      remove: (ref) => inner.remove(ref),
      listClusters: (a, r) => inner.listClusters(a, r),
      async write(ref: ObjectRef, body: string, expected: StoredObject | undefined) {
        if (interfere-- > 0) await writeFile(inner.locationOf(ref), "[]\n");
        return inner.write(ref, body, expected);
      },
    };
    const summary = await new DiscoveryEngine(deps(api, { output })).run(resync);
    expect(summary.clusters[0]?.status).toBe("written");
    expect(api.calls.filter((c) => c === "ListTasks")).toHaveLength(2);
    expect(JSON.parse(await readFile(file("a"), "utf-8"))).toHaveLength(2);
  });

  it("lists configured clusters with DescribeClusters and reports missing ones", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const { log, lines } = recordingLog();
    const summary = await new DiscoveryEngine(deps(api, { log }, { CLUSTERS: "a,ghost" })).run(resync);
    expect(summary.clusters.map((c) => c.cluster)).toEqual(["a"]);
    expect(api.calls).not.toContain("ListClusters");
    expect(lines.some((l) => l.level === "warn" && l.attributes?.cluster === "ghost")).toBe(true);
  });
});

describe("events", () => {
  const event = (cluster: string, region = "us-east-1") => ({
    source: "aws.ecs",
    "detail-type": "ECS Task State Change",
    region,
    account: ACCOUNT,
    detail: {
      clusterArn: `arn:aws:ecs:${region}:${ACCOUNT}:cluster/${cluster}`,
      taskArn: `arn:aws:ecs:${region}:${ACCOUNT}:task/${cluster}/x`,
    },
  });

  it("refreshes only the event's cluster", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const summary = await new DiscoveryEngine(deps(api)).run(parseTrigger(event("a")));
    expect(summary.clusters.map((c) => c.cluster)).toEqual(["a"]);
    expect(api.calls).not.toContain("ListClusters");
    expect(await readdir(dir)).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
  });

  it.each([
    [
      "a cluster outside the configuration",
      event("b"),
      { CLUSTERS: "a" },
      /not among the configured clusters/,
    ],
    ["another region", event("a", "eu-west-1"), {}, /this deployment serves us-east-1/],
  ])("changes nothing for %s", async (_name, input, env, reason) => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const summary = await new DiscoveryEngine(deps(api, {}, env)).run(parseTrigger(input));
    expect(summary.skipped).toMatch(reason);
    expect(api.calls).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("coalesces an SQS batch into one pass per cluster and hands back bad and failed messages", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    api.fail.set("b", Object.assign(new Error("boom"), { name: "ServerException" }));
    const records = [event("a"), event("a"), event("b")].map((e, i) => ({
      messageId: `m${i}`,
      eventSource: "aws:sqs",
      body: JSON.stringify(e),
    }));
    records.push({ messageId: "bad", eventSource: "aws:sqs", body: "{not json" });
    const summary = await new DiscoveryEngine(deps(api)).run(parseTrigger({ Records: records }));
    expect(api.calls.filter((c) => c === "ListTasks")).toHaveLength(2);
    expect(summary.failedMessageIds?.sort()).toEqual(["bad", "m2"]);
  });
});
