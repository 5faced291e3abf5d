/**
 * The small fleet every fault scenario starts from, the change that follows (work that needs every kind
 * of ECS and EC2 call), and the check that nothing was lost.
 */
import { expect } from "vitest";
import type { RecordedPut } from "./s3-proxy.js";
import { CLUSTERS, invalidBodies, storedObjects, targetsKey, targetsOf, type World } from "./world.js";

export interface BaseFleet {
  web: string;
  api: string;
  hosts: Record<string, string>;
  tasks: Record<string, string[]>;
}

const WEB = {
  family: "web",
  networkMode: "bridge" as const,
  containers: [
    {
      name: "app",
      image: "web:1",
      dockerLabels: { PROMETHEUS_EXPORTER_PORT: "8080", PROMETHEUS_EXPORTER_JOB_NAME: "web" },
      portMappings: [{ containerPort: 8080, hostPort: 0 }],
    },
  ],
};

/** Per cluster: one EC2 host with a bridge task (dynamic host port), and one Fargate task. */
export function buildFleet(world: World): BaseFleet {
  const f = world.standIn.fleet;
  const web = f.registerTaskDefinition(WEB);
  const api = f.registerTaskDefinition({
    family: "api",
    networkMode: "awsvpc",
    requiresCompatibilities: ["FARGATE"],
    containers: [
      {
        name: "api",
        image: "api:1",
        dockerLabels: { PROMETHEUS_EXPORTER_PORT: "9100", PROMETHEUS_EXPORTER_PATH: "/metrics" },
        portMappings: [{ containerPort: 9100 }],
      },
    ],
  });
  const hosts: Record<string, string> = {};
  const tasks: Record<string, string[]> = {};
  for (const name of CLUSTERS) {
    f.addCluster(name);
    const host = f.addHost(name).containerInstanceArn;
    hosts[name] = host;
    tasks[name] = [
      f.runTask(name, { taskDefinition: web, host, serviceName: "web" }),
      f.runTask(name, { taskDefinition: api, launchType: "FARGATE", serviceName: "api" }),
    ];
  }
  return { web, api, hosts, tasks };
}

export interface Growth {
  alpha: string[];
  bravo: string[];
}

/**
 * New work since the baseline. alpha needs every call there is: a new task-definition revision
 * (DescribeTaskDefinition), a new host (DescribeContainerInstances, DescribeInstances), and new tasks
 * (ListTasks, DescribeTasks). bravo only gains a task of a known definition; charlie does not change.
 */
export function grow(world: World, base: BaseFleet): Growth {
  const f = world.standIn.fleet;
  const web2 = f.registerTaskDefinition({
    ...WEB,
    containers: WEB.containers.map((c) => ({ ...c, image: "web:2" })),
  });
  const host = f.addHost("alpha").containerInstanceArn;
  return {
    alpha: [
      f.runTask("alpha", { taskDefinition: web2, host, serviceName: "web" }),
      f.runTask("alpha", { taskDefinition: base.api, launchType: "FARGATE", serviceName: "api" }),
    ],
    bravo: [f.runTask("bravo", { taskDefinition: base.api, launchType: "FARGATE", serviceName: "api" })],
  };
}

export interface LossCheck {
  /** Targets objects before the faulty run. */
  baseline: Map<string, string>;
  /** Targets objects after it. */
  after: Map<string, string>;
  /** What a healthy reconcile publishes now. */
  expected: Map<string, string>;
  /** PUTs S3 accepted during the faulty run. */
  puts: RecordedPut[];
  /** Clusters whose object must be exactly the baseline one (their refresh failed). */
  kept: readonly string[];
  /** Clusters whose object may be either the last good or the correct one (a run died midway). */
  undecided?: readonly string[];
  world: World;
}

/**
 * The promise of the fault matrix: every object ever stored is complete, valid file_sd that is either the
 * last good one or the correct new one; every healthy target survives; a failed cluster keeps its object
 * byte for byte; no object is emptied. Returns a short description of what happened.
 */
export function expectNothingLost(check: LossCheck): string {
  const { baseline, after, expected, puts, kept, world } = check;
  const undecided = new Set((check.undecided ?? []).map((c) => targetsKey(world, c)));
  const targetPuts = puts.filter((p) => p.key.startsWith("targets/"));
  expect(invalidBodies(targetPuts.map((p) => [p.key, p.body])), "every stored body is valid").toEqual([]);
  expect(invalidBodies(after), "every object is valid").toEqual([]);
  for (const put of targetPuts) {
    const known = [baseline.get(put.key), expected.get(put.key)];
    expect(known, `PUT ${put.key} stored neither the last good nor the correct body`).toContain(put.body);
  }
  for (const [key, body] of baseline) {
    const now = after.get(key);
    expect(now, `${key} must not disappear`).toBeDefined();
    if (targetsOf(body).length > 0) expect(targetsOf(now), `${key} must not be emptied`).not.toEqual([]);
    const lost = targetsOf(body).filter((t) => !targetsOf(now).includes(t));
    expect(lost, `healthy targets lost from ${key}`).toEqual([]);
  }
  const keptKeys = new Set(kept.map((c) => targetsKey(world, c)));
  for (const key of new Set([...after.keys(), ...expected.keys()])) {
    if (keptKeys.has(key))
      expect(after.get(key), `${key} keeps its last good object`).toBe(baseline.get(key));
    else if (undecided.has(key)) expect([baseline.get(key), expected.get(key)]).toContain(after.get(key));
    else expect(after.get(key), `${key} is published correctly`).toBe(expected.get(key));
  }
  const published = [...expected.keys()].filter((k) => !keptKeys.has(k) && baseline.get(k) !== after.get(k));
  const name = (key: string) =>
    key
      .split("/")
      .pop()
      ?.replace(/\.json$/, "") ?? key;
  const parts = [];
  if (kept.length > 0) parts.push(`${kept.join(", ")} kept last object`);
  if (published.length > 0) parts.push(`${published.map(name).join(", ")} updated`);
  if (kept.length === 0 && published.length === 0) parts.push("no change needed");
  return parts.join("; ");
}

/** After the faults are gone, one reconcile publishes exactly what a healthy reconcile would. */
export async function expectRepaired(world: World, expected: Map<string, string>): Promise<void> {
  const stored = await storedObjects(world);
  expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(expected));
}
