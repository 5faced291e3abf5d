import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalizeTask, normalizeTaskDefinition } from "../../lambda/core/normalize.js";

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf-8"));

const TASK = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0a1b2c";
const CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/prod";
const TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";

/** A task as DescribeTasks returns it (the SDK's shape, trimmed to what matters plus some noise). */
const described = {
  taskArn: TASK,
  clusterArn: CLUSTER,
  taskDefinitionArn: TD,
  group: "service:web",
  launchType: "EC2",
  availabilityZone: "eu-west-1b",
  containerInstanceArn: "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/ci1",
  lastStatus: "RUNNING",
  desiredStatus: "RUNNING",
  version: 3,
  healthStatus: "HEALTHY",
  platformFamily: "Linux",
  createdAt: new Date("2026-01-01T00:00:00Z"),
  attachments: [
    {
      type: "ElasticNetworkInterface",
      details: [
        { name: "subnetId", value: "subnet-1" },
        { name: "networkInterfaceId", value: "eni-0f1" },
        { name: "privateIPv4Address", value: "10.1.2.3" },
      ],
    },
  ],
  containers: [
    {
      name: "app",
      containerArn: "arn:aws:ecs:eu-west-1:123456789012:container/prod/0a1b2c/1",
      image: "web:3",
      lastStatus: "RUNNING",
      networkBindings: [
        { bindIP: "0.0.0.0", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
        { bindIP: "::", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
        { containerPortRange: "9000-9001", hostPortRange: "41000-41001" },
        "not a binding",
      ],
      networkInterfaces: [{ attachmentId: "x" }, { privateIpv4Address: "10.1.2.3" }],
      cpu: "0",
    },
    { image: "a container without a name is dropped" },
  ],
  tags: [{ key: "team", value: "payments" }, { key: "empty" }, { value: "no key" }],
};

describe("normalizeTask", () => {
  it("keeps the fields target building needs from a DescribeTasks task", () => {
    expect(normalizeTask(described)).toEqual({
      task: {
        taskArn: TASK,
        clusterArn: CLUSTER,
        taskDefinitionArn: TD,
        group: "service:web",
        launchType: "EC2",
        availabilityZone: "eu-west-1b",
        containerInstanceArn: "arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/ci1",
        lastStatus: "RUNNING",
        desiredStatus: "RUNNING",
        version: 3,
        healthStatus: "HEALTHY",
        platformFamily: "Linux",
        eniPrivateIp: "10.1.2.3",
        eniId: "eni-0f1",
        subnetId: "subnet-1",
        containers: [
          {
            name: "app",
            containerArn: "arn:aws:ecs:eu-west-1:123456789012:container/prod/0a1b2c/1",
            image: "web:3",
            lastStatus: "RUNNING",
            privateIpv4Address: "10.1.2.3",
            networkBindings: [
              { bindIP: "0.0.0.0", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
              { bindIP: "::", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
              { containerPortRange: "9000-9001", hostPortRange: "41000-41001" },
            ],
          },
        ],
        tags: { team: "payments", empty: "" },
      },
    });
  });

  it("reads an EventBridge task event's detail the same way (attachment type eni, ISO times)", () => {
    const result = normalizeTask(fixture("task-state-change-fargate.json").detail);
    expect(result).toMatchObject({
      task: {
        taskArn: "arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad",
        launchType: "FARGATE",
        eniPrivateIp: "10.0.0.139",
        version: 4,
        containers: [{ name: "FargateApp", privateIpv4Address: "10.0.0.139", networkBindings: [] }],
      },
    });
    expect("task" in result && result.task.tags).toBeUndefined();
  });

  it("keeps a stopped container's status, which tells target building to leave it out", () => {
    const result = normalizeTask(fixture("task-state-change-ec2.json").detail);
    expect("task" in result && result.task.containers).toEqual([
      expect.objectContaining({ name: "xray", lastStatus: "STOPPED" }),
    ]);
  });

  it("reads numbers given as digit strings, and ignores other types", () => {
    const task = normalizeTask({
      ...described,
      version: "12",
      containers: [{ name: "a", networkBindings: [{ containerPort: "80", hostPort: "x" }] }],
    });
    expect("task" in task && task.task.version).toBe(12);
    expect("task" in task && task.task.containers[0]?.networkBindings).toEqual([{ containerPort: 80 }]);
    const odd = normalizeTask({ ...described, version: "1e3", group: 7, launchType: "" });
    expect("task" in odd && odd.task.version).toBeUndefined();
    expect("task" in odd && odd.task.group).toBeUndefined();
    expect("task" in odd && odd.task.launchType).toBeUndefined();
  });

  it.each([
    ["not an object", [], "task is not an object"],
    ["null", null, "task is not an object"],
    ["no task ARN", { ...described, taskArn: undefined }, "task has no taskArn"],
    ["no cluster ARN", { ...described, clusterArn: "" }, `task ${TASK} has no clusterArn`],
    ["no task definition", { ...described, taskDefinitionArn: 1 }, `task ${TASK} has no taskDefinitionArn`],
  ])("reports %s as a problem instead of throwing", (_, value, problem) => {
    expect(normalizeTask(value)).toEqual({ problem });
  });
});

describe("normalizeTaskDefinition", () => {
  const definition = {
    taskDefinitionArn: TD,
    family: "web",
    revision: 3,
    networkMode: "bridge",
    status: "ACTIVE",
    containerDefinitions: [
      {
        name: "app",
        image: "web:3",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080", weird: 5 },
        portMappings: [{ containerPort: 8080, hostPort: 0, protocol: "tcp" }, "junk", { containerPort: "x" }],
        essential: true,
      },
      { image: "no name" },
      "junk",
    ],
  };

  it("keeps family, revision, network mode and each container's labels and port mappings", () => {
    expect(normalizeTaskDefinition(definition)).toEqual({
      taskDefinitionArn: TD,
      family: "web",
      revision: 3,
      networkMode: "bridge",
      containers: [
        {
          name: "app",
          image: "web:3",
          dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080" },
          portMappings: [{ containerPort: 8080, hostPort: 0, protocol: "tcp" }, {}],
        },
      ],
      healthChecks: false,
    });
  });

  it("says whether any container has a health check: only then can a running task's health change", () => {
    const containerDefinitions = [
      { name: "app", healthCheck: { command: ["CMD-SHELL", "true"] } },
      { name: "sidecar" },
    ];
    expect(normalizeTaskDefinition({ ...definition, containerDefinitions })?.healthChecks).toBe(true);
  });

  it("leaves the network mode out when the definition has none (ECS's default applies)", () => {
    const { networkMode: _, ...rest } = definition;
    expect(normalizeTaskDefinition(rest)?.networkMode).toBeUndefined();
  });

  it.each([
    ["not an object", "x"],
    ["no ARN", { ...definition, taskDefinitionArn: undefined }],
    ["no family", { ...definition, family: "" }],
    ["no revision", { ...definition, revision: "latest" }],
  ])("refuses a definition with %s", (_, value) => {
    expect(normalizeTaskDefinition(value)).toBeUndefined();
  });
});
