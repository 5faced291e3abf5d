import { describe, expect, it } from "vitest";
import type { HostInfo, TaskDefinitionSpec, TaskView } from "../../lambda/core/model.js";
import { compileRules, optsIn, relevantTasks, type TargetRules } from "../../lambda/core/rules.js";
import { declaresEndpoints, parseEndpoints, parsePort } from "../../lambda/core/scrape-labels.js";
import { buildTargetGroups } from "../../lambda/core/targets.js";
import { DEFAULT_LABEL_NAMES as N, readDiscoverySettings } from "../../lambda/shared/settings.js";

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const CI = "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/ci-1";
const TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
const HOST: HostInfo = {
  containerInstanceArn: CI,
  ec2InstanceId: "i-1",
  privateIp: "10.0.0.5",
  external: false,
};

function rules(env: Record<string, string> = {}): TargetRules {
  return compileRules(readDiscoverySettings(env));
}
const PER_CONTAINER = rules();
const ONLY = rules({ DYNAMIC_EXPORT: "only" });

describe("parsePort: what Go's strconv.Atoi took, when it is a usable port", () => {
  it.each([
    ["9100", 9100],
    ["+9100", 9100],
    ["09100", 9100],
    ["0000009100", 9100],
    ["+00080", 80],
    [" 9100 ", 9100],
    ["1", 1],
    ["65535", 65535],
  ])("%j → %i", (raw, port) => {
    expect(parsePort(raw)).toBe(port);
  });

  // Atoi refused these, or took them as a number that is no port (0, negative, too large).
  it.each([
    "0",
    "+0",
    "-0",
    "-9100",
    "65536",
    "99999",
    "123456",
    "",
    "+",
    "++80",
    "9_100",
    "0x50",
    "8e3",
    "80/tcp",
  ])("%j is refused", (raw) => {
    expect(parsePort(raw)).toBeUndefined();
  });
});

describe("parseEndpoints", () => {
  it("reads settings leniently, as the old poller wrote them", () => {
    const { endpoints, problems } = parseEndpoints(
      {
        [N.port]: "+8080",
        [N.path]: " metrics ",
        [N.serverName]: "app.internal/",
        [N.jobName]: "",
        [N.scheme]: "HTTPS",
      },
      N,
    );
    expect(problems).toEqual([]);
    expect(endpoints).toEqual([
      { name: "", port: 8080, path: "metrics", serverName: "app.internal", scheme: "https" },
    ]);
  });

  it("says in each warning what was dropped and what was kept", () => {
    const { endpoints, problems } = parseEndpoints(
      {
        [N.port]: "http",
        [`${N.port}.admin`]: "9090",
        [`${N.port}.jmx`]: "-1",
        [N.interval]: "often",
        [`${N.scheme}.admin`]: "ftp",
        [N.scheme]: "https",
      },
      N,
    );
    expect(endpoints).toEqual([{ name: "admin", port: 9090, scheme: "https" }]);
    expect(problems).toEqual([
      {
        label: N.interval,
        message:
          'interval "often" is not a Prometheus duration such as 30s or 1m30s: the setting is ignored; every endpoint of the container is kept, with the scrape config\'s interval unless it sets its own',
      },
      {
        label: `${N.scheme}.admin`,
        message: `scheme "ftp" is not "http" or "https": ignored for endpoint "admin", which is kept, with scheme https from ${N.scheme}`,
      },
      {
        label: N.port,
        message:
          'port "http" is not a port number from 1 to 65535: the unnamed endpoint is dropped; kept: endpoint "admin"',
      },
      {
        label: `${N.port}.jmx`,
        message:
          'port "-1" is not a port number from 1 to 65535: endpoint "jmx" is dropped; kept: endpoint "admin"',
      },
    ]);
  });

  it("takes the dynamic-export label when there is no port label, per container", () => {
    expect(parseEndpoints({ [N.dynamicExport]: "true", [N.path]: "/m" }, N).endpoints).toEqual([
      { name: "", path: "/m" },
    ]);
    expect(parseEndpoints({ [N.dynamicExport]: "1", [N.port]: "8080" }, N).endpoints).toEqual([
      { name: "", port: 8080 },
    ]);
    expect(parseEndpoints({ [N.dynamicExport]: "0" }, N)).toEqual({ endpoints: [], problems: [] });
  });

  it("with DYNAMIC_EXPORT=only, ignores the port labels and keeps the settings", () => {
    const labels = {
      [N.dynamicExport]: "1",
      [N.port]: "8080",
      [`${N.port}.admin`]: "9090",
      [N.jobName]: "api",
    };
    expect(parseEndpoints(labels, N, true)).toEqual({ endpoints: [{ name: "", job: "api" }], problems: [] });
    expect(parseEndpoints({ [N.port]: "8080" }, N, true).endpoints).toEqual([]);
    expect(parseEndpoints({ [N.dynamicExport]: "yes" }, N, true).problems.map((p) => p.label)).toEqual([
      N.dynamicExport,
    ]);
  });
});

describe("declaresEndpoints and optsIn: a container opts in only when it has something to scrape", () => {
  it.each<[Record<string, string>, boolean, boolean]>([
    // labels, per container, DYNAMIC_EXPORT=only
    [{ [N.port]: "8080" }, true, false],
    [{ [N.port]: "abc" }, true, false],
    [{ [`${N.port}.admin`]: "9090" }, true, false],
    [{ [N.dynamicExport]: "1" }, true, true],
    [{ [N.dynamicExport]: " TRUE " }, true, true],
    [{ [N.dynamicExport]: "yes" }, true, true],
    [{ [N.dynamicExport]: "0" }, false, false],
    [{ [N.dynamicExport]: "false" }, false, false],
    [{ [N.dynamicExport]: "" }, false, false],
    [{ [N.dynamicExport]: "0", [N.port]: "8080" }, true, false],
    [{ [N.path]: "/metrics" }, false, false],
    [{}, false, false],
  ])("%j: per container %s, only %s", (labels, perContainer, only) => {
    expect(declaresEndpoints(labels, N)).toBe(perContainer);
    expect(declaresEndpoints(labels, N, true)).toBe(only);
    expect(optsIn(labels, PER_CONTAINER)).toBe(perContainer);
    expect(optsIn(labels, ONLY)).toBe(only);
  });

  it("applies the filter label in both modes", () => {
    const filtered = rules({ FILTER_LABEL: "scrape=yes" });
    const filteredOnly = rules({ FILTER_LABEL: "scrape=yes", DYNAMIC_EXPORT: "only" });
    expect(optsIn({ [N.port]: "8080", scrape: "yes" }, filtered)).toBe(true);
    expect(optsIn({ [N.port]: "8080", scrape: "no" }, filtered)).toBe(false);
    expect(optsIn({ [N.dynamicExport]: "1", scrape: "yes" }, filteredOnly)).toBe(true);
    expect(optsIn({ [N.dynamicExport]: "1" }, filteredOnly)).toBe(false);
  });
});

function bridgeTask(bindings: { containerPort: number; hostPort: number; bindIP?: string }[]): TaskView {
  return {
    taskArn: "arn:aws:ecs:us-east-1:123456789012:task/prod/t1",
    clusterArn: CLUSTER,
    taskDefinitionArn: TD,
    group: "service:web",
    launchType: "EC2",
    containerInstanceArn: CI,
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    containers: [
      {
        name: "app",
        lastStatus: "RUNNING",
        networkBindings: bindings.map((b) => ({ bindIP: "0.0.0.0", protocol: "tcp", ...b })),
      },
    ],
  };
}

function definition(labels: Record<string, string>, ports: number[] = [9090]): TaskDefinitionSpec {
  return {
    taskDefinitionArn: TD,
    family: "web",
    revision: 3,
    networkMode: "bridge",
    containers: [
      {
        name: "app",
        image: "repo/app:1",
        dockerLabels: labels,
        portMappings: ports.map((containerPort) => ({ containerPort, hostPort: 0, protocol: "tcp" })),
      },
    ],
  };
}

/** As the engine does it: only relevant tasks are recorded, then their targets are built. */
function pipeline(task: TaskView, def: TaskDefinitionSpec, r: TargetRules) {
  const taskDefinitions = new Map([[def.taskDefinitionArn, def]]);
  const tasks = relevantTasks([task], taskDefinitions, r);
  const built = buildTargetGroups({ tasks, taskDefinitions, hosts: new Map([[CI, HOST]]), rules: r });
  return { recorded: tasks.length, targets: built.groups.map((g) => g.targets[0]), warnings: built.warnings };
}

describe("DYNAMIC_EXPORT=only: the old poller's -config.dynamic-port-detection", () => {
  const single = bridgeTask([{ containerPort: 9090, hostPort: 32770 }]);

  it("scrapes the single host port of a container labelled 1, ignoring its port label", () => {
    const def = definition({ [N.dynamicExport]: "1", [N.port]: "8080", [N.path]: "/m" });
    expect(pipeline(single, def, ONLY)).toEqual({ recorded: 1, targets: ["10.0.0.5:32770"], warnings: [] });
    // Per container, the port label wins (8080 has no binding here).
    expect(pipeline(single, def, PER_CONTAINER).targets).toEqual([]);
  });

  it("does not record a task whose containers only have port labels", () => {
    const def = definition({ [N.port]: "9090", [`${N.port}.admin`]: "9090" });
    expect(pipeline(single, def, ONLY)).toEqual({ recorded: 0, targets: [], warnings: [] });
    expect(pipeline(single, def, PER_CONTAINER).targets).toEqual(["10.0.0.5:32770", "10.0.0.5:32770"]);
  });

  it("does not record a task labelled 0, in either mode", () => {
    const def = definition({ [N.dynamicExport]: "0" });
    expect(pipeline(single, def, ONLY).recorded).toBe(0);
    expect(pipeline(single, def, PER_CONTAINER).recorded).toBe(0);
  });

  it("warns about a value that is neither 1 nor 0", () => {
    const result = pipeline(single, definition({ [N.dynamicExport]: "yes" }), ONLY);
    expect(result.recorded).toBe(1);
    expect(result.targets).toEqual([]);
    expect(result.warnings).toMatchObject([{ container: "app", label: N.dynamicExport }]);
  });

  it("skips, with a warning, a container that publishes more than one host port", () => {
    const two = bridgeTask([
      { containerPort: 9090, hostPort: 32770 },
      { containerPort: 8080, hostPort: 32771 },
    ]);
    const result = pipeline(two, definition({ [N.dynamicExport]: "1" }, [9090, 8080]), ONLY);
    expect(result.targets).toEqual([]);
    expect(result.warnings[0]?.message).toMatch(/exactly one published host port/);
  });

  it("honours the filter label and the renamed dynamic-export label", () => {
    const renamed = rules({
      DYNAMIC_EXPORT: "only",
      DYNAMIC_EXPORT_LABEL: "scrape.dynamic",
      FILTER_LABEL: "team",
    });
    expect(pipeline(single, definition({ "scrape.dynamic": "1", team: "a" }), renamed).targets).toEqual([
      "10.0.0.5:32770",
    ]);
    expect(pipeline(single, definition({ "scrape.dynamic": "1" }), renamed).recorded).toBe(0);
    expect(pipeline(single, definition({ [N.dynamicExport]: "1", team: "a" }), renamed).recorded).toBe(0);
  });

  it("keeps selectors working", () => {
    const withSelector = rules({
      DYNAMIC_EXPORT: "only",
      SELECTORS: JSON.stringify([{ family: "web", port: 9090 }]),
    });
    expect(pipeline(single, definition({}), withSelector).targets).toEqual(["10.0.0.5:32770"]);
  });
});
