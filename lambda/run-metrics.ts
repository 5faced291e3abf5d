/**
 * A run's summary as CloudWatch metric points: the run's totals, then per cluster refreshed, per
 * skipped-container reason and per AWS operation. Pure, so the handler only publishes what it returns.
 */
import { total } from "./aws/call-counter.js";
import { totalSkipped } from "./core/skip-reasons.js";
import type { RunSummary } from "./engine/summary.js";
import {
  ACCOUNT_METRICS,
  CLUSTER_METRICS,
  METRIC_DIMENSIONS,
  OPERATION_METRICS,
  RUN_METRICS,
  SKIPPED_BY_REASON_METRIC,
} from "./shared/metric-names.js";

export interface MetricPoint {
  name: string;
  value: number;
  /** Beside the `service` dimension every metric has. */
  dimension?: { name: string; value: string };
}

function runPoints(summary: RunSummary): MetricPoint[] {
  const points: MetricPoint[] = [];
  const add = (name: string, value: number) => points.push({ name, value });
  if (summary.reconcile && summary.ok && !summary.dryRun) add(RUN_METRICS.reconcileSuccess, 1);
  add(RUN_METRICS.clusterFailures, summary.objects.failed);
  add(RUN_METRICS.targets, summary.targets);
  add(RUN_METRICS.objectsWritten, summary.objects.written);
  add(RUN_METRICS.apiCalls, total(summary.apiCalls));
  add(RUN_METRICS.throttles, total(summary.throttles));
  add(RUN_METRICS.warnings, summary.warnings);
  add(RUN_METRICS.eventsApplied, summary.events.applied);
  add(RUN_METRICS.eventsStale, summary.events.stale);
  // Only a reconcile measures drift; anything but zero there means an event was missed.
  if (summary.reconcile && !summary.dryRun) {
    add(RUN_METRICS.driftTargetsAdded, summary.drift.added);
    add(RUN_METRICS.driftTargetsRemoved, summary.drift.removed);
  }
  add(RUN_METRICS.churnGuardHeldBack, summary.heldBack);
  add(RUN_METRICS.skippedContainers, totalSkipped(summary.skippedContainers));
  if (summary.accounts)
    add(RUN_METRICS.accountFailures, summary.accounts.filter((a) => a.status === "failed").length);
  if (summary.unlistedAccountEvents) add(RUN_METRICS.unlistedAccountEvents, summary.unlistedAccountEvents);
  return points;
}

export function runMetrics(summary: RunSummary): MetricPoint[] {
  const points = runPoints(summary);
  const by = (name: string, value: number, dimension: string, key: string) =>
    points.push({ name, value, dimension: { name: dimension, value: key } });
  // A dry run publishes nothing, so its per-cluster figures would describe objects that do not exist.
  for (const c of summary.dryRun ? [] : summary.clusters) {
    if (c.status === "gone") continue;
    const failed = c.status === "failed";
    by(CLUSTER_METRICS.failed, failed ? 1 : 0, METRIC_DIMENSIONS.cluster, c.cluster);
    if (failed) continue;
    by(CLUSTER_METRICS.targets, c.targets, METRIC_DIMENSIONS.cluster, c.cluster);
    by(
      CLUSTER_METRICS.skippedContainers,
      totalSkipped(c.skippedContainers ?? {}),
      METRIC_DIMENSIONS.cluster,
      c.cluster,
    );
  }
  for (const a of summary.accounts ?? [])
    by(ACCOUNT_METRICS.failed, a.status === "failed" ? 1 : 0, METRIC_DIMENSIONS.account, a.account);
  for (const [reason, n] of Object.entries(summary.skippedContainers))
    by(SKIPPED_BY_REASON_METRIC, n, METRIC_DIMENSIONS.reason, reason);
  for (const [operation, n] of Object.entries(summary.apiCalls))
    by(OPERATION_METRICS.calls, n, METRIC_DIMENSIONS.operation, operation);
  for (const [operation, n] of Object.entries(summary.throttles))
    by(OPERATION_METRICS.throttles, n, METRIC_DIMENSIONS.operation, operation);
  return points;
}
