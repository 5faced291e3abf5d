/**
 * judgeTask (core/verdicts.ts): one reason code per container, the facts it rests on, and the targets of a
 * container that gives some. One row per reason code, then the rows that pin down which reason wins when a
 * container has several, then the tie to target building: buildTaskTargets' `skipped` counts are exactly
 * the verdicts' non-target reasons.
 */
import { describe, expect, it } from "vitest";
import type { ContainerView, HostInfo, TaskDefinitionSpec, TaskView } from "../../lambda/core/model.js";
import { compileRules, type TargetRules } from "../../lambda/core/rules.js";
import { type Reason, SKIP_REASONS, type SkipCounts } from "../../lambda/core/skip-reasons.js";
import { buildTaskTargets } from "../../lambda/core/targets.js";
import { judgeTask } from "../../lambda/core/verdicts.js";
import { DEFAULT_LABEL_NAMES } from "../../lambda/shared/settings.js";

const ACCOUNT = "123456789012";
const CLUSTER = `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/prod`;
const DEF_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/web:7`;
const CI = `arn:aws:ecs:us-east-1:${ACCOUNT}:container-instance/prod/ci-1`;
const PORT = DEFAULT_LABEL_NAMES.port;
const DYNAMIC = DEFAULT_LABEL_NAMES.dynamicExport;

const HOST: HostInfo = {
  containerInstanceArn: CI,
  ec2InstanceId: "i-0abc",
  privateIp: "10.0.0.5",
  external: false,
};
const EXTERNAL: HostInfo = { containerInstanceArn: CI, ec2InstanceId: "mi-0abc", external: true };
/** A container instance whose EC2 instance DescribeInstances no longer returns. */
const VANISHED: HostInfo = { containerInstanceArn: CI, ec2InstanceId: "i-0gone", external: false };

const RULES = compileRules({ labels: DEFAULT_LABEL_NAMES, selectors: [], includeTags: false });
const FILTERED = compileRules({
  labels: DEFAULT_LABEL_NAMES,
  filter: { name: "scrape", value: "yes" },
  selectors: [],
  includeTags: false,
});

interface ContainerSpec {
  name: string;
  labels?: Record<string, string>;
  /** Container ports of the task definition's port mappings. */
  ports?: number[];
  /** Container port → host port, as ECS reports the task's bindings. */
  bindings?: Record<number, number>;
  /** The container's own status on the task (RUNNING by default). */
  status?: string;
}

function definition(containers: ContainerSpec[], networkMode = "bridge"): TaskDefinitionSpec {
  return {
    taskDefinitionArn: DEF_ARN,
    family: "web",
    revision: 7,
    networkMode,
    containers: containers.map((c) => ({
      name: c.name,
      image: `repo/${c.name}:1`,
      dockerLabels: c.labels ?? {},
      portMappings: (c.ports ?? []).map((containerPort) => ({ containerPort, hostPort: 0, protocol: "tcp" })),
    })),
  };
}

function container(c: ContainerSpec): ContainerView {
  return {
    name: c.name,
    containerArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:container/prod/t1/${c.name}`,
    lastStatus: c.status ?? "RUNNING",
    networkBindings: Object.entries(c.bindings ?? {}).map(([containerPort, hostPort]) => ({
      bindIP: "0.0.0.0",
      containerPort: Number(containerPort),
      hostPort,
      protocol: "tcp",
    })),
  };
}

function task(containers: ContainerSpec[], overrides: Partial<TaskView> = {}): TaskView {
  return {
    taskArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task/prod/t1`,
    clusterArn: CLUSTER,
    taskDefinitionArn: DEF_ARN,
    group: "service:web",
    launchType: "EC2",
    containerInstanceArn: CI,
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    containers: containers.map(container),
    ...overrides,
  };
}

const hostsOf = (...hosts: HostInfo[]) => new Map(hosts.map((h) => [h.containerInstanceArn, h]));

interface Row {
  name: string;
  task: TaskView;
  def: TaskDefinitionSpec | undefined;
  hosts?: Map<string, HostInfo>;
  rules?: TargetRules;
  unavailable?: string;
  /** The container looked at. */
  container: string;
  reason: Reason;
  targets?: string[];
  facts?: Record<string, unknown>;
  detail?: RegExp;
  notes?: RegExp[];
}

const APP = { name: "app", labels: { [PORT]: "8080" }, ports: [8080], bindings: { 8080: 32768 } };
const STOPPED_TASK = { lastStatus: "STOPPED", desiredStatus: "STOPPED" };

const REASON_ROWS: Row[] = [
  {
    name: "a labelled bridge container with its host port bound",
    task: task([APP]),
    def: definition([APP]),
    container: "app",
    reason: "target",
    targets: ["10.0.0.5:32768"],
  },
  {
    name: "a container with no port label and no selector",
    task: task([{ name: "app" }]),
    def: definition([{ name: "app", ports: [8080] }]),
    container: "app",
    reason: "no-port-label",
    facts: { portLabel: PORT, dynamicExportLabel: DYNAMIC },
  },
  {
    name: "FILTER_LABEL set and the container carries another value",
    task: task([{ ...APP, labels: { ...APP.labels, scrape: "no" } }]),
    def: definition([{ ...APP, labels: { ...APP.labels, scrape: "no" } }]),
    rules: FILTERED,
    container: "app",
    reason: "filtered-out",
    facts: { filterLabel: "scrape", filterValue: "yes", has: "no" },
  },
  {
    name: "FILTER_LABEL set and the container lacks it",
    task: task([APP]),
    def: definition([APP]),
    rules: FILTERED,
    container: "app",
    reason: "filtered-out",
    facts: { filterLabel: "scrape", filterValue: "yes", has: null },
  },
  {
    name: "a stopped task",
    task: task([APP], STOPPED_TASK),
    def: definition([APP]),
    container: "app",
    reason: "not-running",
    facts: { lastStatus: "STOPPED", desiredStatus: "STOPPED" },
  },
  {
    name: "a running task asked to stop",
    task: task([APP], { desiredStatus: "STOPPED" }),
    def: definition([APP]),
    container: "app",
    reason: "not-running",
    facts: { lastStatus: "RUNNING", desiredStatus: "STOPPED" },
  },
  {
    name: "a stopped container of a running task",
    task: task([{ ...APP, status: "STOPPED" }]),
    def: definition([APP]),
    container: "app",
    reason: "not-running",
    facts: { containerStatus: "STOPPED" },
  },
  {
    name: "bridge: the label's container port has no host port binding",
    task: task([{ ...APP, labels: { [PORT]: "9100" } }]),
    def: definition([{ ...APP, labels: { [PORT]: "9100" } }]),
    container: "app",
    reason: "no-host-port",
    facts: {
      networkMode: "bridge",
      containerPort: 9100,
      bindings: [{ bindIP: "0.0.0.0", containerPort: 8080, hostPort: 32768, protocol: "tcp" }],
    },
    detail: /container port 9100 has no host port binding/,
  },
  {
    name: "dynamic export without exactly one published port",
    task: task([{ name: "app", labels: { [DYNAMIC]: "1" }, bindings: { 8080: 32768, 8081: 32769 } }]),
    def: definition([{ name: "app", labels: { [DYNAMIC]: "1" }, ports: [8080, 8081] }]),
    container: "app",
    reason: "no-host-port",
    facts: { containerPort: null },
    detail: /exactly one published host port/,
  },
  {
    name: "every endpoint the labels ask for is invalid",
    task: task([{ ...APP, labels: { [PORT]: "abc" } }]),
    def: definition([{ ...APP, labels: { [PORT]: "abc" } }]),
    container: "app",
    reason: "bad-label",
    facts: { label: PORT, value: "abc", problem: expect.stringMatching(/"abc" is not a port number/) },
  },
  {
    name: "an ECS Anywhere (external) instance",
    task: task([APP], { launchType: "EXTERNAL" }),
    def: definition([APP]),
    hosts: hostsOf(EXTERNAL),
    container: "app",
    reason: "no-ec2-host",
    facts: { containerInstanceArn: CI, ec2InstanceId: "mi-0abc", external: true },
  },
  {
    name: "the container instance's EC2 instance vanished",
    task: task([APP]),
    def: definition([APP]),
    hosts: hostsOf(VANISHED),
    container: "app",
    reason: "no-ec2-host",
    facts: { containerInstanceArn: CI, ec2InstanceId: "i-0gone", external: false },
    detail: /i-0gone .* not found/,
  },
  {
    name: "a container instance ECS no longer knows",
    task: task([APP]),
    def: definition([APP]),
    hosts: hostsOf(),
    container: "app",
    reason: "no-ec2-host",
    facts: { containerInstanceArn: CI, ec2InstanceId: null, external: null },
  },
  {
    name: "a container ECS added that the task definition does not have",
    task: task([APP, { name: "ecs-service-connect-ab12", bindings: { 15000: 32769 } }]),
    def: definition([APP]),
    container: "ecs-service-connect-ab12",
    reason: "injected-container",
    facts: { taskDefinition: "web:7" },
  },
  {
    name: "a task definition ECS refused to describe",
    task: task([APP]),
    def: undefined,
    unavailable: "ClientException: Unable to describe task definition.",
    container: "app",
    reason: "definition-unavailable",
    facts: { taskDefinitionArn: DEF_ARN },
    detail: /could not be described: ClientException: Unable to describe task definition\./,
  },
];

const PRECEDENCE_ROWS: Row[] = [
  {
    name: "a stopped task's unlabelled container is no-port-label",
    task: task([APP, { name: "sidecar" }], STOPPED_TASK),
    def: definition([APP, { name: "sidecar" }]),
    container: "sidecar",
    reason: "no-port-label",
  },
  {
    name: "a stopped task's labelled container is not-running",
    task: task([APP, { name: "sidecar" }], STOPPED_TASK),
    def: definition([APP, { name: "sidecar" }]),
    container: "app",
    reason: "not-running",
  },
  {
    name: "a stopped task's filtered-out container is filtered-out",
    task: task([APP], STOPPED_TASK),
    def: definition([APP]),
    rules: FILTERED,
    container: "app",
    reason: "filtered-out",
  },
  {
    name: "a stopped task's badly labelled container is bad-label",
    task: task([{ ...APP, labels: { [PORT]: "abc" } }], STOPPED_TASK),
    def: definition([{ ...APP, labels: { [PORT]: "abc" } }]),
    container: "app",
    reason: "bad-label",
  },
  {
    name: "a stopped task on an external instance is not-running",
    task: task([APP], { ...STOPPED_TASK, launchType: "EXTERNAL" }),
    def: definition([APP]),
    hosts: hostsOf(EXTERNAL),
    container: "app",
    reason: "not-running",
  },
  {
    name: "one good and one bad endpoint label: target, with a note",
    task: task([{ ...APP, labels: { [PORT]: "8080", [`${PORT}.admin`]: "xyz" } }]),
    def: definition([{ ...APP, labels: { [PORT]: "8080", [`${PORT}.admin`]: "xyz" } }]),
    container: "app",
    reason: "target",
    targets: ["10.0.0.5:32768"],
    notes: [/PROMETHEUS_EXPORTER_PORT\.admin: port "xyz" is not a port number/],
  },
  {
    name: "one endpoint bound and one without a host port: target, with a note",
    task: task([{ ...APP, labels: { [PORT]: "8080", [`${PORT}.metrics`]: "9100" } }]),
    def: definition([{ ...APP, labels: { [PORT]: "8080", [`${PORT}.metrics`]: "9100" } }]),
    container: "app",
    reason: "target",
    targets: ["10.0.0.5:32768"],
    notes: [
      /endpoint PROMETHEUS_EXPORTER_PORT\.metrics skipped: container port 9100 has no host port binding/,
    ],
  },
  {
    name: "a filtered-out container that a selector matches is a target",
    task: task([APP]),
    def: definition([APP]),
    rules: compileRules({
      labels: DEFAULT_LABEL_NAMES,
      filter: { name: "scrape", value: "yes" },
      selectors: [{ family: "web", port: 8080 }],
      includeTags: false,
    }),
    container: "app",
    reason: "target",
    targets: ["10.0.0.5:32768"],
  },
];

function judge(row: Row) {
  return judgeTask(row.task, row.def, row.hosts ?? hostsOf(HOST), row.rules ?? RULES, {}, row.unavailable);
}

function check(row: Row): void {
  const { verdicts } = judge(row);
  const v = verdicts.find((x) => x.container === row.container);
  expect(v, `no verdict for ${row.container}`).toBeDefined();
  if (!v) return;
  expect(v.reason).toBe(row.reason);
  expect(v.groups.flatMap((g) => g.targets)).toEqual(row.targets ?? []);
  if (row.reason === "target") expect(v.groups.length).toBeGreaterThan(0);
  else expect(v.detail).not.toBe("");
  if (row.facts) expect(v.facts).toMatchObject(row.facts);
  if (row.detail) expect(v.detail).toMatch(row.detail);
  if (row.notes) {
    expect(v.notes).toHaveLength(row.notes.length);
    row.notes.forEach((note, i) => {
      expect(v.notes[i]).toMatch(note);
    });
  } else expect(v.notes).toEqual([]);
}

describe("judgeTask: one reason per container", () => {
  it.each(REASON_ROWS.map((r) => [`${r.reason}: ${r.name}`, r] as const))("%s", (_, row) => check(row));

  it("the table covers every reason judgeTask can give (cluster-not-discovered is explain's alone)", () => {
    const covered = new Set(REASON_ROWS.map((r) => r.reason));
    expect([...covered].sort()).toEqual(
      ["target", ...SKIP_REASONS.filter((r) => r !== "cluster-not-discovered")].sort(),
    );
    for (const row of [...REASON_ROWS, ...PRECEDENCE_ROWS])
      for (const v of judge(row).verdicts) expect(v.reason).not.toBe("cluster-not-discovered");
  });

  it("a refused task definition gives every container of the task definition-unavailable", () => {
    const { verdicts } = judgeTask(
      task([APP, { name: "sidecar" }, { name: "ecs-service-connect-ab12" }]),
      undefined,
      hostsOf(HOST),
      RULES,
      {},
      "ClientException: Unable to describe task definition.",
    );
    expect(verdicts.map((v) => [v.container, v.reason])).toEqual([
      ["app", "definition-unavailable"],
      ["sidecar", "definition-unavailable"],
      ["ecs-service-connect-ab12", "definition-unavailable"],
    ]);
  });

  it("verdicts come in the task definition's order, then the injected containers", () => {
    const { verdicts } = judgeTask(
      task([{ name: "ecs-service-connect-ab12" }, { name: "sidecar" }, APP]),
      definition([APP, { name: "sidecar" }]),
      hostsOf(HOST),
      RULES,
    );
    expect(verdicts.map((v) => [v.container, v.reason])).toEqual([
      ["app", "target"],
      ["sidecar", "no-port-label"],
      ["ecs-service-connect-ab12", "injected-container"],
    ]);
  });
});

describe("judgeTask: which reason wins", () => {
  it.each(PRECEDENCE_ROWS.map((r) => [r.name, r] as const))("%s", (_, row) => check(row));
});

describe("buildTaskTargets counts what judgeTask says", () => {
  const rows = [...REASON_ROWS, ...PRECEDENCE_ROWS].filter((r) => r.def !== undefined);
  it.each(rows.map((r) => [r.name, r] as const))("%s", (_, row) => {
    const { verdicts } = judge(row);
    const defs = new Map<string, TaskDefinitionSpec>();
    if (row.def) defs.set(row.def.taskDefinitionArn, row.def);
    const built = buildTaskTargets(row.task, defs, row.hosts ?? hostsOf(HOST), row.rules ?? RULES);
    const expected: SkipCounts = {};
    for (const v of verdicts) if (v.reason !== "target") expected[v.reason] = (expected[v.reason] ?? 0) + 1;
    expect(built.skipped).toEqual(expected);
    expect(built.groups).toEqual(verdicts.flatMap((v) => v.groups));
  });

  it("a task whose definition is not known counts each container as definition-unavailable", () => {
    const built = buildTaskTargets(task([APP, { name: "sidecar" }]), new Map(), hostsOf(HOST), RULES);
    expect(built.skipped).toEqual({ "definition-unavailable": 2 });
    expect(built.groups).toEqual([]);
  });

  it("a task with containers of every kind: the counts add up per reason", () => {
    const specs: ContainerSpec[] = [
      APP,
      { name: "sidecar" },
      { name: "log", labels: { [PORT]: "abc" }, ports: [8080] },
      { name: "nobind", labels: { [PORT]: "9100" }, ports: [8080], bindings: { 8080: 32770 } },
    ];
    const t = task([...specs, { name: "ecs-service-connect-ab12" }]);
    const d = definition(specs);
    const built = buildTaskTargets(t, new Map([[DEF_ARN, d]]), hostsOf(HOST), RULES);
    expect(built.skipped).toEqual({
      "no-port-label": 1,
      "bad-label": 1,
      "no-host-port": 1,
      "injected-container": 1,
    });
    expect(built.groups.flatMap((g) => g.targets)).toEqual(["10.0.0.5:32768"]);
  });
});
