/**
 * A scheduled reconcile lists every task but describes only what the recorded state does not already know;
 * these tests hold it to being exactly as right as a reconcile that describes everything.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCaches } from "../../lambda/discovery/caches.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { scheduledEvent } from "../bench/scenarios.js";
import { generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { engineAgainst } from "../support/engine-harness.js";

interface Group {
  targets: string[];
  labels: Record<string, string>;
}

let standIn: StandIn;
let dir: string;

beforeEach(async () => {
  standIn = await startStandIn();
  dir = await mkdtemp(join(tmpdir(), "ecs-sd-proportion-"));
});
afterEach(async () => {
  await standIn.close();
});

const objectOf = (directory: string, cluster: string) =>
  readFile(join(directory, `${standIn.account}_${standIn.region}_${cluster}.json`), "utf-8");
const groupsOf = async (cluster: string) => JSON.parse(await objectOf(dir, cluster)) as Group[];
const schedule = () => parseTrigger(scheduledEvent(standIn));
const resync = () => parseTrigger({ action: "resync" });

/** What a reconcile that describes everything, with nothing recorded, publishes for the cluster now. */
async function fromScratch(cluster: string): Promise<string> {
  const other = await mkdtemp(join(tmpdir(), "ecs-sd-scratch-"));
  await engineAgainst(standIn, new DirectoryTargetOutput(other), { caches: createCaches() }).engine.run(
    resync(),
  );
  return objectOf(other, cluster);
}

/** A running Fargate task with a target: its definition can start more tasks without host port clashes. */
function runningTaskOf(cluster: string): { arn: string; taskDefinition: string } {
  const task = [...standIn.fleet.tasks.values()].find(
    (t) =>
      t.cluster.name === cluster &&
      t.lastStatus === "RUNNING" &&
      t.launchType === "FARGATE" &&
      t.taskDefinition.containerDefinitions.some((c) => "PROMETHEUS_EXPORTER_PORT" in c.dockerLabels),
  );
  if (!task) throw new Error(`no running labelled task in ${cluster}`);
  return { arn: task.arn, taskDefinition: task.taskDefinition.arn };
}

describe("a scheduled reconcile in proportion to change", () => {
  it("lists every task and describes none it already knows", async () => {
    generateFleet(standIn, {
      clusters: 2,
      tasks: 400,
      hostsPerCluster: 10,
      seed: 11,
      pendingFraction: 0,
      metadata: false,
    });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches: createCaches() });
    const first = await engine.run(resync());
    expect(first.apiCalls.DescribeTasks).toBe(4);
    const second = await engine.run(schedule());
    // Unlabelled tasks included: they are recorded as having nothing to scrape, and not described again.
    expect(second.apiCalls).toEqual({ ListClusters: 1, ListTasks: 4 });
    expect(second.objects.unchanged).toBe(2);
  });

  it("repairs a missed start, a missed stop and a missed PENDING → RUNNING, ending where a full describe would", async () => {
    generateFleet(standIn, {
      clusters: 1,
      tasks: 200,
      hostsPerCluster: 10,
      seed: 12,
      pendingFraction: 0,
      metadata: false,
    });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches: createCaches() });
    await engine.run(resync());
    const like = runningTaskOf("cluster-01");
    const started = standIn.fleet.runTask("cluster-01", {
      taskDefinition: like.taskDefinition,
      launchType: "FARGATE",
    });
    const pending = standIn.fleet.runTask("cluster-01", {
      taskDefinition: like.taskDefinition,
      launchType: "FARGATE",
      lastStatus: "PENDING",
    });
    standIn.fleet.stopTask(like.arn);

    const first = await engine.run(schedule());
    // The two new tasks in one DescribeTasks; the new Fargate ENI's public address in one EC2 call.
    expect(first.apiCalls).toEqual({
      ListClusters: 1,
      ListTasks: 3,
      DescribeTasks: 1,
      DescribeNetworkInterfaces: 1,
    });
    expect(first.drift.added).toBeGreaterThan(0);
    expect(first.drift.removed).toBeGreaterThan(0);
    let arns = new Set((await groupsOf("cluster-01")).map((g) => g.labels.task_arn));
    expect(arns.has(started)).toBe(true);
    expect(arns.has(like.arn)).toBe(false);
    expect(arns.has(pending)).toBe(false);

    standIn.fleet.setTaskStatus(pending, { lastStatus: "RUNNING" });
    const second = await engine.run(schedule());
    // The task recorded as not yet running is described again, and only it.
    expect(second.apiCalls).toEqual({
      ListClusters: 1,
      ListTasks: 3,
      DescribeTasks: 1,
      DescribeNetworkInterfaces: 1,
    });
    expect(second.drift.added).toBeGreaterThan(0);
    arns = new Set((await groupsOf("cluster-01")).map((g) => g.labels.task_arn));
    expect(arns.has(pending)).toBe(true);

    const third = await engine.run(schedule());
    expect(third.apiCalls).toEqual({ ListClusters: 1, ListTasks: 3 });
    expect(third.drift).toEqual({ added: 0, removed: 0 });
    expect(await objectOf(dir, "cluster-01")).toBe(await fromScratch("cluster-01"));
  });

  it("describes everything on a resync, and after FULL_DESCRIBE_MINUTES on a schedule", async () => {
    generateFleet(standIn, {
      clusters: 1,
      tasks: 300,
      hostsPerCluster: 10,
      seed: 13,
      pendingFraction: 0,
      metadata: false,
    });
    const { engine, deps } = engineAgainst(standIn, new DirectoryTargetOutput(dir), {
      caches: createCaches(),
      env: { FULL_DESCRIBE_MINUTES: "30" },
    });
    let clock = Date.now();
    deps.now = () => clock;
    await engine.run(resync());
    expect((await engine.run(resync())).apiCalls).toMatchObject({ DescribeTasks: 3, DescribeInstances: 1 });
    clock += 29 * 60_000;
    expect((await engine.run(schedule())).apiCalls.DescribeTasks).toBeUndefined();
    clock += 2 * 60_000;
    expect((await engine.run(schedule())).apiCalls).toMatchObject({ DescribeTasks: 3, DescribeInstances: 1 });
    clock += 5 * 60_000;
    expect((await engine.run(schedule())).apiCalls.DescribeTasks).toBeUndefined();
  });
});

describe("a state recorded by an earlier release", () => {
  it("describes each task definition once more (to learn its health checks), then nothing it knows", async () => {
    generateFleet(standIn, {
      clusters: 1,
      tasks: 200,
      hostsPerCluster: 10,
      seed: 14,
      pendingFraction: 0,
      metadata: false,
    });
    const output = new DirectoryTargetOutput(dir);
    await engineAgainst(standIn, output, { caches: createCaches() }).engine.run(resync());
    const ref = { accountId: standIn.account, region: standIn.region, name: "cluster-01" };
    const path = output.locationOf(ref, "state");
    const state = JSON.parse(await readFile(path, "utf-8"));
    const defs = [state.taskDefinitions, state.otherTaskDefinitions ?? {}];
    for (const group of defs)
      for (const def of Object.values(group)) delete (def as Record<string, unknown>).healthChecks;
    delete state.otherTasks;
    delete state.describedAt;
    await writeFile(path, JSON.stringify(state));
    const revisions = defs.reduce((n, group) => n + Object.keys(group).length, 0);

    const { engine } = engineAgainst(standIn, output, { caches: createCaches() });
    const upgraded = await engine.run(schedule());
    expect(upgraded.apiCalls.DescribeTaskDefinition).toBe(revisions);
    expect(upgraded.apiCalls.DescribeTasks).toBe(2);
    expect(upgraded.drift).toEqual({ added: 0, removed: 0 });
    expect((await engine.run(schedule())).apiCalls).toEqual({ ListClusters: 1, ListTasks: 2 });
  });
});

describe("health, which changes while a task runs with no event to say so", () => {
  function healthCheckedTask(withCheck: boolean): string {
    standIn.fleet.addCluster("health");
    standIn.fleet.addHost("health", { privateIp: "10.1.0.5" });
    const def = standIn.fleet.registerTaskDefinition({
      family: withCheck ? "checked" : "unchecked",
      networkMode: "bridge",
      containers: [
        {
          name: "app",
          image: "app:1",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
          portMappings: [{ containerPort: 8080, hostPort: 0 }],
          ...(withCheck ? { healthCheck: { command: ["CMD-SHELL", "true"] } } : {}),
        },
      ],
    });
    return standIn.fleet.runTask("health", { taskDefinition: def });
  }
  const healthLabel = async () => (await groupsOf("health"))[0]?.labels.__meta_ecs_health_status;

  it("is described every reconcile until HEALTHY; a later failure shows with the next full describe", async () => {
    const task = healthCheckedTask(true);
    const { engine, deps } = engineAgainst(standIn, new DirectoryTargetOutput(dir), {
      caches: createCaches(),
    });
    let clock = Date.now();
    deps.now = () => clock;
    await engine.run(resync());
    expect(await healthLabel()).toBe("UNKNOWN");

    clock += 5 * 60_000;
    const settling = await engine.run(schedule());
    expect(settling.apiCalls.DescribeTasks).toBe(1);
    standIn.fleet.setTaskHealth(task, "HEALTHY");
    clock += 5 * 60_000;
    const settled = await engine.run(schedule());
    expect(settled.apiCalls.DescribeTasks).toBe(1);
    expect(settled.drift).toEqual({ added: 0, removed: 0 });
    expect(await healthLabel()).toBe("HEALTHY");

    clock += 5 * 60_000;
    expect((await engine.run(schedule())).apiCalls.DescribeTasks).toBeUndefined();
    // A failing health check on a service's task ends in a stop event; a standalone task keeps running
    // UNHEALTHY, which the hourly full describe shows.
    standIn.fleet.setTaskHealth(task, "UNHEALTHY");
    clock += 5 * 60_000;
    await engine.run(schedule());
    expect(await healthLabel()).toBe("HEALTHY");
    clock += 60 * 60_000;
    expect((await engine.run(schedule())).apiCalls.DescribeTasks).toBe(1);
    expect(await healthLabel()).toBe("UNHEALTHY");
  });

  it("is never described again for a task without health checks: ECS reports UNKNOWN for its whole life", async () => {
    healthCheckedTask(false);
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches: createCaches() });
    await engine.run(resync());
    expect(await healthLabel()).toBe("UNKNOWN");
    expect((await engine.run(schedule())).apiCalls).toEqual({ ListClusters: 1, ListTasks: 1 });
  });
});

describe("tasks with nothing to scrape", () => {
  it("are described once, and again when new rules may make them targets", async () => {
    standIn.fleet.addCluster("quiet");
    standIn.fleet.addHost("quiet", { privateIp: "10.2.0.5" });
    const def = standIn.fleet.registerTaskDefinition({
      family: "legacy-exporter",
      networkMode: "bridge",
      containers: [{ name: "app", image: "x:1", portMappings: [{ containerPort: 9100, hostPort: 0 }] }],
    });
    const task = standIn.fleet.runTask("quiet", { taskDefinition: def });
    const caches = createCaches();
    const plain = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches });
    await plain.engine.run(resync());
    expect((await plain.engine.run(schedule())).apiCalls).toEqual({ ListClusters: 1, ListTasks: 1 });

    const selectors = JSON.stringify([{ family: "legacy-.*", port: 9100 }]);
    const selecting = engineAgainst(standIn, new DirectoryTargetOutput(dir), {
      caches: createCaches(),
      env: { SELECTORS: selectors },
    });
    const summary = await selecting.engine.run(schedule());
    expect(summary.apiCalls.DescribeTasks).toBe(1);
    expect((await groupsOf("quiet")).map((g) => g.labels.task_arn)).toEqual([task]);
  });
});
