import { describe, expect, it } from "vitest";
import { hostPortFor } from "../../lambda/core/addresses.js";
import { sanitizeLabelName } from "../../lambda/core/group-labels.js";
import type { HostInfo, TaskDefinitionSpec, TaskView } from "../../lambda/core/model.js";
import { compileSelector, type TargetRules } from "../../lambda/core/rules.js";
import { buildTargetGroups } from "../../lambda/core/targets.js";
import { serializeGroups } from "../../lambda/shared/file-sd.js";
import {
  DEFAULT_LABEL_NAMES as DEFAULT_LABELS,
  parseSelectors as readSelectors,
} from "../../lambda/shared/settings.js";

const parseSelectors = (raw: string) => readSelectors(raw).map(compileSelector);

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const CI = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/ci-1";
const HOST: HostInfo = {
  containerInstanceArn: CI,
  ec2InstanceId: "i-0abc",
  privateIp: "10.0.0.5",
  external: false,
};
const RULES: TargetRules = {
  labels: DEFAULT_LABELS,
  selectors: [],
  includeTags: false,
  includeServices: false,
  dynamicExportOnly: false,
};

function def(
  networkMode: string | undefined,
  labels: Record<string, string>,
  extra: Partial<TaskDefinitionSpec> = {},
): TaskDefinitionSpec {
  return {
    taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    family: "web",
    revision: 7,
    ...(networkMode ? { networkMode } : {}),
    containers: [
      {
        name: "app",
        image: "repo/app:1",
        dockerLabels: labels,
        portMappings: [{ containerPort: 8080, hostPort: 0, protocol: "tcp" }],
      },
    ],
    ...extra,
  };
}

function task(overrides: Partial<TaskView> = {}): TaskView {
  return {
    taskArn: "arn:aws:ecs:us-east-1:123456789012:task/prod/t1",
    clusterArn: CLUSTER,
    taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
    group: "service:web",
    launchType: "EC2",
    availabilityZone: "us-east-1a",
    containerInstanceArn: CI,
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    containers: [
      {
        name: "app",
        containerArn: "arn:aws:ecs:us-east-1:123456789012:container/prod/t1/c1",
        lastStatus: "RUNNING",
        networkBindings: [
          { bindIP: "0.0.0.0", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
          { bindIP: "::", containerPort: 8080, hostPort: 32768, protocol: "tcp" },
        ],
      },
    ],
    ...overrides,
  };
}

function build(t: TaskView, d: TaskDefinitionSpec, rules: TargetRules = RULES, hosts: HostInfo[] = [HOST]) {
  return buildTargetGroups({
    tasks: [t],
    taskDefinitions: new Map([[d.taskDefinitionArn, d]]),
    hosts: new Map(hosts.map((h) => [h.containerInstanceArn, h])),
    rules,
  });
}

describe("addresses by network mode", () => {
  const awsvpcTask = task({
    launchType: "FARGATE",
    containerInstanceArn: undefined,
    eniPrivateIp: "10.1.2.3",
    containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }],
  });
  it.each([
    [
      "bridge with a dynamic host port, IPv4 binding preferred",
      task(),
      def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.0.0.5:32768",
    ],
    [
      "bridge when the task definition omits networkMode",
      task(),
      def(undefined, { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.0.0.5:32768",
    ],
    [
      "bridge binding reported only for IPv6",
      task({
        containers: [
          {
            name: "app",
            lastStatus: "RUNNING",
            networkBindings: [{ bindIP: "::", containerPort: 8080, hostPort: 40000 }],
          },
        ],
      }),
      def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.0.0.5:40000",
    ],
    [
      "bridge port range binding",
      task({
        containers: [
          {
            name: "app",
            lastStatus: "RUNNING",
            networkBindings: [
              {
                bindIP: "0.0.0.0",
                containerPortRange: "9000-9010",
                hostPortRange: "41000-41010",
                protocol: "tcp",
              },
            ],
          },
        ],
      }),
      def("bridge", { PROMETHEUS_EXPORTER_PORT: "9004" }),
      "10.0.0.5:41004",
    ],
    [
      "host mode uses host IP and the container port",
      task({ containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }] }),
      def("host", { PROMETHEUS_EXPORTER_PORT: "9100" }),
      "10.0.0.5:9100",
    ],
    [
      "awsvpc on Fargate uses the ENI address",
      awsvpcTask,
      def("awsvpc", { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.1.2.3:8080",
    ],
    [
      "awsvpc on EC2 uses the container's ENI address",
      task({
        eniPrivateIp: undefined,
        containers: [
          { name: "app", lastStatus: "RUNNING", privateIpv4Address: "10.9.9.9", networkBindings: [] },
        ],
      }),
      def("awsvpc", { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.9.9.9:8080",
    ],
    [
      "Fargate without networkMode defaults to awsvpc",
      awsvpcTask,
      def(undefined, { PROMETHEUS_EXPORTER_PORT: "8080" }),
      "10.1.2.3:8080",
    ],
    [
      "server name replaces the IP",
      task(),
      def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080", PROMETHEUS_EXPORTER_SERVER_NAME: "app.internal" }),
      "app.internal:32768",
    ],
    [
      "dynamic export takes the single host port",
      task(),
      def("bridge", { PROMETHEUS_DYNAMIC_EXPORT: "1" }),
      "10.0.0.5:32768",
    ],
  ])("%s", (_name, t, d, target) => {
    const result = build(t, d);
    expect(result.warnings).toEqual([]);
    expect(result.groups.map((g) => g.targets)).toEqual([[target]]);
  });

  it("keeps the container port in __meta_ecs_container_port in dynamic-export mode, where the address has the host port", () => {
    const { groups } = build(task(), def("bridge", { PROMETHEUS_DYNAMIC_EXPORT: "1" }));
    expect(groups[0]?.targets).toEqual(["10.0.0.5:32768"]);
    expect(groups[0]?.labels.__meta_ecs_container_port).toBe("8080");
  });

  it("reports the network mode and address in meta labels", () => {
    const { groups } = build(task(), def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }));
    expect(groups[0]?.labels).toMatchObject({
      __meta_ecs_network_mode: "bridge",
      __meta_ecs_ip_address: "10.0.0.5",
      __meta_ecs_ec2_instance_id: "i-0abc",
      __meta_ecs_container_instance_arn: CI,
      __meta_ecs_container_port: "8080",
    });
  });
});

describe("labels", () => {
  it("carries the old tool's labels and the Prometheus-native ones", () => {
    const { groups } = build(
      task(),
      def("bridge", {
        PROMETHEUS_EXPORTER_PORT: "8080",
        PROMETHEUS_EXPORTER_PATH: "/prom",
        PROMETHEUS_EXPORTER_SCHEME: "HTTPS",
        PROMETHEUS_EXPORTER_JOB_NAME: "api",
        PROMETHEUS_EXPORTER_INTERVAL: "15s",
        PROMETHEUS_EXPORTER_TIMEOUT: "10s",
        "com.example.team": "payments",
      }),
    );
    expect(groups).toHaveLength(1);
    expect(groups[0]?.labels).toEqual({
      task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/t1",
      task_name: "web",
      task_revision: "7",
      task_group: "service:web",
      cluster_arn: CLUSTER,
      container_name: "app",
      container_arn: "arn:aws:ecs:us-east-1:123456789012:container/prod/t1/c1",
      docker_image: "repo/app:1",
      job: "api",
      __metrics_path__: "/prom",
      __scheme__: "https",
      __scrape_interval__: "15s",
      __scrape_timeout__: "10s",
      __meta_ecs_cluster: "prod",
      __meta_ecs_cluster_arn: CLUSTER,
      __meta_ecs_region: "us-east-1",
      __meta_ecs_service: "web",
      __meta_ecs_task_group: "service:web",
      __meta_ecs_task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/t1",
      __meta_ecs_task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
      __meta_ecs_task_family: "web",
      __meta_ecs_task_revision: "7",
      __meta_ecs_desired_status: "RUNNING",
      __meta_ecs_last_status: "RUNNING",
      __meta_ecs_launch_type: "EC2",
      __meta_ecs_availability_zone: "us-east-1a",
      __meta_ecs_ip_address: "10.0.0.5",
      __meta_ecs_network_mode: "bridge",
      __meta_ecs_container_instance_arn: CI,
      __meta_ecs_ec2_instance_id: "i-0abc",
      __meta_ecs_ec2_instance_private_ip: "10.0.0.5",
      __meta_ecs_container_name: "app",
      __meta_ecs_container_port: "8080",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_PORT: "8080",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_PATH: "/prom",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_SCHEME: "HTTPS",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_JOB_NAME: "api",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_INTERVAL: "15s",
      __meta_ecs_container_label_PROMETHEUS_EXPORTER_TIMEOUT: "10s",
      __meta_ecs_container_label_com_example_team: "payments",
    });
  });

  it("omits the service label for standalone tasks and adds task tags only when asked", () => {
    const t = task({ group: "family:web", tags: { "team:name": "core", env: "prod" } });
    const without = build(t, def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }));
    expect(without.groups[0]?.labels.__meta_ecs_service).toBeUndefined();
    expect(without.groups[0]?.labels.__meta_ecs_tag_task_env).toBeUndefined();
    const withTags = build(t, def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }), {
      ...RULES,
      includeTags: true,
    });
    expect(withTags.groups[0]?.labels).toMatchObject({
      __meta_ecs_tag_task_team_name: "core",
      __meta_ecs_tag_task_env: "prod",
    });
  });

  it.each([
    ["a.b-c", "a_b_c"],
    ["9lives", "9lives"],
    ["ok_Name1", "ok_Name1"],
    ["com.docker/compose", "com_docker_compose"],
  ])("sanitizes %s to %s", (input, output) => {
    expect(sanitizeLabelName(input)).toBe(output);
  });
});

describe("several endpoints per container", () => {
  it("makes one group per named endpoint, inheriting unnamed options", () => {
    const d = def("host", {
      PROMETHEUS_EXPORTER_PORT: "8080",
      PROMETHEUS_EXPORTER_PATH: "/metrics",
      "PROMETHEUS_EXPORTER_PORT.admin": "9090",
      "PROMETHEUS_EXPORTER_PATH.admin": "/admin/metrics",
      "PROMETHEUS_EXPORTER_JOB_NAME.admin": "admin",
      "PROMETHEUS_EXPORTER_PORT.jmx": "9404",
    });
    const { groups, warnings } = build(
      task({ containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }] }),
      d,
    );
    expect(warnings).toEqual([]);
    const byTarget = Object.fromEntries(groups.map((g) => [g.targets[0], g.labels]));
    expect(Object.keys(byTarget).sort()).toEqual(["10.0.0.5:8080", "10.0.0.5:9090", "10.0.0.5:9404"]);
    expect(byTarget["10.0.0.5:9090"]).toMatchObject({
      __metrics_path__: "/admin/metrics",
      job: "admin",
      __meta_ecs_endpoint: "admin",
    });
    expect(byTarget["10.0.0.5:9404"]).toMatchObject({
      __metrics_path__: "/metrics",
      __meta_ecs_endpoint: "jmx",
    });
    expect(byTarget["10.0.0.5:8080"]?.__meta_ecs_endpoint).toBeUndefined();
  });
});

describe("lifecycle", () => {
  it.each([
    ["RUNNING", "RUNNING", 1],
    ["PENDING", "RUNNING", 0],
    ["PROVISIONING", "RUNNING", 0],
    ["RUNNING", "STOPPED", 0],
    ["DEACTIVATING", "STOPPED", 0],
    ["STOPPED", "STOPPED", 0],
  ])("lastStatus %s, desiredStatus %s → %i targets", (lastStatus, desiredStatus, count) => {
    const { groups } = build(
      task({ lastStatus, desiredStatus }),
      def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }),
    );
    expect(groups).toHaveLength(count);
  });

  it("ignores containers ECS injected (Service Connect) and exited containers", () => {
    const t = task({
      containers: [
        ...task().containers,
        {
          name: "ecs-service-connect-abc",
          lastStatus: "RUNNING",
          networkBindings: [{ bindIP: "0.0.0.0", containerPort: 15000, hostPort: 33000 }],
        },
      ],
    });
    const d = def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" });
    expect(build(t, d).groups).toHaveLength(1);
    const exited = task({
      containers: [{ ...task().containers[0], name: "app", lastStatus: "STOPPED", networkBindings: [] }],
    });
    expect(build(exited, d).groups).toHaveLength(0);
  });
});

describe("malformed labels: a bad label costs only what it names, with one warning naming task, container and label", () => {
  const P = "PROMETHEUS_EXPORTER_PORT";
  const hostTask = task({ containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }] });
  // [label at fault, docker labels, targets of the container that stay, what the warning says]
  it.each<[string, Record<string, string>, string[], RegExp]>([
    [P, { [P]: "abc" }, [], /^port "abc" is not a port .*: the unnamed endpoint is dropped; no endpoint/],
    [P, { [P]: "99999" }, [], /unnamed endpoint is dropped/],
    [P, { [P]: "0" }, [], /unnamed endpoint is dropped/],
    [P, { [P]: "-8080" }, [], /unnamed endpoint is dropped/],
    [P, { [P]: "" }, [], /unnamed endpoint is dropped/],
    [
      P,
      { [P]: "abc", [`${P}.admin`]: "9090" },
      ["10.0.0.5:9090"],
      /unnamed endpoint is dropped; kept: endpoint "admin"$/,
    ],
    [
      "PROMETHEUS_EXPORTER_SCHEME",
      { [P]: "8080", PROMETHEUS_EXPORTER_SCHEME: "ftp" },
      ["10.0.0.5:8080"],
      /^scheme "ftp" is not "http" or "https": the setting is ignored; every endpoint .* is kept/,
    ],
    [
      "PROMETHEUS_EXPORTER_INTERVAL",
      { [P]: "8080", PROMETHEUS_EXPORTER_INTERVAL: "soon" },
      ["10.0.0.5:8080"],
      /the scrape config's interval/,
    ],
    [
      "PROMETHEUS_EXPORTER_TIMEOUT",
      { [P]: "8080", PROMETHEUS_EXPORTER_TIMEOUT: "-5s" },
      ["10.0.0.5:8080"],
      /ignored/,
    ],
    [
      "PROMETHEUS_EXPORTER_TIMEOUT",
      { [P]: "8080", PROMETHEUS_EXPORTER_INTERVAL: "10s", PROMETHEUS_EXPORTER_TIMEOUT: "30s" },
      ["10.0.0.5:8080"],
      /longer than the interval 10s.*both PROMETHEUS_EXPORTER_INTERVAL and PROMETHEUS_EXPORTER_TIMEOUT are ignored/,
    ],
    [
      "PROMETHEUS_EXPORTER_SERVER_NAME",
      { [P]: "8080", PROMETHEUS_EXPORTER_SERVER_NAME: "host:9000" },
      ["10.0.0.5:8080"],
      /with the task's IP address/,
    ],
    ["PROMETHEUS_DYNAMIC_EXPORT", { PROMETHEUS_DYNAMIC_EXPORT: "yes please" }, [], /dynamic-export endpoint/],
    [
      `${P}.admin`,
      { [P]: "8080", [`${P}.admin`]: "x" },
      ["10.0.0.5:8080"],
      /endpoint "admin" is dropped; kept: the unnamed endpoint$/,
    ],
    [
      `${P}.bad name`,
      { [P]: "8080", [`${P}.bad name`]: "9000" },
      ["10.0.0.5:8080"],
      /this endpoint is dropped/,
    ],
    [
      "PROMETHEUS_EXPORTER_SCHEME.admin",
      { [P]: "8080", [`${P}.admin`]: "9090", "PROMETHEUS_EXPORTER_SCHEME.admin": "ftp" },
      ["10.0.0.5:8080", "10.0.0.5:9090"],
      /ignored for endpoint "admin", which is kept, with the scrape config's scheme/,
    ],
    [
      "PROMETHEUS_EXPORTER_INTERVAL.a",
      {
        [P]: "8080",
        [`${P}.a`]: "9090",
        "PROMETHEUS_EXPORTER_INTERVAL.a": "10s",
        PROMETHEUS_EXPORTER_TIMEOUT: "30s",
      },
      ["10.0.0.5:8080", "10.0.0.5:9090"],
      /PROMETHEUS_EXPORTER_INTERVAL.a is ignored for endpoint "a", which is kept, with the scrape config's interval and timeout 30s/,
    ],
  ])("%s in %j", (label, labels, kept, message) => {
    const goodTask = task({
      taskArn: "arn:aws:ecs:us-east-1:123456789012:task/prod/good",
      taskDefinitionArn: "arn:good",
    });
    const good = def(
      "bridge",
      { PROMETHEUS_EXPORTER_PORT: "8080" },
      { taskDefinitionArn: "arn:good", family: "good" },
    );
    const bad = def("host", labels);
    const result = buildTargetGroups({
      tasks: [goodTask, hostTask],
      taskDefinitions: new Map([
        ["arn:good", good],
        [bad.taskDefinitionArn, bad],
      ]),
      hosts: new Map([[CI, HOST]]),
      rules: RULES,
    });
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatchObject({ taskArn: hostTask.taskArn, container: "app", label });
    expect(result.warnings[0]?.message).toMatch(message);
    const byTask = (arn: string) =>
      result.groups.filter((g) => g.labels.task_arn === arn).map((g) => g.targets[0]);
    expect(byTask(goodTask.taskArn)).toEqual(["10.0.0.5:32768"]);
    expect(byTask(hostTask.taskArn)).toEqual(kept);
  });

  it("drops a bad setting for the endpoints that inherit it, not the value they set themselves", () => {
    const { groups } = build(
      task({ containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }] }),
      def("host", {
        PROMETHEUS_EXPORTER_PORT: "8080",
        PROMETHEUS_EXPORTER_SCHEME: "ftp",
        PROMETHEUS_EXPORTER_INTERVAL: "10s",
        PROMETHEUS_EXPORTER_TIMEOUT: "5s",
        "PROMETHEUS_EXPORTER_PORT.a": "9090",
        "PROMETHEUS_EXPORTER_SCHEME.a": "https",
        "PROMETHEUS_EXPORTER_TIMEOUT.a": "30s",
      }),
    );
    const byTarget = Object.fromEntries(groups.map((g) => [g.targets[0], g.labels]));
    expect(byTarget["10.0.0.5:8080"]).toMatchObject({ __scrape_interval__: "10s", __scrape_timeout__: "5s" });
    expect(byTarget["10.0.0.5:8080"]?.__scheme__).toBeUndefined();
    // The endpoint's own timeout clashed with the inherited interval: it falls back to the container's pair.
    expect(byTarget["10.0.0.5:9090"]).toMatchObject({
      __scheme__: "https",
      __scrape_interval__: "10s",
      __scrape_timeout__: "5s",
    });
  });
});

describe("what the old poller accepted is accepted, without a warning", () => {
  const P = "PROMETHEUS_EXPORTER_PORT";
  const hostTask = task({ containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }] });
  it.each<[string, Record<string, string>, string, Record<string, string | undefined>]>([
    [
      "a path without /, as written",
      { [P]: "8080", PROMETHEUS_EXPORTER_PATH: "metrics" },
      "10.0.0.5:8080",
      {
        __metrics_path__: "metrics",
      },
    ],
    [
      "a named path without /",
      { [`${P}.a`]: "8080", "PROMETHEUS_EXPORTER_PATH.a": "admin/metrics" },
      "10.0.0.5:8080",
      { __metrics_path__: "admin/metrics" },
    ],
    [
      "an empty path: Prometheus's default",
      { [P]: "8080", PROMETHEUS_EXPORTER_PATH: "" },
      "10.0.0.5:8080",
      {
        __metrics_path__: undefined,
      },
    ],
    [
      "a server name with trailing /",
      { [P]: "8080", PROMETHEUS_EXPORTER_SERVER_NAME: "app.internal//" },
      "app.internal:8080",
      {},
    ],
    [
      "an empty job name: no job label",
      { [P]: "8080", PROMETHEUS_EXPORTER_JOB_NAME: "" },
      "10.0.0.5:8080",
      {
        job: undefined,
      },
    ],
    [
      "a blank job name: no job label",
      { [P]: "8080", PROMETHEUS_EXPORTER_JOB_NAME: "  " },
      "10.0.0.5:8080",
      {
        job: undefined,
      },
    ],
    [
      "an empty named job name clears the container's",
      {
        [P]: "8080",
        [`${P}.a`]: "9090",
        PROMETHEUS_EXPORTER_JOB_NAME: "api",
        "PROMETHEUS_EXPORTER_JOB_NAME.a": "",
      },
      "10.0.0.5:9090",
      { job: undefined },
    ],
    ["a port with a + sign", { [P]: "+8080" }, "10.0.0.5:8080", {}],
    ["a port with leading zeros", { [P]: "0008080" }, "10.0.0.5:8080", {}],
    ["a port in white space", { [P]: " 8080\n" }, "10.0.0.5:8080", {}],
    [
      "an upper-case scheme",
      { [P]: "8080", PROMETHEUS_EXPORTER_SCHEME: "HTTPS" },
      "10.0.0.5:8080",
      {
        __scheme__: "https",
      },
    ],
  ])("%s", (_name, labels, target, expected) => {
    const { groups, warnings } = build(hostTask, def("host", labels));
    expect(warnings).toEqual([]);
    const group = groups.find((g) => g.targets[0] === target);
    expect(group, `a target ${target}`).toBeDefined();
    for (const [name, value] of Object.entries(expected)) expect(group?.labels[name]).toBe(value);
  });
});

describe("hosts the engine cannot address", () => {
  it.each([
    [
      "an ECS Anywhere host",
      { ...HOST, ec2InstanceId: "mi-123", privateIp: undefined, external: true },
      /ECS Anywhere/,
    ],
    ["a vanished EC2 instance", { ...HOST, privateIp: undefined }, /was not found/],
  ])("skips a task on %s with a warning", (_name, host, message) => {
    const result = build(task(), def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }), RULES, [
      host as HostInfo,
    ]);
    expect(result.groups).toEqual([]);
    expect(result.warnings[0]?.message).toMatch(message);
  });

  it("warns when the labelled port has no binding", () => {
    const result = build(task(), def("bridge", { PROMETHEUS_EXPORTER_PORT: "9999" }));
    expect(result.groups).toEqual([]);
    expect(result.warnings[0]?.message).toMatch(/container port 9999 has no host port binding/);
  });
});

describe("filter label, custom label names and selectors", () => {
  it.each([
    [{ name: "SCRAPE" }, { SCRAPE: "anything" }, 1],
    [{ name: "SCRAPE" }, {}, 0],
    [{ name: "SCRAPE", value: "yes" }, { SCRAPE: "yes" }, 1],
    [{ name: "SCRAPE", value: "yes" }, { SCRAPE: "no" }, 0],
  ])("filter %j with labels %j → %i", (filter, extra, count) => {
    const { groups } = build(task(), def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080", ...extra }), {
      ...RULES,
      filter,
    });
    expect(groups).toHaveLength(count);
  });

  it("reads configured label names instead of the defaults", () => {
    const labels = {
      ...DEFAULT_LABELS,
      port: "com.prometheus-ecs-discovery.port",
      path: "com.prometheus-ecs-discovery.path",
    };
    const d = def("bridge", {
      "com.prometheus-ecs-discovery.port": "8080",
      "com.prometheus-ecs-discovery.path": "/x",
    });
    const { groups } = build(task(), d, { ...RULES, labels });
    expect(groups[0]?.targets).toEqual(["10.0.0.5:32768"]);
    expect(groups[0]?.labels.__metrics_path__).toBe("/x");
    expect(
      build(task(), def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080" }), { ...RULES, labels }).groups,
    ).toEqual([]);
  });

  it("targets unlabelled containers matched by a selector", () => {
    const selectors = parseSelectors(
      JSON.stringify([{ service: "we.*", container: "app", port: 8080, path: "/m", job: "sel" }]),
    );
    const { groups } = build(task(), def("bridge", {}), { ...RULES, selectors });
    expect(groups).toHaveLength(1);
    expect(groups[0]?.labels).toMatchObject({ job: "sel", __metrics_path__: "/m" });
    const other = parseSelectors(JSON.stringify([{ family: "other", port: 8080 }]));
    expect(build(task(), def("bridge", {}), { ...RULES, selectors: other }).groups).toEqual([]);
  });
});

describe("determinism", () => {
  it("serializes byte for byte the same whatever the input order", () => {
    const d = def("host", { PROMETHEUS_EXPORTER_PORT: "8080", "PROMETHEUS_EXPORTER_PORT.b": "9000" });
    const tasks = ["t3", "t1", "t2"].map((id) =>
      task({
        taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod/${id}`,
        containers: [{ name: "app", lastStatus: "RUNNING", networkBindings: [] }],
      }),
    );
    const run = (order: TaskView[]) =>
      serializeGroups(
        buildTargetGroups({
          tasks: order,
          taskDefinitions: new Map([[d.taskDefinitionArn, d]]),
          hosts: new Map([[CI, HOST]]),
          rules: RULES,
        }).groups,
      );
    const a = run(tasks);
    expect(run([...tasks].reverse())).toBe(a);
    const parsed = JSON.parse(a) as { labels: Record<string, string> }[];
    expect(parsed).toHaveLength(6);
    for (const g of parsed) expect(Object.keys(g.labels)).toEqual(Object.keys(g.labels).sort());
    expect(serializeGroups([])).toBe("[]\n");
  });

  it("picks the IPv4 binding when the agent reports both", () => {
    expect(
      hostPortFor(
        [
          { bindIP: "::", containerPort: 80, hostPort: 1111 },
          { bindIP: "0.0.0.0", containerPort: 80, hostPort: 2222 },
        ],
        80,
      ),
    ).toBe(2222);
  });
});

describe("the file_sd contract, held to every group before it is published", () => {
  it.each([70000, -1])(
    "skips an endpoint whose host port %i the agent reported, keeping the others",
    (hostPort) => {
      const t = task({
        containers: [
          {
            name: "app",
            lastStatus: "RUNNING",
            networkBindings: [
              { containerPort: 8080, hostPort, protocol: "tcp" },
              { containerPort: 9090, hostPort: 32770, protocol: "tcp" },
            ],
          },
        ],
      });
      const result = build(
        t,
        def("bridge", { PROMETHEUS_EXPORTER_PORT: "8080", "PROMETHEUS_EXPORTER_PORT.admin": "9090" }),
      );
      expect(result.groups.map((g) => g.targets)).toEqual([["10.0.0.5:32770"]]);
      expect(result.warnings).toEqual([
        {
          taskArn: t.taskArn,
          container: "app",
          message: `endpoint skipped: group.targets[0] "10.0.0.5:${hostPort}" is not host:port`,
        },
      ]);
    },
  );
});
