import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { METRICS_NAMESPACE, RECONCILE_SUCCESS_METRIC, SERVICE_NAME } from "../lambda/shared/settings.js";

export interface DiscoveryAlarms {
  readonly errorsAlarm: cloudwatch.Alarm;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  readonly reconcileMissingAlarm: cloudwatch.Alarm;
}

export interface AlarmSubjects {
  readonly fn: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** The reconcile schedule's period, which is also the period of the reconcile metric. */
  readonly reconcileIntervalMinutes: number;
  readonly reconcileMissingPeriods: number;
}

/** The alarms the runbook starts from: the function fails, work is dead-lettered, or targets go stale. */
export function buildAlarms(scope: Construct, subjects: AlarmSubjects): DiscoveryAlarms {
  const { fn, deadLetterQueue, reconcileIntervalMinutes, reconcileMissingPeriods } = subjects;
  const errorsAlarm = new cloudwatch.Alarm(scope, "FunctionErrorsAlarm", {
    alarmDescription:
      "prometheus-ecs-discovery: the function failed (crash, timeout, throttle). RUNBOOK.md → First Line Troubleshooting.",
    metric: fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const deadLetterAlarm = new cloudwatch.Alarm(scope, "DeadLetterQueueAlarm", {
    alarmDescription:
      "prometheus-ecs-discovery: events or scheduled reconciles were dead-lettered. RUNBOOK.md → Second Line Troubleshooting.",
    metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(5),
      statistic: "Maximum",
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const reconcileMissingAlarm = new cloudwatch.Alarm(scope, "ReconcileMissingAlarm", {
    alarmDescription:
      `prometheus-ecs-discovery: no reconcile published every cluster for ${reconcileMissingPeriods} schedule periods; ` +
      "targets may be stale. RUNBOOK.md → First Line Troubleshooting.",
    metric: new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: RECONCILE_SUCCESS_METRIC,
      dimensionsMap: { service: SERVICE_NAME },
      statistic: "Sum",
      period: Duration.minutes(reconcileIntervalMinutes),
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: reconcileMissingPeriods,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  return { errorsAlarm, deadLetterAlarm, reconcileMissingAlarm };
}

/** Sends both alarm and recovery of every alarm to `topic`. */
export function notifyAlarmTopic(alarms: DiscoveryAlarms, topic: sns.ITopic): void {
  const action = new cloudwatchActions.SnsAction(topic);
  for (const alarm of [alarms.errorsAlarm, alarms.deadLetterAlarm, alarms.reconcileMissingAlarm]) {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }
}
