import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { CallCounter } from "../../lambda/aws/call-counter.js";
import type {
  ClusterListing,
  ContainerInstanceInfo,
  EcsReadApi,
  InstanceInfo,
} from "../../lambda/aws/ecs-read-api.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { ServiceInfo } from "../../lambda/core/model.js";
import { createCaches } from "../../lambda/discovery/caches.js";
import type { EngineDeps, Log } from "../../lambda/engine/deps.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
import { DirectoryTargetOutput, writeFileAtomic } from "../../lambda/publish/directory-output.js";
import type { ObjectRef, StoredObject, TargetOutput } from "../../lambda/publish/target-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";

const ACCOUNT = "123456789012";
const arn = (name: string) => `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/${name}`;
const taskArn = (cluster: string, id: string) => `arn:aws:ecs:us-east-1:${ACCOUNT}:task/${cluster}/${id}`;
const TD = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/web:1`;

interface FakeTask {
  id: string;
  ip: string;
  version: number;
  lastStatus: string;
  desiredStatus: string;
}

/** An in-memory ECS of Fargate tasks; `fail` makes every call naming a cluster throw. */
class FakeEcs implements EcsReadApi {
  clusters = new Map<string, FakeTask[]>();
  fail = new Map<string, Error>();
  calls: string[] = [];
  private nextIp = 1;

  constructor(spec: Record<string, number>) {
    for (const [name, count] of Object.entries(spec)) {
      this.clusters.set(name, []);
      for (let i = 0; i < count; i++) this.start(name, `t${i}`);
    }
  }
  start(cluster: string, id: string): FakeTask {
    const task = {
      id,
      ip: `10.0.${Math.floor(this.nextIp / 250)}.${this.nextIp++ % 250}`,
      version: 3,
      lastStatus: "RUNNING",
      desiredStatus: "RUNNING",
    };
    this.clusters.get(cluster)?.push(task);
    return task;
  }
  stop(cluster: string, id: string): FakeTask {
    const task = this.clusters.get(cluster)?.find((t) => t.id === id) as FakeTask;
    Object.assign(task, { desiredStatus: "STOPPED", lastStatus: "STOPPED", version: task.version + 2 });
    return task;
  }
  taskObject(cluster: string, t: FakeTask) {
    return {
      taskArn: taskArn(cluster, t.id),
      clusterArn: arn(cluster),
      taskDefinitionArn: TD,
      launchType: "FARGATE",
      lastStatus: t.lastStatus,
      desiredStatus: t.desiredStatus,
      version: t.version,
      attachments: [
        { type: "ElasticNetworkInterface", details: [{ name: "privateIPv4Address", value: t.ip }] },
      ],
      containers: [{ name: "app", lastStatus: t.lastStatus }],
    };
  }
  event(cluster: string, t: FakeTask) {
    return {
      source: "aws.ecs",
      "detail-type": "ECS Task State Change",
      region: "us-east-1",
      account: ACCOUNT,
      detail: {
        ...this.taskObject(cluster, t),
        attachments: [{ type: "eni", details: [{ name: "privateIPv4Address", value: t.ip }] }],
      },
    };
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
      info: new Map(),
    };
  }
  async listRunningTaskArns(cluster: string) {
    this.calls.push("ListTasks");
    const name = this.check(cluster);
    return (this.clusters.get(name) ?? [])
      .filter((t) => t.desiredStatus === "RUNNING")
      .map((t) => taskArn(name, t.id));
  }
  async describeTasks(cluster: string, arns: string[]) {
    this.calls.push("DescribeTasks");
    const name = this.check(cluster);
    const all = this.clusters.get(name) ?? [];
    return arns.flatMap((a) => {
      const t = all.find((x) => taskArn(name, x.id) === a);
      return t ? [this.taskObject(name, t)] : [];
    });
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
    this.calls.push("DescribeContainerInstances");
    return [];
  }
  async describeInstances() {
    this.calls.push("DescribeInstances");
    return new Map<string, InstanceInfo>();
  }
  async describeServices() {
    this.calls.push("DescribeServices");
    return new Map<string, ServiceInfo>();
  }
  async describeNetworkInterfaces() {
    this.calls.push("DescribeNetworkInterfaces");
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
const targetsOf = async (name: string) =>
  JSON.parse(await readFile(file(name), "utf-8")) as { targets: string[] }[];
const targetFiles = async () => (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
const resync = parseTrigger({ action: "resync" });

describe("reconcile", () => {
  it("writes one file per cluster and nothing when nothing changed", async () => {
    const api = new FakeEcs({ a: 3, b: 150 });
    const engine = new DiscoveryEngine(deps(api));
    const first = await engine.run(resync);
    expect(first.ok).toBe(true);
    expect(first.objects).toMatchObject({ written: 2, unchanged: 0 });
    expect(await targetsOf("a")).toHaveLength(3);
    expect(await targetsOf("b")).toHaveLength(150);
    const second = await engine.run(resync);
    expect(second.objects).toMatchObject({ written: 0, unchanged: 2 });
    expect(second.drift).toEqual({ added: 0, removed: 0 });
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
    api.start("a", "new");
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
    expect(await targetFiles()).toContain(`${ACCOUNT}_us-east-1_b.json`);
    const full = await engine.run(resync);
    expect(full.objects.deleted).toBe(1);
    expect(await targetFiles()).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
    expect(await readdir(join(dir, ".state"))).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
  });

  it("changes nothing when the cluster listing fails", async () => {
    const api = new FakeEcs({ a: 1 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.listClusterArns = async () => {
      throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    };
    await expect(engine.run(resync)).rejects.toThrow(/could not list clusters: ThrottlingException/);
    expect(await targetFiles()).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
  });

  it("returns targets instead of writing on a dry run", async () => {
    const api = new FakeEcs({ a: 2 });
    const summary = await new DiscoveryEngine(deps(api)).run(
      parseTrigger({ action: "resync", dryRun: true }),
    );
    expect(summary.targetGroups?.a).toHaveLength(2);
    expect(await readdir(dir)).toEqual([]);
  });

  it("reads again when another run wrote the objects in between, and never overwrites them blindly", async () => {
    const api = new FakeEcs({ a: 2 });
    const inner = new DirectoryTargetOutput(dir);
    let interfere = 1;
    const output: TargetOutput = {
      location: inner.location,
      locationOf: (ref, kind) => inner.locationOf(ref, kind),
      read: (ref, kind) => inner.read(ref, kind),
      remove: (ref) => inner.remove(ref),
      listPublishedClusters: (a, r) => inner.listPublishedClusters(a, r),
      async write(ref: ObjectRef, body: string, expected: StoredObject | undefined, kind) {
        if (interfere-- > 0) await writeFileAtomic(inner.locationOf(ref, kind), "{}\n");
        return inner.write(ref, body, expected, kind);
      },
    };
    const summary = await new DiscoveryEngine(deps(api, { output })).run(resync);
    expect(summary.clusters[0]?.status).toBe("written");
    expect(api.calls.filter((c) => c === "ListTasks")).toHaveLength(2);
    expect(await targetsOf("a")).toHaveLength(2);
  });

  it("lists configured clusters with DescribeClusters and reports missing ones", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const { log, lines } = recordingLog();
    const summary = await new DiscoveryEngine(deps(api, { log }, { CLUSTERS: "a,ghost" })).run(resync);
    expect(summary.clusters.map((c) => c.cluster)).toEqual(["a"]);
    expect(api.calls).not.toContain("ListClusters");
    expect(lines.some((l) => l.level === "warn" && l.attributes?.cluster === "ghost")).toBe(true);
  });

  it("reports drift when a reconcile finds what events missed", async () => {
    const api = new FakeEcs({ a: 4 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.start("a", "missed");
    api.stop("a", "t0");
    const summary = await engine.run(resync);
    expect(summary.drift).toEqual({ added: 1, removed: 1 });
  });
});

describe("churn guard", () => {
  it("holds back a reconcile that would remove most targets without stop events, once", async () => {
    const api = new FakeEcs({ a: 10 });
    const { log, lines } = recordingLog();
    const engine = new DiscoveryEngine(deps(api, { log }));
    await engine.run(resync);
    for (let i = 0; i < 8; i++) api.stop("a", `t${i}`);
    const held = await engine.run(resync);
    expect(held.heldBack).toBe(1);
    expect(held.clusters[0]?.status).toBe("held-back");
    expect(await targetsOf("a")).toHaveLength(10);
    expect(lines.some((l) => l.message.startsWith("churn guard: reconcile held back"))).toBe(true);
    const confirmed = await engine.run(resync);
    expect(confirmed.heldBack).toBe(0);
    expect(await targetsOf("a")).toHaveLength(2);
  });

  it("lets removals announced by stop events through, and can be forced", async () => {
    const api = new FakeEcs({ a: 10, b: 10 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    for (let i = 0; i < 8; i++) await engine.run(parseTrigger(api.event("a", api.stop("a", `t${i}`))));
    for (let i = 0; i < 8; i++) api.stop("b", `t${i}`);
    const summary = await engine.run(parseTrigger({ action: "resync", clusters: ["a"] }));
    expect(summary.heldBack).toBe(0);
    expect(await targetsOf("a")).toHaveLength(2);
    const forced = await engine.run(parseTrigger({ action: "resync", clusters: ["b"], force: true }));
    expect(forced.heldBack).toBe(0);
    expect(await targetsOf("b")).toHaveLength(2);
  });
});

describe("events", () => {
  it("applies a warm event with no ECS call and publishes what a reconcile would", async () => {
    const api = new FakeEcs({ a: 3, b: 1 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.calls = [];
    const started = api.start("a", "new");
    const summary = await engine.run(parseTrigger(api.event("a", started)));
    expect(api.calls).toEqual([]);
    expect(summary.events.applied).toBe(1);
    expect(summary.clusters).toEqual([
      expect.objectContaining({ cluster: "a", mode: "events", status: "written" }),
    ]);
    const afterEvent = await readFile(file("a"), "utf-8");
    const reconciled = await engine.run(resync);
    expect(reconciled.drift).toEqual({ added: 0, removed: 0 });
    expect(await readFile(file("a"), "utf-8")).toBe(afterEvent);
  });

  it("removes a stopping task at once and ignores duplicates and late events", async () => {
    const api = new FakeEcs({ a: 3 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    const running = api.event("a", { ...(api.clusters.get("a")?.[0] as FakeTask) });
    const stopping = api.event("a", api.stop("a", "t0"));
    await engine.run(parseTrigger(stopping));
    expect(await targetsOf("a")).toHaveLength(2);
    const after = await readFile(file("a"), "utf-8");
    const late = await engine.run(parseTrigger(running));
    expect(late.events.stale).toBe(1);
    const duplicate = await engine.run(parseTrigger(stopping));
    expect(duplicate.events.stale).toBe(1);
    expect(await readFile(file("a"), "utf-8")).toBe(after);
  });

  it("keeps a task an event added while a reconcile was listing", async () => {
    const api = new FakeEcs({ a: 2 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    const original = api.listRunningTaskArns.bind(api);
    api.listRunningTaskArns = async (cluster: string) => {
      const listed = await original(cluster);
      // While this listing is in flight, a task starts and its event is applied by another invocation.
      const started = api.start("a", "racer");
      await new DiscoveryEngine(deps(api)).run(parseTrigger(api.event("a", started)));
      return listed;
    };
    await engine.run(resync);
    expect((await targetsOf("a")).map((g) => g.targets[0])).toHaveLength(3);
  });

  it("describes nothing after a cold start: task definitions come from the stored state", async () => {
    const api = new FakeEcs({ a: 3 });
    await new DiscoveryEngine(deps(api)).run(resync);
    api.calls = [];
    const cold = new DiscoveryEngine(deps(api));
    await cold.run(parseTrigger(api.event("a", api.start("a", "new"))));
    expect(api.calls).toEqual([]);
  });

  it("bootstraps a cluster with no state by listing it", async () => {
    const api = new FakeEcs({ a: 2, b: 1 });
    const summary = await new DiscoveryEngine(deps(api)).run(
      parseTrigger(api.event("a", api.start("a", "new"))),
    );
    expect(summary.clusters).toEqual([
      expect.objectContaining({ cluster: "a", mode: "reconcile", targets: 3 }),
    ]);
    expect(api.calls).not.toContain("ListClusters");
    expect(await targetFiles()).toEqual([`${ACCOUNT}_us-east-1_a.json`]);
  });

  it.each([
    [
      "a cluster outside the configuration",
      "b",
      "us-east-1",
      { CLUSTERS: "a" },
      /not among the configured clusters/,
    ],
    ["another region", "a", "eu-west-1", {}, /this deployment serves us-east-1/],
  ])("changes nothing for %s", async (_name, cluster, region, env, reason) => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const event = api.event(cluster, api.clusters.get(cluster)?.[0] as FakeTask);
    event.region = region;
    event.detail.clusterArn = event.detail.clusterArn.replace("us-east-1", region);
    const summary = await new DiscoveryEngine(deps(api, {}, env)).run(parseTrigger(event));
    expect(summary.skipped).toMatch(reason);
    expect(api.calls).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it("coalesces an SQS batch into one pass per cluster and hands back bad and failed messages", async () => {
    const api = new FakeEcs({ a: 1, b: 1 });
    const engine = new DiscoveryEngine(deps(api));
    await engine.run(resync);
    api.calls = [];
    api.fail.set("b", Object.assign(new Error("boom"), { name: "ServerException" }));
    const events = [
      api.event("a", api.start("a", "x")),
      api.event("a", api.start("a", "y")),
      api.event("b", api.start("b", "z")),
    ];
    const records = events.map((e, i) => ({
      messageId: `m${i}`,
      eventSource: "aws:sqs",
      body: JSON.stringify(e),
    }));
    records.push({ messageId: "bad", eventSource: "aws:sqs", body: "{not json" });
    // Cluster b has no stored state in this run's view, so it needs a listing, which fails.
    await new DirectoryTargetOutput(dir).remove({ accountId: ACCOUNT, region: "us-east-1", name: "b" });
    const summary = await engine.run(parseTrigger({ Records: records }));
    expect(summary.events.applied).toBe(2);
    expect(api.calls).toEqual(["ListTasks"]);
    expect(summary.failedMessageIds?.sort()).toEqual(["bad", "m2"]);
    expect(await targetsOf("a")).toHaveLength(3);
  });
});

describe("conflict back-off", () => {
  it("pauses a random share of a window that doubles per attempt, capped at 2 s", async () => {
    const { conflictBackoffMs } = await import("../../lambda/engine/refresh-cluster.js");
    expect(conflictBackoffMs(1, () => 0)).toBe(0);
    expect(conflictBackoffMs(1, () => 0.999)).toBe(99);
    expect(conflictBackoffMs(3, () => 0.5)).toBe(200);
    expect(conflictBackoffMs(10, () => 0.999)).toBe(1998);
  });
});
