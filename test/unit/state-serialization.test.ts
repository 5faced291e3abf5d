import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ClusterState,
  emptyState,
  serializeState,
  type TaskRecord,
} from "../../lambda/state/cluster-state.js";
import { StateMemo } from "../../lambda/state/memo.js";

const CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";

/** The reference: every key sorted at every level, undefined dropped, as JSON.stringify would. */
function reference(state: ClusterState): string {
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (typeof value !== "object" || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  };
  return `${JSON.stringify(sortKeys(state))}\n`;
}

const record = fc.record(
  {
    taskArn: fc.string({ minLength: 1, maxLength: 12 }),
    clusterArn: fc.constant(CLUSTER),
    taskDefinitionArn: fc.string({ minLength: 1, maxLength: 12 }),
    group: fc.option(fc.string(), { nil: undefined }),
    version: fc.option(fc.nat(), { nil: undefined }),
    lastStatus: fc.constantFrom("RUNNING", "PENDING"),
    desiredStatus: fc.constantFrom("RUNNING", "STOPPED"),
    containers: fc.array(
      fc.record({
        name: fc.string({ minLength: 1 }),
        networkBindings: fc.array(fc.record({ containerPort: fc.nat(), hostPort: fc.nat() }), {
          maxLength: 2,
        }),
      }),
      { maxLength: 2 },
    ),
    tags: fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), { nil: undefined }),
    seenAt: fc.nat(),
  },
  { requiredKeys: ["taskArn", "clusterArn", "taskDefinitionArn", "containers", "seenAt"] },
);

describe("serializeState", () => {
  it("writes what sorting every key and stringifying writes, with or without remembered records", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), record, { maxKeys: 8 }),
        fc.option(fc.record({ removals: fc.nat(), since: fc.nat() }), { nil: undefined }),
        fc.dictionary(fc.string(), fc.record({ version: fc.nat(), at: fc.nat() }), { maxKeys: 3 }),
        (tasks, heldBack, tombstones) => {
          const state: ClusterState = {
            ...emptyState(CLUSTER),
            tasks: tasks as Record<string, TaskRecord>,
            tombstones,
            ...(heldBack ? { heldBack } : {}),
          };
          const remembered = new Map<TaskRecord, string>();
          const viaMemo = serializeState(state, (r) => {
            const json =
              remembered.get(r) ??
              JSON.stringify(JSON.parse(reference({ ...emptyState(CLUSTER), tasks: { x: r } })).tasks.x);
            remembered.set(r, json);
            return json;
          });
          expect(serializeState(state)).toBe(reference(state));
          expect(viaMemo).toBe(reference(state));
        },
      ),
    );
  });
});

describe("StateMemo", () => {
  const state = (tasks: number): ClusterState => {
    const s = emptyState(CLUSTER);
    for (let i = 0; i < tasks; i++) s.tasks[`t${i}`] = { taskArn: `t${i}` } as TaskRecord;
    return s;
  };

  it("forgets the least recently used states once they hold more tasks than the limit", () => {
    const memo = new StateMemo(10);
    memo.set("a", '"1"', state(4));
    memo.set("b", '"1"', state(4));
    expect(memo.get("a")?.etag).toBe('"1"'); // a is now the most recently used
    memo.set("c", '"1"', state(4));
    expect(memo.get("b")).toBeUndefined();
    expect(memo.get("a")).toBeDefined();
    expect(memo.get("c")).toBeDefined();
  });

  it("a reconcile refreshes remembered clusters but adds none", () => {
    const memo = new StateMemo(100);
    memo.remember("reconciled", '"1"', state(3), false);
    expect(memo.has("reconciled")).toBe(false);
    memo.remember("hot", '"1"', state(3), true);
    memo.remember("hot", '"2"', state(4), false);
    expect(memo.get("hot")?.etag).toBe('"2"');
  });

  it("keeps the newest state even when it alone is over the limit, and replaces a cluster's entry", () => {
    const memo = new StateMemo(10);
    memo.set("a", '"1"', state(3));
    memo.set("big", '"1"', state(50));
    expect(memo.size).toBe(1);
    expect(memo.get("big")).toBeDefined();
    memo.set("big", '"2"', state(2));
    memo.set("a", '"3"', state(3));
    expect(memo.size).toBe(2);
    expect(memo.get("big")?.etag).toBe('"2"');
  });
});
