/**
 * runMetrics (lambda/run-metrics.ts): a run's summary as CloudWatch points. The run's totals carry no
 * dimension beyond `service`; per cluster, per skipped-container reason and per operation one more.
 */
import { describe, expect, it } from "vitest";
import type { ClusterOutcome, RunSummary } from "../../lambda/engine/summary.js";
import { type MetricPoint, runMetrics } from "../../lambda/run-metrics.js";
import {
  CLUSTER_METRICS,
  METRIC_DIMENSIONS,
  OPERATION_METRICS,
  RUN_METRICS,
  SKIPPED_BY_REASON_METRIC,
} from "../../lambda/shared/metric-names.js";

function outcome(cluster: string, extra: Partial<ClusterOutcome> = {}): ClusterOutcome {
  return { cluster, status: "written", mode: "reconcile", tasks: 0, targets: 0, ...extra };
}

function summary(extra: Partial<RunSummary> = {}): RunSummary {
  return {
    trigger: "schedule",
    ok: true,
    reconcile: true,
    dryRun: false,
    clusters: [],
    tasks: 0,
    targets: 0,
    skippedContainers: {},
    objects: { written: 0, unchanged: 0, deleted: 0, failed: 0 },
    deleted: [],
    events: { applied: 0, stale: 0, ignored: 0 },
    drift: { added: 0, removed: 0 },
    heldBack: 0,
    warnings: 0,
    apiCalls: {},
    throttles: {},
    apiErrors: {},
    durationMs: 5,
    ...extra,
  };
}

/** A reconcile over three clusters: one written, one unchanged, one failed. */
const RECONCILE = summary({
  ok: false,
  clusters: [
    outcome("api", {
      tasks: 4,
      targets: 5,
      skippedContainers: { "no-port-label": 3, "bad-label": 1 },
    }),
    outcome("batch", { status: "unchanged", tasks: 2, targets: 2 }),
    outcome("broken", { status: "failed", tasks: 0, targets: 0, error: "AccessDeniedException" }),
  ],
  tasks: 6,
  targets: 7,
  skippedContainers: { "no-port-label": 3, "bad-label": 1 },
  objects: { written: 1, unchanged: 1, deleted: 0, failed: 1 },
  events: { applied: 2, stale: 1, ignored: 0 },
  drift: { added: 1, removed: 2 },
  heldBack: 0,
  warnings: 3,
  apiCalls: { "ECS.ListTasks": 3, "ECS.DescribeTasks": 2, "EC2.DescribeInstances": 1 },
  throttles: { "ECS.DescribeTasks": 1 },
});

const byName = (points: MetricPoint[], name: string) => points.filter((p) => p.name === name);
const plain = (points: MetricPoint[]) =>
  Object.fromEntries(points.filter((p) => !p.dimension).map((p) => [p.name, p.value]));
const dimensioned = (points: MetricPoint[], name: string) =>
  Object.fromEntries(byName(points, name).map((p) => [p.dimension?.value, p.value]));

describe("runMetrics", () => {
  it("gives the run's totals without a dimension", () => {
    const points = runMetrics(RECONCILE);
    expect(plain(points)).toEqual({
      // Not a successful reconcile: a cluster failed.
      [RUN_METRICS.clusterFailures]: 1,
      [RUN_METRICS.targets]: 7,
      [RUN_METRICS.objectsWritten]: 1,
      [RUN_METRICS.apiCalls]: 6,
      [RUN_METRICS.throttles]: 1,
      [RUN_METRICS.warnings]: 3,
      [RUN_METRICS.eventsApplied]: 2,
      [RUN_METRICS.eventsStale]: 1,
      [RUN_METRICS.driftTargetsAdded]: 1,
      [RUN_METRICS.driftTargetsRemoved]: 2,
      [RUN_METRICS.churnGuardHeldBack]: 0,
      [RUN_METRICS.skippedContainers]: 4,
    });
    // Each run metric once.
    const names = points.filter((p) => !p.dimension).map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("ReconcileSuccess is 1 for a reconcile that published every cluster, and absent otherwise", () => {
    const ok = summary({ clusters: [outcome("api")] });
    expect(plain(runMetrics(ok))[RUN_METRICS.reconcileSuccess]).toBe(1);
    expect(plain(runMetrics(RECONCILE))).not.toHaveProperty(RUN_METRICS.reconcileSuccess);
    expect(plain(runMetrics({ ...ok, dryRun: true }))).not.toHaveProperty(RUN_METRICS.reconcileSuccess);
    expect(plain(runMetrics({ ...ok, reconcile: false }))).not.toHaveProperty(RUN_METRICS.reconcileSuccess);
  });

  it("drift is published by a reconcile only", () => {
    const events = runMetrics({ ...RECONCILE, reconcile: false, trigger: "queue" });
    expect(plain(events)).not.toHaveProperty(RUN_METRICS.driftTargetsAdded);
    expect(plain(events)).not.toHaveProperty(RUN_METRICS.driftTargetsRemoved);
  });

  it("gives ClusterTargets, ClusterSkippedContainers and ClusterFailed per cluster, by name", () => {
    const points = runMetrics(RECONCILE);
    for (const name of Object.values(CLUSTER_METRICS))
      for (const p of byName(points, name)) expect(p.dimension?.name).toBe(METRIC_DIMENSIONS.cluster);
    expect(dimensioned(points, CLUSTER_METRICS.failed)).toEqual({ api: 0, batch: 0, broken: 1 });
    // A failed cluster has no targets figure (its object stays as it was), nor a skipped one.
    expect(dimensioned(points, CLUSTER_METRICS.targets)).toEqual({ api: 5, batch: 2 });
    expect(dimensioned(points, CLUSTER_METRICS.skippedContainers)).toEqual({ api: 4, batch: 0 });
  });

  it("a cluster that is gone gives no per-cluster point", () => {
    const points = runMetrics(
      summary({ clusters: [outcome("api", { targets: 1 }), outcome("old", { status: "gone" })] }),
    );
    expect(dimensioned(points, CLUSTER_METRICS.failed)).toEqual({ api: 0 });
    expect(dimensioned(points, CLUSTER_METRICS.targets)).toEqual({ api: 1 });
  });

  it("a dry run gives no per-cluster points", () => {
    const dry = summary({
      dryRun: true,
      clusters: [outcome("api", { status: "dry-run", targets: 5 }), outcome("broken", { status: "failed" })],
      targets: 5,
      skippedContainers: { "no-port-label": 2 },
      objects: { written: 0, unchanged: 0, deleted: 0, failed: 1 },
    });
    const points = runMetrics(dry);
    for (const name of Object.values(CLUSTER_METRICS)) expect(byName(points, name)).toEqual([]);
    expect(points.some((p) => p.dimension?.name === METRIC_DIMENSIONS.cluster)).toBe(false);
    // The run's totals are still there.
    expect(plain(points)[RUN_METRICS.targets]).toBe(5);
    expect(dimensioned(points, SKIPPED_BY_REASON_METRIC)).toEqual({ "no-port-label": 2 });
  });

  it("gives SkippedContainersByReason per reason, with the reason dimension", () => {
    const points = byName(runMetrics(RECONCILE), SKIPPED_BY_REASON_METRIC);
    expect(points).toEqual([
      {
        name: SKIPPED_BY_REASON_METRIC,
        value: 3,
        dimension: { name: METRIC_DIMENSIONS.reason, value: "no-port-label" },
      },
      {
        name: SKIPPED_BY_REASON_METRIC,
        value: 1,
        dimension: { name: METRIC_DIMENSIONS.reason, value: "bad-label" },
      },
    ]);
    expect(byName(runMetrics(summary()), SKIPPED_BY_REASON_METRIC)).toEqual([]);
    expect(plain(runMetrics(summary()))[RUN_METRICS.skippedContainers]).toBe(0);
  });

  it("gives OperationCalls and OperationThrottles per operation", () => {
    const points = runMetrics(RECONCILE);
    for (const name of Object.values(OPERATION_METRICS))
      for (const p of byName(points, name)) expect(p.dimension?.name).toBe(METRIC_DIMENSIONS.operation);
    expect(dimensioned(points, OPERATION_METRICS.calls)).toEqual({
      "ECS.ListTasks": 3,
      "ECS.DescribeTasks": 2,
      "EC2.DescribeInstances": 1,
    });
    expect(dimensioned(points, OPERATION_METRICS.throttles)).toEqual({ "ECS.DescribeTasks": 1 });
  });

  it("uses only the names of metric-names.ts", () => {
    const known = new Set<string>([
      ...Object.values(RUN_METRICS),
      ...Object.values(CLUSTER_METRICS),
      ...Object.values(OPERATION_METRICS),
      SKIPPED_BY_REASON_METRIC,
    ]);
    const dimensions = new Set<string>(Object.values(METRIC_DIMENSIONS));
    for (const p of runMetrics(RECONCILE)) {
      expect(known.has(p.name), p.name).toBe(true);
      if (p.dimension) expect(dimensions.has(p.dimension.name), p.dimension.name).toBe(true);
      expect(p.dimension?.name).not.toBe(METRIC_DIMENSIONS.service);
    }
  });
});
