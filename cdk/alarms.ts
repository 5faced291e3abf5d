import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { METRIC_DIMENSIONS, RUN_METRICS } from "../lambda/shared/metric-names.js";
import { METRICS_NAMESPACE, SERVICE_NAME } from "../lambda/shared/settings.js";

/**
 * How each alarm decides, in one place (RUNBOOK.md → Alarms explains each one). Periods of the reconcile
 * metrics are the reconcile interval, since a reconcile publishes them once per interval.
 */
export const ALARM_RULES = {
  /** Lambda `Errors` (uncaught errors and timeouts): at least one in 2 of 3 five-minute periods. */
  errors: { periodMinutes: 5, threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2 },
  /** Lambda `Throttles` (invocations refused for lack of concurrency): at least one in 2 of 3 five-minute periods. */
  throttles: { periodMinutes: 5, threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2 },
  /**
   * Maximum `Duration` at or above this share of the timeout in 2 of 3 five-minute periods: runs are about to
   * time out. One slow run (the hourly full describe) is not enough.
   */
  duration: { periodMinutes: 5, timeoutShare: 0.8, evaluationPeriods: 3, datapointsToAlarm: 2 },
  /** Any message visible in the dead-letter queue, at once. */
  deadLetter: { periodMinutes: 5, threshold: 1, evaluationPeriods: 1 },
  /** Oldest message of the event queue at or above the threshold in 2 of 3 one-minute periods. */
  eventQueueAge: { periodMinutes: 1, evaluationPeriods: 3, datapointsToAlarm: 2 },
  /** Drift (targets added plus removed by a reconcile) above zero in 3 of 6 reconcile periods. */
  drift: { threshold: 0, evaluationPeriods: 6, datapointsToAlarm: 3 },
  /** At least one failed cluster in each of 3 consecutive reconcile periods. */
  clusterFailures: { threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 3 },
  /** Several accounts: at least one account not listed in each of 3 consecutive reconcile periods. */
  accountFailures: { threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 3 },
} as const;

/**
 * The default threshold of the event queue's age alarm, in seconds. A message whose cluster failed goes back
 * to the queue and is retried when its visibility timeout (six function timeouts) ends, and the retry may run
 * one more timeout; the queue is stuck only when its oldest message is older than that. Plus a minute, and at
 * least 300 s: 900 s with the default 120 s timeout.
 */
export function defaultEventQueueAgeThresholdSeconds(timeoutSeconds: number): number {
  return Math.max(300, 7 * timeoutSeconds + 60);
}

export interface DiscoveryAlarms {
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly throttlesAlarm: cloudwatch.Alarm;
  readonly durationAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly eventQueueAgeAlarm: cloudwatch.Alarm;
  readonly reconcileMissingAlarm: cloudwatch.Alarm;
  readonly driftAlarm: cloudwatch.Alarm;
  readonly clusterFailuresAlarm: cloudwatch.Alarm;
  /** Only with several accounts (ACCOUNTS). */
  readonly accountFailuresAlarm?: cloudwatch.Alarm;
}

export interface AlarmSubjects {
  readonly fn: lambda.IFunction;
  readonly timeout: Duration;
  readonly eventQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The reconcile schedule's period, which is also the period of the reconcile metrics. */
  readonly reconcileIntervalMinutes: number;
  readonly reconcileMissingPeriods: number;
  readonly eventQueueAgeThresholdSeconds: number;
  /** The function discovers several accounts: their failures get an alarm of their own. */
  readonly severalAccounts?: boolean;
}

/** A metric the function publishes, dimension `service` only. */
export function runMetric(metricName: string, statistic: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [METRIC_DIMENSIONS.service]: SERVICE_NAME },
    statistic,
    period,
  });
}

type AlarmName =
  | "FunctionErrors"
  | "FunctionThrottles"
  | "DurationNearTimeout"
  | "DeadLetterQueue"
  | "EventQueueAge"
  | "ReconcileMissing"
  | "RepeatedDrift"
  | "ClusterFailures"
  | "AccountFailures";

/** An alarm `<name>Alarm` whose description says what it means and where the runbook's section is. */
function alarm(
  scope: Construct,
  name: AlarmName,
  meaning: string,
  props: Omit<cloudwatch.AlarmProps, "alarmDescription">,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, `${name}Alarm`, {
    alarmDescription: `prometheus-ecs-discovery: ${meaning} RUNBOOK.md → Alarm: ${name}`,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    ...props,
  });
}

const AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;

/** The function's own health, from Lambda's metrics: errors, throttles, runs close to the timeout. */
function functionAlarms(scope: Construct, { fn, timeout }: AlarmSubjects) {
  const { errors, throttles, duration } = ALARM_RULES;
  const errorsAlarm = alarm(
    scope,
    "FunctionErrors",
    "invocations failed with an uncaught error or a timeout (Lambda's Errors metric; throttles are not counted here).",
    {
      metric: fn.metricErrors({ period: Duration.minutes(errors.periodMinutes), statistic: "Sum" }),
      threshold: errors.threshold,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: errors.evaluationPeriods,
      datapointsToAlarm: errors.datapointsToAlarm,
    },
  );
  const throttlesAlarm = alarm(
    scope,
    "FunctionThrottles",
    "Lambda refused invocations for lack of concurrency (Lambda's Throttles metric).",
    {
      metric: fn.metricThrottles({ period: Duration.minutes(throttles.periodMinutes), statistic: "Sum" }),
      threshold: throttles.threshold,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: throttles.evaluationPeriods,
      datapointsToAlarm: throttles.datapointsToAlarm,
    },
  );
  const thresholdMs = Math.round(timeout.toMilliseconds() * duration.timeoutShare);
  const durationAlarm = alarm(
    scope,
    "DurationNearTimeout",
    `the longest run took at least ${Math.round(duration.timeoutShare * 100)} % of the ${timeout.toSeconds()} s timeout.`,
    {
      metric: fn.metricDuration({ period: Duration.minutes(duration.periodMinutes), statistic: "Maximum" }),
      threshold: thresholdMs,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: duration.evaluationPeriods,
      datapointsToAlarm: duration.datapointsToAlarm,
    },
  );
  return { errorsAlarm, throttlesAlarm, durationAlarm };
}

/** The queues: work dead-lettered, or the event path stuck. */
function queueAlarms(scope: Construct, s: AlarmSubjects) {
  const { deadLetter, eventQueueAge } = ALARM_RULES;
  const deadLetterAlarm = alarm(
    scope,
    "DeadLetterQueue",
    "events or scheduled reconciles were dead-lettered (the dead-letter queue is not empty).",
    {
      metric: s.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(deadLetter.periodMinutes),
        statistic: "Maximum",
      }),
      threshold: deadLetter.threshold,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: deadLetter.evaluationPeriods,
    },
  );
  const eventQueueAgeAlarm = alarm(
    scope,
    "EventQueueAge",
    `the oldest ECS event in the event queue is ${s.eventQueueAgeThresholdSeconds} s old or older; the event path is stuck.`,
    {
      metric: s.eventQueue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(eventQueueAge.periodMinutes),
        statistic: "Maximum",
      }),
      threshold: s.eventQueueAgeThresholdSeconds,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: eventQueueAge.evaluationPeriods,
      datapointsToAlarm: eventQueueAge.datapointsToAlarm,
    },
  );
  return { deadLetterAlarm, eventQueueAgeAlarm };
}

/** The reconciles, from the function's metrics: none succeeding, drift on many, a cluster failing on many. */
function reconcileAlarms(scope: Construct, s: AlarmSubjects) {
  const period = Duration.minutes(s.reconcileIntervalMinutes);
  const { drift, clusterFailures } = ALARM_RULES;
  const reconcileMissingAlarm = alarm(
    scope,
    "ReconcileMissing",
    `no reconcile published every cluster for ${s.reconcileMissingPeriods} schedule periods; targets may be stale.`,
    {
      metric: runMetric(RUN_METRICS.reconcileSuccess, "Sum", period),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: s.reconcileMissingPeriods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    },
  );
  const driftAlarm = alarm(
    scope,
    "RepeatedDrift",
    `reconciles had to add or remove targets in ${drift.datapointsToAlarm} of ${drift.evaluationPeriods} ` +
      "schedule periods: ECS events are not arriving or not applied.",
    {
      metric: new cloudwatch.MathExpression({
        expression: "added + removed",
        usingMetrics: {
          added: runMetric(RUN_METRICS.driftTargetsAdded, "Sum", period),
          removed: runMetric(RUN_METRICS.driftTargetsRemoved, "Sum", period),
        },
        label: "Drift (targets added + removed by reconciles)",
        period,
      }),
      threshold: drift.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: drift.evaluationPeriods,
      datapointsToAlarm: drift.datapointsToAlarm,
    },
  );
  const clusterFailuresAlarm = alarm(
    scope,
    "ClusterFailures",
    `a cluster failed to refresh in each of ${clusterFailures.evaluationPeriods} schedule periods in a row; ` +
      "its object keeps its last targets.",
    {
      metric: runMetric(RUN_METRICS.clusterFailures, "Sum", period),
      threshold: clusterFailures.threshold,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: clusterFailures.evaluationPeriods,
      datapointsToAlarm: clusterFailures.datapointsToAlarm,
    },
  );
  if (!s.severalAccounts) return { reconcileMissingAlarm, driftAlarm, clusterFailuresAlarm };
  const { accountFailures } = ALARM_RULES;
  const accountFailuresAlarm = alarm(
    scope,
    "AccountFailures",
    `a member account could not be listed (its role not assumed, throttled or denied) in each of ${accountFailures.evaluationPeriods} ` +
      "schedule periods in a row; its clusters keep their last targets.",
    {
      metric: runMetric(RUN_METRICS.accountFailures, "Sum", period),
      threshold: accountFailures.threshold,
      comparisonOperator: AT_LEAST,
      evaluationPeriods: accountFailures.evaluationPeriods,
      datapointsToAlarm: accountFailures.datapointsToAlarm,
    },
  );
  return { reconcileMissingAlarm, driftAlarm, clusterFailuresAlarm, accountFailuresAlarm };
}

/** Every alarm the runbook starts from (RUNBOOK.md → Alarms). */
export function buildAlarms(scope: Construct, subjects: AlarmSubjects): DiscoveryAlarms {
  return {
    ...functionAlarms(scope, subjects),
    ...queueAlarms(scope, subjects),
    ...reconcileAlarms(scope, subjects),
  };
}

/** The alarms in the order of the runbook. */
export function alarmList(a: DiscoveryAlarms): cloudwatch.Alarm[] {
  return [
    a.errorsAlarm,
    a.throttlesAlarm,
    a.durationAlarm,
    a.deadLetterAlarm,
    a.eventQueueAgeAlarm,
    a.reconcileMissingAlarm,
    a.driftAlarm,
    a.clusterFailuresAlarm,
    ...(a.accountFailuresAlarm ? [a.accountFailuresAlarm] : []),
  ];
}

/** Sends both alarm and recovery of every alarm to `topic`. */
export function notifyAlarmTopic(alarms: DiscoveryAlarms, topic: sns.ITopic): void {
  const action = new cloudwatchActions.SnsAction(topic);
  for (const a of alarmList(alarms)) {
    a.addAlarmAction(action);
    a.addOkAction(action);
  }
}
