import { describe, expect, it } from "vitest";
import type { TaskView } from "../../lambda/core/model.js";
import {
  type ClusterState,
  churnGuard,
  decide,
  emptyState,
  mergeReconcile,
  parseState,
  remove,
  serializeState,
  TOMBSTONE_TTL_MS,
  upsert,
} from "../../lambda/state/cluster-state.js";

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/a";
const task = (id: string, version: number, lastStatus = "RUNNING", desiredStatus = "RUNNING"): TaskView => ({
  taskArn: `arn:aws:ecs:us-east-1:123456789012:task/a/${id}`,
  clusterArn: CLUSTER,
  taskDefinitionArn: "arn:td:1",
  lastStatus,
  desiredStatus,
  version,
  containers: [],
});
const snapshot = (tasks: TaskView[]) => ({ tasks, taskDefinitions: new Map(), hosts: new Map() });

function stateWith(entries: [TaskView, number][]): ClusterState {
  const state = emptyState(CLUSTER);
  for (const [t, seenAt] of entries) upsert(state, t, seenAt);
  return state;
}

describe("event decisions", () => {
  it.each([
    ["a new running task", [], task("x", 2), "upsert"],
    ["a newer version of a recorded task", [[task("x", 2), 0]], task("x", 3), "upsert"],
    ["the same version again", [[task("x", 2), 0]], task("x", 2), "stale"],
    ["an older version", [[task("x", 3), 0]], task("x", 2), "stale"],
    ["a stop", [[task("x", 2), 0]], task("x", 3, "RUNNING", "STOPPED"), "remove"],
    ["a pending task never seen", [], task("x", 1, "PENDING"), "ignore"],
    [
      "a running task without a version",
      [[task("x", 2), 0]],
      { ...task("x", 0), version: undefined },
      "upsert",
    ],
  ] as [string, [TaskView, number][], TaskView, string][])("%s → %s", (_name, entries, event, expected) => {
    expect(decide(stateWith(entries), event)).toBe(expected);
  });

  it("never lets a stopped task run again, whatever the version says", () => {
    const state = stateWith([[task("x", 2), 0]]);
    remove(state, task("x", 4, "STOPPED", "STOPPED"), 10);
    expect(decide(state, task("x", 3))).toBe("stale");
    expect(decide(state, task("x", 9))).toBe("stale");
  });
});

describe("reconcile merge", () => {
  it("takes the listing as the truth as of its start", () => {
    const current = stateWith([
      [task("old", 2), 100],
      [task("kept", 2), 100],
    ]);
    const { state, unexplainedRemovals } = mergeReconcile(
      current,
      snapshot([task("kept", 2), task("new", 1)]),
      CLUSTER,
      500,
      600,
    );
    expect(Object.keys(state.tasks).map((k) => k.split("/").pop())).toEqual(["kept", "new"]);
    expect(state.tasks[task("kept", 2).taskArn]?.seenAt).toBe(100);
    expect(state.tombstones[task("old", 2).taskArn]).toEqual({ version: 2, at: 600 });
    expect(unexplainedRemovals).toBe(1);
  });

  it("keeps what events recorded after the listing started, and newer versions", () => {
    const current = stateWith([
      [task("started-during", 5), 700],
      [task("newer", 9), 100],
    ]);
    const { state } = mergeReconcile(current, snapshot([task("newer", 4)]), CLUSTER, 500, 800);
    expect(state.tasks[task("started-during", 5).taskArn]).toBeDefined();
    expect(state.tasks[task("newer", 9).taskArn]?.version).toBe(9);
  });

  it("does not bring back a task an event stopped during the listing", () => {
    const current = emptyState(CLUSTER);
    remove(current, task("x", 6, "STOPPED", "STOPPED"), 700);
    const { state } = mergeReconcile(current, snapshot([task("x", 4)]), CLUSTER, 500, 800);
    expect(state.tasks).toEqual({});
  });

  it("forgets tombstones after their time", () => {
    const current = emptyState(CLUSTER);
    remove(current, task("x", 6, "STOPPED", "STOPPED"), 0);
    expect(mergeReconcile(current, snapshot([]), CLUSTER, 0, TOMBSTONE_TTL_MS + 1).state.tombstones).toEqual(
      {},
    );
  });
});

describe("churn guard", () => {
  const ten = stateWith(Array.from({ length: 10 }, (_, i) => [task(`t${i}`, 1), 0] as [TaskView, number]));
  it.each([
    [5, 50, false, false],
    [6, 50, false, true],
    [6, 100, false, false],
    [10, 50, true, false],
  ])("%i of 10 removed, limit %i %%, forced %s → hold %s", (removed, limit, force, hold) => {
    expect(churnGuard(ten, removed, limit, force).hold).toBe(hold);
  });
  it("lets the second reconcile through", () => {
    expect(churnGuard({ ...ten, heldBack: { removals: 8, since: 1 } }, 8, 50, false).hold).toBe(false);
  });
});

describe("serialization", () => {
  it("round-trips and rejects anything else", () => {
    const state = stateWith([[task("x", 1), 5]]);
    const body = serializeState(state);
    expect(parseState(body, CLUSTER)).toEqual(state);
    expect(serializeState(parseState(body, CLUSTER) as ClusterState)).toBe(body);
    expect(parseState(body, "arn:aws:ecs:us-east-1:123456789012:cluster/other")).toBeUndefined();
    expect(parseState("{", CLUSTER)).toBeUndefined();
    expect(parseState(JSON.stringify({ ...state, schema: 99 }), CLUSTER)).toBeUndefined();
  });
});
