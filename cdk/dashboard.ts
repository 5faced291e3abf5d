import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import {
  ACCOUNT_METRICS,
  CLUSTER_METRICS,
  METRIC_DIMENSIONS,
  OPERATION_METRICS,
  RUN_METRICS,
  SKIPPED_BY_REASON_METRIC,
} from "../lambda/shared/metric-names.js";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../lambda/shared/settings.js";
import { ALARM_RULES, runMetric } from "./alarms.js";

export interface DashboardSubjects {
  readonly fn: lambda.IFunction;
  readonly timeout: Duration;
  readonly eventQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly reconcileIntervalMinutes: number;
  readonly eventQueueAgeThresholdSeconds: number;
  /** Several accounts: a row for them (failed listings per account, events from unlisted accounts). */
  readonly severalAccounts?: boolean;
  /** Shown in the alarm status widget, in this order. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * One line per value of `dimension` of a metric the function publishes with `service` and that dimension
 * (a cluster, a reason, an operation): a SEARCH, since the values are not known at synth.
 */
export function searchByDimension(
  metricName: string,
  dimension: string,
  statistic: string,
  period: Duration,
): cloudwatch.MathExpression {
  const schema = `{${METRICS_NAMESPACE},${METRIC_DIMENSIONS.service},${dimension}}`;
  const query = `${schema} MetricName="${metricName}" ${METRIC_DIMENSIONS.service}="${SERVICE_NAME}"`;
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${query}', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    label: `\${PROP('Dim.${dimension}')}`,
    period,
  });
}

function graph(title: string, width: number, props: Partial<cloudwatch.GraphWidgetProps>) {
  return new cloudwatch.GraphWidget({ title, width, height: 6, ...props });
}

/** What the runs did: events applied and stale, drift found by reconciles, failures. */
function runWidgets(s: DashboardSubjects): cloudwatch.IWidget[] {
  const reconcilePeriod = Duration.minutes(s.reconcileIntervalMinutes);
  return [
    graph("ECS events applied and stale", 8, {
      left: [
        runMetric(RUN_METRICS.eventsApplied, "Sum", FIVE_MINUTES).with({ label: "applied" }),
        runMetric(RUN_METRICS.eventsStale, "Sum", FIVE_MINUTES).with({ label: "stale" }),
      ],
    }),
    graph("Drift found by reconciles (targets)", 8, {
      left: [
        runMetric(RUN_METRICS.driftTargetsAdded, "Sum", reconcilePeriod).with({ label: "added" }),
        runMetric(RUN_METRICS.driftTargetsRemoved, "Sum", reconcilePeriod).with({ label: "removed" }),
      ],
    }),
    graph("Errors, throttles and failed clusters", 8, {
      left: [
        s.fn.metricErrors({ period: FIVE_MINUTES, statistic: "Sum", label: "function errors" }),
        s.fn.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum", label: "function throttles" }),
        runMetric(RUN_METRICS.clusterFailures, "Sum", FIVE_MINUTES).with({ label: "failed clusters" }),
      ],
    }),
  ];
}

/** Per cluster and per reason: targets, skipped containers, failed refreshes. */
function clusterWidgets(s: DashboardSubjects): cloudwatch.IWidget[] {
  const period = Duration.minutes(s.reconcileIntervalMinutes);
  const { cluster, reason } = METRIC_DIMENSIONS;
  return [
    graph("Targets per cluster", 6, {
      left: [searchByDimension(CLUSTER_METRICS.targets, cluster, "Maximum", period)],
    }),
    graph("Skipped containers per cluster", 6, {
      left: [searchByDimension(CLUSTER_METRICS.skippedContainers, cluster, "Maximum", period)],
    }),
    graph("Skipped containers by reason", 6, {
      left: [searchByDimension(SKIPPED_BY_REASON_METRIC, reason, "Maximum", period)],
    }),
    // Which cluster the ClusterFailures alarm is about: that alarm cannot SEARCH, this graph can.
    graph("Failed refreshes per cluster", 6, {
      left: [searchByDimension(CLUSTER_METRICS.failed, cluster, "Sum", period)],
    }),
  ];
}

/** Several accounts: which account failed (the AccountFailures alarm cannot SEARCH), strangers' events. */
function accountWidgets(s: DashboardSubjects): cloudwatch.IWidget[] {
  const period = Duration.minutes(s.reconcileIntervalMinutes);
  return [
    graph("Failed listings per account", 12, {
      left: [searchByDimension(ACCOUNT_METRICS.failed, METRIC_DIMENSIONS.account, "Sum", period)],
    }),
    graph("Events from accounts not in ACCOUNTS", 12, {
      left: [runMetric(RUN_METRICS.unlistedAccountEvents, "Sum", FIVE_MINUTES).with({ label: "ignored" })],
    }),
  ];
}

/** ECS and EC2 calls, and throttled attempts, by operation. */
function apiWidgets(): cloudwatch.IWidget[] {
  const { operation } = METRIC_DIMENSIONS;
  return [
    graph("API calls by operation", 12, {
      left: [searchByDimension(OPERATION_METRICS.calls, operation, "Sum", FIVE_MINUTES)],
    }),
    graph("Throttled API attempts by operation", 12, {
      left: [searchByDimension(OPERATION_METRICS.throttles, operation, "Sum", FIVE_MINUTES)],
    }),
  ];
}

/** How long runs take against the timeout, and how long events wait in the queue. */
function capacityWidgets(s: DashboardSubjects): cloudwatch.IWidget[] {
  const timeoutMs = s.timeout.toMilliseconds();
  return [
    graph("Function duration (ms)", 12, {
      left: [
        s.fn.metricDuration({ period: FIVE_MINUTES, statistic: "Average", label: "average" }),
        s.fn.metricDuration({ period: FIVE_MINUTES, statistic: "Maximum", label: "maximum" }),
      ],
      leftAnnotations: [
        { value: timeoutMs, label: "timeout", color: cloudwatch.Color.RED },
        {
          value: Math.round(timeoutMs * ALARM_RULES.duration.timeoutShare),
          label: "DurationNearTimeout alarm",
          color: cloudwatch.Color.ORANGE,
        },
      ],
    }),
    graph("Event queue: age of the oldest message (s); dead-letter queue", 12, {
      left: [
        s.eventQueue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(ALARM_RULES.eventQueueAge.periodMinutes),
          statistic: "Maximum",
          label: "oldest event (s)",
        }),
      ],
      leftAnnotations: [
        { value: s.eventQueueAgeThresholdSeconds, label: "EventQueueAge alarm", color: cloudwatch.Color.RED },
      ],
      right: [
        s.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: "Maximum",
          label: "dead-lettered messages",
        }),
      ],
    }),
  ];
}

/** The dashboard of one deployment: alarm states first, then what the runs did, per cluster, API, capacity. */
export function buildDashboard(scope: Construct, s: DashboardSubjects): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, "Dashboard", { defaultInterval: Duration.hours(3) });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: [...s.alarms], width: 24, height: 3 }),
  );
  dashboard.addWidgets(...runWidgets(s));
  dashboard.addWidgets(...clusterWidgets(s));
  if (s.severalAccounts) dashboard.addWidgets(...accountWidgets(s));
  dashboard.addWidgets(...apiWidgets());
  dashboard.addWidgets(...capacityWidgets(s));
  return dashboard;
}
