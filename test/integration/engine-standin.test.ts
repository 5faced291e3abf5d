import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCaches } from "../../lambda/discovery/caches.js";
import { DirectoryTargetOutput } from "../../lambda/publish/directory-output.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
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
  dir = await mkdtemp(join(tmpdir(), "ecs-sd-standin-"));
});
afterEach(async () => {
  await standIn.close();
});

const readGroups = async (cluster: string, account = "123456789012", region = "us-east-1") =>
  JSON.parse(await readFile(join(dir, `${account}_${region}_${cluster}.json`), "utf-8")) as Group[];

/** One cluster with every network mode and label style of the scrape contract. */
function buildMixedCluster(s: StandIn) {
  const f = s.fleet;
  f.addCluster("mixed");
  const host = f.addHost("mixed", { privateIp: "10.0.0.11" });
  const anywhere = f.addHost("mixed", { external: true });
  const bridge = f.registerTaskDefinition({
    family: "bridge-app",
    networkMode: "bridge",
    containers: [
      {
        name: "app",
        image: "app:1",
        dockerLabels: {
          PROMETHEUS_EXPORTER_PORT: "8080",
          PROMETHEUS_EXPORTER_PATH: "/metrics",
          PROMETHEUS_EXPORTER_JOB_NAME: "bridge",
        },
        portMappings: [{ containerPort: 8080, hostPort: 0 }],
      },
      { name: "log-router", image: "fluentbit:1" },
    ],
  });
  const hostMode = f.registerTaskDefinition({
    family: "node-exporter",
    networkMode: "host",
    containers: [
      {
        name: "exporter",
        image: "ne:1",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" },
        portMappings: [{ containerPort: 9100 }],
      },
    ],
  });
  const awsvpc = f.registerTaskDefinition({
    family: "multi",
    networkMode: "awsvpc",
    containers: [
      {
        name: "api",
        image: "api:2",
        dockerLabels: {
          PROMETHEUS_EXPORTER_PORT: "8080",
          "PROMETHEUS_EXPORTER_PORT.admin": "9090",
          "PROMETHEUS_EXPORTER_SCHEME.admin": "https",
        },
        portMappings: [{ containerPort: 8080 }, { containerPort: 9090 }],
      },
    ],
  });
  const fargate = f.registerTaskDefinition({
    family: "fargate-app",
    networkMode: "awsvpc",
    requiresCompatibilities: ["FARGATE"],
    containers: [
      {
        name: "web",
        image: "web:3",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "3000" },
        portMappings: [{ containerPort: 3000 }],
      },
    ],
  });
  const bad = f.registerTaskDefinition({
    family: "bad",
    networkMode: "awsvpc",
    containers: [{ name: "broken", image: "b:1", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "abc" } }],
  });
  return {
    bridgeTask: f.runTask("mixed", {
      taskDefinition: bridge,
      host: host.containerInstanceArn,
      ipv6: true,
      injectServiceConnect: true,
      group: "service:bridge-app",
    }),
    hostTask: f.runTask("mixed", { taskDefinition: hostMode, host: host.containerInstanceArn }),
    awsvpcTask: f.runTask("mixed", {
      taskDefinition: awsvpc,
      host: host.containerInstanceArn,
      eniIp: "10.0.5.5",
    }),
    fargateTask: f.runTask("mixed", { taskDefinition: fargate, launchType: "FARGATE", eniIp: "10.0.6.6" }),
    pendingTask: f.runTask("mixed", {
      taskDefinition: fargate,
      launchType: "FARGATE",
      lastStatus: "PENDING",
      eniIp: "10.0.6.7",
    }),
    anywhereTask: f.runTask("mixed", {
      taskDefinition: bridge,
      host: anywhere.containerInstanceArn,
      launchType: "EXTERNAL",
    }),
    badTask: f.runTask("mixed", { taskDefinition: bad, launchType: "FARGATE", eniIp: "10.0.7.7" }),
  };
}

describe("discovery through the real SDK against the stand-in", () => {
  it("finds every network mode and endpoint, skips what it must, and says why", async () => {
    const tasks = buildMixedCluster(standIn);
    const bridgeHostPort = standIn.fleet.findTask(tasks.bridgeTask)?.containers.find((c) => c.name === "app")
      ?.bindings[0]?.hostPort;
    const { engine, lines } = engineAgainst(standIn, new DirectoryTargetOutput(dir));
    const summary = await engine.run(parseTrigger({ action: "resync" }));
    expect(summary.ok).toBe(true);
    const groups = await readGroups("mixed");
    const byTarget = Object.fromEntries(groups.map((g) => [g.targets[0], g.labels]));
    expect(Object.keys(byTarget).sort()).toEqual(
      [
        `10.0.0.11:${bridgeHostPort}`,
        "10.0.0.11:9100",
        "10.0.5.5:8080",
        "10.0.5.5:9090",
        "10.0.6.6:3000",
      ].sort(),
    );
    expect(byTarget[`10.0.0.11:${bridgeHostPort}`]).toMatchObject({
      job: "bridge",
      __metrics_path__: "/metrics",
      __meta_ecs_service: "bridge-app",
      task_arn: tasks.bridgeTask,
    });
    expect(byTarget["10.0.5.5:9090"]).toMatchObject({
      __scheme__: "https",
      __meta_ecs_endpoint: "admin",
      __meta_ecs_network_mode: "awsvpc",
    });
    expect(byTarget["10.0.6.6:3000"]).toMatchObject({
      __meta_ecs_launch_type: "FARGATE",
      task_name: "fargate-app",
    });
    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings.find((w) => w.attributes?.task === tasks.badTask)).toMatchObject({
      attributes: { container: "broken", label: "PROMETHEUS_EXPORTER_PORT" },
    });
    expect(warnings.find((w) => w.attributes?.task === tasks.anywhereTask)?.message).toMatch(/ECS Anywhere/);
    expect(warnings).toHaveLength(2);
  });

  it("makes the fewest calls: cold, then warm with cached task definitions, hosts and ENI addresses", async () => {
    generateFleet(standIn, { clusters: 5, tasks: 2000, hostsPerCluster: 20, seed: 7 });
    const caches = createCaches();
    const cold = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches });
    const first = await cold.engine.run(parseTrigger({ action: "resync" }));
    const families = new Set([...standIn.fleet.tasks.values()].map((t) => t.taskDefinition.arn)).size;
    expect(first.apiCalls.ListClusters).toBe(1);
    expect(first.apiCalls.ListTasks).toBe(20);
    expect(first.apiCalls.DescribeTasks).toBe(20);
    expect(first.apiCalls.DescribeTaskDefinition).toBeLessThanOrEqual(families);
    expect(first.apiCalls.DescribeContainerInstances).toBe(5);
    expect(first.apiCalls.DescribeInstances).toBe(5);
    // The Fargate tasks' public IPs: one call per 100 of a cluster's scrapeable Fargate tasks.
    const fargate = [...standIn.fleet.clusters.values()].map(
      (c) =>
        [...c.tasksById.values()].filter(
          (t) =>
            t.lastStatus === "RUNNING" &&
            t.eni &&
            !t.host &&
            t.taskDefinition.containerDefinitions.some((d) => "PROMETHEUS_EXPORTER_PORT" in d.dockerLabels),
        ).length,
    );
    expect(first.apiCalls.DescribeNetworkInterfaces).toBe(
      fargate.reduce((n, k) => n + Math.ceil(k / 100), 0),
    );
    const warm = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches });
    const second = await warm.engine.run(parseTrigger({ action: "resync" }));
    // Warm: the listing, and one DescribeInstances per cluster to refresh its 20 instances' tags and IPs.
    expect(second.apiCalls).toEqual({
      ListClusters: 1,
      ListTasks: 20,
      DescribeTasks: 20,
      DescribeInstances: 5,
    });
    expect(second.objects.unchanged).toBe(5);
    console.log(
      "reconcile of 2,000 tasks on 100 hosts in 5 clusters: cold",
      first.apiCalls,
      "warm",
      second.apiCalls,
    );
  });

  it("after a cold start with the state in place, describes no task definition or host again", async () => {
    generateFleet(standIn, { clusters: 2, tasks: 400, hostsPerCluster: 10, seed: 9 });
    const output = new DirectoryTargetOutput(dir);
    const first = await engineAgainst(standIn, output).engine.run(parseTrigger({ action: "resync" }));
    // The fleet has definitions with nothing to scrape (unlabelled workers); they must be remembered too.
    const described = first.apiCalls.DescribeTaskDefinition ?? 0;
    const labelled = new Set(
      [...standIn.fleet.tasks.values()]
        .filter((t) =>
          t.taskDefinition.containerDefinitions.some((c) => "PROMETHEUS_EXPORTER_PORT" in c.dockerLabels),
        )
        .map((t) => t.taskDefinition.arn),
    ).size;
    expect(described).toBeGreaterThan(labelled);
    const cold = await engineAgainst(standIn, output, { caches: createCaches() }).engine.run(
      parseTrigger({ action: "resync" }),
    );
    expect(cold.apiCalls).toEqual({ ListClusters: 1, ListTasks: 4, DescribeTasks: 4, DescribeInstances: 2 });
    expect(cold.objects.unchanged).toBe(2);
  });

  it("keeps a cluster's last object when it is throttled beyond retries or denied, and updates the rest", async () => {
    generateFleet(standIn, { clusters: 3, tasks: 300, hostsPerCluster: 5, seed: 3 });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), { maxAttempts: 2 });
    await engine.run(parseTrigger({ action: "resync" }));
    const before = { a: await readGroups("cluster-01"), b: await readGroups("cluster-02") };
    const like = (cluster: string) => {
      const t = [...standIn.fleet.tasks.values()].find(
        (x) => x.cluster.name === cluster && x.lastStatus === "RUNNING" && x.launchType === "FARGATE",
      );
      return { taskDefinition: t?.taskDefinition.arn as string, launchType: "FARGATE" as const };
    };
    const fresh = standIn.fleet.runTask("cluster-03", like("cluster-03"));
    standIn.fleet.runTask("cluster-01", like("cluster-01"));
    standIn.faults.inject({ cluster: "cluster-01", kind: "throttle" });
    standIn.faults.inject({ cluster: "cluster-02", kind: "accessDenied" });
    const summary = await engine.run(parseTrigger({ action: "resync" }));
    expect(summary.ok).toBe(false);
    const outcome = Object.fromEntries(summary.clusters.map((c) => [c.cluster, c]));
    expect(outcome["cluster-01"]).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/ThrottlingException/),
    });
    expect(outcome["cluster-02"]).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/AccessDeniedException/),
    });
    expect(outcome["cluster-03"]?.status).toBe("written");
    expect(await readGroups("cluster-01")).toEqual(before.a);
    expect(await readGroups("cluster-02")).toEqual(before.b);
    expect((await readGroups("cluster-03")).some((g) => g.labels.task_arn === fresh)).toBe(true);
    // Every attempt is counted: two throttled tries of ListTasks (maxAttempts 2), one denied call.
    expect(summary.throttles.ListTasks).toBe(2);
    expect(summary.apiErrors.ListTasks).toBe(1);
  });

  it("applies task events with no ECS call when warm (one EC2 call for a new Fargate ENI), ends where a reconcile would", async () => {
    generateFleet(standIn, { clusters: 1, tasks: 200, hostsPerCluster: 10, seed: 5 });
    const caches = createCaches();
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), { caches });
    await engine.run(parseTrigger({ action: "resync" }));
    const [someTask] = [...standIn.fleet.tasks.values()].filter(
      (t) => t.lastStatus === "RUNNING" && t.launchType === "FARGATE",
    );
    const started = standIn.fleet.runTask("cluster-01", {
      taskDefinition: someTask?.taskDefinition.arn as string,
      launchType: "FARGATE",
    });
    const startEvent = standIn.fleet.taskStateChangeEvent(started);
    const stopping = [...standIn.fleet.tasks.values()].find(
      (t) => t.lastStatus === "RUNNING" && t.arn !== started,
    )?.arn as string;
    standIn.fleet.stopTask(stopping);
    const stopEvent = standIn.fleet.taskStateChangeEvent(stopping);
    standIn.counters.reset();
    const onStart = await engine.run(parseTrigger(startEvent));
    const onStop = await engine.run(parseTrigger(stopEvent));
    expect(standIn.counters.snapshot().calls).toEqual({ DescribeNetworkInterfaces: 1 });
    expect(onStart.events.applied + onStop.events.applied).toBe(2);
    const afterEvents = await readFile(join(dir, "123456789012_us-east-1_cluster-01.json"), "utf-8");
    const reconciled = await engine.run(parseTrigger({ action: "resync" }));
    expect(reconciled.drift).toEqual({ added: 0, removed: 0 });
    expect(await readFile(join(dir, "123456789012_us-east-1_cluster-01.json"), "utf-8")).toBe(afterEvents);
  });
});

describe("what changes while tasks run, with no event to say so", () => {
  it("is refreshed by the next reconcile (health, EC2 tags, service status), which counts it as no drift", async () => {
    generateFleet(standIn, { clusters: 1, tasks: 120, hostsPerCluster: 6, seed: 21 });
    const env = { INCLUDE: "TAGS,SERVICES" };
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir), {
      env,
      caches: createCaches(),
    });
    await engine.run(parseTrigger({ action: "resync" }));
    const before = await readGroups("cluster-01");
    const onEc2 = before.find((g) => g.labels.__meta_ecs_ec2_instance_id && g.labels.__meta_ecs_service);
    if (!onEc2) throw new Error("the fleet has no service task on EC2 with a target");
    const taskArn = onEc2.labels.task_arn as string;
    const instance = onEc2.labels.__meta_ecs_ec2_instance_id as string;
    const service = onEc2.labels.__meta_ecs_service as string;
    const health = onEc2.labels.__meta_ecs_health_status === "UNHEALTHY" ? "HEALTHY" : "UNHEALTHY";
    standIn.fleet.setTaskHealth(taskArn, health);
    standIn.fleet.tagInstance(instance, { "on-call": "team-a" });
    standIn.fleet.setServiceStatus("cluster-01", service, "DRAINING");

    const summary = await engine.run(parseTrigger({ action: "resync" }));
    expect(summary.drift).toEqual({ added: 0, removed: 0 });
    expect(summary.objects.written).toBe(1);
    const after = await readGroups("cluster-01");
    const refreshed = after.find((g) => g.labels.task_arn === taskArn && g.targets[0] === onEc2.targets[0]);
    expect(refreshed?.labels).toMatchObject({
      __meta_ecs_health_status: health,
      __meta_ecs_tag_ec2_on_call: "team-a",
      __meta_ecs_service_status: "DRAINING",
    });
    expect(after.map((g) => g.targets)).toEqual(before.map((g) => g.targets));
  });
});

describe("a warm function's memory of the clusters it published", () => {
  it("never hides what another instance wrote, and ends where a cold reconcile would", async () => {
    generateFleet(standIn, { clusters: 1, tasks: 120, hostsPerCluster: 6, seed: 13 });
    const output = new DirectoryTargetOutput(dir);
    const first = engineAgainst(standIn, output, { caches: createCaches() });
    const second = engineAgainst(standIn, output, { caches: createCaches() });
    await first.engine.run(parseTrigger({ action: "resync" }));
    const running = [...standIn.fleet.tasks.values()].filter(
      (t) => t.lastStatus === "RUNNING" && t.launchType === "FARGATE",
    );
    const [x, y, z] = running.map((t) => t.arn) as [string, string, string];
    // `first` is warm: it remembers the state it wrote. `second` then changes the cluster behind its back.
    standIn.fleet.stopTask(x);
    expect((await second.engine.run(parseTrigger(standIn.fleet.taskStateChangeEvent(x)))).ok).toBe(true);
    standIn.fleet.stopTask(y);
    expect((await first.engine.run(parseTrigger(standIn.fleet.taskStateChangeEvent(y)))).ok).toBe(true);
    standIn.fleet.stopTask(z);
    expect((await first.engine.run(parseTrigger(standIn.fleet.taskStateChangeEvent(z)))).ok).toBe(true);
    const published = await readGroups("cluster-01");
    for (const arn of [x, y, z])
      expect(
        published.some((g) => g.labels.task_arn === arn),
        arn,
      ).toBe(false);
    expect(published.length).toBeGreaterThan(0);
    const bytes = await readFile(join(dir, "123456789012_us-east-1_cluster-01.json"), "utf-8");
    const cold = await engineAgainst(standIn, new DirectoryTargetOutput(dir), {
      caches: createCaches(),
    }).engine.run(parseTrigger({ action: "resync" }));
    expect(cold.drift).toEqual({ added: 0, removed: 0 });
    expect(cold.clusters[0]?.status).toBe("unchanged");
    expect(await readFile(join(dir, "123456789012_us-east-1_cluster-01.json"), "utf-8")).toBe(bytes);
  });
});

describe("the AWS sample events against the stand-in", () => {
  const fixture = async (name: string) =>
    JSON.parse(await readFile(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf-8"));

  it("publishes the Fargate task of the sample event at its ENI address", async () => {
    await standIn.close();
    standIn = await startStandIn({ region: "us-west-2", account: "111122223333" });
    standIn.fleet.addCluster("FargateCluster");
    standIn.fleet.registerTaskDefinition({
      family: "sample-fargate",
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      containers: [
        {
          name: "FargateApp",
          image: "hello:latest",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
          portMappings: [{ containerPort: 8080 }],
        },
      ],
    });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir));
    const summary = await engine.run(parseTrigger(await fixture("task-state-change-fargate.json")));
    expect(summary.ok).toBe(true);
    const groups = await readGroups("FargateCluster", "111122223333", "us-west-2");
    expect(groups.map((g) => g.targets[0])).toEqual(["10.0.0.139:8080"]);
    expect(groups[0]?.labels).toMatchObject({
      task_arn: "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
      container_name: "FargateApp",
      __meta_ecs_availability_zone: "us-west-2c",
      __meta_ecs_task_group: "family:sample-fargate",
    });
  });

  it("publishes nothing for the EC2 sample, whose only container has exited", async () => {
    await standIn.close();
    standIn = await startStandIn({ account: "111122223333" });
    standIn.fleet.addCluster("default");
    standIn.fleet.registerTaskDefinition({
      family: "xray",
      networkMode: "bridge",
      containers: [{ name: "xray", image: "xray:1", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "2000" } }],
    });
    standIn.fleet.registerTaskDefinition({
      family: "xray",
      networkMode: "bridge",
      containers: [{ name: "xray", image: "xray:2", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "2000" } }],
    });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir));
    const summary = await engine.run(parseTrigger(await fixture("task-state-change-ec2.json")));
    expect(summary.ok).toBe(true);
    expect(summary.events.applied).toBe(1);
    expect(await readGroups("default", "111122223333")).toEqual([]);
  });

  it("reconciles the whole region on the sample scheduled event", async () => {
    await standIn.close();
    standIn = await startStandIn({ region: "us-east-2" });
    generateFleet(standIn, { clusters: 2, tasks: 50, hostsPerCluster: 3, seed: 9 });
    const { engine } = engineAgainst(standIn, new DirectoryTargetOutput(dir));
    const summary = await engine.run(parseTrigger(await fixture("scheduled-event.json")));
    expect(summary).toMatchObject({ ok: true, reconcile: true, trigger: "schedule" });
    expect(summary.clusters.map((c) => c.status)).toEqual(["written", "written"]);
    expect(summary.targets).toBeGreaterThan(0);
  });
});
