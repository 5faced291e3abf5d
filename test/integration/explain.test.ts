/**
 * `explain` against the stand-in, through the real CLI (its own process, the real SDK clients) and through
 * `invoke({ action: "explain", … })`: a fleet in which every reason code occurs, one task per reason where
 * possible, and every container's reason, targets, cluster and task checked.
 */

import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DescribeTaskDefinitionCommand, ECSClient } from "@aws-sdk/client-ecs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExplainedContainer, ExplainReport } from "../../lambda/explain/explain.js";
import { invoke, type QueueResponse } from "../../lambda/invoke.js";
import { InputError } from "../../lambda/triggers/parse-trigger.js";
import { RecordingOutput } from "../property/recording.js";
import { type StandIn, startStandIn } from "../standin/index.js";
import { cli, type Run, tmp } from "../support/cli-run.js";
import { engineAgainst } from "../support/engine-harness.js";
import { errorOf } from "../support/standin-clients.js";

const PORT = "PROMETHEUS_EXPORTER_PORT";
/** What this deployment discovers: FILTER_LABEL scrape=yes, CLUSTERS main (not "other"). */
const SETTINGS = { CLUSTERS: "main", FILTER_LABEL: "scrape=yes" };

interface Expected {
  reason: string;
  targets?: string[];
  facts?: Record<string, unknown>;
  detail?: RegExp;
  notes?: RegExp[];
}

interface TaskCase {
  arn: string;
  cluster: "main" | "other";
  lastStatus: string;
  desiredStatus: string;
  /** By container name, in the order explain gives them (task definition order, then injected ones). */
  containers: [string, Expected][];
}

let standIn: StandIn;
let env: Record<string, string>;
const tasks: Record<string, TaskCase> = {};

const idOf = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

/** Every bridge container but the filtered ones carries scrape=yes, so FILTER_LABEL lets it through. */
const labelled = (port: string, extra: Record<string, string> = {}) => ({
  [PORT]: port,
  scrape: "yes",
  ...extra,
});

function buildFleet(s: StandIn): void {
  const f = s.fleet;
  f.addCluster("main");
  f.addCluster("other");
  const host = f.addHost("main", { privateIp: "10.1.0.5" });
  const anywhere = f.addHost("main", { external: true });
  const doomed = f.addHost("main", { privateIp: "10.1.0.9" });
  const otherHost = f.addHost("other", { privateIp: "10.2.0.5" });

  f.registerTaskDefinition({
    family: "good",
    containers: [
      {
        name: "app",
        image: "app:1",
        dockerLabels: labelled("9100"),
        portMappings: [{ containerPort: 9100 }],
      },
      { name: "sidecar", image: "fluentbit:1" },
    ],
  });
  f.registerTaskDefinition({
    family: "missing-port",
    containers: [
      {
        name: "exporter",
        image: "exporter:1",
        dockerLabels: labelled("9200"),
        portMappings: [{ containerPort: 8080 }],
      },
    ],
  });
  f.registerTaskDefinition({
    family: "edge",
    containers: [
      {
        name: "agent",
        image: "agent:1",
        dockerLabels: labelled("9300"),
        portMappings: [{ containerPort: 9300 }],
      },
    ],
  });
  f.registerTaskDefinition({
    family: "broken",
    containers: [
      { name: "app", image: "app:1", dockerLabels: labelled("abc"), portMappings: [{ containerPort: 8080 }] },
      {
        name: "mixed",
        image: "mixed:1",
        dockerLabels: labelled("9400", { [`${PORT}.admin`]: "xyz" }),
        portMappings: [{ containerPort: 9400 }],
      },
    ],
  });
  f.registerTaskDefinition({
    family: "quiet",
    containers: [
      {
        name: "app",
        image: "app:1",
        dockerLabels: { [PORT]: "9500", scrape: "no" },
        portMappings: [{ containerPort: 9500 }],
      },
      {
        name: "bare",
        image: "bare:1",
        dockerLabels: { [PORT]: "9501" },
        portMappings: [{ containerPort: 9501 }],
      },
    ],
  });
  f.registerTaskDefinition({
    family: "gone",
    containers: [
      {
        name: "app",
        image: "app:1",
        dockerLabels: labelled("9600"),
        portMappings: [{ containerPort: 9600 }],
      },
    ],
  });

  const on = { host: host.containerInstanceArn };
  const hostPort = (arn: string, container: string) => {
    const c = f.findTask(arn)?.containers.find((x) => x.name === container);
    return c?.bindings[0]?.hostPort;
  };
  const running = { lastStatus: "RUNNING", desiredStatus: "RUNNING" };

  const target = f.runTask("main", { taskDefinition: "good", serviceName: "api", ...on });
  tasks.target = {
    arn: target,
    cluster: "main",
    ...running,
    containers: [
      ["app", { reason: "target", targets: [`10.1.0.5:${hostPort(target, "app")}`] }],
      ["sidecar", { reason: "no-port-label", facts: { portLabel: PORT } }],
    ],
  };

  const injected = f.runTask("main", {
    taskDefinition: "good",
    serviceName: "api",
    injectServiceConnect: true,
    ...on,
  });
  const proxy = f.findTask(injected)?.containers.find((c) => c.injected)?.name as string;
  tasks.injected = {
    arn: injected,
    cluster: "main",
    ...running,
    containers: [
      ["app", { reason: "target", targets: [`10.1.0.5:${hostPort(injected, "app")}`] }],
      ["sidecar", { reason: "no-port-label" }],
      [proxy, { reason: "injected-container", facts: { taskDefinition: "good:1" } }],
    ],
  };

  const stopped = f.runTask("main", { taskDefinition: "good", ...on });
  f.stopTask(stopped);
  tasks.stopped = {
    arn: stopped,
    cluster: "main",
    lastStatus: "STOPPED",
    desiredStatus: "STOPPED",
    containers: [
      ["app", { reason: "not-running", facts: { lastStatus: "STOPPED", desiredStatus: "STOPPED" } }],
      // The labels are judged first: a container that asks for nothing says so, stopped or not.
      ["sidecar", { reason: "no-port-label" }],
    ],
  };

  const noHostPort = f.runTask("main", { taskDefinition: "missing-port", ...on });
  tasks.noHostPort = {
    arn: noHostPort,
    cluster: "main",
    ...running,
    containers: [
      [
        "exporter",
        {
          reason: "no-host-port",
          facts: {
            networkMode: "bridge",
            containerPort: 9200,
            bindings: [
              expect.objectContaining({ containerPort: 8080, hostPort: hostPort(noHostPort, "exporter") }),
            ],
          },
          detail: /container port 9200 has no host port binding/,
        },
      ],
    ],
  };

  const external = f.runTask("main", { taskDefinition: "edge", host: anywhere.containerInstanceArn });
  tasks.external = {
    arn: external,
    cluster: "main",
    ...running,
    containers: [
      [
        "agent",
        {
          reason: "no-ec2-host",
          facts: { containerInstanceArn: anywhere.containerInstanceArn, external: true },
          detail: /ECS Anywhere/,
        },
      ],
    ],
  };

  const vanished = f.runTask("main", { taskDefinition: "edge", host: doomed.containerInstanceArn });
  f.terminateInstance(doomed.ec2InstanceId);
  tasks.vanished = {
    arn: vanished,
    cluster: "main",
    ...running,
    containers: [
      [
        "agent",
        {
          reason: "no-ec2-host",
          facts: {
            containerInstanceArn: doomed.containerInstanceArn,
            ec2InstanceId: doomed.ec2InstanceId,
            external: false,
          },
          detail: /was not found/,
        },
      ],
    ],
  };

  const bad = f.runTask("main", { taskDefinition: "broken", ...on });
  tasks.bad = {
    arn: bad,
    cluster: "main",
    ...running,
    containers: [
      [
        "app",
        {
          reason: "bad-label",
          facts: { label: PORT, value: "abc", problem: expect.stringMatching(/"abc" is not a port number/) },
        },
      ],
      [
        "mixed",
        {
          reason: "target",
          targets: [`10.1.0.5:${hostPort(bad, "mixed")}`],
          notes: [/PROMETHEUS_EXPORTER_PORT\.admin: port "xyz"/],
        },
      ],
    ],
  };

  const filtered = f.runTask("main", { taskDefinition: "quiet", ...on });
  tasks.filtered = {
    arn: filtered,
    cluster: "main",
    ...running,
    containers: [
      ["app", { reason: "filtered-out", facts: { filterLabel: "scrape", filterValue: "yes", has: "no" } }],
      ["bare", { reason: "filtered-out", facts: { filterLabel: "scrape", filterValue: "yes", has: null } }],
    ],
  };

  const refused = f.runTask("main", { taskDefinition: "gone", ...on });
  f.refuseTaskDefinition("gone:1");
  tasks.refused = {
    arn: refused,
    cluster: "main",
    ...running,
    containers: [
      [
        "app",
        {
          reason: "definition-unavailable",
          facts: { taskDefinitionArn: f.findTask(refused)?.taskDefinition.arn },
          detail: /could not be described: .*ClientException/,
        },
      ],
    ],
  };

  const outside = f.runTask("other", {
    taskDefinition: "good",
    serviceName: "api",
    host: otherHost.containerInstanceArn,
  });
  tasks.outside = {
    arn: outside,
    cluster: "other",
    ...running,
    containers: [
      [
        "app",
        {
          reason: "cluster-not-discovered",
          facts: { wouldBe: "target" },
          detail: /not in CLUSTERS \(main\)/,
        },
      ],
      ["sidecar", { reason: "cluster-not-discovered", facts: { wouldBe: "no-port-label", portLabel: PORT } }],
    ],
  };
}

/** Checks explain's containers against the expected tasks, all of them and nothing else. */
function expectContainers(containers: ExplainedContainer[], cases: TaskCase[]): void {
  const key = (taskArn: string, container: string) => `${taskArn} ${container}`;
  const wanted = cases.flatMap((c) => c.containers.map(([name]) => key(c.arn, name)));
  expect(containers.map((c) => key(c.taskArn, c.container)).sort()).toEqual(wanted.sort());
  for (const t of cases) {
    const mine = containers.filter((c) => c.taskArn === t.arn);
    // Task definition order, then the containers ECS added.
    expect(mine.map((c) => c.container)).toEqual(t.containers.map(([name]) => name));
    for (const [name, e] of t.containers) {
      const c = mine.find((x) => x.container === name) as ExplainedContainer;
      const where = `${t.arn} ${name}`;
      expect(c.reason, where).toBe(e.reason);
      expect(c.targets, where).toEqual(e.targets ?? []);
      expect(
        c.groups.flatMap((g) => g.targets),
        where,
      ).toEqual(e.targets ?? []);
      expect(c.cluster, where).toBe(t.cluster);
      expect(c.clusterArn, where).toBe(`arn:aws:ecs:us-east-1:123456789012:cluster/${t.cluster}`);
      expect(c.taskArn, where).toBe(t.arn);
      expect(c.lastStatus, where).toBe(t.lastStatus);
      expect(c.desiredStatus, where).toBe(t.desiredStatus);
      expect(c.taskDefinitionArn, where).toMatch(/^arn:aws:ecs:us-east-1:123456789012:task-definition\//);
      if (e.facts) expect(c.facts, where).toMatchObject(e.facts);
      if (e.detail) expect(c.detail, where).toMatch(e.detail);
      if (e.reason !== "target") expect(c.detail, where).not.toBe("");
      if (e.notes) {
        expect(c.notes, where).toHaveLength(e.notes.length);
        e.notes.forEach((n, i) => {
          expect(c.notes[i], where).toMatch(n);
        });
      } else expect(c.notes, where).toEqual([]);
      for (const g of c.groups) expect(g.labels.__meta_ecs_container_name, where).toBe(name);
    }
  }
}

const jsonLines = (run: Run) =>
  run.stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as ExplainedContainer);

async function explainJson(args: string[], extraEnv: Record<string, string> = {}) {
  const run = await cli(["explain", ...args, "--json"], { ...env, ...extraEnv });
  return { run, rows: run.code === 0 ? jsonLines(run) : [] };
}

/** The table has a line per container: cluster, task id, container, reason. */
function expectTable(table: string, containers: ExplainedContainer[]): void {
  const lines = table.split("\n");
  expect(lines[0]).toMatch(/^CLUSTER\s+TASK\s+CONTAINER\s+REASON\s+TARGETS OR WHY$/);
  for (const c of containers) {
    const line = lines.find((l) => {
      const cells = l.split(/\s+/);
      return cells[1] === idOf(c.taskArn) && cells[2] === c.container;
    });
    expect(line, `${c.taskArn} ${c.container}`).toBeDefined();
    const cells = (line as string).split(/\s+/);
    expect(cells[0]).toBe(c.cluster);
    expect(cells[3]).toBe(c.reason);
    for (const t of c.targets) expect(line).toContain(t);
  }
  const counts = new Map<string, number>();
  for (const c of containers) counts.set(c.reason, (counts.get(c.reason) ?? 0) + 1);
  const total = lines.find((l) => l.includes("container(s):"));
  expect(total).toMatch(new RegExp(`^${containers.length} container\\(s\\): `));
  for (const [reason, n] of counts) expect(total).toContain(`${n} ${reason}`);
}

beforeAll(async () => {
  standIn = await startStandIn();
  buildFleet(standIn);
  env = { ...standIn.env(), ...SETTINGS };
});
afterAll(async () => {
  await standIn.close();
});

describe("the stand-in fleet", () => {
  it("refuses the task definition it was told to refuse, with ClientException", async () => {
    const ecs = new ECSClient({
      endpoint: standIn.url,
      region: standIn.region,
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
      maxAttempts: 1,
    });
    const error = await errorOf(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "gone:1" })));
    expect(error.name).toBe("ClientException");
    const good = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: "good:1" }));
    expect(good.taskDefinition?.family).toBe("good");
  });
});

describe("explain CLI", () => {
  it.each([
    ["target", "by id"],
    ["injected", "by id"],
    ["stopped", "by id"],
    ["noHostPort", "by id"],
    ["external", "by ARN"],
    ["vanished", "by ARN"],
    ["bad", "by id"],
    ["filtered", "by ARN"],
    ["refused", "by id"],
    ["outside", "by id"],
  ])("--task %s (%s), without --cluster", async (name, how) => {
    const t = tasks[name] as TaskCase;
    const ref = how === "by id" ? idOf(t.arn) : t.arn;
    const { run, rows } = await explainJson(["--task", ref]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expectContainers(rows, [t]);
  });

  it("--task by ARN searches only the ARN's cluster; by id, every cluster", async () => {
    const t = tasks.target as TaskCase;
    standIn.counters.reset();
    const byArn = await explainJson(["--task", t.arn]);
    expect(byArn.run.code).toBe(0);
    expect(standIn.counters.snapshot().calls.ListClusters ?? 0).toBe(0);
    expect(standIn.counters.snapshot().calls.DescribeTasks).toBe(1);
    standIn.counters.reset();
    const byId = await explainJson(["--task", idOf(t.arn)]);
    expect(byId.run.code).toBe(0);
    expect(standIn.counters.snapshot().calls.ListClusters).toBe(1);
    expect(standIn.counters.snapshot().calls.DescribeTasks).toBe(2);
    expect(byId.rows).toEqual(byArn.rows);
  });

  it("--task with --cluster: found in that cluster, not found in another", async () => {
    const t = tasks.noHostPort as TaskCase;
    const found = await explainJson(["--cluster", "main", "--task", idOf(t.arn)]);
    expect(found.run.code).toBe(0);
    expectContainers(found.rows, [t]);
    const elsewhere = await cli(["explain", "--cluster", "other", "--task", idOf(t.arn), "--json"], env);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stdout).toBe("");
    expect(elsewhere.stderr).toMatch(/not found: task \S+: no task found in 1 cluster\(s\) searched/);
  });

  it("--service without --cluster: the service's tasks in every cluster, the undiscovered one included", async () => {
    const { run, rows } = await explainJson(["--service", "api"]);
    expect(run.code).toBe(0);
    expectContainers(rows, [tasks.target, tasks.injected, tasks.outside] as TaskCase[]);
  });

  it("--service with --cluster: only that cluster's", async () => {
    const { run, rows } = await explainJson(["--service", "api", "--cluster", "main"]);
    expect(run.code).toBe(0);
    expectContainers(rows, [tasks.target, tasks.injected] as TaskCase[]);
  });

  it("--cluster names a cluster outside CLUSTERS: searched, and still cluster-not-discovered", async () => {
    const { run, rows } = await explainJson(["--service", "api", "--cluster", "other"]);
    expect(run.code).toBe(0);
    expectContainers(rows, [tasks.outside as TaskCase]);
  });

  it("--family: running and stopped tasks of the family", async () => {
    const all = await explainJson(["--family", "good"]);
    expect(all.run.code).toBe(0);
    expectContainers(all.rows, [tasks.target, tasks.injected, tasks.stopped, tasks.outside] as TaskCase[]);
    const main = await explainJson(["--family", "good", "--cluster", "main"]);
    expect(main.run.code).toBe(0);
    expectContainers(main.rows, [tasks.target, tasks.injected, tasks.stopped] as TaskCase[]);
    const edge = await explainJson(["--family", "edge", "--cluster", "main", "--cluster", "other"]);
    expect(edge.run.code).toBe(0);
    expectContainers(edge.rows, [tasks.external, tasks.vanished] as TaskCase[]);
  });

  it("every reason code occurs in the fleet", async () => {
    const families = ["good", "missing-port", "edge", "broken", "quiet", "gone"];
    const seen = new Set<string>();
    for (const family of families) {
      const { run, rows } = await explainJson(["--family", family]);
      expect(run.code, family).toBe(0);
      for (const r of rows) seen.add(r.reason);
    }
    expect([...seen].sort()).toEqual(
      [
        "target",
        "no-port-label",
        "filtered-out",
        "not-running",
        "no-host-port",
        "bad-label",
        "no-ec2-host",
        "injected-container",
        "definition-unavailable",
        "cluster-not-discovered",
      ].sort(),
    );
  });

  it.each([
    ["--family", "good"],
    ["--family", "broken"],
    ["--family", "edge"],
    ["--family", "quiet"],
    ["--service", "api"],
  ])("the table (%s %s) shows each container's reason code and targets", async (flag, value) => {
    const { rows } = await explainJson([flag, value]);
    const table = await cli(["explain", flag, value], env);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe("");
    expectTable(table.stdout, rows);
  });

  it("the table of a refused definition and of a bad label says why", async () => {
    const refused = await cli(["explain", "--task", (tasks.refused as TaskCase).arn], env);
    expect(refused.code).toBe(0);
    expect(refused.stdout).toMatch(/definition-unavailable\s+task definition \S+ could not be described/);
    const missing = await cli(["explain", "--task", (tasks.noHostPort as TaskCase).arn], env);
    expect(missing.stdout).toMatch(/no-host-port\s+container port 9200 has no host port binding/);
  });

  it("exits 1 when nothing is found, with the reason on stderr (JSON) or in the table", async () => {
    const id = "0123456789abcdef0123456789abcdef";
    const json = await cli(["explain", "--task", id, "--json"], env);
    expect(json.code).toBe(1);
    expect(json.stdout).toBe("");
    expect(json.stderr).toMatch(
      /not found: task 0123456789abcdef0123456789abcdef: no task found in 2 cluster\(s\)/,
    );
    const table = await cli(["explain", "--family", "nosuch"], env);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/not found: family nosuch: no task found in 2 cluster\(s\) searched/);
    const service = await cli(["explain", "--service", "nosuch", "--cluster", "main", "--json"], env);
    expect(service.code).toBe(1);
    expect(service.stderr).toMatch(/not found: service nosuch/);
    const cluster = await cli(["explain", "--family", "good", "--cluster", "nosuch", "--json"], env);
    expect(cluster.code).toBe(1);
    expect(cluster.stderr).toMatch(/not found: cluster nosuch was not found/);
  });

  it("a cluster that cannot be searched: the others still answer; named, it fails the explain", async () => {
    const rule = standIn.faults.inject({ cluster: "other", kind: "accessDenied" });
    try {
      const { run, rows } = await explainJson(["--family", "good"]);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(
        /not searched: arn:aws:ecs:us-east-1:123456789012:cluster\/other: .*AccessDenied/,
      );
      expectContainers(rows, [tasks.target, tasks.injected, tasks.stopped] as TaskCase[]);
      const named = await cli(["explain", "--family", "good", "--cluster", "other", "--json"], env);
      expect(named.code).toBe(1);
      expect(named.stdout).toBe("");
      expect(named.stderr).toMatch(/AccessDenied/);
    } finally {
      standIn.faults.remove(rule);
    }
  });

  it.each([
    [[], /explain needs exactly one of --task, --service or --family/],
    [["--cluster", "main"], /explain needs exactly one of --task, --service or --family/],
    [["--task", "abc", "--service", "api"], /explain needs exactly one of --task, --service or --family/],
    [["--family", "good", "--service", "api"], /explain needs exactly one of --task, --service or --family/],
    [["--family", "good", "--bucket", "b"], /--bucket does not go with explain, which writes nothing/],
    [["--family", "good", "--out-dir", "/tmp/x"], /--out-dir does not go with explain, which writes nothing/],
    [["--family", "good", "--dry-run"], /--dry-run does not go with explain, which writes nothing/],
    [["--task", " "], /explain payload field "task" must be a non-empty string/],
  ])("usage error %j: exit 1, a message, no AWS call", async (args, message) => {
    standIn.counters.reset();
    const run = await cli(["explain", ...args], env);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(standIn.counters.snapshot().totalCalls).toBe(0);
  });

  it("--task, --service, --family and --json go with explain only", async () => {
    standIn.counters.reset();
    const run = await cli(["sync", "--out-dir", "/tmp/x", "--task", "abc"], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--task goes with explain/);
    expect(standIn.counters.snapshot().totalCalls).toBe(0);
  });
});

describe('invoke({ action: "explain" })', () => {
  function explainDeps() {
    const output = new RecordingOutput();
    const { deps, lines } = engineAgainst(standIn, output, { env: SETTINGS });
    return { deps, output, lines };
  }

  it("answers as the CLI does, and writes nothing", async () => {
    const { deps: d, output } = explainDeps();
    const { result, summary } = await invoke({ action: "explain", family: "good" }, d);
    expect(summary).toBeUndefined();
    const report = result as ExplainReport;
    expect(report.action).toBe("explain");
    expect(report.query).toEqual({ family: "good" });
    expect(report.clusters.sort()).toEqual([
      "arn:aws:ecs:us-east-1:123456789012:cluster/main",
      "arn:aws:ecs:us-east-1:123456789012:cluster/other",
    ]);
    expect(report.notFound).toEqual([]);
    expect(report.errors).toEqual([]);
    expectContainers(report.containers, [
      tasks.target,
      tasks.injected,
      tasks.stopped,
      tasks.outside,
    ] as TaskCase[]);
    expect(report.reasons).toEqual({
      target: 2,
      "no-port-label": 3,
      "injected-container": 1,
      "not-running": 1,
      "cluster-not-discovered": 2,
    });
    const fromCli = await explainJson(["--family", "good"]);
    expect(fromCli.rows).toEqual(report.containers);
    expect(output.writes).toEqual([]);
    expect(output.removals).toEqual([]);
    expect(output.objects.size).toBe(0);
  });

  // Tasks are known only once the fleet is built, so the rows name them.
  it.each([
    ["task (id)", () => ({ task: idOf((tasks.refused as TaskCase).arn) }), ["refused"]],
    ["task (ARN)", () => ({ task: (tasks.external as TaskCase).arn }), ["external"]],
    ["service", () => ({ service: "api", clusters: ["main"] }), ["target", "injected"]],
    [
      "family",
      () => ({ family: "broken", clusters: ["arn:aws:ecs:us-east-1:123456789012:cluster/main"] }),
      ["bad"],
    ],
    ["family (all clusters)", () => ({ family: "quiet" }), ["filtered"]],
  ])("by %s", async (_, query, expected) => {
    const { deps: d, output } = explainDeps();
    const { result } = await invoke({ action: "explain", ...query() }, d);
    const report = result as ExplainReport;
    expectContainers(
      report.containers,
      expected.map((name) => tasks[name] as TaskCase),
    );
    expect(output.writes).toEqual([]);
  });

  it("through the CLI's invoke --event: the report on stdout, nothing in the output directory", async () => {
    const dir = await tmp();
    const out = join(dir, "out");
    await mkdir(out);
    const event = join(dir, "explain.json");
    await writeFile(event, JSON.stringify({ action: "explain", family: "quiet", clusters: ["main"] }));
    const run = await cli(["invoke", "--event", event, "--out-dir", out], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ExplainReport;
    expect(report.action).toBe("explain");
    expectContainers(report.containers, [tasks.filtered as TaskCase]);
    expect(await readdir(out, { recursive: true })).toEqual([]);
    await writeFile(event, JSON.stringify({ action: "explain", family: "nosuch" }));
    const none = await cli(["invoke", "--event", event, "--out-dir", out], env);
    expect(none.code).toBe(1);
    expect((JSON.parse(none.stdout) as ExplainReport).notFound).toHaveLength(1);
    expect(await readdir(out, { recursive: true })).toEqual([]);
  });

  it("a role that may describe only the clusters of CLUSTERS: those are searched, the rest reported", async () => {
    const rule = standIn.faults.inject({ operation: "DescribeClusters", kind: "accessDenied", times: 1 });
    try {
      const { deps: d, output } = explainDeps();
      const { result } = await invoke({ action: "explain", family: "good" }, d);
      const report = result as ExplainReport;
      expect(report.clusters).toEqual(["arn:aws:ecs:us-east-1:123456789012:cluster/main"]);
      expect(report.errors).toEqual([
        { cluster: "(clusters outside CLUSTERS)", error: expect.stringMatching(/AccessDenied/) },
      ]);
      expectContainers(report.containers, [tasks.target, tasks.injected, tasks.stopped] as TaskCase[]);
      expect(output.writes).toEqual([]);
    } finally {
      standIn.faults.remove(rule);
    }
  });

  it("nothing found: an empty report that says what was not found", async () => {
    const { deps: d, output } = explainDeps();
    const { result } = await invoke({ action: "explain", service: "nosuch" }, d);
    const report = result as ExplainReport;
    expect(report.containers).toEqual([]);
    expect(report.reasons).toEqual({});
    expect(report.notFound).toEqual([
      expect.stringMatching(/^service nosuch: no task found in 2 cluster\(s\)/),
    ]);
    expect(output.writes).toEqual([]);
  });

  it("a bad explain payload is rejected before any AWS call", async () => {
    const { deps: d, output, lines } = explainDeps();
    standIn.counters.reset();
    await expect(invoke({ action: "explain", task: "a", family: "b" }, d)).rejects.toThrow(InputError);
    await expect(invoke({ action: "explain", task: "a", bucket: "b" }, d)).rejects.toThrow(/unknown field/);
    expect(standIn.counters.snapshot().totalCalls).toBe(0);
    expect(output.writes).toEqual([]);
    expect(lines.filter((l) => l.message === "rejected input; nothing was changed")).toHaveLength(2);
  });

  it("inside an SQS record, explain is rejected for that record only", async () => {
    const { deps: d, output, lines } = explainDeps();
    const target = tasks.target as TaskCase;
    const event = standIn.fleet.taskStateChangeEvent(target.arn);
    const record = (messageId: string, body: unknown) => ({
      messageId,
      eventSource: "aws:sqs",
      body: JSON.stringify(body),
    });
    const { result, summary } = await invoke(
      {
        Records: [
          record("explain-1", { action: "explain", task: idOf(target.arn) }),
          record("event-1", event),
        ],
      },
      d,
    );
    const response = result as QueueResponse;
    // The rejected record alone goes back to SQS (and on to its dead-letter queue); the other is applied.
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "explain-1" }]);
    expect(summary?.trigger).toBe("queue");
    expect(summary?.failedMessageIds).toEqual(["explain-1"]);
    expect(summary?.ok).toBe(false);
    // The cluster had no state yet, so its event made it reconcile, which the event then found stale.
    expect((summary?.events.applied ?? 0) + (summary?.events.stale ?? 0)).toBe(1);
    expect(summary?.clusters.map((c) => [c.cluster, c.status])).toEqual([["main", "written"]]);
    expect(output.writes.length).toBeGreaterThan(0);
    const rejected = lines.filter((l) => l.message === "queue message rejected");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.attributes).toMatchObject({
      messageId: "explain-1",
      reason: expect.stringMatching(/"explain" is answered by a direct invocation/),
    });
    expect("containers" in response).toBe(false);
  });
});
