import { describe, expect, it } from "vitest";
import type { TaskDefinitionSpec } from "../../lambda/core/model.js";
import { compileRules } from "../../lambda/core/rules.js";
import { readDiscoverySettings } from "../../lambda/shared/settings.js";
import { type ClusterState, emptyState, type TaskRecord } from "../../lambda/state/cluster-state.js";
import { planListing, staleBecause } from "../../lambda/state/known-tasks.js";

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const rulesOf = (env: Record<string, string> = {}) => compileRules(readDiscoverySettings(env));
const RULES = rulesOf();

function def(name: string, options: { labelled?: boolean; healthChecks?: boolean } = {}): TaskDefinitionSpec {
  return {
    taskDefinitionArn: `arn:aws:ecs:us-east-1:123456789012:task-definition/${name}:1`,
    family: name,
    revision: 1,
    networkMode: "awsvpc",
    containers: [
      {
        name: "app",
        dockerLabels: options.labelled === false ? {} : { PROMETHEUS_EXPORTER_PORT: "9100" },
        portMappings: [{ containerPort: 9100 }],
      },
    ],
    ...(options.healthChecks === undefined ? {} : { healthChecks: options.healthChecks }),
  };
}

const WEB = def("web", { healthChecks: false });
const CHECKED = def("checked", { healthChecks: true });
const OLD = def("old");
const QUIET = def("quiet", { labelled: false, healthChecks: false });

function record(id: string, spec: TaskDefinitionSpec, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskArn: `arn:aws:ecs:us-east-1:123456789012:task/prod/${id}`,
    clusterArn: CLUSTER,
    taskDefinitionArn: spec.taskDefinitionArn,
    group: "service:web",
    lastStatus: "RUNNING",
    desiredStatus: "RUNNING",
    version: 3,
    healthStatus: "UNKNOWN",
    containers: [{ name: "app", networkBindings: [] }],
    seenAt: 1,
    ...overrides,
  };
}

function stateWith(records: TaskRecord[]): ClusterState {
  const state = emptyState(CLUSTER);
  for (const spec of [WEB, CHECKED, OLD]) state.taskDefinitions[spec.taskDefinitionArn] = spec;
  state.otherTaskDefinitions = { [QUIET.taskDefinitionArn]: QUIET };
  for (const r of records) state.tasks[r.taskArn] = r;
  return state;
}

describe("which recorded tasks a reconcile describes again", () => {
  const cases: [string, TaskRecord, string | undefined, Record<string, string>?][] = [
    ["running, complete, no health checks", record("a", WEB), undefined],
    ["health-checked and HEALTHY", record("b", CHECKED, { healthStatus: "HEALTHY" }), undefined],
    ["health-checked, still UNKNOWN", record("c", CHECKED), "health settling"],
    ["health-checked and UNHEALTHY", record("d", CHECKED, { healthStatus: "UNHEALTHY" }), "health settling"],
    ["not yet running", record("e", WEB, { lastStatus: "PENDING" }), "not running"],
    ["no version", record("f", WEB, { version: undefined }), "no version"],
    ["no health recorded", record("g", WEB, { healthStatus: undefined }), "no health"],
    ["definition recorded before health checks were kept", record("h", OLD), "definition not known"],
    ["tags wanted and not recorded", record("i", WEB), "no tags", { INCLUDE: "TAGS" }],
    ["tags wanted and recorded", record("j", WEB, { tags: {} }), undefined, { INCLUDE: "TAGS" }],
    ["Fargate ENI, public address not looked up", record("k", WEB, { eniId: "eni-1" }), "no public address"],
    ["Fargate ENI, looked up: none", record("l", WEB, { eniId: "eni-2", publicIp: "" }), undefined],
    [
      "awsvpc on EC2 (no public address of its own)",
      record("m", WEB, { eniId: "eni-3", containerInstanceArn: "ci" }),
      undefined,
    ],
  ];
  it.each(cases)("%s", (_, task, reason, env) => {
    const state = stateWith([task]);
    expect(staleBecause(task, state, rulesOf(env))).toBe(reason);
    const plan = planListing([task.taskArn], state, rulesOf(env), false);
    expect(plan.describe).toEqual(reason === undefined ? [] : [task.taskArn]);
    expect(plan.known).toEqual(reason === undefined ? [task] : []);
  });
});

describe("planListing", () => {
  const known = record("known", WEB);
  const quietArn = "arn:aws:ecs:us-east-1:123456789012:task/prod/quiet";
  const state = stateWith([known]);
  state.otherTasks = { [quietArn]: { taskDefinitionArn: QUIET.taskDefinitionArn, group: "service:legacy" } };
  const newArn = "arn:aws:ecs:us-east-1:123456789012:task/prod/new";

  it("describes new tasks, keeps known ones and the ones with nothing to scrape", () => {
    expect(planListing([known.taskArn, quietArn, newArn], state, RULES, false)).toEqual({
      describe: [newArn],
      known: [known],
      others: { [quietArn]: state.otherTasks?.[quietArn] },
    });
  });

  it("describes everything when full, or when nothing is recorded yet", () => {
    const all = [known.taskArn, quietArn, newArn];
    expect(planListing(all, state, RULES, true).describe).toEqual(all);
    expect(planListing(all, undefined, RULES, false).describe).toEqual(all);
  });

  it("describes a task with nothing to scrape again when the rules now select it", () => {
    const selecting = rulesOf({ SELECTORS: JSON.stringify([{ service: "legacy", port: 9100 }]) });
    expect(planListing([quietArn], state, selecting, false).describe).toEqual([quietArn]);
  });

  it("forgets nothing it was not asked about: a task no longer listed is simply absent", () => {
    const plan = planListing([newArn], state, RULES, false);
    expect(plan.known).toEqual([]);
    expect(plan.others).toEqual({});
  });
});
