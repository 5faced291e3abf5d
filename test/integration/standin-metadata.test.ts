import {
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  paginateDescribeNetworkInterfaces,
} from "@aws-sdk/client-ec2";
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTasksCommand,
  paginateListServices,
  type Task,
} from "@aws-sdk/client-ecs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Fleet, generateFleet, type StandIn, startStandIn } from "../standin/index.js";
import { ec2Client, ecsClient, errorOf } from "../support/standin-clients.js";

/**
 * The stand-in's answers to what Prometheus's own ECS discovery reads for its `__meta_ecs_*` labels:
 * services (ListServices, DescribeServices), cluster tags, EC2 instance metadata and task ENIs
 * (DescribeNetworkInterfaces), task health and platform, all through the real SDK clients.
 */

const PRIVATE_OR_LOOPBACK = /^(10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/;
const DOCUMENTATION_RANGE = /^(203\.0\.113|198\.51\.100|192\.0\.2)\.\d+$/;
const ENI_DETAIL = (task: Task, name: string) =>
  task.attachments?.find((a) => a.type === "ElasticNetworkInterface")?.details?.find((d) => d.name === name)
    ?.value;

function build(s: StandIn) {
  const f = s.fleet;
  f.addCluster("prod", { tags: { env: "prod", "cost-center": "cc-1" } });
  f.addCluster("bare");
  f.addCluster("default");
  const web = f.registerTaskDefinition({
    family: "web",
    requiresCompatibilities: ["FARGATE"],
    cpu: "256",
    memory: "512",
    containers: [
      {
        name: "web",
        image: "web:1",
        portMappings: [{ containerPort: 3000 }],
        healthCheck: { command: ["CMD-SHELL", "curl -f http://localhost:3000/ || exit 1"], interval: 10 },
      },
      { name: "log-router", image: "fluent-bit", essential: false },
    ],
  });
  const api = f.registerTaskDefinition({
    family: "api",
    networkMode: "bridge",
    containers: [{ name: "app", image: "api:1", portMappings: [{ containerPort: 8080, hostPort: 0 }] }],
  });
  const vpc = f.registerTaskDefinition({
    family: "vpc",
    networkMode: "awsvpc",
    containers: [{ name: "app", image: "vpc:1", portMappings: [{ containerPort: 9090 }] }],
  });
  const tagged = f.addHost("prod", {
    privateIp: "10.0.0.10",
    publicIp: "198.51.100.7",
    tags: { Name: "prod-host-1", team: "platform" },
    subnetId: "subnet-0123456789abcdef0",
    instanceType: "c7g.large",
  });
  const plain = f.addHost("prod", { privateIp: "10.0.0.11" });
  f.createService("prod", "checkout", { tags: { team: "shop", "aws:cloudformation:stack-name": "shop" } });
  const tasks = {
    fargatePublic: f.runTask("prod", { taskDefinition: web, serviceName: "checkout", assignPublicIp: true }),
    fargatePrivate: f.runTask("prod", { taskDefinition: web, serviceName: "checkout" }),
    fargatePending: f.runTask("prod", {
      taskDefinition: web,
      serviceName: "checkout",
      lastStatus: "PENDING",
    }),
    bridge: f.runTask("prod", { taskDefinition: api, host: tagged.containerInstanceArn, serviceName: "api" }),
    vpcOnEc2: f.runTask("prod", {
      taskDefinition: vpc,
      host: plain.containerInstanceArn,
      serviceName: "vpc",
      eniPublicIp: "203.0.113.200",
    }),
    standalone: f.runTask("prod", { taskDefinition: api, host: plain.containerInstanceArn }),
  };
  return { tagged, plain, tasks, defs: { web, api, vpc } };
}

describe("ECS services, cluster tags and task health through the real SDK", () => {
  let s: StandIn;
  let ecs: ECSClient;
  let built: ReturnType<typeof build>;

  beforeAll(async () => {
    s = await startStandIn();
    ecs = ecsClient(s);
    built = build(s);
  });
  afterAll(async () => s.close());
  beforeEach(() => {
    s.faults.clear();
    s.counters.reset();
  });

  const describeTask = async (arn: string): Promise<Task> => {
    const out = await ecs.send(
      new DescribeTasksCommand({ cluster: "prod", tasks: [arn], include: ["TAGS"] }),
    );
    const task = out.tasks?.[0];
    if (!task) throw new Error("task missing");
    return task;
  };

  it("describes services by name and ARN, with counts, deployment and tags only on request", async () => {
    const arn = `arn:aws:ecs:${s.region}:${s.account}:service/prod/checkout`;
    const plain = await ecs.send(new DescribeServicesCommand({ cluster: "prod", services: ["checkout"] }));
    expect(plain.failures).toEqual([]);
    const service = plain.services?.[0];
    expect(service).toMatchObject({
      serviceArn: arn,
      serviceName: "checkout",
      clusterArn: `arn:aws:ecs:${s.region}:${s.account}:cluster/prod`,
      status: "ACTIVE",
      desiredCount: 3,
      runningCount: 2,
      pendingCount: 1,
      taskDefinition: built.defs.web,
      schedulingStrategy: "REPLICA",
    });
    expect(service?.tags).toBeUndefined();
    expect(service?.createdAt).toBeInstanceOf(Date);
    // The deployment id is what the service's tasks carry as startedBy.
    const task = await describeTask(built.tasks.fargatePublic);
    expect(service?.deployments?.[0]?.id).toBe(task.startedBy);

    const tagged = await ecs.send(
      new DescribeServicesCommand({ cluster: "prod", services: [arn], include: ["TAGS"] }),
    );
    expect(tagged.services?.[0]?.tags).toEqual([
      { key: "team", value: "shop" },
      { key: "aws:cloudformation:stack-name", value: "shop" },
    ]);
  });

  it("creates services implicitly for service tasks: ACTIVE, launch type of the task, no tags", async () => {
    const out = await ecs.send(
      new DescribeServicesCommand({ cluster: "prod", services: ["api", "vpc"], include: ["TAGS"] }),
    );
    expect(out.services?.map((x) => [x.serviceName, x.status, x.launchType, x.tags])).toEqual([
      ["api", "ACTIVE", "EC2", []],
      ["vpc", "ACTIVE", "EC2", []],
    ]);
    expect(out.services?.[0]?.taskDefinition).toBe(built.defs.api);
  });

  it("reports missing services as MISSING failures, and enforces the batch of 10", async () => {
    const other = `arn:aws:ecs:${s.region}:${s.account}:service/bare/checkout`;
    const out = await ecs.send(
      new DescribeServicesCommand({ cluster: "prod", services: ["checkout", "nope", other] }),
    );
    expect(out.services?.map((x) => x.serviceName)).toEqual(["checkout"]);
    expect(out.failures).toEqual([
      { arn: `arn:aws:ecs:${s.region}:${s.account}:service/prod/nope`, reason: "MISSING" },
      { arn: other, reason: "MISSING" },
    ]);
    const ten = Array.from({ length: 10 }, (_, i) => `svc-${i}`);
    const tenOut = await ecs.send(new DescribeServicesCommand({ cluster: "prod", services: ten }));
    expect(tenOut.failures).toHaveLength(10);
    const eleven = await errorOf(
      ecs.send(new DescribeServicesCommand({ cluster: "prod", services: [...ten, "svc-10"] })),
    );
    expect(eleven.name).toBe("InvalidParameterException");
    expect(eleven.$metadata?.httpStatusCode).toBe(400);
    const empty = await errorOf(ecs.send(new DescribeServicesCommand({ cluster: "prod", services: [] })));
    expect(empty.name).toBe("InvalidParameterException");
    const noCluster = await errorOf(
      ecs.send(new DescribeServicesCommand({ cluster: "nope", services: ["x"] })),
    );
    expect(noCluster.name).toBe("ClusterNotFoundException");
    // Without a cluster ECS looks in the cluster named default.
    const byDefault = await ecs.send(new DescribeServicesCommand({ services: ["checkout"] }));
    expect(byDefault.failures?.[0]?.arn).toBe(
      `arn:aws:ecs:${s.region}:${s.account}:service/default/checkout`,
    );
    expect(s.counters.callsOf("DescribeServices")).toBe(6);
  });

  it("tags services and moves them to DRAINING and INACTIVE: INACTIVE ones are described, not listed", async () => {
    const f = s.fleet;
    f.createService("bare", "legacy", { launchType: "EC2", tags: { a: "1" } });
    f.tagService("bare", "legacy", { a: "2", b: "3" });
    f.createService("bare", "old");
    f.setServiceStatus("bare", "legacy", "DRAINING");
    f.setServiceStatus("bare", "old", "INACTIVE");
    const listed = await ecs.send(new ListServicesCommand({ cluster: "bare" }));
    expect(listed.serviceArns?.map((a) => a.split("/").pop())).toEqual(["legacy"]);
    const out = await ecs.send(
      new DescribeServicesCommand({ cluster: "bare", services: ["legacy", "old"], include: ["TAGS"] }),
    );
    expect(out.services?.map((x) => [x.status, x.tags])).toEqual([
      [
        "DRAINING",
        [
          { key: "a", value: "2" },
          { key: "b", value: "3" },
        ],
      ],
      ["INACTIVE", []],
    ]);
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: ["bare"] }));
    expect(clusters.clusters?.[0]?.activeServicesCount).toBe(0);
    expect(() => f.createService("bare", "legacy")).toThrow(/already exists/);
    // An INACTIVE name can be used again: a new service.
    f.createService("bare", "old", { tags: { again: "yes" } });
    const again = await ecs.send(new DescribeServicesCommand({ cluster: "bare", services: ["old"] }));
    expect(again.services?.[0]?.status).toBe("ACTIVE");
  });

  it("pages ListServices by 10 by default, up to 100 on request, with filters", async () => {
    s.fleet.addCluster("many");
    for (let i = 0; i < 25; i++) {
      s.fleet.createService("many", `svc-${String(i).padStart(2, "0")}`, {
        launchType: i % 5 === 0 ? "FARGATE" : "EC2",
      });
    }
    const pages: number[] = [];
    const arns: string[] = [];
    for await (const page of paginateListServices({ client: ecs }, { cluster: "many" })) {
      pages.push(page.serviceArns?.length ?? 0);
      arns.push(...(page.serviceArns ?? []));
    }
    expect(pages).toEqual([10, 10, 5]);
    expect(new Set(arns).size).toBe(25);
    expect(arns[0]).toBe(`arn:aws:ecs:${s.region}:${s.account}:service/many/svc-00`);
    const big = await ecs.send(new ListServicesCommand({ cluster: "many", maxResults: 100 }));
    expect(big.serviceArns).toHaveLength(25);
    expect(big.nextToken).toBeUndefined();
    const fargate = await ecs.send(new ListServicesCommand({ cluster: "many", launchType: "FARGATE" }));
    expect(fargate.serviceArns).toHaveLength(5);
    expect(
      (await errorOf(ecs.send(new ListServicesCommand({ cluster: "many", maxResults: 101 })))).name,
    ).toBe("InvalidParameterException");
    expect((await errorOf(ecs.send(new ListServicesCommand({ cluster: "nope" })))).name).toBe(
      "ClusterNotFoundException",
    );
  });

  it("gives cluster tags only with include TAGS", async () => {
    s.fleet.tagCluster("prod", { team: "shop", env: "production" });
    const without = await ecs.send(new DescribeClustersCommand({ clusters: ["prod", "bare"] }));
    expect(without.clusters?.map((c) => c.tags)).toEqual([undefined, undefined]);
    const withTags = await ecs.send(
      new DescribeClustersCommand({ clusters: ["prod", "bare"], include: ["TAGS"] }),
    );
    expect(withTags.clusters?.map((c) => c.tags)).toEqual([
      [
        { key: "env", value: "production" },
        { key: "cost-center", value: "cc-1" },
        { key: "team", value: "shop" },
      ],
      [],
    ]);
    expect(withTags.clusters?.[0]?.activeServicesCount).toBe(3);
  });

  it("reports task health (UNKNOWN by default) and Fargate platform; a health change bumps the version", async () => {
    const before = await describeTask(built.tasks.fargatePrivate);
    expect(before.healthStatus).toBe("UNKNOWN");
    expect(before.platformFamily).toBe("Linux");
    expect(before.platformVersion).toBe("1.4.0");
    const bridge = await describeTask(built.tasks.bridge);
    expect(bridge.healthStatus).toBe("UNKNOWN");
    expect(bridge.platformFamily).toBeUndefined();
    expect(bridge.platformVersion).toBeUndefined();

    s.fleet.setTaskHealth(built.tasks.fargatePrivate, "HEALTHY");
    const after = await describeTask(built.tasks.fargatePrivate);
    expect(after.healthStatus).toBe("HEALTHY");
    expect(after.version).toBe((before.version ?? 0) + 1);
    // The container with the health check reports it; the log router has none.
    expect(after.containers?.map((c) => [c.name, c.healthStatus])).toEqual([
      ["web", "HEALTHY"],
      ["log-router", "UNKNOWN"],
    ]);
    s.fleet.setTaskHealth(built.tasks.fargatePrivate, "HEALTHY");
    expect((await describeTask(built.tasks.fargatePrivate)).version).toBe(after.version);
    s.fleet.setTaskHealth(built.tasks.fargatePrivate, "UNHEALTHY");
    const worse = await describeTask(built.tasks.fargatePrivate);
    expect(worse.healthStatus).toBe("UNHEALTHY");
    expect(worse.version).toBe((after.version ?? 0) + 1);

    const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: built.defs.web }));
    expect(td.taskDefinition?.containerDefinitions?.[0]?.healthCheck).toEqual({
      command: ["CMD-SHELL", "curl -f http://localhost:3000/ || exit 1"],
      interval: 10,
      timeout: 5,
      retries: 3,
    });
  });

  it("events after a health change carry the bumped version and platform, but never health or tags", () => {
    const arn = built.tasks.fargatePublic;
    const version = s.fleet.findTask(arn)?.version ?? 0;
    s.fleet.setTaskHealth(arn, "HEALTHY");
    const event = s.fleet.taskStateChangeEvent(arn);
    const detail = event.detail as {
      version: number;
      healthStatus?: string;
      tags?: unknown;
      platformVersion?: string;
      platformFamily?: string;
      updatedAt: string;
      containers: { healthStatus?: string }[];
      attachments: { type: string; details: { name: string; value: string }[] }[];
    };
    expect(detail.version).toBe(version + 1);
    // AWS: "the health status is not provided in task state change events"; DescribeTasks has it.
    expect(detail.healthStatus).toBeUndefined();
    expect(detail.containers.every((c) => c.healthStatus === undefined)).toBe(true);
    expect(detail.tags).toBeUndefined();
    expect(detail.platformVersion).toBe("1.4.0");
    expect(detail.platformFamily).toBe("Linux");
    expect(detail.updatedAt).toMatch(/Z$/);
    const eni = detail.attachments[0];
    expect(eni?.type).toBe("eni");
    expect(eni?.details.map((d) => d.name)).toEqual(
      expect.arrayContaining(["networkInterfaceId", "subnetId"]),
    );
  });

  it("refuses health changes of stopped tasks and public addresses outside awsvpc", () => {
    const f = s.fleet;
    const doomed = f.runTask("prod", { taskDefinition: built.defs.web });
    f.stopTask(doomed);
    expect(() => f.setTaskHealth(doomed, "HEALTHY")).toThrow(/STOPPED/);
    expect(() =>
      f.runTask("prod", {
        taskDefinition: built.defs.api,
        host: built.plain.containerInstanceArn,
        assignPublicIp: true,
      }),
    ).toThrow(/awsvpc/);
    expect(() =>
      f.runTask("prod", {
        taskDefinition: built.defs.api,
        host: built.plain.containerInstanceArn,
        platformVersion: "1.4.0",
      }),
    ).toThrow(/Fargate-only/);
  });

  it("counts and throttles the service reads on their own bucket, and injects faults by cluster", async () => {
    const once = ecsClient(s, 1);
    s.faults.throttling(true, { ecsServices: { capacity: 2, refillPerSecond: 0.001 } });
    await once.send(new ListServicesCommand({ cluster: "prod" }));
    await once.send(new DescribeServicesCommand({ cluster: "prod", services: ["checkout"] }));
    const throttled = await errorOf(
      once.send(new DescribeServicesCommand({ cluster: "prod", services: ["checkout"] })),
    );
    expect(throttled.name).toBe("ThrottlingException");
    // The task reads draw from another bucket.
    await once.send(new ListTasksCommand({ cluster: "prod" }));
    s.faults.clear();
    s.faults.inject({ operation: "DescribeServices", cluster: "bare", kind: "accessDenied" });
    const denied = await errorOf(
      once.send(new DescribeServicesCommand({ cluster: "bare", services: ["x"] })),
    );
    expect(denied.name).toBe("AccessDeniedException");
    await once.send(new DescribeServicesCommand({ cluster: "prod", services: ["checkout"] }));
    const counts = s.counters.snapshot();
    expect(counts.calls).toMatchObject({ ListServices: 1, DescribeServices: 4, ListTasks: 1 });
    expect(counts.throttled).toEqual({ DescribeServices: 1 });
    expect(counts.errors).toEqual({ DescribeServices: 1 });
  });
});

describe("EC2 instance metadata and task ENIs through the real SDK", () => {
  let s: StandIn;
  let ecs: ECSClient;
  let ec2: EC2Client;
  let built: ReturnType<typeof build>;

  beforeAll(async () => {
    s = await startStandIn();
    ecs = ecsClient(s);
    ec2 = ec2Client(s);
    built = build(s);
  });
  afterAll(async () => s.close());
  beforeEach(() => {
    s.faults.clear();
    s.counters.reset();
  });

  const eniOf = async (taskArn: string): Promise<string> => {
    const out = await ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: [taskArn] }));
    const id = out.tasks?.[0] ? ENI_DETAIL(out.tasks[0], "networkInterfaceId") : undefined;
    if (!id) throw new Error("no ENI");
    return id;
  };

  it("describes instances with tags, public address, subnet and type", async () => {
    const out = await ec2.send(
      new DescribeInstancesCommand({ InstanceIds: [built.tagged.ec2InstanceId, built.plain.ec2InstanceId] }),
    );
    const [tagged, plain] = out.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    expect(tagged).toMatchObject({
      InstanceId: built.tagged.ec2InstanceId,
      PrivateIpAddress: "10.0.0.10",
      PublicIpAddress: "198.51.100.7",
      PublicDnsName: "ec2-198-51-100-7.compute-1.amazonaws.com",
      SubnetId: "subnet-0123456789abcdef0",
      InstanceType: "c7g.large",
      Tags: [
        { Key: "Name", Value: "prod-host-1" },
        { Key: "team", Value: "platform" },
      ],
    });
    expect(plain?.PrivateIpAddress).toBe("10.0.0.11");
    expect(plain?.PublicIpAddress).toBeUndefined();
    expect(plain?.Tags).toBeUndefined();
    expect(plain?.SubnetId).toMatch(/^subnet-[0-9a-f]{17}$/);
    expect(plain?.InstanceType).toBe("m6i.large");
  });

  it("retags instances, changes public addresses, and filters by tag", async () => {
    const f = s.fleet;
    f.tagInstance(built.plain.ec2InstanceId, { Name: "prod-host-2", team: "platform" });
    f.tagInstance(built.plain.ec2InstanceId, { team: "data" });
    const ip = f.allocatePublicIp();
    expect(ip).toMatch(DOCUMENTATION_RANGE);
    f.setInstancePublicIp(built.plain.ec2InstanceId, ip);
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [built.plain.ec2InstanceId] }));
    const inst = out.Reservations?.[0]?.Instances?.[0];
    expect(inst?.Tags).toEqual([
      { Key: "Name", Value: "prod-host-2" },
      { Key: "team", Value: "data" },
    ]);
    expect(inst?.PublicIpAddress).toBe(ip);
    const byTag = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: "tag:team", Values: ["platform", "data"] }] }),
    );
    expect(byTag.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId)).toEqual([
      built.tagged.ec2InstanceId,
      built.plain.ec2InstanceId,
    ]);
    f.setInstancePublicIp(built.plain.ec2InstanceId, undefined);
    const gone = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [built.plain.ec2InstanceId] }));
    expect(gone.Reservations?.[0]?.Instances?.[0]?.PublicIpAddress).toBeUndefined();
    expect(() => f.tagInstance("i-0000000000000000a", { a: "b" })).toThrow(/no EC2 instance/);
  });

  it("describes task ENIs by id: addresses, placement, and an association only with a public IP", async () => {
    const publicEni = await eniOf(built.tasks.fargatePublic);
    const privateEni = await eniOf(built.tasks.fargatePrivate);
    const ec2Eni = await eniOf(built.tasks.vpcOnEc2);
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [publicEni, privateEni, ec2Eni] }),
    );
    const [pub, priv, onEc2] = out.NetworkInterfaces ?? [];
    const task = (
      await ecs.send(new DescribeTasksCommand({ cluster: "prod", tasks: [built.tasks.fargatePublic] }))
    ).tasks?.[0] as Task;
    expect(pub).toMatchObject({
      NetworkInterfaceId: publicEni,
      SubnetId: ENI_DETAIL(task, "subnetId"),
      AvailabilityZone: task.availabilityZone,
      PrivateIpAddress: ENI_DETAIL(task, "privateIPv4Address"),
      MacAddress: ENI_DETAIL(task, "macAddress"),
      Status: "in-use",
      InterfaceType: "interface",
      OwnerId: s.account,
    });
    expect(pub?.VpcId).toMatch(/^vpc-[0-9a-f]{17}$/);
    expect(pub?.Association?.PublicIp).toMatch(DOCUMENTATION_RANGE);
    expect(pub?.Association?.PublicIp).not.toMatch(PRIVATE_OR_LOOPBACK);
    expect(pub?.Association?.IpOwnerId).toBe("amazon");
    expect(pub?.Association?.PublicDnsName).toBe(
      `ec2-${pub?.Association?.PublicIp?.replaceAll(".", "-")}.compute-1.amazonaws.com`,
    );
    expect(pub?.PrivateIpAddresses?.[0]?.Association?.PublicIp).toBe(pub?.Association?.PublicIp);
    expect(priv?.Association).toBeUndefined();
    expect(priv?.NetworkInterfaceId).toBe(privateEni);
    expect(onEc2?.Association?.PublicIp).toBe("203.0.113.200");
    expect(onEc2?.Attachment?.InstanceId).toBe(built.plain.ec2InstanceId);
    expect(pub?.Attachment?.InstanceId).toBeUndefined();
  });

  it("fails like AWS on unknown or malformed ids; a filter on unknown ids just returns fewer", async () => {
    const known = await eniOf(built.tasks.fargatePrivate);
    const unknown = "eni-0123456789abcdef0";
    const notFound = await errorOf(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [known, unknown] })),
    );
    expect(notFound.name).toBe("InvalidNetworkInterfaceID.NotFound");
    expect(notFound.message).toBe(`The networkInterface ID '${unknown}' does not exist`);
    expect(notFound.$metadata?.httpStatusCode).toBe(400);
    const malformed = await errorOf(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ["i-0123456789abcdef0"] })),
    );
    expect(malformed.name).toBe("InvalidNetworkInterfaceId.Malformed");
    const filtered = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: "network-interface-id", Values: [known, unknown] }],
      }),
    );
    expect(filtered.NetworkInterfaces?.map((n) => n.NetworkInterfaceId)).toEqual([known]);
    const combo = await errorOf(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [known], MaxResults: 5 })),
    );
    expect(combo.name).toBe("InvalidParameterCombination");
    expect((await errorOf(ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 4 })))).name).toBe(
      "InvalidParameterValue",
    );
    expect(
      (
        await errorOf(
          ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "bogus", Values: ["x"] }] })),
        )
      ).name,
    ).toBe("InvalidParameterValue");
    expect(s.counters.snapshot().errors).toEqual({ DescribeNetworkInterfaces: 5 });
  });

  it("keeps an ENI while its task is not STOPPED: pending yes, stopped no", async () => {
    const pending = await eniOf(built.tasks.fargatePending);
    const ok = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [pending] }));
    expect(ok.NetworkInterfaces).toHaveLength(1);
    const doomed = s.fleet.runTask("prod", { taskDefinition: built.defs.web, assignPublicIp: true });
    const doomedEni = await eniOf(doomed);
    s.fleet.stopTask(doomed);
    const gone = await errorOf(
      ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [doomedEni] })),
    );
    expect(gone.name).toBe("InvalidNetworkInterfaceID.NotFound");
  });

  it("pages ENIs with MaxResults and the SDK paginator, and filters by public address", async () => {
    s.fleet.addCluster("enis");
    for (let i = 0; i < 12; i++)
      s.fleet.runTask("enis", { taskDefinition: built.defs.web, assignPublicIp: i < 3 });
    const all = await ec2.send(new DescribeNetworkInterfacesCommand({}));
    const total = all.NetworkInterfaces?.length ?? 0;
    const pages: number[] = [];
    const ids: string[] = [];
    for await (const page of paginateDescribeNetworkInterfaces({ client: ec2, pageSize: 5 }, {})) {
      pages.push(page.NetworkInterfaces?.length ?? 0);
      ids.push(...(page.NetworkInterfaces ?? []).map((n) => n.NetworkInterfaceId ?? ""));
    }
    expect(pages.slice(0, -1).every((n) => n === 5)).toBe(true);
    expect(ids).toEqual(all.NetworkInterfaces?.map((n) => n.NetworkInterfaceId));
    expect(ids).toHaveLength(total);
    const withPublic = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          {
            Name: "association.public-ip",
            Values: all.NetworkInterfaces?.flatMap((n) => n.Association?.PublicIp ?? []) ?? [],
          },
        ],
      }),
    );
    expect(withPublic.NetworkInterfaces?.every((n) => n.Association?.PublicIp !== undefined)).toBe(true);
    expect(withPublic.NetworkInterfaces?.length).toBeGreaterThanOrEqual(3);
  });

  it("counts DescribeNetworkInterfaces and throttles it on its own bucket", async () => {
    const once = ec2Client(s, 1);
    s.faults.throttling(true, { ec2DescribeNetworkInterfaces: { capacity: 1, refillPerSecond: 0.001 } });
    await once.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5 }));
    const throttled = await errorOf(once.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5 })));
    expect(throttled.name).toBe("RequestLimitExceeded");
    expect(throttled.$metadata?.httpStatusCode).toBe(503);
    await once.send(new DescribeInstancesCommand({}));
    expect(s.counters.snapshot()).toMatchObject({
      calls: { DescribeNetworkInterfaces: 2, DescribeInstances: 1 },
      throttled: { DescribeNetworkInterfaces: 1 },
    });
  });
});

describe("generateFleet metadata", () => {
  const stable = (fleet: Fleet) =>
    [...fleet.tasks.values()].map((t) => ({
      arn: t.arn,
      td: t.taskDefinition.arn,
      host: t.host?.privateIp,
      eni: t.eni?.privateIp,
      eniId: t.eni?.eniId,
      ports: t.containers.map((c) => c.bindings.map((b) => b.hostPort)),
      status: t.lastStatus,
      version: t.version,
    }));
  const metadata = (fleet: Fleet) => ({
    clusters: [...fleet.clusters.values()].map((c) => c.tags),
    services: [...fleet.clusters.values()].flatMap((c) =>
      [...c.services.values()].map((x) => [x.arn, x.tags]),
    ),
    instances: fleet.instanceLog.map((i) => [i.instanceId, i.publicIp, i.tags]),
    tasks: [...fleet.tasks.values()].map((t) => [t.healthStatus, t.eni?.publicIp]),
  });

  it("adds metadata without changing any ARN, address or port of a seed, deterministically", () => {
    const withMeta = new Fleet();
    const again = new Fleet();
    const without = new Fleet();
    generateFleet(withMeta, { clusters: 3, tasks: 600, hostsPerCluster: 8, seed: 42 });
    generateFleet(again, { clusters: 3, tasks: 600, hostsPerCluster: 8, seed: 42 });
    generateFleet(without, { clusters: 3, tasks: 600, hostsPerCluster: 8, seed: 42, metadata: false });
    expect(stable(withMeta)).toEqual(stable(without));
    expect(metadata(withMeta)).toEqual(metadata(again));
    expect(metadata(without).clusters.every((t) => Object.keys(t).length === 0)).toBe(true);
    expect(metadata(without).tasks.every(([h, ip]) => h === "UNKNOWN" && ip === undefined)).toBe(true);
  });

  it("tags clusters, services and instances, gives some public addresses and health statuses", () => {
    const fleet = new Fleet({ addressing: "loopback" });
    const out = generateFleet(fleet, { clusters: 2, tasks: 800, hostsPerCluster: 10, seed: 5 });
    expect(fleet.clusters.get("cluster-01")?.tags).toMatchObject({ env: "prod", team: "checkout" });
    expect(out.serviceArns.length).toBeGreaterThanOrEqual(6);
    for (const arn of out.serviceArns) {
      const [, clusterName, name] = arn.split("/");
      expect(fleet.findService(clusterName ?? "", name ?? "")?.tags).toHaveProperty("team");
    }
    expect(fleet.instanceLog.every((i) => i.tags.Name !== undefined)).toBe(true);
    const publicHosts = fleet.instanceLog.filter((i) => i.publicIp !== undefined);
    expect(publicHosts.length).toBeGreaterThan(0);
    expect(publicHosts.length).toBeLessThan(fleet.instanceLog.length);
    const tasks = [...fleet.tasks.values()];
    const publicEnis = tasks.flatMap((t) => (t.eni?.publicIp ? [t.eni.publicIp] : []));
    expect(publicEnis.length).toBeGreaterThan(0);
    // Public addresses come from documentation ranges even when the fleet hands out loopback addresses.
    for (const ip of [...publicEnis, ...publicHosts.map((i) => i.publicIp ?? "")]) {
      expect(ip).toMatch(DOCUMENTATION_RANGE);
    }
    expect(new Set([...publicEnis, ...publicHosts.map((i) => i.publicIp)]).size).toBe(
      publicEnis.length + publicHosts.length,
    );
    const checked = tasks.filter((t) => t.taskDefinition.containerDefinitions.some((c) => c.healthCheck));
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.filter((t) => t.lastStatus === "RUNNING").every((t) => t.healthStatus !== "UNKNOWN")).toBe(
      true,
    );
    expect(checked.some((t) => t.healthStatus === "HEALTHY")).toBe(true);
    expect(
      tasks
        .filter((t) => !t.taskDefinition.containerDefinitions.some((c) => c.healthCheck))
        .every((t) => t.healthStatus === "UNKNOWN"),
    ).toBe(true);
  });

  it("serves a generated fleet the way Prometheus's ECS discovery reads it: every ENI describable", async () => {
    const s = await startStandIn();
    try {
      generateFleet(s, { clusters: 2, tasks: 300, hostsPerCluster: 6, seed: 11 });
      const ecs = ecsClient(s);
      const ec2 = ec2Client(s);
      const clusterArns = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
      const clusters = await ecs.send(
        new DescribeClustersCommand({ clusters: clusterArns, include: ["TAGS"] }),
      );
      expect(clusters.clusters?.every((c) => (c.tags?.length ?? 0) > 0)).toBe(true);
      let eniCount = 0;
      let publicCount = 0;
      for (const cluster of clusterArns) {
        const serviceArns: string[] = [];
        for await (const page of paginateListServices({ client: ecs }, { cluster })) {
          serviceArns.push(...(page.serviceArns ?? []));
        }
        for (let i = 0; i < serviceArns.length; i += 10) {
          const out = await ecs.send(
            new DescribeServicesCommand({
              cluster,
              services: serviceArns.slice(i, i + 10),
              include: ["TAGS"],
            }),
          );
          expect(out.failures).toEqual([]);
          for (const service of out.services ?? []) {
            expect(service.tags?.length).toBeGreaterThan(0);
            const taskArns = (
              await ecs.send(
                new ListTasksCommand({ cluster, serviceName: service.serviceName, maxResults: 100 }),
              )
            ).taskArns;
            if (!taskArns?.length) continue;
            const tasks = (
              await ecs.send(new DescribeTasksCommand({ cluster, tasks: taskArns, include: ["TAGS"] }))
            ).tasks;
            const enis = (tasks ?? []).flatMap((t) => ENI_DETAIL(t, "networkInterfaceId") ?? []);
            if (enis.length === 0) continue;
            const described = await ec2.send(
              new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: enis }),
            );
            expect(described.NetworkInterfaces).toHaveLength(enis.length);
            eniCount += enis.length;
            publicCount += described.NetworkInterfaces?.filter((n) => n.Association?.PublicIp).length ?? 0;
          }
        }
      }
      expect(eniCount).toBeGreaterThan(0);
      expect(publicCount).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
