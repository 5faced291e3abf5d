/**
 * The function's CloudWatch metrics: names and dimensions, shared by the handler that publishes them and
 * the construct's alarms and dashboard that read them. Every metric carries the `service` dimension
 * (SERVICE_NAME in settings.ts); the per-cluster, per-reason and per-operation ones carry one more.
 */

/** Metrics of a run, dimension `service` only. */
export const RUN_METRICS = {
  /** 1 for a dry-run-free reconcile that published every cluster. */
  reconcileSuccess: "ReconcileSuccess",
  /** Clusters whose refresh failed in the run (their objects stay as they were). */
  clusterFailures: "ClusterFailures",
  targets: "Targets",
  objectsWritten: "ObjectsWritten",
  apiCalls: "ApiCalls",
  throttles: "Throttles",
  warnings: "Warnings",
  eventsApplied: "EventsApplied",
  eventsStale: "EventsStale",
  /** Reconciles only: targets the listing added or removed against the recorded state (missed events). */
  driftTargetsAdded: "DriftTargetsAdded",
  driftTargetsRemoved: "DriftTargetsRemoved",
  churnGuardHeldBack: "ChurnGuardHeldBack",
  /** Containers of recorded tasks that gave no target, all reasons together. */
  skippedContainers: "SkippedContainers",
  /** Several accounts: accounts a reconcile could not list (role not assumed, throttled, denied). */
  accountFailures: "AccountFailures",
  /** Several accounts: task events from accounts not in ACCOUNTS, ignored. */
  unlistedAccountEvents: "EventsFromUnlistedAccounts",
} as const;

/** Several accounts: per account a reconcile lists, dimension `account` beside `service`. */
export const ACCOUNT_METRICS = {
  /** 1 when the account could not be listed, 0 when it was. */
  failed: "AccountFailed",
} as const;

/** Per cluster refreshed in the run, dimension `cluster` (the cluster's name) beside `service`. */
export const CLUSTER_METRICS = {
  targets: "ClusterTargets",
  skippedContainers: "ClusterSkippedContainers",
  /** 1 when the cluster's refresh failed, 0 when it succeeded. */
  failed: "ClusterFailed",
} as const;

/** Skipped containers by reason code (core/explain.ts), dimension `reason` beside `service`. */
export const SKIPPED_BY_REASON_METRIC = "SkippedContainersByReason";

/** API calls and throttled attempts by operation ("ECS.DescribeTasks", …), dimension `operation`. */
export const OPERATION_METRICS = {
  calls: "OperationCalls",
  throttles: "OperationThrottles",
} as const;

export const METRIC_DIMENSIONS = {
  service: "service",
  cluster: "cluster",
  reason: "reason",
  operation: "operation",
  account: "account",
} as const;
