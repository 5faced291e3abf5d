/**
 * Prometheus's own ECS discovery (`aws_sd_configs` role `ecs`, discovery/aws/ecs.go) writes a set of
 * `__meta_ecs_*` labels per task. With INCLUDE=TAGS,SERVICES every one of them must be on our targets of that
 * task with the value Prometheus writes. The AWS answers below are the SDK's own shapes (DescribeTasks,
 * DescribeServices, DescribeClusters, DescribeContainerInstances, DescribeInstances, DescribeNetworkInterfaces),
 * sent through the real SDK clients and the engine; the event is AWS's documented sample.
 */
import { readFileSync } from "node:fs";
import { DescribeInstancesCommand, DescribeNetworkInterfacesCommand, EC2Client } from "@aws-sdk/client-ec2";
import {
  DescribeClustersCommand,
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListTasksCommand,
  type Task,
} from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeEngine } from "../../lambda/compose.js";
import { loadEngineConfig } from "../../lambda/config.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { MemoryTargetOutput } from "../bench/memory-output.js";
import { recordingLog } from "../support/engine-harness.js";

const REGION = "us-east-1";
const ACCOUNT = "123456789012";
const CLUSTER = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/prod`;
const arn = (resource: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:${resource}`;
const TD = (family: string, mode: string) => ({
  taskDefinitionArn: arn(`task-definition/${family}:3`),
  family,
  revision: 3,
  networkMode: mode,
  containerDefinitions: [
    {
      name: "app",
      image: `example/${family}:1`,
      dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
      portMappings: [
        { containerPort: 8080, hostPort: mode === "bridge" ? 0 : 8080, protocol: "tcp" as const },
      ],
    },
  ],
});
const DEFINITIONS = [TD("web", "bridge"), TD("api", "awsvpc"), TD("worker", "awsvpc"), TD("agent", "host")];

const eni = (id: string, subnet: string, ip: string) => [
  {
    id: `att-${id}`,
    type: "ElasticNetworkInterface",
    status: "ATTACHED",
    details: [
      { name: "subnetId", value: subnet },
      { name: "networkInterfaceId", value: id },
      { name: "macAddress", value: "0a:00:00:00:00:01" },
      { name: "privateDnsName", value: `ip-${ip.replaceAll(".", "-")}.ec2.internal` },
      { name: "privateIPv4Address", value: ip },
    ],
  },
];

const common = {
  clusterArn: CLUSTER,
  availabilityZone: "us-east-1a",
  desiredStatus: "RUNNING",
  lastStatus: "RUNNING",
  version: 3,
  createdAt: new Date("2026-11-30T10:00:00Z"),
  connectivity: "CONNECTED" as const,
};

const TASKS: Task[] = [
  {
    ...common,
    taskArn: arn("task/prod/web1"),
    taskDefinitionArn: arn("task-definition/web:3"),
    group: "service:web",
    launchType: "EC2",
    containerInstanceArn: arn("container-instance/prod/ci1"),
    healthStatus: "HEALTHY",
    tags: [{ key: "owner", value: "alice" }],
    containers: [
      {
        name: "app",
        containerArn: arn("container/prod/web1/app"),
        lastStatus: "RUNNING",
        networkBindings: [{ bindIP: "0.0.0.0", containerPort: 8080, hostPort: 32768, protocol: "tcp" }],
      },
    ],
  },
  {
    ...common,
    taskArn: arn("task/prod/api1"),
    taskDefinitionArn: arn("task-definition/api:3"),
    group: "service:api",
    launchType: "FARGATE",
    platformFamily: "Linux",
    platformVersion: "1.4.0",
    healthStatus: "UNKNOWN",
    attachments: eni("eni-0api", "subnet-task", "10.0.2.9"),
    tags: [{ key: "version", value: "1.2" }],
    containers: [
      {
        name: "app",
        containerArn: arn("container/prod/api1/app"),
        lastStatus: "RUNNING",
        networkInterfaces: [{ attachmentId: "att-eni-0api", privateIpv4Address: "10.0.2.9" }],
      },
    ],
  },
  {
    ...common,
    taskArn: arn("task/prod/worker1"),
    taskDefinitionArn: arn("task-definition/worker:3"),
    group: "service:worker",
    launchType: "EC2",
    containerInstanceArn: arn("container-instance/prod/ci2"),
    healthStatus: "UNHEALTHY",
    attachments: eni("eni-0wrk", "subnet-task2", "10.0.3.7"),
    tags: [],
    containers: [
      {
        name: "app",
        containerArn: arn("container/prod/worker1/app"),
        lastStatus: "RUNNING",
        networkInterfaces: [{ attachmentId: "att-eni-0wrk", privateIpv4Address: "10.0.3.7" }],
      },
    ],
  },
  {
    ...common,
    taskArn: arn("task/prod/agent1"),
    taskDefinitionArn: arn("task-definition/agent:3"),
    group: "family:agent",
    launchType: "EC2",
    containerInstanceArn: arn("container-instance/prod/ci1"),
    healthStatus: "UNKNOWN",
    tags: [],
    containers: [
      {
        name: "app",
        containerArn: arn("container/prod/agent1/app"),
        lastStatus: "RUNNING",
        networkBindings: [{ bindIP: "0.0.0.0", containerPort: 8080, hostPort: 8080, protocol: "tcp" }],
      },
    ],
  },
];

const SERVICES = {
  web: { status: "ACTIVE", tags: [{ key: "app", value: "web" }] },
  api: { status: "DRAINING", tags: [{ key: "tier", value: "edge" }] },
  worker: { status: "ACTIVE", tags: [] },
};

const ecs = mockClient(ECSClient);
const ec2 = mockClient(EC2Client);

function answerAws(): void {
  ecs.reset();
  ec2.reset();
  ecs.on(ListClustersCommand).resolves({ clusterArns: [CLUSTER] });
  ecs.on(DescribeClustersCommand).resolves({
    clusters: [
      {
        clusterArn: CLUSTER,
        clusterName: "prod",
        status: "ACTIVE",
        tags: [
          { key: "team", value: "core" },
          { key: "1env", value: "prod" },
          { key: "cost-center", value: "42" },
        ],
      },
    ],
    failures: [],
  });
  ecs.on(ListTasksCommand).resolves({ taskArns: TASKS.map((t) => t.taskArn as string) });
  ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
    tasks: TASKS.filter((t) => input.tasks.includes(t.taskArn as string)),
    failures: [],
  }));
  ecs.on(DescribeTaskDefinitionCommand).callsFake((input: { taskDefinition: string }) => ({
    taskDefinition: DEFINITIONS.find((d) => d.taskDefinitionArn === input.taskDefinition),
  }));
  ecs.on(DescribeContainerInstancesCommand).callsFake((input: { containerInstances: string[] }) => ({
    containerInstances: input.containerInstances.map((ci) => ({
      containerInstanceArn: ci,
      ec2InstanceId: ci.endsWith("ci1") ? "i-0abc" : "i-0def",
      status: "ACTIVE",
      attributes: [{ name: "ecs.instance-type", value: "m5.large" }],
    })),
    failures: [],
  }));
  ecs.on(DescribeServicesCommand).callsFake((input: { services: string[] }) => ({
    services: input.services.map((name) => ({
      serviceName: name,
      serviceArn: arn(`service/prod/${name}`),
      clusterArn: CLUSTER,
      status: SERVICES[name as keyof typeof SERVICES].status,
      tags: SERVICES[name as keyof typeof SERVICES].tags,
    })),
    failures: [],
  }));
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        ReservationId: "r-1",
        Instances: [
          {
            InstanceId: "i-0abc",
            InstanceType: "m5.large",
            PrivateIpAddress: "10.0.1.5",
            PublicIpAddress: "54.1.2.3",
            SubnetId: "subnet-host",
            Tags: [
              { Key: "Name", Value: "ecs-host-1" },
              { Key: "aws:autoscaling:groupName", Value: "asg-prod" },
            ],
          },
          {
            InstanceId: "i-0def",
            InstanceType: "c5.xlarge",
            PrivateIpAddress: "10.0.1.6",
            SubnetId: "subnet-host",
            Tags: [{ Key: "Name", Value: "ecs-host-2" }],
          },
        ],
      },
    ],
  });
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    NetworkInterfaces: [
      {
        NetworkInterfaceId: "eni-0api",
        SubnetId: "subnet-task",
        PrivateIpAddress: "10.0.2.9",
        Association: { PublicIp: "3.90.1.2", IpOwnerId: "amazon" },
      },
    ],
  });
}

async function reconciledLabels(include: string): Promise<Map<string, Record<string, string>>> {
  answerAws();
  const output = new MemoryTargetOutput("parity");
  const { deps } = composeEngine({
    config: loadEngineConfig({ INCLUDE: include }),
    log: recordingLog().log,
    region: REGION,
    output,
    accountId: ACCOUNT,
  });
  await new DiscoveryEngine(deps).run(parseTrigger({ action: "resync" }));
  const stored = await output.read({ accountId: ACCOUNT, region: REGION, name: "prod" });
  const groups = JSON.parse(stored?.body ?? "[]") as { labels: Record<string, string> }[];
  return new Map(groups.map((g) => [String(g.labels.__meta_ecs_task_arn), g.labels]));
}

let labels: Map<string, Record<string, string>>;
beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID = "x";
  process.env.AWS_SECRET_ACCESS_KEY = "x";
  labels = await reconciledLabels("TAGS,SERVICES");
});
afterAll(() => {
  ecs.restore();
  ec2.restore();
});

const web = arn("task/prod/web1");
const api = arn("task/prod/api1");
const worker = arn("task/prod/worker1");
const agent = arn("task/prod/agent1");

// [task, label, the value Prometheus writes for it]
const EXPECTED: [string, string, string][] = [
  ...[web, api, worker].flatMap((t): [string, string, string][] => [
    [t, "__meta_ecs_cluster", "prod"],
    [t, "__meta_ecs_cluster_arn", CLUSTER],
    [t, "__meta_ecs_region", REGION],
    [t, "__meta_ecs_availability_zone", "us-east-1a"],
    [t, "__meta_ecs_desired_status", "RUNNING"],
    [t, "__meta_ecs_last_status", "RUNNING"],
    [t, "__meta_ecs_task_arn", t],
    [t, "__meta_ecs_tag_cluster_team", "core"],
    [t, "__meta_ecs_tag_cluster_1env", "prod"],
    [t, "__meta_ecs_tag_cluster_cost_center", "42"],
  ]),
  // Bridge on EC2: the instance's address, subnet and public IP.
  [web, "__meta_ecs_service", "web"],
  [web, "__meta_ecs_service_arn", arn("service/prod/web")],
  [web, "__meta_ecs_service_status", "ACTIVE"],
  [web, "__meta_ecs_task_group", "service:web"],
  [web, "__meta_ecs_task_definition", arn("task-definition/web:3")],
  [web, "__meta_ecs_launch_type", "EC2"],
  [web, "__meta_ecs_health_status", "HEALTHY"],
  [web, "__meta_ecs_network_mode", "bridge"],
  [web, "__meta_ecs_ip_address", "10.0.1.5"],
  [web, "__meta_ecs_subnet_id", "subnet-host"],
  [web, "__meta_ecs_public_ip", "54.1.2.3"],
  [web, "__meta_ecs_container_instance_arn", arn("container-instance/prod/ci1")],
  [web, "__meta_ecs_ec2_instance_id", "i-0abc"],
  [web, "__meta_ecs_ec2_instance_type", "m5.large"],
  [web, "__meta_ecs_ec2_instance_private_ip", "10.0.1.5"],
  [web, "__meta_ecs_ec2_instance_public_ip", "54.1.2.3"],
  [web, "__meta_ecs_tag_service_app", "web"],
  [web, "__meta_ecs_tag_task_owner", "alice"],
  [web, "__meta_ecs_tag_ec2_Name", "ecs-host-1"],
  [web, "__meta_ecs_tag_ec2_aws_autoscaling_groupName", "asg-prod"],
  // Fargate: the task ENI's subnet and public IP (DescribeNetworkInterfaces), the platform.
  [api, "__meta_ecs_service", "api"],
  [api, "__meta_ecs_service_arn", arn("service/prod/api")],
  [api, "__meta_ecs_service_status", "DRAINING"],
  [api, "__meta_ecs_launch_type", "FARGATE"],
  [api, "__meta_ecs_health_status", "UNKNOWN"],
  [api, "__meta_ecs_platform_family", "Linux"],
  [api, "__meta_ecs_platform_version", "1.4.0"],
  [api, "__meta_ecs_network_mode", "awsvpc"],
  [api, "__meta_ecs_ip_address", "10.0.2.9"],
  [api, "__meta_ecs_subnet_id", "subnet-task"],
  [api, "__meta_ecs_public_ip", "3.90.1.2"],
  [api, "__meta_ecs_tag_service_tier", "edge"],
  [api, "__meta_ecs_tag_task_version", "1.2"],
  // awsvpc on EC2: the ENI's address and subnet, and the instance behind it.
  [worker, "__meta_ecs_service_status", "ACTIVE"],
  [worker, "__meta_ecs_health_status", "UNHEALTHY"],
  [worker, "__meta_ecs_network_mode", "awsvpc"],
  [worker, "__meta_ecs_ip_address", "10.0.3.7"],
  [worker, "__meta_ecs_subnet_id", "subnet-task2"],
  [worker, "__meta_ecs_container_instance_arn", arn("container-instance/prod/ci2")],
  [worker, "__meta_ecs_ec2_instance_id", "i-0def"],
  [worker, "__meta_ecs_ec2_instance_type", "c5.xlarge"],
  [worker, "__meta_ecs_ec2_instance_private_ip", "10.0.1.6"],
  [worker, "__meta_ecs_tag_ec2_Name", "ecs-host-2"],
];

describe("every label Prometheus's role ecs writes, with INCLUDE=TAGS,SERVICES", () => {
  it.each(EXPECTED)("%s has %s = %s", (task, label, value) => {
    expect(labels.get(task)?.[label]).toBe(value);
  });

  it.each([
    [api, "__meta_ecs_container_instance_arn"],
    [api, "__meta_ecs_ec2_instance_id"],
    [worker, "__meta_ecs_public_ip"],
    [worker, "__meta_ecs_ec2_instance_public_ip"],
    [worker, "__meta_ecs_platform_family"],
  ])("%s has no %s, as Prometheus writes none", (task, label) => {
    expect(labels.get(task)?.[label]).toBeUndefined();
  });

  it("deliberately differs on network mode: a host task says host (Prometheus says bridge)", () => {
    expect(labels.get(agent)?.__meta_ecs_network_mode).toBe("host");
    expect(labels.get(agent)?.__meta_ecs_ip_address).toBe("10.0.1.5");
    // Standalone: Prometheus lists only tasks of services; we publish it, without service labels.
    expect(labels.get(agent)?.__meta_ecs_service).toBeUndefined();
  });

  it("batches DescribeServices (10 a call) and asks for tags in every describe that can give them", () => {
    const services = ecs.commandCalls(DescribeServicesCommand);
    expect(services).toHaveLength(1);
    expect(services[0]?.args[0].input).toMatchObject({ cluster: CLUSTER, include: ["TAGS"] });
    expect(ecs.commandCalls(DescribeClustersCommand)[0]?.args[0].input).toMatchObject({ include: ["TAGS"] });
    // Only the Fargate task's ENI: awsvpc on EC2 never has a public address.
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: "network-interface-id", Values: ["eni-0api"] },
    ]);
  });
});

describe("with neither TAGS nor SERVICES", () => {
  it("writes no tag family and no service ARN or status, and never calls DescribeServices", async () => {
    const plain = await reconciledLabels("");
    const names = [...plain.values()].flatMap((l) => Object.keys(l));
    expect(names.filter((n) => n.startsWith("__meta_ecs_tag_"))).toEqual([]);
    expect(names).not.toContain("__meta_ecs_service_arn");
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(0);
    // Every other Prometheus label stays on.
    expect(plain.get(api)?.__meta_ecs_public_ip).toBe("3.90.1.2");
    expect(plain.get(web)?.__meta_ecs_ec2_instance_type).toBe("m5.large");
  });
});

describe("a task that arrives by event (AWS's sample event)", () => {
  it("gets the labels only a describe knows from one DescribeTasks, DescribeServices and ENI call", async () => {
    answerAws();
    const sample = JSON.parse(
      readFileSync(new URL("../fixtures/aws-events/task-state-change-fargate.json", import.meta.url), "utf8"),
    );
    const eventRegion = sample.region as string;
    const eventCluster = sample.detail.clusterArn as string;
    const detail = { ...sample.detail, group: "service:sample" };
    const described = {
      ...detail,
      attachments: [{ ...detail.attachments[0], type: "ElasticNetworkInterface" }],
      healthStatus: "HEALTHY",
      platformFamily: "Linux",
      tags: [{ key: "team", value: "samples" }],
    };
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [described], failures: [] });
    ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: {
        ...TD("sample-fargate", "awsvpc"),
        taskDefinitionArn: detail.taskDefinitionArn,
        revision: 1,
        containerDefinitions: [{ name: "FargateApp", dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100" } }],
      } as never,
    });
    ecs.on(DescribeClustersCommand).resolves({
      clusters: [{ clusterArn: eventCluster, clusterName: "FargateCluster", status: "ACTIVE", tags: [] }],
    });
    ecs.on(DescribeServicesCommand).resolves({
      services: [{ serviceName: "sample", serviceArn: "arn:svc/sample", status: "ACTIVE", tags: [] }],
    });
    ec2.on(DescribeNetworkInterfacesCommand).resolves({
      NetworkInterfaces: [{ NetworkInterfaceId: "eni-abcd1234", Association: { PublicIp: "34.1.1.1" } }],
    });
    const output = new MemoryTargetOutput("event");
    const { deps } = composeEngine({
      config: loadEngineConfig({ INCLUDE: "TAGS,SERVICES", CLUSTERS: eventCluster }),
      log: recordingLog().log,
      region: eventRegion,
      output,
      accountId: sample.account,
    });
    const engine = new DiscoveryEngine(deps);
    await engine.run(parseTrigger({ action: "resync" }));
    ecs.resetHistory();
    ec2.resetHistory();
    await engine.run(parseTrigger({ ...sample, detail }));
    const stored = await output.read({
      accountId: sample.account,
      region: eventRegion,
      name: "FargateCluster",
    });
    const [group] = JSON.parse(stored?.body ?? "[]") as {
      targets: string[];
      labels: Record<string, string>;
    }[];
    expect(group?.targets).toEqual(["10.0.0.139:9100"]);
    expect(group?.labels).toMatchObject({
      __meta_ecs_health_status: "HEALTHY",
      __meta_ecs_platform_family: "Linux",
      __meta_ecs_platform_version: sample.detail.platformVersion,
      __meta_ecs_subnet_id: "subnet-abcd1234",
      __meta_ecs_public_ip: "34.1.1.1",
      __meta_ecs_service_arn: "arn:svc/sample",
      __meta_ecs_service_status: "ACTIVE",
      __meta_ecs_tag_task_team: "samples",
    });
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(1);
    expect(ecs.commandCalls(DescribeServicesCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeNetworkInterfacesCommand)).toHaveLength(1);

    // The same task again (a newer version, say a health change): nothing to describe.
    ecs.resetHistory();
    ec2.resetHistory();
    await engine.run(parseTrigger({ ...sample, detail: { ...detail, version: 5 } }));
    expect(ecs.calls()).toHaveLength(0);
    expect(ec2.calls()).toHaveLength(0);
    const again = await output.read({
      accountId: sample.account,
      region: eventRegion,
      name: "FargateCluster",
    });
    expect(again?.body).toBe(stored?.body);
  });
});
