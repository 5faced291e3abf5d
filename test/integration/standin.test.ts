import { readFileSync } from "node:fs";
import { DescribeInstancesCommand, type EC2Client, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListClustersCommand,
  ListContainerInstancesCommand,
  ListTasksCommand,
  paginateListTasks,
  type Task,
} from "@aws-sdk/client-ecs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Fleet, generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { ec2Client, ecsClient, errorOf } from "../support/standin-clients.js";

/** A small hand-built fleet: one cluster with every network mode, plus a second cluster. */
function buildFleet(s: StandIn) {
  const f = s.fleet;
  f.addCluster("prod");
  f.addCluster("secret");
  const bridge = f.registerTaskDefinition({
    family: "api",
    networkMode: "bridge",
    tags: { owner: "team-a" },
    containers: [
      {
        name: "app",
        image: "nginx",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
        portMappings: [{ containerPort: 8080, hostPort: 0 }, { containerPort: 9000 }],
      },
      { name: "log-router", image: "fluent-bit", essential: false },
    ],
  });
  const hostMode = f.registerTaskDefinition({
    family: "node",
    networkMode: "host",
    containers: [{ name: "node-exporter", image: "node-exporter", portMappings: [{ containerPort: 9100 }] }],
  });
  const fargate = f.registerTaskDefinition({
    family: "web",
    requiresCompatibilities: ["FARGATE"],
    cpu: "256",
    memory: "512",
    containers: [{ name: "web", image: "web", portMappings: [{ containerPort: 3000 }] }],
  });
  const h1 = f.addHost("prod", { privateIp: "10.0.0.10" });
  const h2 = f.addHost("prod", { privateIp: "10.0.0.11" });
  const ext = f.addHost("prod", { external: true });
  const tasks = {
    bridge4: f.runTask("prod", {
      taskDefinition: bridge,
      host: h1.containerInstanceArn,
      tags: { env: "prod" },
    }),
    bridge6: f.runTask("prod", { taskDefinition: "api", host: h1.ec2InstanceId, ipv6: true }),
    host: f.runTask("prod", { taskDefinition: hostMode, host: h2.containerInstanceArn, serviceName: "node" }),
    fargate: f.runTask("prod", { taskDefinition: fargate, serviceName: "web", injectServiceConnect: true }),
    external: f.runTask("prod", { taskDefinition: "api:1", host: ext.containerInstanceArn }),
    pending: f.runTask("prod", { taskDefinition: fargate, lastStatus: "PENDING", group: "custom-group" }),
    other: f.runTask("secret", { taskDefinition: fargate }),
  };
  return { h1, h2, ext, tasks, defs: { bridge, hostMode, fargate } };
}

describe("ECS over awsJson1_1 with the real SDK", () => {
  let s: StandIn;
  let ecs: ECSClient;
  let built: ReturnType<typeof buildFleet>;

  beforeAll(async () => {
    s = await startStandIn();
    ecs = ecsClient(s);
    built = buildFleet(s);
    s.fleet.addCluster("big");
    const td = s.fleet.registerTaskDefinition({
      family: "many",
      requiresCompatibilities: ["FARGATE"],
      containers: [],
    });
    for (let i = 0; i < 250; i++) s.fleet.runTask("big", { taskDefinition: td });
  });
  afterAll(async () => s.close());
  beforeEach(() => {
    s.faults.clear();
    s.counters.reset();
  });

  const describeOne = async (arn: string, include?: "TAGS"): Promise<Task> => {
    const out = await ecs.send(
      new DescribeTasksCommand({ cluster: "prod", tasks: [arn], ...(include ? { include: [include] } : {}) }),
    );
    const task = out.tasks?.[0];
    if (!task) throw new Error("task missing");
    return task;
  };

  it("pages ListTasks by 100 across 250 tasks, and by any maxResults", async () => {
    const pages: number[] = [];
    const arns: string[] = [];
    for await (const page of paginateListTasks({ client: ecs }, { cluster: "big" })) {
      pages.push(page.taskArns?.length ?? 0);
      arns.push(...(page.taskArns ?? []));
    }
    expect(pages).toEqual([100, 100, 50]);
    expect(new Set(arns).size).toBe(250);
    let small = 0;
    for await (const page of paginateListTasks({ client: ecs, pageSize: 7 }, { cluster: "big" })) {
      expect(page.taskArns?.length).toBeLessThanOrEqual(7);
      small += page.taskArns?.length ?? 0;
    }
    expect(small).toBe(250);
  });

  it("enforces AWS limits with InvalidParameterException", async () => {
    const arns = [...s.fleet.tasks.keys()].slice(0, 101);
    expect(arns).toHaveLength(101);
    expect((await errorOf(ecs.send(new DescribeTasksCommand({ cluster: "big", tasks: arns })))).name).toBe(
      "InvalidParameterException",
    );
    expect((await errorOf(ecs.send(new ListTasksCommand({ cluster: "big", maxResults: 101 })))).name).toBe(
      "InvalidParameterException",
    );
    expect((await errorOf(ecs.send(new ListTasksCommand({ cluster: "big", maxResults: 0 })))).name).toBe(
      "InvalidParameterException",
    );
    expect(
      (await errorOf(ecs.send(new ListTasksCommand({ cluster: "big", nextToken: "garbage" })))).name,
    ).toBe("InvalidParameterException");
    const ok = await ecs.send(new DescribeTasksCommand({ cluster: "big", tasks: arns.slice(0, 100) }));
    expect((ok.tasks?.length ?? 0) + (ok.failures?.length ?? 0)).toBe(100);
  });

  it("answers unknown clusters with ClusterNotFoundException and unknown tasks with MISSING failures", async () => {
    const err = await errorOf(ecs.send(new ListTasksCommand({ cluster: "nope" })));
    expect(err.name).toBe("ClusterNotFoundException");
    expect(err.$metadata?.httpStatusCode).toBe(400);
    const out = await ecs.send(
      new DescribeTasksCommand({
        cluster: "prod",
        tasks: [built.tasks.bridge4, built.tasks.other, "0123abcd"],
      }),
    );
    expect(out.tasks?.map((t) => t.taskArn)).toEqual([built.tasks.bridge4]);
    expect(out.failures?.map((f) => f.reason)).toEqual(["MISSING", "MISSING"]);
  });

  it("lists and filters tasks like ECS", async () => {
    const list = async (input: Omit<ConstructorParameters<typeof ListTasksCommand>[0], "cluster">) =>
      (await ecs.send(new ListTasksCommand({ cluster: "prod", ...input }))).taskArns ?? [];
    expect(await list({})).toHaveLength(6);
    expect(await list({ serviceName: "web" })).toEqual([built.tasks.fargate]);
    expect(await list({ family: "api" })).toHaveLength(3);
    expect(await list({ launchType: "EXTERNAL" })).toEqual([built.tasks.external]);
    expect(await list({ containerInstance: built.h1.containerInstanceArn })).toHaveLength(2);
    expect(await list({ desiredStatus: "STOPPED" })).toEqual([]);
    const byArn = await ecs.send(new ListTasksCommand({ cluster: s.fleet.activeCluster("prod")?.arn ?? "" }));
    expect(byArn.taskArns).toHaveLength(6);
  });

  it("renders tasks in the DescribeTasks shape: bindings, double bindings, ENIs, groups, tags", async () => {
    const bridge4 = await describeOne(built.tasks.bridge4, "TAGS");
    expect(bridge4.taskArn).toMatch(/^arn:aws:ecs:us-east-1:123456789012:task\/prod\/[0-9a-f]{32}$/);
    expect(bridge4.launchType).toBe("EC2");
    expect(bridge4.containerInstanceArn).toBe(built.h1.containerInstanceArn);
    expect(bridge4.group).toBe("family:api");
    expect(bridge4.createdAt).toBeInstanceOf(Date);
    expect(bridge4.tags).toEqual([{ key: "env", value: "prod" }]);
    const app = bridge4.containers?.find((c) => c.name === "app");
    const dynamic = app?.networkBindings?.find((b) => b.containerPort === 8080);
    expect(dynamic?.bindIP).toBe("0.0.0.0");
    expect(dynamic?.hostPort).toBeGreaterThanOrEqual(32768);
    expect(dynamic?.hostPort).toBeLessThanOrEqual(60999);
    expect(app?.networkBindings?.find((b) => b.containerPort === 9000)?.hostPort).toBeGreaterThanOrEqual(
      32768,
    );
    expect(bridge4.containers?.find((c) => c.name === "log-router")?.networkBindings).toEqual([]);

    const bridge6 = await describeOne(built.tasks.bridge6);
    expect(bridge6.tags).toBeUndefined();
    const bindings = bridge6.containers?.find((c) => c.name === "app")?.networkBindings ?? [];
    const for8080 = bindings.filter((b) => b.containerPort === 8080);
    expect(for8080.map((b) => b.bindIP)).toEqual(["0.0.0.0", "::"]);
    expect(for8080[0]?.hostPort).toBe(for8080[1]?.hostPort);
    // Dynamic ports are distinct on one host.
    expect(for8080[0]?.hostPort).not.toBe(dynamic?.hostPort);

    const host = await describeOne(built.tasks.host);
    expect(host.group).toBe("service:node");
    expect(host.startedBy).toMatch(/^ecs-svc\/\d{19}$/);
    expect(host.containers?.[0]?.networkBindings).toEqual([
      { bindIP: "0.0.0.0", containerPort: 9100, hostPort: 9100, protocol: "tcp" },
    ]);

    const fargate = await describeOne(built.tasks.fargate);
    expect(fargate.launchType).toBe("FARGATE");
    expect(fargate.containerInstanceArn).toBeUndefined();
    const attachment = fargate.attachments?.[0];
    expect(attachment?.type).toBe("ElasticNetworkInterface");
    const ip = attachment?.details?.find((d) => d.name === "privateIPv4Address")?.value;
    expect(ip).toMatch(/^10\./);
    expect(fargate.containers?.[0]?.networkInterfaces).toEqual([
      { attachmentId: attachment?.id, privateIpv4Address: ip },
    ]);
    // Service Connect: one more container than the task definition has.
    expect(fargate.containers?.map((c) => c.name)).toEqual([
      "web",
      expect.stringMatching(/^ecs-service-connect-/),
    ]);

    const pending = await describeOne(built.tasks.pending);
    expect(pending.lastStatus).toBe("PENDING");
    expect(pending.group).toBe("custom-group");
    expect(pending.startedAt).toBeUndefined();
  });

  it("describes task definitions by ARN, family:revision and family, with tags on request", async () => {
    const byFamily = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: "api", include: ["TAGS"] }),
    );
    expect(byFamily.taskDefinition?.taskDefinitionArn).toBe(built.defs.bridge);
    expect(byFamily.tags).toEqual([{ key: "owner", value: "team-a" }]);
    const app = byFamily.taskDefinition?.containerDefinitions?.[0];
    expect(app?.dockerLabels).toEqual({ PROMETHEUS_EXPORTER_PORT: "8080" });
    expect(app?.portMappings).toEqual([
      { containerPort: 8080, hostPort: 0, protocol: "tcp" },
      { containerPort: 9000, hostPort: 0, protocol: "tcp" },
    ]);
    const byRevision = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "web:1" }));
    expect(byRevision.taskDefinition?.networkMode).toBe("awsvpc");
    expect(byRevision.taskDefinition?.requiresCompatibilities).toEqual(["FARGATE"]);
    expect(byRevision.tags).toBeUndefined();
    const byArn = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: built.defs.hostMode }));
    expect(byArn.taskDefinition?.containerDefinitions?.[0]?.portMappings?.[0]?.hostPort).toBe(9100);
    const err = await errorOf(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "nope:3" })));
    expect(err.name).toBe("ClientException");
    expect(err.message).toBe("Unable to describe task definition.");
  });

  it("describes container instances, EXTERNAL ones with their mi- id", async () => {
    const listed = await ecs.send(new ListContainerInstancesCommand({ cluster: "prod", maxResults: 2 }));
    expect(listed.containerInstanceArns).toHaveLength(2);
    expect(listed.nextToken).toBeDefined();
    const out = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: "prod",
        containerInstances: [built.h1.containerInstanceArn, built.ext.containerInstanceArn, "ffff"],
      }),
    );
    expect(out.containerInstances?.[0]?.ec2InstanceId).toMatch(/^i-[0-9a-f]{17}$/);
    const ext = out.containerInstances?.[1];
    expect(ext?.ec2InstanceId).toMatch(/^mi-[0-9a-f]{17}$/);
    expect(ext?.attributes?.some((a) => a.name === "ecs.capability.external")).toBe(true);
    expect(out.failures?.[0]?.reason).toBe("MISSING");
    expect((await describeOne(built.tasks.external)).launchType).toBe("EXTERNAL");
  });

  it("lists and describes clusters; a deleted cluster is INACTIVE and not found elsewhere", async () => {
    s.fleet.addCluster("doomed");
    const listed = await ecs.send(new ListClustersCommand({}));
    expect(listed.clusterArns?.map((a) => a.split("/")[1])).toEqual(["prod", "secret", "big", "doomed"]);
    s.fleet.deleteCluster("doomed");
    const described = await ecs.send(new DescribeClustersCommand({ clusters: ["prod", "doomed", "ghost"] }));
    expect(described.clusters?.map((c) => [c.clusterName, c.status])).toEqual([
      ["prod", "ACTIVE"],
      ["doomed", "INACTIVE"],
    ]);
    expect(described.failures).toEqual([
      { arn: "arn:aws:ecs:us-east-1:123456789012:cluster/ghost", reason: "MISSING" },
    ]);
    expect((await errorOf(ecs.send(new ListTasksCommand({ cluster: "doomed" })))).name).toBe(
      "ClusterNotFoundException",
    );
  });

  it("stops tasks: version grows, only listed with desiredStatus STOPPED, host ports freed", async () => {
    const td = s.fleet.findTaskDefinition("api");
    const arn = s.fleet.runTask("prod", {
      taskDefinition: td?.arn ?? "",
      host: built.h2.containerInstanceArn,
    });
    const before = (await describeOne(arn)).version ?? 0;
    s.fleet.stopTask(arn);
    const after = await describeOne(arn);
    expect(after.version).toBe(before + 2);
    expect(after.lastStatus).toBe("STOPPED");
    expect(after.desiredStatus).toBe("STOPPED");
    expect(after.stoppedAt).toBeInstanceOf(Date);
    const running = await ecs.send(new ListTasksCommand({ cluster: "prod" }));
    expect(running.taskArns).not.toContain(arn);
    const stopped = await ecs.send(new ListTasksCommand({ cluster: "prod", desiredStatus: "STOPPED" }));
    expect(stopped.taskArns).toEqual([arn]);
    expect(s.fleet.findHost(built.h2.containerInstanceArn)?.usedPorts.size).toBe(1); // only node-exporter
    s.fleet.removeTask(arn);
    const gone = await ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: [arn] }));
    expect(gone.failures?.[0]).toEqual({ arn, reason: "MISSING" });
  });

  it("answers unknown operations and bad bodies like ECS", async () => {
    const res = await fetch(s.url, {
      method: "POST",
      headers: {
        "x-amz-target": "AmazonEC2ContainerServiceV20141113.RunTask",
        "content-type": "application/x-amz-json-1.1",
      },
      body: "{}",
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-amzn-errortype")).toBe("UnknownOperationException");
    expect(await res.json()).toMatchObject({ __type: "UnknownOperationException" });
  });
});

describe("EC2 over the ec2 query protocol with the real SDK", () => {
  let s: StandIn;
  let ec2: EC2Client;
  let ids: string[];

  beforeAll(async () => {
    s = await startStandIn();
    ec2 = ec2Client(s);
    s.fleet.addCluster("c");
    ids = Array.from({ length: 12 }, () => s.fleet.addHost("c").ec2InstanceId);
  });
  afterAll(async () => s.close());

  it("describes instances by id, with private IP, AZ and state", async () => {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ids[0] ?? "", ids[1] ?? ""] }));
    const instances = out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    expect(instances.map((i) => i.InstanceId)).toEqual([ids[0], ids[1]]);
    expect(instances[0]?.PrivateIpAddress).toMatch(/^10\.0\./);
    expect(instances[0]?.Placement?.AvailabilityZone).toMatch(/^us-east-1[abc]$/);
    expect(instances[0]?.State).toEqual({ Code: 16, Name: "running" });
    expect(out.Reservations?.[0]?.OwnerId).toBe("123456789012");
  });

  it("pages by MaxResults with the SDK paginator", async () => {
    const pages: number[] = [];
    for await (const page of paginateDescribeInstances({ client: ec2, pageSize: 5 }, {})) {
      pages.push(page.Reservations?.length ?? 0);
    }
    expect(pages).toEqual([5, 5, 2]);
  });

  it("fails like AWS: unknown ids, MaxResults with ids, MaxResults out of range, bad filters", async () => {
    const unknown = "i-0123456789abcdef0";
    const notFound = await errorOf(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [ids[0] ?? "", unknown] })),
    );
    expect(notFound.name).toBe("InvalidInstanceID.NotFound");
    expect(notFound.message).toContain(unknown);
    expect(notFound.$metadata?.httpStatusCode).toBe(400);
    const combo = await errorOf(
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [ids[0] ?? ""], MaxResults: 5 })),
    );
    expect(combo.name).toBe("InvalidParameterCombination");
    expect((await errorOf(ec2.send(new DescribeInstancesCommand({ MaxResults: 4 })))).name).toBe(
      "InvalidParameterValue",
    );
    expect(
      (
        await errorOf(
          ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "no-such-filter", Values: ["y"] }] })),
        )
      ).name,
    ).toBe("InvalidParameterValue");
    expect(
      (await errorOf(ec2.send(new DescribeInstancesCommand({ InstanceIds: ["mi-0123456789abcdef0"] })))).name,
    ).toBe("InvalidInstanceID.Malformed");
  });

  it("with an instance-id filter, unknown or terminated instances are simply absent", async () => {
    const victim = s.fleet.addHost("c").ec2InstanceId;
    const visible = s.fleet.addHost("c").ec2InstanceId;
    s.fleet.terminateInstance(victim);
    s.fleet.terminateInstance(visible, { visible: true });
    const out = await ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: "instance-id", Values: [ids[2] ?? "", victim, visible, "i-0123456789abcdef0"] }],
      }),
    );
    const instances = out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    expect(instances.map((i) => [i.InstanceId, i.State?.Name, i.PrivateIpAddress])).toEqual([
      [ids[2], "running", expect.stringMatching(/^10\./)],
      [visible, "terminated", undefined],
    ]);
    expect((await errorOf(ec2.send(new DescribeInstancesCommand({ InstanceIds: [victim] })))).name).toBe(
      "InvalidInstanceID.NotFound",
    );
  });

  it("answers unknown actions with InvalidAction", async () => {
    const res = await fetch(s.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Action=RunInstances&Version=2016-11-15",
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("<Code>InvalidAction</Code>");
  });
});

describe("faults and counters", () => {
  let s: StandIn;
  beforeAll(async () => {
    s = await startStandIn();
    buildFleet(s);
  });
  afterAll(async () => s.close());
  beforeEach(() => {
    s.faults.clear();
    s.counters.reset();
  });

  it("throttles with a shared ECS token bucket; the SDK surfaces ThrottlingException", async () => {
    s.faults.throttling(true, { ecsTasks: { capacity: 3, refillPerSecond: 0.001 } });
    const ecs = ecsClient(s, 1);
    await ecs.send(new ListTasksCommand({ cluster: "prod" }));
    await ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: ["x"] }));
    await ecs.send(new DescribeContainerInstancesCommand({ cluster: "prod", containerInstances: ["x"] }));
    const err = await errorOf(ecs.send(new ListTasksCommand({ cluster: "prod" })));
    expect(err.name).toBe("ThrottlingException");
    // Other buckets are untouched.
    await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "api" }));
    const counts = s.counters.snapshot();
    expect(counts.calls.ListTasks).toBe(2);
    expect(counts.throttled).toEqual({ ListTasks: 1 });
    expect(counts.totalCalls).toBe(5);
  });

  it("throttles EC2 with RequestLimitExceeded (HTTP 503)", async () => {
    s.faults.throttling(true, { ec2DescribeInstances: { capacity: 1, refillPerSecond: 0.001 } });
    const ec2 = ec2Client(s, 1);
    await ec2.send(new DescribeInstancesCommand({}));
    const err = await errorOf(ec2.send(new DescribeInstancesCommand({})));
    expect(err.name).toBe("RequestLimitExceeded");
    expect(err.$metadata?.httpStatusCode).toBe(503);
    expect(s.counters.snapshot().throttled).toEqual({ DescribeInstances: 1 });
  });

  it("injected throttles and 5xx are retried by the SDK until they run out", async () => {
    s.faults.inject({ operation: "ListTasks", kind: "5xx", times: 1 });
    s.faults.inject({ operation: "ListTasks", kind: "throttle", times: 1 });
    const out = await ecsClient(s, 3).send(new ListTasksCommand({ cluster: "prod" }));
    expect(out.$metadata.attempts).toBe(3);
    const counts = s.counters.snapshot();
    expect(counts.calls.ListTasks).toBe(3);
    expect(counts.errors.ListTasks).toBe(1);
    expect(counts.throttled.ListTasks).toBe(1);

    s.faults.inject({ operation: "DescribeInstances", kind: "5xx", status: 503, times: 1 });
    const ec2Out = await ec2Client(s, 2).send(new DescribeInstancesCommand({}));
    expect(ec2Out.$metadata.attempts).toBe(2);

    s.faults.inject({ operation: "DescribeTasks", kind: "5xx" });
    const err = await errorOf(
      ecsClient(s, 1).send(new DescribeTasksCommand({ cluster: "prod", tasks: ["x"] })),
    );
    expect(err.name).toBe("ServerException");
    expect(err.$metadata?.httpStatusCode).toBe(500);
  });

  it("denies access per cluster, and fakes missing clusters per cluster", async () => {
    s.faults.inject({ cluster: "secret", kind: "accessDenied" });
    s.faults.inject({ cluster: "prod", operation: "DescribeTasks", kind: "clusterNotFound", times: 1 });
    const ecs = ecsClient(s, 1);
    const denied = await errorOf(
      ecs.send(new ListTasksCommand({ cluster: "arn:aws:ecs:us-east-1:123456789012:cluster/secret" })),
    );
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toContain("ecs:ListTasks");
    expect((await ecs.send(new ListTasksCommand({ cluster: "prod" }))).taskArns?.length).toBeGreaterThan(0);
    expect((await errorOf(ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: ["x"] })))).name).toBe(
      "ClusterNotFoundException",
    );
    expect(
      (await ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: ["x"] }))).failures,
    ).toHaveLength(1);
    expect(s.counters.snapshot().errors).toEqual({ ListTasks: 1, DescribeTasks: 1 });
  });

  it("holds requests on timeout until the client gives up, and still closes promptly", async () => {
    const own = await startStandIn();
    own.fleet.addCluster("c");
    own.faults.inject({ operation: "ListClusters", kind: "timeout" });
    const ecs = ecsClient(own, 1);
    const started = Date.now();
    const err = await errorOf(
      ecs.send(new ListClustersCommand({}), { abortSignal: AbortSignal.timeout(200) }),
    );
    expect(err.name).toMatch(/Abort|Timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(own.counters.snapshot().timeouts).toEqual({ ListClusters: 1 });
    // A request still held when the server closes must not keep close() waiting.
    const pending = ecs.send(new ListClustersCommand({})).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await own.close();
    expect(await pending).toBeInstanceOf(Error);
  });

  it("adds latency and counts per operation; reset clears counters", async () => {
    s.faults.latency({ min: 20, max: 40 });
    const ecs = ecsClient(s);
    const started = Date.now();
    await ecs.send(new ListClustersCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(19);
    expect(s.counters.callsOf("ListClusters")).toBe(1);
    s.counters.reset();
    expect(s.counters.snapshot().totalCalls).toBe(0);
  });

  it("fires probabilistic rules only sometimes", async () => {
    const id = s.faults.inject({ operation: "ListClusters", kind: "5xx", probability: 0.5 });
    const ecs = ecsClient(s, 1);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => ecs.send(new ListClustersCommand({}))),
    );
    const failed = results.filter((r) => r.status === "rejected").length;
    expect(failed).toBe(s.faults.firedCount(id));
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(40);
  });
});

describe("task state change events", () => {
  const fixture = (name: string) =>
    JSON.parse(readFileSync(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf8")) as {
      detail: Record<string, unknown>;
    } & Record<string, unknown>;

  /** Every key of the fixture that we also produce has the same JSON type, recursively. */
  function expectSameShape(ours: unknown, theirs: unknown, path = "$"): void {
    if (Array.isArray(theirs)) {
      expect(Array.isArray(ours), path).toBe(true);
      if (theirs.length > 0 && (ours as unknown[]).length > 0) {
        expectSameShape((ours as unknown[])[0], theirs[0], `${path}[0]`);
      }
      return;
    }
    if (theirs !== null && typeof theirs === "object") {
      expect(typeof ours, path).toBe("object");
      for (const [key, value] of Object.entries(theirs)) {
        const mine = (ours as Record<string, unknown>)[key];
        if (mine !== undefined) expectSameShape(mine, value, `${path}.${key}`);
      }
      return;
    }
    expect(typeof ours, path).toBe(typeof theirs);
  }

  it("mirrors the Fargate fixture: ISO timestamps, eni attachments, no tags", () => {
    const fleet = new Fleet({ region: "us-west-2", account: "111122223333" });
    fleet.addCluster("FargateCluster");
    const td = fleet.registerTaskDefinition({
      family: "sample-fargate",
      requiresCompatibilities: ["FARGATE"],
      cpu: "256",
      memory: "512",
      containers: [{ name: "FargateApp", image: "hello", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "80" } }],
    });
    const arn = fleet.runTask("FargateCluster", { taskDefinition: td, tags: { a: "b" } });
    const event = fleet.taskStateChangeEvent(arn);
    const sample = fixture("task-state-change-fargate.json");
    expect(Object.keys(event).sort()).toEqual(Object.keys(sample).sort());
    expect(Object.keys(event.detail)).toEqual(expect.arrayContaining(Object.keys(sample.detail)));
    expectSameShape(event, sample);
    const detail = event.detail as { attachments: { type: string }[]; createdAt: string; tags?: unknown };
    expect(detail.attachments[0]?.type).toBe("eni");
    expect(detail.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(detail.tags).toBeUndefined();
    expect(JSON.stringify(event)).not.toContain("PROMETHEUS_EXPORTER_PORT");
    expect(event.resources).toEqual([arn]);
  });

  it("mirrors the EC2 fixture, and its version grows with each change", () => {
    const fleet = new Fleet();
    fleet.addCluster("default");
    fleet.addHost("default");
    const td = fleet.registerTaskDefinition({
      family: "xray",
      containers: [{ name: "xray", image: "xray" }],
    });
    const arn = fleet.runTask("default", { taskDefinition: td, group: "task-group" });
    const running = fleet.taskStateChangeEvent(arn);
    expectSameShape(running, fixture("task-state-change-ec2.json"));
    expect(running.detail.containerInstanceArn).toBeDefined();
    fleet.stopTask(arn);
    const stopped = fleet.taskStateChangeEvent(arn);
    expect(stopped.detail.version).toBe((running.detail.version as number) + 2);
    expect(stopped.detail.lastStatus).toBe("STOPPED");
  });
});

describe("generateFleet", () => {
  const stable = (fleet: Fleet) =>
    [...fleet.tasks.values()].map((t) => ({
      arn: t.arn,
      td: t.taskDefinition.arn,
      host: t.host?.privateIp,
      eni: t.eni?.privateIp,
      ports: t.containers.map((c) => c.bindings.map((b) => b.hostPort)),
      status: t.lastStatus,
      ipv6: t.ipv6,
    }));

  it("is deterministic per seed", () => {
    const a = new Fleet();
    const b = new Fleet();
    const c = new Fleet();
    generateFleet(a, { clusters: 3, tasks: 300, seed: 42 });
    generateFleet(b, { clusters: 3, tasks: 300, seed: 42 });
    generateFleet(c, { clusters: 3, tasks: 300, seed: 43 });
    expect(stable(a)).toEqual(stable(b));
    expect(stable(a)).not.toEqual(stable(c));
  });

  it("spreads tasks evenly and mixes every network mode and label style", () => {
    const fleet = new Fleet();
    const out = generateFleet(fleet, { clusters: 5, tasks: 2000, hostsPerCluster: 20, seed: 1 });
    expect(out.clusters).toHaveLength(5);
    expect(out.hosts).toHaveLength(100);
    expect(out.taskArns).toHaveLength(2000);
    for (const name of out.clusters) expect(fleet.activeCluster(name)?.tasksById.size).toBe(400);
    const tasks = [...fleet.tasks.values()];
    const modes = new Set(tasks.map((t) => `${t.launchType}/${t.taskDefinition.networkMode}`));
    expect(modes).toEqual(new Set(["EC2/bridge", "EC2/host", "EC2/awsvpc", "FARGATE/awsvpc"]));
    expect(tasks.some((t) => t.ipv6 && t.taskDefinition.networkMode === "bridge")).toBe(true);
    expect(tasks.some((t) => t.group.startsWith("service:"))).toBe(true);
    expect(tasks.some((t) => t.group.startsWith("family:"))).toBe(true);
    expect(tasks.some((t) => t.containers.some((c) => c.injected))).toBe(true);
    const labels = tasks.flatMap((t) => t.taskDefinition.containerDefinitions.map((c) => c.dockerLabels));
    expect(labels.some((l) => "PROMETHEUS_EXPORTER_PORT.admin" in l)).toBe(true);
    expect(labels.some((l) => Object.keys(l).length === 0)).toBe(true);
    expect(labels.some((l) => "PROMETHEUS_EXPORTER_PATH" in l)).toBe(true);
    const ips = tasks.flatMap((t) => [t.host?.privateIp, t.eni?.privateIp]).filter((x) => x !== undefined);
    expect(ips.every((ip) => ip.startsWith("10."))).toBe(true);
  });

  it("uses loopback addresses on request, and generates 50,000 tasks in a few seconds", async () => {
    const loop = new Fleet();
    generateFleet(loop, {
      clusters: 2,
      tasks: 100,
      seed: 3,
      addressing: "loopback",
      externalHostsPerCluster: 1,
    });
    const addrs = [...loop.tasks.values()].flatMap((t) => [t.host?.privateIp, t.eni?.privateIp]);
    expect(addrs.filter((x) => x !== undefined).every((ip) => ip?.startsWith("127.0."))).toBe(true);
    expect([...loop.tasks.values()].some((t) => t.launchType === "EXTERNAL")).toBe(true);

    const s = await startStandIn();
    try {
      const started = Date.now();
      const out = generateFleet(s, { clusters: 50, tasks: 50_000, seed: 9 });
      expect(out.taskArns).toHaveLength(50_000);
      expect(Date.now() - started).toBeLessThan(10_000);
      const ecs = ecsClient(s);
      const page = await ecs.send(new ListTasksCommand({ cluster: out.clusters[49] }));
      const described = await ecs.send(
        new DescribeTasksCommand({ cluster: out.clusters[49], tasks: page.taskArns }),
      );
      expect(described.tasks).toHaveLength(100);
    } finally {
      await s.close();
    }
  });
});
