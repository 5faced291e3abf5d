/**
 * What a run reports: one outcome per cluster, and the run's totals. Each step returns its counts with
 * its outcome; `summarize` adds them up once, at the end.
 */
import type { CallCounts } from "../aws/call-counter.js";
import { addSkipCounts, type SkipCounts } from "../core/skip-reasons.js";
import type { TargetGroup } from "../shared/file-sd.js";
import type { AccountOutcome } from "./accounts.js";

export type ClusterStatus = "written" | "unchanged" | "failed" | "gone" | "held-back" | "dry-run";

export interface ClusterOutcome {
  cluster: string;
  status: ClusterStatus;
  /** How the cluster was refreshed: a full listing, or events applied to its state. */
  mode: "reconcile" | "events";
  tasks: number;
  targets: number;
  /** Containers of the recorded tasks that gave no target, by reason (core/skip-reasons.ts). */
  skippedContainers?: SkipCounts;
  object?: string;
  error?: string;
  /** Why a cluster was held back (the churn guard's finding). */
  reason?: string;
}

/** What refreshing one cluster counted, over all its attempts. */
export interface ClusterCounts {
  warnings: number;
  heldBack: number;
  events: { applied: number; stale: number; ignored: number };
  /** Targets a reconcile had to add or remove relative to the recorded state: missed events. */
  drift: { added: number; removed: number };
}

export function emptyCounts(): ClusterCounts {
  return {
    warnings: 0,
    heldBack: 0,
    events: { applied: 0, stale: 0, ignored: 0 },
    drift: { added: 0, removed: 0 },
  };
}

/** One cluster's refresh: its outcome, its counts, and (dry runs) the groups it would have written. */
export interface ClusterResult {
  outcome: ClusterOutcome;
  counts: ClusterCounts;
  groups?: TargetGroup[];
}

export interface RunSummary {
  trigger: string;
  ok: boolean;
  /** A complete reconcile: every configured cluster listed and published, vanished ones cleaned up. */
  reconcile: boolean;
  dryRun: boolean;
  skipped?: string;
  clusters: ClusterOutcome[];
  tasks: number;
  targets: number;
  /** Containers of the published clusters' tasks that gave no target, by reason. */
  skippedContainers: SkipCounts;
  objects: { written: number; unchanged: number; deleted: number; failed: number };
  deleted: string[];
  events: ClusterCounts["events"];
  drift: ClusterCounts["drift"];
  heldBack: number;
  warnings: number;
  apiCalls: Record<string, number>;
  throttles: Record<string, number>;
  apiErrors: Record<string, number>;
  durationMs: number;
  /** Queue batches: message ids to hand back to SQS for another try. */
  failedMessageIds?: string[];
  /** Several accounts (ACCOUNTS): each account's listing, the failed ones with their error. */
  accounts?: AccountOutcome[];
  /** Task events from accounts not in ACCOUNTS, ignored. */
  unlistedAccountEvents?: number;
  /** Dry runs: the groups that would have been written, by cluster name. */
  targetGroups?: Record<string, TargetGroup[]>;
}

export interface SummaryInput {
  trigger: string;
  reconcile: boolean;
  dryRun: boolean;
  skipped?: string;
  results: readonly ClusterResult[];
  deleted: readonly string[];
  calls: CallCounts;
  durationMs: number;
  accounts?: AccountOutcome[];
  unlistedAccountEvents?: number;
}

/** The run's totals from each cluster's result; clusters sorted by name. */
export function summarize(input: SummaryInput): RunSummary {
  const summary: RunSummary = {
    trigger: input.trigger,
    ok: true,
    reconcile: input.reconcile,
    dryRun: input.dryRun,
    ...(input.skipped !== undefined ? { skipped: input.skipped } : {}),
    clusters: input.results.map((r) => r.outcome).sort((a, b) => a.cluster.localeCompare(b.cluster)),
    tasks: 0,
    targets: 0,
    skippedContainers: {},
    objects: { written: 0, unchanged: 0, deleted: input.deleted.length, failed: 0 },
    deleted: [...input.deleted],
    events: { applied: 0, stale: 0, ignored: 0 },
    drift: { added: 0, removed: 0 },
    heldBack: 0,
    warnings: 0,
    apiCalls: input.calls.calls,
    throttles: input.calls.throttles,
    apiErrors: input.calls.errors,
    durationMs: input.durationMs,
  };
  for (const { outcome, counts } of input.results) {
    summary.tasks += outcome.tasks;
    summary.targets += outcome.targets;
    if (outcome.skippedContainers) addSkipCounts(summary.skippedContainers, outcome.skippedContainers);
    if (outcome.status === "written") summary.objects.written++;
    if (outcome.status === "unchanged" || outcome.status === "held-back") summary.objects.unchanged++;
    if (outcome.status === "failed") summary.objects.failed++;
    summary.warnings += counts.warnings;
    summary.heldBack += counts.heldBack;
    for (const key of ["applied", "stale", "ignored"] as const) summary.events[key] += counts.events[key];
    summary.drift.added += counts.drift.added;
    summary.drift.removed += counts.drift.removed;
  }
  if (input.accounts) summary.accounts = input.accounts;
  if (input.unlistedAccountEvents) summary.unlistedAccountEvents = input.unlistedAccountEvents;
  summary.ok = summary.objects.failed === 0 && !(input.accounts ?? []).some((a) => a.status === "failed");
  if (input.dryRun) {
    summary.targetGroups = {};
    for (const { outcome, groups } of input.results)
      if (groups) summary.targetGroups[outcome.cluster] = groups;
  }
  return summary;
}

/**
 * The cluster listing failed: nothing was changed. Carries the run's summary, so the caller can still
 * log and publish its figures.
 */
export class ClusterListingError extends Error {
  constructor(readonly summary: RunSummary) {
    super(summary.skipped ?? "could not list clusters");
    this.name = "ClusterListingError";
  }
}
